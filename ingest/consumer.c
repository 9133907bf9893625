/* consumer.c — librdkafka consumer for one ingest worker (see consumer.h). */
#include "ingest/consumer.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "ingest/kerr.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* librdkafka releases (rd_kafka_version() form: 0xMMmmrrff) that fixed
 * cooperative-sticky bugs kaudit can meet: the abort when a consumer closes
 * before its first cooperative assignment (2.3.0), the hang when an
 * assignment is processed while closing (2.4.0), the assignor looping when
 * members outnumber the partitions they could get (2.6.1). */
#define COOP_FIRST		0x010600ff	/* cooperative-sticky exists */
#define COOP_CLOSE_FIXED	0x020300ff
#define COOP_HANG_FIXED		0x020400ff
#define COOP_ALL_FIXED		0x020601ff
#define CLOSE_WAIT_MS		15000
/* A broker answers one request of a connection at a time, so the offset
 * queries of --idle-exit and the lag gauge wait behind a fetch that finds
 * nothing for fetch.wait.max.ms (librdkafka's default 500 ms): each such
 * round trip took that long once the topics were read to their end. */
#define FETCH_WAIT_MS		"100"
/* A rebalance (a second worker joining the group just after the first)
 * reaches the other members with their next heartbeat: librdkafka's default
 * 3 s held every partition on one worker for 3 s after each start. */
#define HEARTBEAT_MS		"500"
/* Each consumer prefetches into its queue up to this much (librdkafka's
 * default 64 MiB, which made most of a draining daemon's memory: 244 MB of
 * which about 160 in three consumers' queues on a 200k-event backlog). A
 * worker drains a few MB/s into PostgreSQL; 4 MiB is still tens of fetches'
 * worth at that rate, and librdkafka lowers fetch.max.bytes to it, so one
 * fetch response cannot overshoot it by more than itself. */
#define QUEUE_KBYTES		"4096"

struct consumer {
	rd_kafka_t	*rk;
	char		**topics;	/* subscribed topic names */
	int		  ntopics;
	int		 worker;
	const char	*name;		/* "worker", "state owner": for log lines */
	atomic_int	 assigned;	/* an assignment (maybe empty) was applied */
	atomic_int	 member;	/* ... and not lost since (session expired) */
	int		 coop_conf;	/* partition.assignment.strategy is cooperative */
	int		 paused;	/* consumer_pause() in force */
	rd_kafka_message_t **held;	/* polled while paused: the next batch's head */
	int		 nheld, capheld;
	struct kmsg	*filling;	/* the batch consumer_poll_batch is filling */
	int		 nfilling;
	int		(*own)(void *, const char *, int32_t, int64_t *);
	void		(*disown)(void *, const char *, int32_t);
	void		*owner;
	void		(*revoking)(void *);	/* consumer_opts.revoking */
	void		*revoking_arg;
	atomic_int	*stop;		/* consumer_opts.stop */
};

