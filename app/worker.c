/* worker.c — the ingest worker loop (see worker.h for the design). */
#include "app/worker.h"
#include "alert/alert.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "ingest/consumer.h"
#include "ingest/decode.h"
#include "schema/db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEAD_BYTES	1024	/* first bytes of a bad message kept as evidence */

struct batch_finding {
	json_t		 *finding;	/* owned */
	const char	 *event_json;	/* borrowed from the message's decoded */
	size_t		  event_len;
	const struct kmsg *msg;		/* the message it came from */
};

struct worker {
	pthread_t		 thread;
	int			 id;
	const struct config	*c;
	const struct ruleset	*rs;
	struct worker_stats	*st;
	atomic_int		*stop;
	struct consumer		*kc;
	struct db		*db;
	struct eval_scratch	*scratch;
	struct decode_opts	 dopts;
	struct kmsg		*msgs;		/* batch_max */
	struct decoded		*dec;		/* one per message: events stay valid */
	struct batch_finding	*found;
	size_t			 nfound, capfound;
	struct db_ingest_error	*errs;
	size_t			 nerrs, caperrs;
	int			 failed;
	const struct kmsg	*cur;		/* message being evaluated */
};

static void
on_finding(void *arg, json_t *finding, const struct audit_event *ev)
{
	struct worker *w = arg;
	struct batch_finding *f;

	if (w->nfound == w->capfound) {
		w->capfound = w->capfound ? w->capfound * 2 : 64;
		w->found = xrealloc(w->found, w->capfound * sizeof(*w->found));
	}
	f = &w->found[w->nfound++];
	f->finding = finding;
	f->event_json = event_json(ev, &f->event_len);
	f->msg = w->cur;
}

static void
add_error(struct worker *w, const struct kmsg *m, int seq, const char *msg)
{
	struct db_ingest_error *e;

	if (w->nerrs == w->caperrs) {
		w->caperrs = w->caperrs ? w->caperrs * 2 : 16;
		w->errs = xrealloc(w->errs, w->caperrs * sizeof(*w->errs));
	}
	e = &w->errs[w->nerrs++];
	e->topic = m->topic;
	e->partition = m->partition;
	e->offset = m->offset;
	e->seq = seq;
	e->error = msg;
	e->head = m->payload;
	e->head_len = m->len < HEAD_BYTES ? m->len : HEAD_BYTES;
	e->size = m->len;
	log_once("ingest.bad_input", "%s[%d]@%lld: %s (bad input goes to kaudit.ingest_errors; "
	    "further cases are counted)", m->topic, (int)m->partition, (long long)m->offset, msg);
}

/* Decodes and evaluates every message of the batch. */
static void
evaluate(struct worker *w, int n)
{
	unsigned long events = 0;

	for (int i = 0; i < n; i++) {
		struct decoded *d = &w->dec[i];

		decode_message(d, w->msgs[i].payload, w->msgs[i].len, &w->dopts);
		for (size_t j = 0; j < d->nerr; j++)
			add_error(w, &w->msgs[i], (int)j, d->err[j].msg);
		w->cur = &w->msgs[i];
		for (size_t j = 0; j < d->nev; j++)
			ruleset_eval(w->rs, &d->ev[j], w->scratch, on_finding, w);
		events += d->nev;
	}
	atomic_fetch_add(&w->st->events, events);
	atomic_fetch_add(&w->st->errors, w->nerrs);
}

/* Writes the batch in one transaction, retrying until it commits or stop is
 * requested. Returns 0 when committed. */
