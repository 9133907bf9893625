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

/* One batch's results; the ingester holds two (worker_conf.pipelined). */
struct slot {
	struct decoded		*dec;		/* one per message: events stay valid */
	struct batch_finding	*found;
	size_t			 nfound, capfound;
	struct db_ingest_error	*errs;
	size_t			 nerrs, caperrs;
	struct batch_event	*arch;
	size_t			 narch, caparch;
	struct buf		 evtext;
	/* the batch's signals: key and value of each, back to back */
	struct buf		 sig;
	size_t			*sigoff;	/* key at sig + sigoff[i], then value */
	size_t			*sigklen, *sigvlen;
	size_t			 nsig, capsig;
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
	const struct kmsg	*cur;		/* message being evaluated */
	int			 archive;	/* archive.enabled with a condition */
	struct buf		 tmp;		/* unescaping a field */
	/* slot[head] is the older batch (the one commit() writes, on the
	 * writer thread), slot[head ^ 1] the newer when nslots is 2; fill is
	 * the one evaluate() fills, on the worker's thread. head changes
	 * only in end(), while no commit() runs. */
	struct slot		 slot[2];
	int			 head, nslots;
	struct slot		*fill;
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
	struct slot *b = g->fill;
	struct batch_finding *f;

	(void)r;
	obs_finding(json_string_value(json_object_get(finding, "rule")),
	    json_string_value(json_object_get(finding, "severity")));
	if (b->nfound == b->capfound) {
		b->capfound = b->capfound ? b->capfound * 2 : 64;
		b->found = xrealloc(b->found, b->capfound * sizeof(*b->found));
	}
	f = &b->found[b->nfound++];
	f->finding = finding;
	f->event_json = event_json(ev, &f->event_len);
	f->msg = g->cur;
	f->received = event_received(ev, &g->tmp);
}

/* Keeps the signal, encoded, until the batch commits. */
static void
on_signal(void *arg, const struct signal *sg)
{
	struct slot *b = ((struct ingester *)arg)->fill;
	size_t vlen;
	char *v = signal_encode(sg, &vlen);

	if (b->nsig == b->capsig) {
		b->capsig = b->capsig ? b->capsig * 2 : 64;
		b->sigoff = xrealloc(b->sigoff, b->capsig * sizeof(*b->sigoff));
		b->sigklen = xrealloc(b->sigklen, b->capsig * sizeof(*b->sigklen));
		b->sigvlen = xrealloc(b->sigvlen, b->capsig * sizeof(*b->sigvlen));
	}
	b->sigoff[b->nsig] = b->sig.len;
	b->sigklen[b->nsig] = sg->keylen;
	b->sigvlen[b->nsig] = vlen;
	b->nsig++;
	buf_append(&b->sig, sg->key, sg->keylen);
	buf_append(&b->sig, v, vlen);
	free(v);
}

