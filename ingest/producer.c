/* producer.c — the signal producer (see producer.h). */
#include "ingest/producer.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xmalloc.h"
#include "ingest/kerr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

struct producer {
	rd_kafka_t	*rk;
	rd_kafka_topic_t *rkt;
	char		*hkey, *hval;	/* the header of every message, or NULL */
};

static int
conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	char why[256];

	if (rd_kafka_conf_set(conf, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property %s=%s: %s", k, v, why);
		return -1;
	}
	return 0;
}

/* kafka.properties serve the consumers too; what only a consumer reads
 * (librdkafka would warn about each) is left out. */
static int
consumer_only(const char *k)
{
	static const char *const names[] = { "auto.offset.reset", "auto.commit.interval.ms",
	    "enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof",
	    "partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms",
	    "max.poll.interval.ms", "isolation.level", "check.crcs", "coordinator.query.interval.ms",
	    "consume.callback.max.messages", "allow.auto.create.topics", NULL };
	static const char *const prefixes[] = { "fetch.", "group.", "queued.", "offset.store.",
	    NULL };

	for (size_t i = 0; names[i]; i++)
		if (strcmp(k, names[i]) == 0)
			return 1;
	for (size_t i = 0; prefixes[i]; i++)
		if (strncmp(k, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

static int
conf_props(rd_kafka_conf_t *conf, const struct kvlist *props)
{
	char why[256];

	for (size_t i = 0; props && i < props->n; i++)
		if (!consumer_only(props->v[i].key) && rd_kafka_conf_set(conf,
		    props->v[i].key, props->v[i].value, why, sizeof(why)) != RD_KAFKA_CONF_OK)
			log_debug("kafka producer: skipping %s: %s", props->v[i].key, why);
	return 0;
}

static void
on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	(void)opaque;
	kerr_report(rd_kafka_name(rk), e, reason);
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4 && !kerr_duplicate(fac))
		log_warn("kafka producer %s: %s", fac, buf);
	else
		log_debug("kafka producer %s: %s", fac, buf);
}

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct producer_batch *b = m->_private;

	(void)rk;
	(void)opaque;
	if (b == NULL)
		return;
	if (m->err) {
		atomic_fetch_add(&b->failed, 1);
		log_once("kafka.produce", "kafka: a message was not delivered: %s (the batch "
		    "is sent again)", rd_kafka_err2str(m->err));
	} else {
		atomic_fetch_add(&b->acked, 1);
	}
}

static rd_kafka_conf_t *
producer_conf(const struct producer_opts *o, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char id[64];

	if (o->client_id)
		snprintf(id, sizeof(id), "%s", o->client_id);
	else
		snprintf(id, sizeof(id), "kaudit-signals-%d", o->worker);
	if (conf_set(conf, "bootstrap.servers", o->brokers, err, errlen) ||
	    conf_set(conf, "client.id", id, err, errlen) ||
	    conf_props(conf, o->props) ||
	    conf_set(conf, "enable.idempotence", "true", err, errlen) ||
	    conf_set(conf, "acks", "all", err, errlen) ||
	    conf_set(conf, "linger.ms", "5", err, errlen) ||
	    /* the same key always goes to the same partition, in every process */
	    conf_set(conf, "partitioner", "murmur2_random", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	return conf;
}

struct producer *
producer_new(const struct producer_opts *o, char *err, size_t errlen)
{
	struct producer *p = xcalloc(1, sizeof(*p));
	rd_kafka_conf_t *conf = producer_conf(o, err, errlen);

	if (conf == NULL)
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	if ((p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen)) == NULL) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	if (o->header_key && o->header_value) {
		p->hkey = xstrdup(o->header_key);
		p->hval = xstrdup(o->header_value);
	}
	if ((p->rkt = rd_kafka_topic_new(p->rk, o->topic, NULL)) == NULL) {
		snprintf(err, errlen, "kafka topic %s: %s", o->topic,
		    rd_kafka_err2str(rd_kafka_last_error()));
		goto fail;
	}
	return p;
fail:
	producer_free(p);
	return NULL;
}

void
producer_free(struct producer *p)
{
	if (p == NULL)
		return;
	if (p->rk) {
		rd_kafka_flush(p->rk, 5000);
		if (p->rkt)
			rd_kafka_topic_destroy(p->rkt);
		rd_kafka_destroy(p->rk);
	}
	free(p->hkey);
	free(p->hval);
	free(p);
}

/* rd_kafka_produce() or, with a header, rd_kafka_producev(): 0 or an error. */
static rd_kafka_resp_err_t
produce_one(struct producer *p, struct producer_batch *b, const char *key, size_t klen,
    const char *val, size_t vlen)
{
	if (p->hkey == NULL)
		return rd_kafka_produce(p->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
		    (void *)val, vlen, key, klen, b) == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR :
		    rd_kafka_last_error();
	return rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(p->rkt),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)val, vlen),
	    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_OPAQUE(b),
	    RD_KAFKA_V_HEADER(p->hkey, p->hval, (ssize_t)strlen(p->hval)), RD_KAFKA_V_END);
}