static int
set_prop(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	char why[256];

	if (rd_kafka_conf_set(conf, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property %s=%s: %s", k, v, why);
		return -1;
	}
	return 0;
}

/* Appends "t[0,2] u[1]" to b: the partitions, for log lines. */
static void
format_parts(const rd_kafka_topic_partition_list_t *l, struct buf *b)
{
	for (int i = 0; l != NULL && i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &l->elems[i];

		if (i > 0 && strcmp(l->elems[i - 1].topic, p->topic) == 0)
			buf_printf(b, ",%d", (int)p->partition);
		else
			buf_printf(b, "%s%s[%d", i ? "] " : "", p->topic, (int)p->partition);
	}
	if (l != NULL && l->cnt > 0)
		buf_putc(b, ']');
}

/* The current assignment's size, or -1 when librdkafka cannot tell. */
static int
assignment_size(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	int n;

	if (rd_kafka_assignment(rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	n = a->cnt;
	rd_kafka_topic_partition_list_destroy(a);
	return n;
}

/* Applies an assignment or revocation the way the group's protocol wants:
 * COOPERATIVE changes the assignment incrementally (a rebalance adds or
 * removes only the partitions that move), EAGER replaces all of it (every
 * member gives up everything, then gets its new share). librdkafka refuses
 * the other family's call, and an assignment it refused leaves the group's
 * rebalance unfinished, so every error is logged. Returns 0 when applied. */
static int
apply_assignment(struct consumer *k, rd_kafka_topic_partition_list_t *parts, int assign,
    int coop)
{
	rd_kafka_error_t *err = NULL;
	rd_kafka_resp_err_t e;
	const char *what = assign ? "assign" : "unassign";

	if (coop) {
		err = assign ? rd_kafka_incremental_assign(k->rk, parts) :
		    rd_kafka_incremental_unassign(k->rk, parts);
		if (err == NULL)
			return 0;
		log_error("%s %d: kafka incremental %s of %d partition(s): %s", k->name, k->worker,
		    what, parts->cnt, rd_kafka_error_string(err));
		rd_kafka_error_destroy(err);
		return -1;
	}
	e = rd_kafka_assign(k->rk, assign ? parts : NULL);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	log_error("%s %d: kafka %s of %d partition(s): %s", k->name, k->worker, what,
	    parts ? parts->cnt : 0, rd_kafka_err2str(e));
	return -1;
}

static void
pause_resume(struct consumer *k, rd_kafka_topic_partition_list_t *parts, int pause)
{
	rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(k->rk, parts) :
	    rd_kafka_resume_partitions(k->rk, parts);

	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_error("%s %d: kafka %s of %d partition(s): %s", k->name, k->worker,
		    pause ? "pause" : "resume", parts->cnt, rd_kafka_err2str(e));
	for (int i = 0; i < parts->cnt; i++)
		if (parts->elems[i].err)
			log_warn("%s %d: kafka %s %s[%d]: %s", k->name, k->worker,
			    pause ? "pause" : "resume", parts->elems[i].topic,
			    (int)parts->elems[i].partition, rd_kafka_err2str(parts->elems[i].err));
}

/* Gives up the whole current assignment. */
static void
release_all(struct consumer *k, int coop)
{
	rd_kafka_topic_partition_list_t *a = NULL;

	if (!coop) {
		(void)apply_assignment(k, NULL, 0, 0);
		return;
	}
	if (rd_kafka_assignment(k->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (a->cnt > 0)
		(void)apply_assignment(k, a, 0, 1);
	rd_kafka_topic_partition_list_destroy(a);
}

/* Forgets held messages of revoked partitions: whoever reads the partition
 * next starts from its committed offset, before them. Kept, they could end
 * up in a batch ahead of earlier messages of the same partition, and that
 * batch's stored offset would then skip those. */
static void
drop_held(struct consumer *k, const rd_kafka_topic_partition_list_t *parts)
{
	int j = 0;

	for (int i = 0; i < k->nheld; i++) {
		rd_kafka_message_t *m = k->held[i];

		if (rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt),
		    m->partition) != NULL)
			rd_kafka_message_destroy(m);
		else
			k->held[j++] = m;
	}
	k->nheld = j;
}

/* Forgets the messages of revoked partitions in the batch being filled: a
 * revocation may come in any poll of a batch, after earlier polls took
 * messages of the partitions it takes away. Evaluated, they would make
 * results for a partition this consumer no longer owns, on state it no
 * longer holds; the new owner reads them again from the committed offset. */
static void
drop_filling(struct consumer *k, const rd_kafka_topic_partition_list_t *parts)
{
	int j = 0;

	for (int i = 0; i < k->nfilling; i++) {
		struct kmsg *m = &k->filling[i];

		if (rd_kafka_topic_partition_list_find(parts, m->topic, m->partition) != NULL)
			rd_kafka_message_destroy(m->priv);
		else
			k->filling[j++] = *m;
	}
	if (j < k->nfilling)
		log_info("%s %d: %d message(s) of the batch being read belonged to revoked "
		    "partitions; left to their new owner", k->name, k->worker, k->nfilling - j);
	k->nfilling = j;
}

/* Runs inside consumer poll on the worker's thread. Nothing is stored or
 * committed here: offsets are stored only for batches already committed in
 * PostgreSQL, so on a revocation librdkafka's auto-commit hands the new owner
 * exactly those, and a batch still in hand is redelivered to it. */
static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
    void *opaque)
{
	struct consumer *k = opaque;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	int lost = 0, n;
	struct buf list;

	buf_init(&list);
	format_parts(parts, &list);
	switch (e) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		/* Even an empty share counts: this member has joined, and
		 * --idle-exit then waits on the group's committed offsets. */
		for (int i = 0; k->own && i < parts->cnt; i++) {
			int64_t off = CONSUMER_OFFSET_BEGINNING;
			if (k->own(k->owner, parts->elems[i].topic, parts->elems[i].partition,
			    &off) == 0)
				parts->elems[i].offset = off == CONSUMER_OFFSET_BEGINNING ?
				    RD_KAFKA_OFFSET_BEGINNING : off;
		}
		if (apply_assignment(k, parts, 1, coop) != 0)
			break;
		atomic_store(&k->assigned, 1);
		atomic_store(&k->member, 1);
		/* Joining partitions must not start fetching while the
		 * worker waits for the database; otherwise they must fetch.
		 * librdkafka keeps a partition's pause across a revocation:
		 * one paused here, lost (a session timeout, a rebalance)
		 * before the worker resumed, would come back paused and
		 * never be read again. */
		if (parts->cnt > 0)
			pause_resume(k, parts, k->paused);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		/* Lost (the session timed out): their offsets may not have
		 * been committed; the batches are redelivered either way. */
		lost = rd_kafka_assignment_lost(rk);
		if (lost)
			atomic_store(&k->member, 0);
		if (k->revoking)
			k->revoking(k->revoking_arg);
		drop_held(k, parts);
		drop_filling(k, parts);
		(void)apply_assignment(k, parts, 0, coop);
		for (int i = 0; k->disown && i < parts->cnt; i++)
			k->disown(k->owner, parts->elems[i].topic, parts->elems[i].partition);
		break;
	default:
		/* A failed rebalance: drop the assignment so the group can
		 * start over, as librdkafka asks. */
		log_warn("%s %d: kafka rebalance failed: %s; releasing the assignment",
		    k->name, k->worker, rd_kafka_err2str(e));
		release_all(k, coop);
		break;
	}
	n = assignment_size(rk);
	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS || e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		log_info("%s %d: %s %d partition(s)%s%s%s (%s), %d now assigned", k->name, k->worker,
		    e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked", parts->cnt,
		    parts->cnt ? " " : "", buf_cstr(&list), lost ? ", lost" : "",
		    coop ? "cooperative" : "eager", n);
	buf_free(&list);
}

static void
on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	const struct consumer *k = opaque;
	char who[64];

	(void)rk;
	snprintf(who, sizeof(who), "%s %d", k->name, k->worker);
	kerr_report(who, e, reason);
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4 && !kerr_duplicate(fac))
		log_warn("kafka %s: %s", fac, buf);
	else
		log_debug("kafka %s: %s", fac, buf);
}

