/* ingester.c — the work of an ingest worker (see worker.h): decode audit
 * events, run the rules, write the batch's findings and bad input in one
 * PostgreSQL transaction, and hand the batch's signals (memory across
 * events) to the state owners through the signal topic.
 *
 * DESIGN: a batch is committed when its findings are in PostgreSQL and every
 * one of its signals has been acknowledged by Kafka; only then do its source
 * offsets move on. A failure between the two (a crash, Kafka away) sends the
 * batch again: its findings are absorbed by their unique keys, and the state
 * owners count each signal once (by auditID in the key's state). The
 * findings of rules whose findings the state decides (suppress, attribution)
 * are not written here at all: they travel as signals. */
#include "app/ingester.h"
#include "alert/alert.h"
#include "analyze/state.h"
#include "base/log.h"
#include "base/obs.h"
#include "base/xmalloc.h"
#include "ingest/decode.h"
#include "ingest/producer.h"
#include "schema/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_BYTES	1024	/* first bytes of a bad message kept as evidence */
#define SIGNAL_ACK_MS	30000	/* longest wait for Kafka to acknowledge a batch's signals */

struct batch_finding {
	json_t		 *finding;	/* owned */
	const char	 *event_json;	/* borrowed from the message's decoded */
	size_t		  event_len;
	const struct kmsg *msg;		/* the message it came from */
	char		 *received;	/* requestReceivedTimestamp; NULL when none */
};

/* An event for the archive; its strings are in ingester.evtext (offsets,
 * as the buffer grows; NOSTR: none). */
#define NOSTR	((size_t)-1)
struct batch_event {
	const char	 *json;		/* borrowed from the message's decoded */
	size_t		  len;
	size_t		  time, received, ip;
	const char	 *cluster;	/* borrowed from the event */
	const struct kmsg *msg;
};

struct ingester {
	int			 id;
	const struct config	*c;
	const struct ruleset	*rs;
	struct suppress_set	*sup;		/* shared */
	struct worker_stats	*st;
	struct db		*db;
	struct producer		*prod;		/* NULL: no stateful rule */
	struct eval_scratch	*scratch;
	struct decode_opts	 dopts;
	const char		*cluster;	/* config's, for messages without a header */
	struct decoded		*dec;		/* one per message: events stay valid */
	const struct kmsg	*cur;		/* message being evaluated */
	struct batch_finding	*found;
	size_t			 nfound, capfound;
	struct db_ingest_error	*errs;
	size_t			 nerrs, caperrs;
	int			 archive;	/* archive.enabled with a condition */
	struct batch_event	*arch;
	size_t			 narch, caparch;
	struct buf		 evtext;
	/* the batch's signals: key and value of each, back to back */
	struct buf		 sig;
	struct buf		 tmp;		/* unescaping a field */
	size_t			*sigoff;	/* key at sig + sigoff[i], then value */
	size_t			*sigklen, *sigvlen;
	size_t			 nsig, capsig;
};

/* The event's requestReceivedTimestamp as a new string, NULL when none: it
 * places the finding's month (see schema/db.h). */
static char *
event_received(const struct audit_event *ev, struct buf *tmp)
{
	size_t len;
	const char *s;

	buf_reset(tmp);
	if ((s = event_str(ev, EF_RECEIVED_TS, tmp, &len)) == NULL || len > 64)
		return NULL;
	return xstrndup(s, len);
}

static void
on_finding(void *arg, json_t *finding, const struct audit_event *ev, const struct rule *r)
{
	struct ingester *g = arg;
	struct batch_finding *f;

	(void)r;
	obs_finding(json_string_value(json_object_get(finding, "rule")),
	    json_string_value(json_object_get(finding, "severity")));
	if (g->nfound == g->capfound) {
		g->capfound = g->capfound ? g->capfound * 2 : 64;
		g->found = xrealloc(g->found, g->capfound * sizeof(*g->found));
	}
	f = &g->found[g->nfound++];
	f->finding = finding;
	f->event_json = event_json(ev, &f->event_len);
	f->msg = g->cur;
	f->received = event_received(ev, &g->tmp);
}