int
producer_send(struct producer *p, struct producer_batch *b, const char *key, size_t klen,
    const char *val, size_t vlen, char *err, size_t errlen)
{
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__QUEUE_FULL;

	/* queued first: a delivery report may come before producev returns */
	atomic_fetch_add(&b->queued, 1);
	for (int tries = 0; tries < 600; tries++) {
		if ((e = produce_one(p, b, key, klen, val, vlen)) == RD_KAFKA_RESP_ERR_NO_ERROR)
			return 0;
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(p->rk, 100);	/* make room: serve delivery reports */
	}
	atomic_fetch_sub(&b->queued, 1);
	snprintf(err, errlen, "kafka produce: %s", rd_kafka_err2str(e));
	return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? -2 : -1;
}

void
producer_poll(struct producer *p, int timeout_ms)
{
	rd_kafka_poll(p->rk, timeout_ms);
}

int
producer_fatal(struct producer *p, char *err, size_t errlen)
{
	return rd_kafka_fatal_error(p->rk, err, errlen) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

void
producer_test_fatal(struct producer *p)
{
	rd_kafka_test_fatal_error(p->rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
	    "a fatal error made by a test");
}

void
producer_purge(struct producer *p)
{
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	for (int i = 0; i < 10 && rd_kafka_outq_len(p->rk) > 0; i++)
		rd_kafka_poll(p->rk, 100);
	rd_kafka_poll(p->rk, 0);
}

int
producer_wait(struct producer *p, struct producer_batch *b, int timeout_ms)
{
	long end = clock_ms() + timeout_ms;

	while (atomic_load(&b->acked) + atomic_load(&b->failed) < atomic_load(&b->queued)) {
		long left = end - clock_ms();
		if (left <= 0)
			return -1;
		rd_kafka_poll(p->rk, left < 100 ? (int)left : 100);
	}
	return atomic_load(&b->failed) ? -1 : 0;
}

/* The CreateTopics answer on q, served in slices so that *stop is seen
 * and the client's errors (why no answer comes) reach its error callback:
 * NULL after 30 s or a stop. */
static rd_kafka_event_t *
await_answer(rd_kafka_t *rk, rd_kafka_queue_t *q, const atomic_int *stop)
{
	rd_kafka_event_t *ev = NULL;
	long end = clock_ms() + 30000;

	while (ev == NULL && clock_ms() < end && !(stop && atomic_load(stop))) {
		rd_kafka_poll(rk, 0);
		ev = rd_kafka_queue_poll(q, 200);
	}
	return ev;
}

int
producer_topic_ensure(const struct producer_opts *o, int partitions, int *have,
    const atomic_int *stop, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = producer_conf(o, err, errlen);
	rd_kafka_t *rk = NULL;
	rd_kafka_NewTopic_t *nt = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_topic_result_t **res;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t = NULL;
	size_t nres;
	char why[256];
	int rc = -1;

	*have = 0;
	if (conf == NULL)
		return -1;
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen)) == NULL) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	nt = rd_kafka_NewTopic_new(o->topic, partitions, -1, why, sizeof(why));
	if (nt == NULL) {
		snprintf(err, errlen, "kafka topic %s: %s", o->topic, why);
		goto out;
	}
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = await_answer(rk, q, stop);
	if (ev == NULL || rd_kafka_event_error(ev)) {
		snprintf(err, errlen, "kafka: creating topic %s: %s", o->topic,
		    ev ? rd_kafka_event_error_string(ev) : stop && atomic_load(stop) ? "stopped" :
		    "no answer from the brokers in 30 s (the kafka errors logged say why)");
		goto out;
	}
	res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres);
	if (nres == 1 && rd_kafka_topic_result_error(res[0]) &&
	    rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		snprintf(err, errlen, "kafka: creating topic %s: %s", o->topic,
		    rd_kafka_topic_result_error_string(res[0]));
		goto out;
	}
	/* what it has now (a topic made earlier keeps its own count) */
	t = rd_kafka_topic_new(rk, o->topic, NULL);
	for (int i = 0; i < 50 && *have == 0; i++) {
		if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
		    md->topic_cnt == 1 && md->topics[0].err == 0)
			*have = md->topics[0].partition_cnt;
		if (md)
			rd_kafka_metadata_destroy(md);
		md = NULL;
		if (*have == 0)
			rd_kafka_poll(rk, 100);
	}
	if (*have == 0) {
		snprintf(err, errlen, "kafka: topic %s has no partitions", o->topic);
		goto out;
	}
	rc = 0;
out:
	if (t)
		rd_kafka_topic_destroy(t);
	if (ev)
		rd_kafka_event_destroy(ev);
	if (q)
		rd_kafka_queue_destroy(q);
	if (nt)
		rd_kafka_NewTopic_destroy(nt);
	rd_kafka_destroy(rk);
	return rc;
}