/* The value of property key in props (the last one), or NULL. */
static const char *
prop_value(const struct kvlist *props, const char *key)
{
	const char *v = NULL;

	for (size_t i = 0; i < props->n; i++)
		if (strcmp(props->v[i].key, key) == 0)
			v = props->v[i].value;
	return v;
}

/* The configured partition.assignment.strategy (librdkafka's default when
 * unset): 1 when cooperative, 0 when eager, -1 with err when unknown or
 * mixed (librdkafka cannot run both protocols in one consumer). */
static int
strategy_kind(const struct kvlist *props, char *err, size_t errlen)
{
	const char *v = prop_value(props, "partition.assignment.strategy");
	char tok[64];
	int coop = 0, eager = 0;

	if (v == NULL)
		v = "range,roundrobin";
	for (const char *p = v; *p; ) {
		size_t n = strcspn(p, ", \t");

		if (n > 0) {
			snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
			if (strcmp(tok, "cooperative-sticky") == 0) {
				coop = 1;
			} else if (strcmp(tok, "range") == 0 || strcmp(tok, "roundrobin") == 0) {
				eager = 1;
			} else {
				snprintf(err, errlen, "kafka property partition.assignment.strategy: "
				    "unknown strategy \"%s\" (range, roundrobin or cooperative-sticky)",
				    tok);
				return -1;
			}
		}
		p += n + (p[n] != '\0');
	}
	if (coop && eager) {
		snprintf(err, errlen, "kafka property partition.assignment.strategy=%s mixes eager "
		    "(range, roundrobin) and cooperative (cooperative-sticky) strategies; "
		    "librdkafka supports one kind at a time", v);
		return -1;
	}
	return coop;
}

/* SASL OAUTHBEARER needs a token: kaudit sets no token refresh callback,
 * so without OIDC or librdkafka's unsigned test tokens the consumer would
 * wait for one forever without a word. -1 with err for that; 0 with warn
 * set for the unsigned tokens. */
static int
check_oauthbearer(const struct kvlist *props, char *err, size_t errlen, char *warn,
    size_t warnlen)
{
	const char *mech = prop_value(props, "sasl.mechanism"), *method, *unsecure;

	if (mech == NULL)
		mech = prop_value(props, "sasl.mechanisms");
	if (mech == NULL || strcasecmp(mech, "OAUTHBEARER") != 0)
		return 0;
	method = prop_value(props, "sasl.oauthbearer.method");
	unsecure = prop_value(props, "enable.sasl.oauthbearer.unsecure.jwt");
	if (method != NULL && strcasecmp(method, "oidc") == 0)
		return 0;
	if (unsecure != NULL && strcmp(unsecure, "true") == 0) {
		snprintf(warn, warnlen, "sasl.mechanism OAUTHBEARER with "
		    "enable.sasl.oauthbearer.unsecure.jwt: unsigned tokens, which only a test "
		    "broker takes (docs/operations.md, Secure connections)");
		return 0;
	}
	snprintf(err, errlen, "kafka property sasl.mechanism=OAUTHBEARER needs a token source: "
	    "sasl.oauthbearer.method=oidc (a librdkafka built with libcurl; this is %s) or, "
	    "for a test broker, enable.sasl.oauthbearer.unsecure.jwt=true; kaudit has no "
	    "token refresh callback of its own", rd_kafka_version_str());
	return -1;
}