/* Keeps the signal, encoded, until the batch commits. */
static void
on_signal(void *arg, const struct signal *sg)
{
	struct ingester *g = arg;
	size_t vlen;
	char *v = signal_encode(sg, &vlen);

	if (g->nsig == g->capsig) {
		g->capsig = g->capsig ? g->capsig * 2 : 64;
		g->sigoff = xrealloc(g->sigoff, g->capsig * sizeof(*g->sigoff));
		g->sigklen = xrealloc(g->sigklen, g->capsig * sizeof(*g->sigklen));
		g->sigvlen = xrealloc(g->sigvlen, g->capsig * sizeof(*g->sigvlen));
	}
	g->sigoff[g->nsig] = g->sig.len;
	g->sigklen[g->nsig] = sg->keylen;
	g->sigvlen[g->nsig] = vlen;
	g->nsig++;
	buf_append(&g->sig, sg->key, sg->keylen);
	buf_append(&g->sig, v, vlen);
	free(v);
}

static void
add_error(struct ingester *g, const struct kmsg *m, int seq, const struct decode_error *de)
{
	struct db_ingest_error *e;

	if (g->nerrs == g->caperrs) {
		g->caperrs = g->caperrs ? g->caperrs * 2 : 16;
		g->errs = xrealloc(g->errs, g->caperrs * sizeof(*g->errs));
	}
	e = &g->errs[g->nerrs++];
	e->topic = m->topic;
	e->partition = m->partition;
	e->offset = m->offset;
	e->seq = seq;
	e->error = de->msg;
	e->head = m->payload;
	e->head_len = m->len < HEAD_BYTES ? m->len : HEAD_BYTES;
	e->size = m->len;
	obs_ingest_error(de->oversize ? "oversize" : "malformed", 1);
	log_once("ingest.bad_input", "%s[%d]@%lld: %s (bad input goes to kaudit.ingest_errors; "
	    "further cases are counted)", m->topic, (int)m->partition, (long long)m->offset, de->msg);
}

/* Copies a string of the event into evtext; NOSTR when none. */
static size_t
keep_str(struct ingester *g, const char *s, size_t len)
{
	size_t off = g->evtext.len;

	if (s == NULL || len > 256)
		return NOSTR;
	buf_append(&g->evtext, s, len);
	buf_putc(&g->evtext, '\0');
	return off;
}

/* Keeps ev for the archive. */
static void
add_archived(struct ingester *g, const struct audit_event *ev)
{
	struct batch_event *a;
	const char *s;
	size_t len;
	int sip = ev->f[EF_SOURCE_IPS];

	if (g->narch == g->caparch) {
		g->caparch = g->caparch ? g->caparch * 2 : 256;
		g->arch = xrealloc(g->arch, g->caparch * sizeof(*g->arch));
	}
	a = &g->arch[g->narch++];
	a->json = event_json(ev, &a->len);
	a->cluster = ev->cluster;
	a->msg = g->cur;
	buf_reset(&g->tmp);
	s = event_str(ev, EF_STAGE_TS, &g->tmp, &len);
	a->time = keep_str(g, s, len);
	buf_reset(&g->tmp);
	s = event_str(ev, EF_RECEIVED_TS, &g->tmp, &len);
	a->received = keep_str(g, s, len);
	buf_reset(&g->tmp);
	s = jtok_type(ev->doc, sip) == JT_ARR ?
	    jtok_str(ev->doc, jtok_at(ev->doc, sip, 0), &g->tmp, &len) : NULL;
	a->ip = keep_str(g, s, len);
}