static void
add_error(struct slot *b, const struct kmsg *m, int seq, const struct decode_error *de)
{
	struct db_ingest_error *e;

	if (b->nerrs == b->caperrs) {
		b->caperrs = b->caperrs ? b->caperrs * 2 : 16;
		b->errs = xrealloc(b->errs, b->caperrs * sizeof(*b->errs));
	}
	e = &b->errs[b->nerrs++];
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
keep_str(struct slot *b, const char *s, size_t len)
{
	size_t off = b->evtext.len;

	if (s == NULL || len > 256)
		return NOSTR;
	buf_append(&b->evtext, s, len);
	buf_putc(&b->evtext, '\0');
	return off;
}

/* Keeps ev for the archive. */
static void
add_archived(struct ingester *g, const struct audit_event *ev)
{
	struct slot *b = g->fill;
	struct batch_event *a;
	const char *s;
	size_t len;
	int sip = ev->f[EF_SOURCE_IPS];

	if (b->narch == b->caparch) {
		b->caparch = b->caparch ? b->caparch * 2 : 256;
		b->arch = xrealloc(b->arch, b->caparch * sizeof(*b->arch));
	}
	a = &b->arch[b->narch++];
	a->json = event_json(ev, &a->len);
	a->cluster = ev->cluster;
	a->msg = g->cur;
	buf_reset(&g->tmp);
	s = event_str(ev, EF_STAGE_TS, &g->tmp, &len);
	a->time = keep_str(b, s, len);
	buf_reset(&g->tmp);
	s = event_str(ev, EF_RECEIVED_TS, &g->tmp, &len);
	a->received = keep_str(b, s, len);
	buf_reset(&g->tmp);
	s = jtok_type(ev->doc, sip) == JT_ARR ?
	    jtok_str(ev->doc, jtok_at(ev->doc, sip, 0), &g->tmp, &len) : NULL;
	a->ip = keep_str(b, s, len);
}

/* Decodes and evaluates every message of the batch. */
static void
ingester_evaluate(void *impl, struct kmsg *msgs, int n)
{
	struct ingester *g = impl;
	struct eval_out out = { on_finding, g->prod ? on_signal : NULL, g };
	unsigned long events = 0;

	if (g->nslots == 2) {	/* the worker holds at most two batches */
		log_error("worker %d: a third batch evaluated; dropped", g->id);
		return;
	}
	g->fill = &g->slot[(g->head + g->nslots++) % 2];
	for (int i = 0; i < n; i++) {
		struct decoded *d = &g->fill->dec[i];

		/* events borrow the name: msgs[i] outlives the batch's write */
		g->dopts.cluster = msgs[i].cluster[0] ? msgs[i].cluster : g->cluster;
		decode_message(d, msgs[i].payload, msgs[i].len, &g->dopts);
		for (size_t j = 0; j < d->nerr; j++)
			add_error(g->fill, &msgs[i], (int)j, &d->err[j]);
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
	atomic_fetch_add(&g->st->errors, g->fill->nerrs);
}

/* Writes the findings and bad input in one transaction. After a failure it
 * checks the connection (reconnecting when it was lost) and tries once more
 * right away, which rides over a server restart. */
static int
write_batch(struct ingester *g, struct slot *b)
{
	size_t nhooks = g->c->alert.nwebhooks ? g->c->alert.nwebhooks : 1;
	struct db_finding *rows = xcalloc(b->nfound ? b->nfound : 1, sizeof(*rows));
	const char **names = xcalloc((b->nfound ? b->nfound : 1) * nhooks, sizeof(*names));
	struct db_grouping *groups = xcalloc((b->nfound ? b->nfound : 1) * nhooks,
	    sizeof(*groups));
	struct db_event *ev = xcalloc(b->narch ? b->narch : 1, sizeof(*ev));
	struct db_batch_in in = { rows, b->nfound, ev, b->narch, b->errs, b->nerrs, NULL, NULL };
	struct db_batch_out out;
	char err[512];
	int64_t now = suppress_now_ms();
	int rc = -1;

	for (size_t i = 0; i < b->narch; i++) {
		const struct batch_event *a = &b->arch[i];
		const char *t = b->evtext.data;
		ev[i] = (struct db_event){ a->json, a->len,
		    a->time == NOSTR ? NULL : t + a->time,
		    a->received == NOSTR ? NULL : t + a->received,
		    a->ip == NOSTR ? NULL : t + a->ip, a->cluster,
		    a->msg->topic, a->msg->partition, a->msg->offset };
	}
	for (size_t i = 0; i < b->nfound; i++) {
		const char **mine = names + i * nhooks;
		const struct rule *r = ruleset_find(g->rs,
		    json_string_value(json_object_get(b->found[i].finding, "rule")));
		rows[i].finding = b->found[i].finding;
		rows[i].event_json = b->found[i].event_json;
		rows[i].event_len = b->found[i].event_len;
		rows[i].webhooks = mine;
		rows[i].groups = groups + i * nhooks;
		rows[i].suppressed_by = suppress_match(g->sup, b->found[i].finding, now);
		rows[i].nwebhooks = rows[i].suppressed_by || (r && !rule_alerts(r)) ? 0 :
		    alert_route(&g->c->alert, b->found[i].finding, mine, groups + i * nhooks);
		rows[i].topic = b->found[i].msg->topic;
		rows[i].partition = b->found[i].msg->partition;
		rows[i].offset = b->found[i].msg->offset;
		rows[i].received = b->found[i].received;
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
	for (size_t i = 0; i < b->nfound; i++)
		alert_route_release(groups + i * nhooks, rows[i].nwebhooks);
	free(rows);
	free(names);
	free(groups);
	free(ev);
	return rc;
}

/* Sends the batch's signals and waits for Kafka to acknowledge them all. */
static int
send_signals(struct ingester *g, const struct slot *s)
{
	struct producer_batch b = { 0 };
	char err[256];

	for (size_t i = 0; i < s->nsig; i++) {
		const char *k = s->sig.data + s->sigoff[i];
		if (producer_send(g->prod, &b, k, s->sigklen[i], k + s->sigklen[i],
		    s->sigvlen[i], err, sizeof(err)) < 0) {
			log_once("signals.send", "worker %d: %s; the batch is sent again", g->id,
			    err);
			(void)producer_wait(g->prod, &b, SIGNAL_ACK_MS);
			return -1;
		}
	}
	if (producer_wait(g->prod, &b, SIGNAL_ACK_MS) < 0) {
		log_once("signals.ack", "worker %d: Kafka did not acknowledge %ld of %zu signals; "
		    "the batch is sent again", g->id,
		    (long)(atomic_load(&b.queued) - atomic_load(&b.acked)), s->nsig);
		return -1;
	}
	atomic_fetch_add(&g->st->signals, s->nsig);
	return 0;
}

static int
ingester_commit(void *impl)
{
	struct ingester *g = impl;
	struct slot *b = &g->slot[g->head];

	if (write_batch(g, b) < 0)
		return -1;
	return b->nsig ? send_signals(g, b) : 0;
}

/* Forgets a batch's results. */
static void
slot_reset(struct slot *b)
{
	for (size_t i = 0; i < b->nfound; i++) {
		json_decref(b->found[i].finding);
		free(b->found[i].received);
	}
	b->nfound = 0;
	b->narch = 0;
	buf_reset(&b->evtext);
	b->nerrs = 0;
	b->nsig = 0;
	buf_reset(&b->sig);
}

/* The older batch ended; the newer, if any, becomes the older. */
static void
ingester_end(void *impl)
{
	struct ingester *g = impl;

	if (g->nslots == 0)
		return;
	slot_reset(&g->slot[g->head]);
	g->head ^= 1;
	g->nslots--;
}

static void
slot_free(struct slot *b, int batch_max)
{
	slot_reset(b);
	for (int i = 0; b->dec && i < batch_max; i++)
		decoded_free(&b->dec[i]);
	free(b->dec);
	free(b->found);
	free(b->errs);
	buf_free(&b->sig);
	buf_free(&b->evtext);
	free(b->arch);
	free(b->sigoff);
	free(b->sigklen);
	free(b->sigvlen);
}

static void
ingester_free(void *impl)
{
	struct ingester *g = impl;

	producer_free(g->prod);
	if (g->db)
		db_close(g->db);
	if (g->scratch)
		eval_scratch_free(g->scratch);
	for (int i = 0; i < 2; i++)
		slot_free(&g->slot[i], g->c->batch_max);
	buf_free(&g->tmp);
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
	for (int s = 0; s < 2; s++) {
		struct slot *b = &g->slot[s];
		b->dec = xcalloc((size_t)c->batch_max, sizeof(*b->dec));
		for (int i = 0; i < c->batch_max; i++)
			decoded_init(&b->dec[i]);
		buf_init(&b->sig);
		buf_init(&b->evtext);
	}
	g->fill = &g->slot[0];
	g->scratch = eval_scratch_new(rs);
	buf_init(&g->tmp);
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