int
consumer_check_props(const struct kvlist *props, char *err, size_t errlen, char *warn,
    size_t warnlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int v = rd_kafka_version(), coop, rc = 0;

	warn[0] = '\0';
	for (size_t i = 0; i < props->n && rc == 0; i++)
		rc = set_prop(conf, props->v[i].key, props->v[i].value, err, errlen);
	rd_kafka_conf_destroy(conf);
	/* what librdkafka says of OIDC in a build without it names no version */
	if (rc != 0 && strstr(err, "not supported in this build") != NULL) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (librdkafka %s; docs/operations.md, Secure "
		    "connections)", rd_kafka_version_str());
	}
	if (rc != 0 || check_oauthbearer(props, err, errlen, warn, warnlen) != 0 ||
	    (coop = strategy_kind(props, err, errlen)) < 0)
		return -1;
	if (coop && v < COOP_FIRST) {
		snprintf(err, errlen, "kafka property partition.assignment.strategy: "
		    "cooperative-sticky needs librdkafka 1.6.0 or later; this is %s",
		    rd_kafka_version_str());
		return -1;
	}
	if (coop && v < COOP_ALL_FIXED) {
		struct buf b;

		buf_init(&b);
		buf_printf(&b, "partition.assignment.strategy cooperative-sticky with librdkafka "
		    "%s has known bugs:", rd_kafka_version_str());
		if (v < COOP_CLOSE_FIXED)
			buf_puts(&b, " an abort when a consumer closes before its first "
			    "assignment (fixed in 2.3.0; kaudit waits for that assignment "
			    "before closing);");
		if (v < COOP_HANG_FIXED)
			buf_puts(&b, " a hang when an assignment arrives while closing (fixed "
			    "in 2.4.0);");
		buf_puts(&b, " the assignor looping when members outnumber partitions (fixed "
		    "in 2.6.1). range and roundrobin have none of them (docs/kafka.md)");
		snprintf(warn, warnlen, "%s", buf_cstr(&b));
		buf_free(&b);
	}
	return 0;
}

static void
consumer_free_topics(struct consumer *k)
{
	for (int i = 0; i < k->ntopics; i++)
		free(k->topics[i]);
	free(k->topics);
}

struct consumer *
consumer_new(const struct consumer_opts *o, char *err, size_t errlen)
{
	struct consumer *k = xcalloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *topics = NULL;
	char id[64];
	rd_kafka_resp_err_t e;

	k->worker = o->worker;
	k->name = o->name ? o->name : "worker";
	k->own = o->own;
	k->disown = o->disown;
	k->owner = o->owner;
	k->revoking = o->revoking;
	k->revoking_arg = o->revoking_arg;
	k->stop = o->stop;
	if ((k->coop_conf = strategy_kind(o->props, err, errlen)) < 0)
		goto fail;
	snprintf(id, sizeof(id), "kaudit-%s%d", o->own ? "state-" : "", o->worker);
	/* kaudit's own defaults first, so the config's properties override them. */
	if (set_prop(conf, "bootstrap.servers", o->brokers, err, errlen) ||
	    set_prop(conf, "group.id", o->group, err, errlen) ||
	    set_prop(conf, "client.id", id, err, errlen) ||
	    set_prop(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    set_prop(conf, "enable.auto.commit", o->own ? "false" : "true", err, errlen) ||
	    set_prop(conf, "auto.commit.interval.ms", "1000", err, errlen) ||
	    set_prop(conf, "auto.offset.reset", "earliest", err, errlen) ||
	    set_prop(conf, "enable.partition.eof", "false", err, errlen) ||
	    set_prop(conf, "fetch.wait.max.ms", FETCH_WAIT_MS, err, errlen) ||
	    set_prop(conf, "heartbeat.interval.ms", HEARTBEAT_MS, err, errlen) ||
	    set_prop(conf, "queued.max.messages.kbytes", QUEUE_KBYTES, err, errlen))
		goto fail;
	for (size_t i = 0; i < o->props->n; i++)
		if (set_prop(conf, o->props->v[i].key, o->props->v[i].value, err, errlen))
			goto fail;
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);

	if ((k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen)) == NULL)
		goto fail;	/* conf is still ours on failure */
	conf = NULL;
	rd_kafka_poll_set_consumer(k->rk);
	topics = rd_kafka_topic_partition_list_new((int)o->topics->n);
	k->topics = xcalloc(o->topics->n, sizeof(*k->topics));
	for (size_t i = 0; i < o->topics->n; i++) {
		rd_kafka_topic_partition_list_add(topics, o->topics->v[i], RD_KAFKA_PARTITION_UA);
		k->topics[k->ntopics++] = xstrdup(o->topics->v[i]);
	}
	e = rd_kafka_subscribe(k->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		snprintf(err, errlen, "kafka subscribe: %s", rd_kafka_err2str(e));
		goto fail;
	}
	return k;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	consumer_free_topics(k);
	free(k);
	return NULL;
}

/* The kaudit-cluster header into out, when it is printable ASCII of at
 * most CONSUMER_CLUSTER_MAX bytes; "" otherwise (counted, logged once: the
 * value came over the network). */