/* Decodes and evaluates every message of the batch. */
static void
ingester_evaluate(void *impl, struct kmsg *msgs, int n)
{
	struct ingester *g = impl;
	struct eval_out out = { on_finding, g->prod ? on_signal : NULL, g };
	unsigned long events = 0;

	for (int i = 0; i < n; i++) {
		struct decoded *d = &g->dec[i];

		/* events borrow the name: msgs[i] outlives the batch's write */
		g->dopts.cluster = msgs[i].cluster[0] ? msgs[i].cluster : g->cluster;
		decode_message(d, msgs[i].payload, msgs[i].len, &g->dopts);
		for (size_t j = 0; j < d->nerr; j++)
			add_error(g, &msgs[i], (int)j, &d->err[j]);
		g->cur = &msgs[i];
		for (size_t j = 0; j < d->nev; j++) {
			ruleset_eval_out(g->rs, &d->ev[j], g->scratch, &out);
			if (g->archive && ruleset_archive(g->rs, &d->ev[j], g->scratch))
				add_archived(g, &d->ev[j]);
		}
		events += d->nev;
	}
	atomic_fetch_add(&g->st->events, events);
	obs_messages((unsigned long)n);
	obs_events(events);
	atomic_fetch_add(&g->st->errors, g->nerrs);
}

/* Writes the findings and bad input in one transaction. After a failure it
 * checks the connection (reconnecting when it was lost) and tries once more
 * right away, which rides over a server restart. */
static int
write_batch(struct ingester *g)
{
	size_t nhooks = g->c->alert.nwebhooks ? g->c->alert.nwebhooks : 1;
	struct db_finding *rows = xcalloc(g->nfound ? g->nfound : 1, sizeof(*rows));
	const char **names = xcalloc((g->nfound ? g->nfound : 1) * nhooks, sizeof(*names));
	struct db_grouping *groups = xcalloc((g->nfound ? g->nfound : 1) * nhooks,
	    sizeof(*groups));
	struct db_event *ev = xcalloc(g->narch ? g->narch : 1, sizeof(*ev));
	struct db_batch_in in = { rows, g->nfound, ev, g->narch, g->errs, g->nerrs, NULL, NULL };
	struct db_batch_out out;
	char err[512];
	int64_t now = suppress_now_ms();
	int rc = -1;

	for (size_t i = 0; i < g->narch; i++) {
		const struct batch_event *a = &g->arch[i];
		const char *t = g->evtext.data;
		ev[i] = (struct db_event){ a->json, a->len,
		    a->time == NOSTR ? NULL : t + a->time,
		    a->received == NOSTR ? NULL : t + a->received,
		    a->ip == NOSTR ? NULL : t + a->ip, a->cluster,
		    a->msg->topic, a->msg->partition, a->msg->offset };
	}
	for (size_t i = 0; i < g->nfound; i++) {
		const char **mine = names + i * nhooks;
		const struct rule *r = ruleset_find(g->rs,
		    json_string_value(json_object_get(g->found[i].finding, "rule")));
		rows[i].finding = g->found[i].finding;
		rows[i].event_json = g->found[i].event_json;
		rows[i].event_len = g->found[i].event_len;
		rows[i].webhooks = mine;
		rows[i].groups = groups + i * nhooks;
		rows[i].suppressed_by = suppress_match(g->sup, g->found[i].finding, now);
		rows[i].nwebhooks = rows[i].suppressed_by || (r && !rule_alerts(r)) ? 0 :
		    alert_route(&g->c->alert, g->found[i].finding, mine, groups + i * nhooks);
		rows[i].topic = g->found[i].msg->topic;
		rows[i].partition = g->found[i].msg->partition;
		rows[i].offset = g->found[i].msg->offset;
		rows[i].received = g->found[i].received;
	}
	for (int again = 1;; again = 0) {
		if (db_write(g->db, &in, &out, err, sizeof(err)) == 0) {
			atomic_fetch_add(&g->st->findings, out.inserted);
			atomic_fetch_add(&g->st->archived, out.archived);
			atomic_fetch_add(&g->st->dead_letters, out.dead);
			rc = 0;
			break;
		}
		atomic_fetch_add(&g->st->db_retries, 1);
		obs_db_retry();
		log_once("db.write", "worker %d: writing a batch failed, retrying: %s", g->id, err);
		if (!again || !db_ok(g->db))
			break;
	}
	for (size_t i = 0; i < g->nfound; i++)
		alert_route_release(groups + i * nhooks, rows[i].nwebhooks);
	free(rows);
	free(names);
	free(groups);
	free(ev);
	return rc;
}

