/* worker.c — the ingest worker loop (see worker.h for what it promises).
 *
 * DESIGN: worker_main is one state machine over the batch in hand; each state
 * is a function that does its step and returns the next state.
 *
 *   POLL ──batch──▶ EVALUATE ──▶ COMMIT ──committed──▶ STORE_OFFSETS ──▶ POLL
 *    │ empty: POLL                │  ▲
 *    │                  db trouble│  │backoff over
 *    │                            ▼  │
 *    │                          DB_WAIT (partitions paused, consumer served)
 *    │                            │ stop (or stop after a failed COMMIT)
 *    ▼ stop                       ▼
 *  CLOSE ◀──────────────────── RELEASE
 *
 * POLL fills a batch from Kafka (at most batch_max messages, batch_ms).
 * EVALUATE decodes every message and runs the rules; findings and bad input
 * stay in the worker until the batch ends. COMMIT makes one attempt to write
 * the batch in one transaction. When the database is away, DB_WAIT pauses the
 * assigned partitions and keeps calling the consumer poll, which then brings
 * no messages but runs rebalances and shows the group a live member, so an
 * outage longer than max.poll.interval.ms does not evict the worker; COMMIT
 * is tried again with a doubling backoff, and the commit that succeeds
 * resumes the partitions. STORE_OFFSETS stores the offsets after the batch
 * (only now: a failure anywhere before redelivers instead of losing) and
 * releases it; a partition revoked meanwhile is skipped, its new owner reads
 * those messages again. A stop request is seen in POLL (between batches),
 * and in COMMIT and DB_WAIT while the batch cannot be written: RELEASE then
 * gives the batch back unstored, to be read again after the restart. CLOSE
 * commits the stored offsets and leaves the group. The batch in hand is
 * never lost and never grows while waiting. */
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

#define HEAD_BYTES	1024	/* first bytes of a bad message kept as evidence */
#define BACKOFF_MIN_MS	200	/* first wait after a failed commit; doubles */
#define BACKOFF_MAX_MS	10000
#define SERVE_MS	200	/* longest consumer poll while waiting */

enum wstate {
	W_POLL,
	W_EVALUATE,
	W_COMMIT,
	W_DB_WAIT,
	W_STORE_OFFSETS,
	W_RELEASE,
	W_CLOSE,
};

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
	int			 n;		/* messages in hand */
	int			 paused;	/* partitions paused in DB_WAIT */
	long			 backoff_ms;
	long			 retry_at;	/* monotonic ms of the next COMMIT */
	long			 waiting_since;	/* first failed commit of this batch */
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

/* Writes the batch in one transaction. After a failure it checks the
 * connection (reconnecting when it was lost) and tries once more right away,
 * which rides over a server restart. Returns 0 when committed, -1 on
 * database trouble (the caller waits and calls again). */
static int
commit_batch(struct worker *w)
{
	struct db_finding *rows = xcalloc(w->nfound ? w->nfound : 1, sizeof(*rows));
	const char **names = xcalloc((w->nfound ? w->nfound : 1) *
	    (w->c->alert.nwebhooks ? w->c->alert.nwebhooks : 1), sizeof(*names));
	char err[512];
	size_t inserted = 0, dead = 0;
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
	for (int again = 1;; again = 0) {
		if (db_write_batch(w->db, rows, w->nfound, w->errs, w->nerrs, &inserted,
		    &dead, err, sizeof(err)) == 0) {
			atomic_fetch_add(&w->st->findings, inserted);
			atomic_fetch_add(&w->st->dead_letters, dead);
			rc = 0;
			break;
		}
		atomic_fetch_add(&w->st->db_retries, 1);
		log_once("db.write", "worker %d: writing a batch failed, retrying: %s", w->id, err);
		if (!again || !db_ok(w->db))
			break;
	}
	free(rows);
	free(names);
	return rc;
}

/* Ends the batch in hand (stored or released): frees its findings. */
static enum wstate
batch_end(struct worker *w, enum wstate next)
{
	for (size_t i = 0; i < w->nfound; i++)
		json_decref(w->found[i].finding);
	w->nfound = 0;
	w->nerrs = 0;
	w->n = 0;
	atomic_store(&w->st->last_message_ms, clock_ms());
	atomic_fetch_sub(&w->st->busy, 1);
	return next;
}

static enum wstate
st_poll(struct worker *w)
{
	if (atomic_load(w->stop))
		return W_CLOSE;
	w->n = consumer_poll_batch(w->kc, w->msgs, w->c->batch_max, w->c->batch_ms);
	if (consumer_assigned(w->kc))
		atomic_store(&w->st->assigned, 1);
	if (w->n == 0)
		return W_POLL;
	atomic_fetch_add(&w->st->busy, 1);
	atomic_store(&w->st->last_message_ms, clock_ms());
	atomic_fetch_add(&w->st->messages, (unsigned long)w->n);
	return W_EVALUATE;
}

static enum wstate
st_evaluate(struct worker *w)
{
	evaluate(w, w->n);
	w->backoff_ms = BACKOFF_MIN_MS;
	return W_COMMIT;
}

static enum wstate
st_commit(struct worker *w)
{
	if (commit_batch(w) == 0) {
		if (w->paused) {
			log_info("worker %d: batch committed after %ld s of database trouble; "
			    "resuming", w->id, (clock_ms() - w->waiting_since) / 1000);
			consumer_resume(w->kc);
			w->paused = 0;
		}
		return W_STORE_OFFSETS;
	}
	if (atomic_load(w->stop))
		return W_RELEASE;
	if (!w->paused) {
		/* Fetching more would only queue messages that cannot be
		 * written; the group must still see us polling. */
		log_warn("worker %d: database unavailable; holding %d message(s), pausing "
		    "the partitions until the batch commits", w->id, w->n);
		consumer_pause(w->kc);
		w->paused = 1;
		w->waiting_since = clock_ms();
	}
	w->retry_at = clock_ms() + w->backoff_ms;
	w->backoff_ms = w->backoff_ms < BACKOFF_MAX_MS / 2 ? w->backoff_ms * 2 : BACKOFF_MAX_MS;
	return W_DB_WAIT;
}

static enum wstate
st_db_wait(struct worker *w)
{
	long left = w->retry_at - clock_ms();

	if (atomic_load(w->stop))
		return W_RELEASE;
	if (left <= 0)
		return W_COMMIT;
	consumer_serve(w->kc, left < SERVE_MS ? (int)left : SERVE_MS);
	return W_DB_WAIT;
}

static enum wstate
st_store_offsets(struct worker *w)
{
	consumer_done(w->kc, w->msgs, w->n);
	return batch_end(w, W_POLL);
}

/* Stop requested while the batch could not commit: its offsets stay where
 * they are, so the next start reads these messages again. */
static enum wstate
st_release(struct worker *w)
{
	log_warn("worker %d: stopping with %d uncommitted message(s); they are read again "
	    "on the next start", w->id, w->n);
	consumer_release(w->msgs, w->n);
	w->failed = 1;
	return batch_end(w, W_CLOSE);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	enum wstate s = W_POLL;

	while (s != W_CLOSE) {
		switch (s) {
		case W_POLL:		s = st_poll(w); break;
		case W_EVALUATE:	s = st_evaluate(w); break;
		case W_COMMIT:		s = st_commit(w); break;
		case W_DB_WAIT:		s = st_db_wait(w); break;
		case W_STORE_OFFSETS:	s = st_store_offsets(w); break;
		case W_RELEASE:		s = st_release(w); break;
		case W_CLOSE:		break;
		}
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