static void
cluster_header(rd_kafka_message_t *m, char *out)
{
	rd_kafka_headers_t *h = NULL;
	const void *v;
	size_t n;

	out[0] = '\0';
	if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get_last(h, "kaudit-cluster", &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    v == NULL || n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (n > CONSUMER_CLUSTER_MAX || ((const unsigned char *)v)[i] < 0x21 ||
		    ((const unsigned char *)v)[i] > 0x7e) {
			log_once("ingest.cluster_header", "kafka: a kaudit-cluster header that is "
			    "not a name (printable ASCII, at most %d bytes) is ignored",
			    CONSUMER_CLUSTER_MAX);
			return;
		}
	memcpy(out, v, n);
	out[n] = '\0';
}

static void
fill(struct kmsg *o, rd_kafka_message_t *m)
{
	o->payload = m->payload ? (const char *)m->payload : "";
	o->len = m->len;
	o->topic = rd_kafka_topic_name(m->rkt);
	o->partition = m->partition;
	o->offset = m->offset;
	cluster_header(m, o->cluster);
	o->priv = m;
}

/* One consumer poll: a message, or NULL after logging and dropping a
 * consumer error (no data is lost: errors carry none). */
static rd_kafka_message_t *
poll_one(struct consumer *k, int timeout_ms)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, timeout_ms);

	if (m == NULL || m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return m;
	if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
		log_once("kafka.consume", "kafka consume: %s", rd_kafka_message_errstr(m));
	rd_kafka_message_destroy(m);
	return NULL;
}

int
consumer_poll_batch(struct consumer *k, struct kmsg *out, int max, int timeout_ms)
{
	long deadline = clock_ms() + timeout_ms;
	int h = 0, n;

	/* Messages that arrived while paused come first, in their order. */
	k->filling = out;
	k->nfilling = 0;
	while (k->nfilling < max && h < k->nheld)
		fill(&out[k->nfilling++], k->held[h++]);
	if (h > 0) {
		memmove(k->held, k->held + h, (size_t)(k->nheld - h) * sizeof(*k->held));
		k->nheld -= h;
	}
	while (k->nfilling < max) {
		long left = deadline - clock_ms();
		rd_kafka_message_t *m;

		/* Once a batch has started, take whatever is already queued.
		 * A rebalance inside this poll may shrink the batch
		 * (drop_filling). */
		if (k->stop && k->nfilling == 0) {
			if (atomic_load(k->stop))
				break;
			if (left > CONSUMER_STOP_SLICE_MS)
				left = CONSUMER_STOP_SLICE_MS;
		}
		m = poll_one(k, left > 0 ? (int)left : 0);
		if (m == NULL) {
			if (deadline - clock_ms() <= 0)
				break;
			continue;
		}
		fill(&out[k->nfilling++], m);
	}
	n = k->nfilling;
	k->filling = NULL;
	k->nfilling = 0;
	return n;
}

void
consumer_serve(struct consumer *k, int timeout_ms)
{
	rd_kafka_message_t *m = poll_one(k, timeout_ms);

	if (m == NULL)
		return;
	/* A paused partition delivers nothing new, but a message already
	 * queued may slip through. Its position is behind us now, so dropping
	 * it would skip it for good once a later offset is stored: it waits
	 * for the next batch instead. */
	if (k->nheld == k->capheld) {
		k->capheld = k->capheld ? k->capheld * 2 : 16;
		k->held = xrealloc(k->held, (size_t)k->capheld * sizeof(*k->held));
	}
	k->held[k->nheld++] = m;
	log_once("kafka.held", "%s %d: a message arrived while paused; it is kept for the "
	    "next batch", k->name, k->worker);
}

/* Pauses or resumes the whole current assignment. */
static int
pause_all(struct consumer *k, int pause)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	rd_kafka_resp_err_t e;

	k->paused = pause;
	if ((e = rd_kafka_assignment(k->rk, &a)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("%s %d: kafka assignment: %s", k->name, k->worker, rd_kafka_err2str(e));
		return -1;
	}
	if (a->cnt > 0)
		pause_resume(k, a, pause);
	log_info("%s %d: %s %d partition(s)", k->name, k->worker, pause ? "paused" : "resumed",
	    a->cnt);
	rd_kafka_topic_partition_list_destroy(a);
	return 0;
}

int
consumer_pause(struct consumer *k)
{
	return pause_all(k, 1);
}

int
consumer_resume(struct consumer *k)
{
	return pause_all(k, 0);
}

void
consumer_done(struct consumer *k, struct kmsg *msgs, int n)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;
	int refused = 0;

	if (n == 0)
		return;
	if (k->own) {	/* the owner keeps the offsets with its state */
		consumer_release(msgs, n);
		return;
	}
	l = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++) {
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(l,
		    msgs[i].topic, msgs[i].partition);
		if (p == NULL)
			p = rd_kafka_topic_partition_list_add(l, msgs[i].topic, msgs[i].partition);
		/* The stored offset is the next message to read. */
		if (msgs[i].offset + 1 > p->offset)
			p->offset = msgs[i].offset + 1;
	}
	/* A partition revoked since its messages were polled is refused
	 * (ERR__STATE): its new owner reads them again from the last commit
	 * and the unique key absorbs the findings written twice. */
	e = rd_kafka_offsets_store(k->rk, l);
	for (int i = 0; i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &l->elems[i];

		if (p->err == RD_KAFKA_RESP_ERR_NO_ERROR)
			continue;
		refused++;
		log_info("%s %d: offset %lld of %s[%d] not stored: %s (no longer "
			    "assigned here; the new owner reads these messages again)",
			    k->name, k->worker, (long long)p->offset, p->topic, (int)p->partition,
			    rd_kafka_err2str(p->err));
	}
	if (e && refused == 0)
		log_once("kafka.store", "kafka offsets store: %s", rd_kafka_err2str(e));
	rd_kafka_topic_partition_list_destroy(l);
	consumer_release(msgs, n);
}