/* Sends the batch's signals and waits for Kafka to acknowledge them all. */
static int
send_signals(struct ingester *g)
{
	struct producer_batch b = { 0 };
	char err[256];

	for (size_t i = 0; i < g->nsig; i++) {
		const char *k = g->sig.data + g->sigoff[i];
		if (producer_send(g->prod, &b, k, g->sigklen[i], k + g->sigklen[i],
		    g->sigvlen[i], err, sizeof(err)) < 0) {
			log_once("signals.send", "worker %d: %s; the batch is sent again", g->id,
			    err);
			(void)producer_wait(g->prod, &b, SIGNAL_ACK_MS);
			return -1;
		}
	}
	if (producer_wait(g->prod, &b, SIGNAL_ACK_MS) < 0) {
		log_once("signals.ack", "worker %d: Kafka did not acknowledge %ld of %zu signals; "
		    "the batch is sent again", g->id,
		    (long)(atomic_load(&b.queued) - atomic_load(&b.acked)), g->nsig);
		return -1;
	}
	atomic_fetch_add(&g->st->signals, g->nsig);
	return 0;
}

static int
ingester_commit(void *impl)
{
	struct ingester *g = impl;

	if (write_batch(g) < 0)
		return -1;
	return g->nsig ? send_signals(g) : 0;
}

static void
ingester_end(void *impl)
{
	struct ingester *g = impl;

	for (size_t i = 0; i < g->nfound; i++) {
		json_decref(g->found[i].finding);
		free(g->found[i].received);
	}
	g->nfound = 0;
	g->narch = 0;
	buf_reset(&g->evtext);
	g->nerrs = 0;
	g->nsig = 0;
	buf_reset(&g->sig);
}

static void
ingester_free(void *impl)
{
	struct ingester *g = impl;

	ingester_end(g);
	producer_free(g->prod);
	if (g->db)
		db_close(g->db);
	if (g->scratch)
		eval_scratch_free(g->scratch);
	for (int i = 0; g->dec && i < g->c->batch_max; i++)
		decoded_free(&g->dec[i]);
	free(g->dec);
	free(g->found);
	free(g->errs);
	buf_free(&g->sig);
	buf_free(&g->tmp);
	buf_free(&g->evtext);
	free(g->arch);
	free(g->sigoff);
	free(g->sigklen);
	free(g->sigvlen);
	free(g);
}

const struct worker_ops ingester_ops = {
	ingester_evaluate, ingester_commit, ingester_end, ingester_free,
};

void *
ingester_new(int id, const struct config *c, const struct ruleset *rs, int stateful,
    struct suppress_set *sup, struct worker_stats *st, char *err, size_t errlen)
{
	struct ingester *g = xcalloc(1, sizeof(*g));

	g->id = id;
	g->c = c;
	g->rs = rs;
	g->sup = sup;
	g->st = st;
	g->dopts.max_bytes = c->max_message_bytes;
	g->dopts.envelope_field = c->envelope_field;
	g->dopts.cluster = c->cluster;
	g->cluster = c->cluster;
	g->dec = xcalloc((size_t)c->batch_max, sizeof(*g->dec));
	for (int i = 0; i < c->batch_max; i++)
		decoded_init(&g->dec[i]);
	g->scratch = eval_scratch_new(rs);
	buf_init(&g->sig);
	buf_init(&g->tmp);
	buf_init(&g->evtext);
	g->archive = c->archive_enabled && c->archive_when[0] != '\0';
	if ((g->db = db_connect(c->pg_url, err, errlen)) == NULL)
		goto fail;
	if (stateful) {
		struct producer_opts po = { .brokers = c->brokers, .props = &c->kafka_props,
		    .topic = c->state_topic, .worker = id };
		if ((g->prod = producer_new(&po, err, errlen)) == NULL)
			goto fail;
	}
	return g;
fail:
	ingester_free(g);
	return NULL;
}