static int
commit_batch(struct worker *w)
{
	struct db_finding *rows = xcalloc(w->nfound ? w->nfound : 1, sizeof(*rows));
	const char **names = xcalloc((w->nfound ? w->nfound : 1) *
	    (w->c->alert.nwebhooks ? w->c->alert.nwebhooks : 1), sizeof(*names));
	char err[512];
	size_t inserted = 0, dead = 0;
	long backoff = 200;
	int rc = -1;

	for (size_t i = 0; i < w->nfound; i++) {
		const char **mine = names + i * (w->c->alert.nwebhooks ? w->c->alert.nwebhooks : 1);
		rows[i].finding = w->found[i].finding;
		rows[i].event_json = w->found[i].event_json;
		rows[i].event_len = w->found[i].event_len;
		rows[i].webhooks = mine;
		rows[i].nwebhooks = alert_route(&w->c->alert, w->found[i].finding, mine);
		rows[i].topic = w->found[i].msg->topic;
		rows[i].partition = w->found[i].msg->partition;
		rows[i].offset = w->found[i].msg->offset;
	}
	for (;;) {
		if (db_write_batch(w->db, rows, w->nfound, w->errs, w->nerrs, &inserted,
		    &dead, err, sizeof(err)) == 0) {
			atomic_fetch_add(&w->st->findings, inserted);
			atomic_fetch_add(&w->st->dead_letters, dead);
			rc = 0;
			break;
		}
		atomic_fetch_add(&w->st->db_retries, 1);
		log_once("db.write", "worker %d: writing a batch failed, retrying: %s", w->id, err);
		if (atomic_load(w->stop))
			break;
		struct timespec ts = { backoff / 1000, (backoff % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		backoff = backoff < 10000 ? backoff * 2 : 10000;
		db_ok(w->db);
	}
	free(rows);
	free(names);
	return rc;
}

static void
batch_reset(struct worker *w)
{
	for (size_t i = 0; i < w->nfound; i++)
		json_decref(w->found[i].finding);
	w->nfound = 0;
	w->nerrs = 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(w->stop)) {
		int n = consumer_poll_batch(w->kc, w->msgs, w->c->batch_max, w->c->batch_ms);

		if (consumer_assigned(w->kc))
			atomic_store(&w->st->assigned, 1);
		if (n == 0)
			continue;
		atomic_fetch_add(&w->st->busy, 1);
		atomic_store(&w->st->last_message_ms, clock_ms());
		atomic_fetch_add(&w->st->messages, (unsigned long)n);
		evaluate(w, n);
		if (commit_batch(w) == 0) {
			consumer_done(w->kc, w->msgs, n);
		} else {
			/* Shutdown while the database was down: keep offsets
			 * where they are so these messages are read again. */
			consumer_release(w->msgs, n);
			w->failed = 1;
		}
		batch_reset(w);
		atomic_store(&w->st->last_message_ms, clock_ms());
		atomic_fetch_sub(&w->st->busy, 1);
	}
	consumer_close(w->kc);
	w->kc = NULL;
	return NULL;
}

static void
worker_free(struct worker *w)
{
	if (w->kc)
		consumer_close(w->kc);
	if (w->db)
		db_close(w->db);
	if (w->scratch)
		eval_scratch_free(w->scratch);
	for (int i = 0; w->dec && i < w->c->batch_max; i++)
		decoded_free(&w->dec[i]);
	free(w->dec);
	free(w->msgs);
	free(w->found);
	free(w->errs);
	free(w);
}

struct worker *
worker_start(int id, const struct config *c, const struct ruleset *rs,
    struct worker_stats *st, atomic_int *stop, char *err, size_t errlen)
{
	struct worker *w = xcalloc(1, sizeof(*w));
	struct consumer_opts kopts;

	w->id = id;
	w->c = c;
	w->rs = rs;
	w->st = st;
	w->stop = stop;
	w->dopts.max_bytes = c->max_message_bytes;
	w->dopts.envelope_field = c->envelope_field;
	w->dopts.cluster = c->cluster;
	w->msgs = xcalloc((size_t)c->batch_max, sizeof(*w->msgs));
	w->dec = xcalloc((size_t)c->batch_max, sizeof(*w->dec));
	for (int i = 0; i < c->batch_max; i++)
		decoded_init(&w->dec[i]);
	w->scratch = eval_scratch_new(rs);
	if ((w->db = db_connect(c->pg_url, err, errlen)) == NULL)
		goto fail;
	kopts = (struct consumer_opts){ .brokers = c->brokers, .group = c->group,
	    .topics = &c->topics, .props = &c->kafka_props, .worker = id };
	if ((w->kc = consumer_new(&kopts, err, errlen)) == NULL)
		goto fail;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		snprintf(err, errlen, "cannot start worker thread");
		goto fail;
	}
	return w;
fail:
	worker_free(w);
	return NULL;
}

int
worker_caught_up(struct worker *w)
{
	return w->kc != NULL && consumer_caught_up(w->kc, 5000);
}

int
worker_group_drained(struct worker *w)
{
	return w->kc != NULL && consumer_group_drained(w->kc, 5000);
}

int
worker_join(struct worker *w)
{
	int failed;

	pthread_join(w->thread, NULL);
	failed = w->failed;
	worker_free(w);
	return failed ? -1 : 0;
}