void
consumer_release(struct kmsg *msgs, int n)
{
	for (int i = 0; i < n; i++) {
		rd_kafka_message_destroy(msgs[i].priv);
		msgs[i].priv = NULL;
	}
}

int
consumer_assigned(const struct consumer *k)
{
	return atomic_load(&((struct consumer *)k)->assigned);
}

int
consumer_member(const struct consumer *k)
{
	return atomic_load(&((struct consumer *)k)->member);
}

/* The end (RD_KAFKA_OFFSET_END) or the start (RD_KAFKA_OFFSET_BEGINNING)
 * offset of every partition of l, into out[i]: one ListOffsets request per
 * leader, all sent together, where rd_kafka_query_watermark_offsets() costs
 * a round trip per partition (a signal topic of 12 partitions took seconds
 * on a loaded machine). Same isolation level as the watermark query. -1 on
 * failure. */
static int
list_offsets(struct consumer *k, const rd_kafka_topic_partition_list_t *l, int64_t which,
    int64_t *out, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_copy(l);
	int rc = -1;

	for (int i = 0; i < q->cnt; i++)
		q->elems[i].offset = which;
	if (rd_kafka_offsets_for_times(k->rk, q, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		goto out;
	for (int i = 0; i < q->cnt; i++) {
		if (q->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR || q->elems[i].offset < 0)
			goto out;
		out[i] = q->elems[i].offset;
	}
	rc = 0;
out:
	rd_kafka_topic_partition_list_destroy(q);
	return rc;
}

/* The ends of the partitions of a as the last fetch responses gave them:
 * no round trip. A fetch is at most fetch.wait.max.ms old, so an end seen
 * here may be behind the broker's by the messages of that while; that is
 * enough for a worker to say it read everything it knows of, and
 * consumer_group_drained() asks the broker. -1 when one is not known yet. */
static int
cached_ends(struct consumer *k, const rd_kafka_topic_partition_list_t *a, int64_t *out)
{
	for (int i = 0; i < a->cnt; i++) {
		int64_t lo, hi;

		if (rd_kafka_get_watermark_offsets(k->rk, a->elems[i].topic,
		    a->elems[i].partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
			return -1;
		out[i] = hi;
	}
	return 0;
}

/* Where reading resumes for partitions with no position yet: the committed
 * offset, or the low watermark when nothing was committed (the consumer
 * starts at the earliest offset then). Fills p->offset; -1 on failure. */
static int
resume_offsets(struct consumer *k, rd_kafka_topic_partition_list_t *a, int timeout_ms)
{
	int64_t *lo;
	int rc = -1;

	if (rd_kafka_committed(k->rk, a, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	lo = xcalloc((size_t)a->cnt, sizeof(*lo));
	if (list_offsets(k, a, RD_KAFKA_OFFSET_BEGINNING, lo, timeout_ms) != 0)
		goto out;
	for (int i = 0; i < a->cnt; i++)
		if (a->elems[i].offset < 0)
			a->elems[i].offset = lo[i];
	rc = 0;
out:
	free(lo);
	return rc;
}

/* Partitions in a with no position yet (nothing read since they were
 * assigned, as after a rebalance at the end of a partition) get the group's
 * committed offset: one broker round trip of at most timeout_ms. */
static void
lag_committed(struct consumer *k, rd_kafka_topic_partition_list_t *a, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new(a->cnt);

	for (int i = 0; i < a->cnt; i++)
		if (a->elems[i].offset < 0)
			rd_kafka_topic_partition_list_add(c, a->elems[i].topic, a->elems[i].partition);
	if (c->cnt > 0 && rd_kafka_committed(k->rk, c, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
		for (int i = 0; i < c->cnt; i++) {
			rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(a,
			    c->elems[i].topic, c->elems[i].partition);
			if (p != NULL && c->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				p->offset = c->elems[i].offset;
		}
	rd_kafka_topic_partition_list_destroy(c);
}

int
consumer_lag(struct consumer *k, void (*each)(void *arg, const char *topic, int32_t partition,
    int64_t lag), void *arg, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *a = NULL;
	int n = -1;

	if (rd_kafka_assignment(k->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	if (rd_kafka_position(k->rk, a) != RD_KAFKA_RESP_ERR_NO_ERROR)
		goto out;
	if (k->own == NULL)
		lag_committed(k, a, timeout_ms);
	n = 0;
	for (int i = 0; i < a->cnt; i++) {
		rd_kafka_topic_partition_t *p = &a->elems[i];
		int64_t lo, hi, at;

		if (rd_kafka_get_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0)
			continue;
		/* nothing read nor committed: everything from the low watermark
		 * (auto.offset.reset earliest, kaudit's default) */
		if (p->offset < 0 && (k->own != NULL || p->offset != RD_KAFKA_OFFSET_INVALID ||
		    lo < 0))
			continue;
		at = p->offset < 0 ? lo : p->offset;
		each(arg, p->topic, p->partition, hi > at ? hi - at : 0);
		n++;
	}
out:
	rd_kafka_topic_partition_list_destroy(a);
	return n;
}

int
consumer_caught_up(struct consumer *k, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *a = NULL, *unread = NULL;
	int64_t *hi = NULL;
	int ok = 0;

	if (rd_kafka_assignment(k->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	if (rd_kafka_position(k->rk, a) != RD_KAFKA_RESP_ERR_NO_ERROR)
		goto out;
	hi = xcalloc((size_t)a->cnt + 1, sizeof(*hi));
	if (cached_ends(k, a, hi) != 0 &&
	    list_offsets(k, a, RD_KAFKA_OFFSET_END, hi, timeout_ms) != 0)
		goto out;
	unread = rd_kafka_topic_partition_list_new(a->cnt);
	for (int i = 0; i < a->cnt; i++)
		if (a->elems[i].offset < 0)
			rd_kafka_topic_partition_list_add(unread, a->elems[i].topic,
			    a->elems[i].partition);
	if (unread->cnt > 0 && resume_offsets(k, unread, timeout_ms) != 0)
		goto out;
	for (int i = 0; i < a->cnt; i++) {
		rd_kafka_topic_partition_t *p = &a->elems[i], *u;
		int64_t at = p->offset;

		if (at < 0 && (u = rd_kafka_topic_partition_list_find(unread, p->topic,
		    p->partition)) != NULL)
			at = u->offset;
		if (at < hi[i])
			goto out;
	}
	ok = 1;
out:
	free(hi);
	if (unread)
		rd_kafka_topic_partition_list_destroy(unread);
	rd_kafka_topic_partition_list_destroy(a);
	return ok;
}

/* Every partition of the subscribed topics, from the broker's metadata. */
static rd_kafka_topic_partition_list_t *
all_partitions(struct consumer *k, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);

	for (int i = 0; i < k->ntopics; i++) {
		rd_kafka_topic_t *t = rd_kafka_topic_new(k->rk, k->topics[i], NULL);
		const struct rd_kafka_metadata *md = NULL;

		if (rd_kafka_metadata(k->rk, 0, t, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    md->topic_cnt != 1 || md->topics[0].err) {
			if (md)
				rd_kafka_metadata_destroy(md);
			rd_kafka_topic_destroy(t);
			rd_kafka_topic_partition_list_destroy(l);
			return NULL;
		}
		for (int p = 0; p < md->topics[0].partition_cnt; p++)
			rd_kafka_topic_partition_list_add(l, k->topics[i],
			    md->topics[0].partitions[p].id);
		rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(t);
	}
	return l;
}

int
consumer_watermarks(struct consumer *k, const char *topic, int64_t *hi, int *n, int max,
    int timeout_ms)
{
	rd_kafka_topic_partition_list_t *l = all_partitions(k, timeout_ms);
	int64_t *h = NULL;
	int rc = -1;

	*n = 0;
	if (l == NULL)
		return -1;
	h = xcalloc((size_t)l->cnt + 1, sizeof(*h));
	if (list_offsets(k, l, RD_KAFKA_OFFSET_END, h, timeout_ms) != 0)
		goto out;
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *p = &l->elems[i];

		if (strcmp(p->topic, topic) != 0)
			continue;
		if (p->partition < 0 || p->partition >= max)
			goto out;
		hi[p->partition] = h[i];
		if (p->partition + 1 > *n)
			*n = p->partition + 1;
	}
	rc = 0;
out:
	free(h);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

int
consumer_group_drained(struct consumer *k, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *l = all_partitions(k, timeout_ms);
	int64_t *hi = NULL, *lo = NULL;
	int ok = 0;

	if (l == NULL || l->cnt == 0)
		goto out;
	hi = xcalloc((size_t)l->cnt, sizeof(*hi));
	lo = xcalloc((size_t)l->cnt, sizeof(*lo));
	/* The committed offsets first: the ends read after them can only
	 * be later, never hide a message that arrived in between. */
	if (rd_kafka_committed(k->rk, l, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    list_offsets(k, l, RD_KAFKA_OFFSET_END, hi, timeout_ms) != 0)
		goto out;
	for (int i = 0; i < l->cnt; i++)
		if (l->elems[i].offset < 0 && hi[i] > 0) {
			/* Nothing committed: drained only if the partition is
			 * empty (asked only then: a second round trip). */
			if (list_offsets(k, l, RD_KAFKA_OFFSET_BEGINNING, lo, timeout_ms) != 0)
				goto out;
			break;
		}
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *p = &l->elems[i];

		if (p->offset < 0 && hi[i] > 0 && lo[i] < hi[i])
			goto out;
		if (p->offset >= 0 && p->offset < hi[i])
			goto out;
	}
	ok = 1;
out:
	free(hi);
	free(lo);
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	return ok;
}

/* Before 2.3.0, librdkafka aborts in the cooperative-sticky assignor when a
 * consumer is destroyed after its group chose the protocol but before the
 * first assignment arrived (the assignor's state is still NULL). Polling
 * until that assignment comes closes the window. Returns 0 when destroying
 * is safe; -1 when the assignment never came although the protocol was
 * chosen, and destroying would abort the process. */
static int
await_first_assignment(struct consumer *k)
{
	long deadline = clock_ms() + CLOSE_WAIT_MS;

	if (!k->coop_conf || rd_kafka_version() >= COOP_CLOSE_FIXED ||
	    atomic_load(&k->assigned))
		return 0;
	log_info("%s %d: waiting for the first cooperative assignment before closing "
	    "(librdkafka %s aborts otherwise)", k->name, k->worker, rd_kafka_version_str());
	while (!atomic_load(&k->assigned) && clock_ms() < deadline) {
		rd_kafka_message_t *m = poll_one(k, 100);

		/* Not processed: no offset is stored, so it is read again. */
		if (m)
			rd_kafka_message_destroy(m);
	}
	if (atomic_load(&k->assigned))
		return 0;
	return strcmp(rd_kafka_rebalance_protocol(k->rk), "COOPERATIVE") == 0 ? -1 : 0;
}

/* Handles whose close did not finish by the deadline: the process is
 * exiting and owns them now (destroying one would wait for the broker). */
static struct {
	rd_kafka_t		*rk;
	rd_kafka_queue_t	*q;
} abandoned[256];
static atomic_int nabandoned;

/* Closes the consumer in the background and serves its queue until the close
 * completes or deadline_ms passes. 0 when closed; -1 when the deadline came
 * first (the close is left unfinished). */
static int
close_bounded(struct consumer *k, long deadline_ms, rd_kafka_queue_t **qp)
{
	rd_kafka_queue_t *q = *qp = rd_kafka_queue_new(k->rk);
	rd_kafka_error_t *err = rd_kafka_consumer_close_queue(k->rk, q);
	int closed;

	if (err) {
		log_warn("%s %d: close: %s", k->name, k->worker, rd_kafka_error_string(err));
		rd_kafka_error_destroy(err);
	}
	while (!(closed = rd_kafka_consumer_closed(k->rk)) && clock_ms() < deadline_ms) {
		/* The close's queue carries events, not callbacks: the
		 * revocation that leaving the group makes comes as one. */
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20);

		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			on_rebalance(k->rk, rd_kafka_event_error(ev),
			    rd_kafka_event_topic_partition_list(ev), k);
		if (ev)
			rd_kafka_event_destroy(ev);
	}
	if (closed) {
		rd_kafka_queue_destroy(q);
		*qp = NULL;
	}
	return closed ? 0 : -1;
}

void
consumer_close(struct consumer *k, long deadline_ms)
{
	rd_kafka_resp_err_t e;
	rd_kafka_queue_t *q;

	if (k == NULL)
		return;
	for (int i = 0; i < k->nheld; i++)
		rd_kafka_message_destroy(k->held[i]);
	free(k->held);
	k->held = NULL;
	k->nheld = k->capheld = 0;
	k->filling = NULL;
	k->nfilling = 0;
	if (await_first_assignment(k) != 0) {
		/* The process is exiting: leaving the handle to it beats an
		 * abort. The group notices at the session timeout. */
		log_error("%s %d: no cooperative assignment within %d s; not closing the "
		    "consumer (librdkafka %s would abort)", k->name, k->worker, CLOSE_WAIT_MS / 1000,
		    rd_kafka_version_str());
		consumer_free_topics(k);
		free(k);
		return;
	}
	/* Commit what was stored, then leave the group so partitions move on
	 * at once instead of after the session timeout. Both need the broker:
	 * an asynchronous commit (close commits again) and a close served
	 * until the deadline keep a stop bounded when it is away. */
	e = k->own ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_commit(k->rk, NULL, 1);
	if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("%s %d: final offset commit: %s", k->name, k->worker, rd_kafka_err2str(e));
	if (close_bounded(k, deadline_ms, &q) == 0) {
		rd_kafka_destroy(k->rk);
	} else {
		int n = atomic_fetch_add(&nabandoned, 1);
		if (n < (int)(sizeof(abandoned) / sizeof(abandoned[0]))) {
			abandoned[n].rk = k->rk;
			abandoned[n].q = q;
		}
		log_warn("%s %d: the broker did not answer the close by the shutdown deadline; "
		    "exiting without leaving the group (its partitions move on after the "
		    "session timeout). Offsets are stored only after their batch is committed "
		    "in PostgreSQL, so nothing is lost: messages after the last offset the "
		    "broker acknowledged are read again", k->name, k->worker);
	}
	consumer_free_topics(k);
	free(k);
}
