/* consumer.c — librdkafka consumer for one ingest worker (see consumer.h). */
#include "ingest/consumer.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

struct consumer {
	rd_kafka_t	*rk;
	char		**topics;	/* subscribed topic names */
	int		  ntopics;
	int		 worker;
	atomic_int	 assigned;
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

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
    void *opaque)
{
	struct consumer *k = opaque;

	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		log_info("worker %d: assigned %d partition(s)", k->worker, parts->cnt);
		rd_kafka_assign(rk, parts);
		if (parts->cnt > 0)
			atomic_store(&k->assigned, 1);
	} else {
		/* Revocation: auto-commit commits the offsets stored so far;
		 * a batch in hand was finished before this poll. */
		log_info("worker %d: revoked %d partition(s)", k->worker, parts->cnt);
		rd_kafka_assign(rk, NULL);
	}
}

static void
on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	log_once("kafka.error", "kafka: %s: %s (further kafka errors are counted, not logged)",
	    rd_kafka_err2name((rd_kafka_resp_err_t)e), reason);
}

static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 4)
		log_warn("kafka %s: %s", fac, buf);
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
	snprintf(id, sizeof(id), "kaudit-%d", o->worker);
	/* kaudit's own defaults first, so the config's properties override them. */
	if (set_prop(conf, "bootstrap.servers", o->brokers, err, errlen) ||
	    set_prop(conf, "group.id", o->group, err, errlen) ||
	    set_prop(conf, "client.id", id, err, errlen) ||
	    set_prop(conf, "enable.auto.offset.store", "false", err, errlen) ||
	    set_prop(conf, "enable.auto.commit", "true", err, errlen) ||
	    set_prop(conf, "auto.commit.interval.ms", "1000", err, errlen) ||
	    set_prop(conf, "auto.offset.reset", "earliest", err, errlen) ||
	    set_prop(conf, "enable.partition.eof", "false", err, errlen))
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

int
consumer_poll_batch(struct consumer *k, struct kmsg *out, int max, int timeout_ms)
{
	long deadline = clock_ms() + timeout_ms;
	int n = 0;

	while (n < max) {
		long left = deadline - clock_ms();
		rd_kafka_message_t *m;

		/* Once a batch has started, take whatever is already queued. */
		m = rd_kafka_consumer_poll(k->rk, left > 0 ? (int)left : 0);
		if (m == NULL) {
			if (left <= 0)
				break;
			continue;
		}
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_once("kafka.consume", "kafka consume: %s",
				    rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		out[n].payload = m->payload ? (const char *)m->payload : "";
		out[n].len = m->len;
		out[n].topic = rd_kafka_topic_name(m->rkt);
		out[n].partition = m->partition;
		out[n].offset = m->offset;
		out[n].priv = m;
		n++;
	}
	return n;
}

void
consumer_done(struct consumer *k, struct kmsg *msgs, int n)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;

	if (n == 0)
		return;
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
	e = rd_kafka_offsets_store(k->rk, l);
	if (e)
		log_once("kafka.store", "kafka offsets store: %s (the messages will be "
		    "redelivered to the partition's new owner)", rd_kafka_err2str(e));
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

/* Where reading resumes for partitions with no position yet: the committed
 * offset, or the low watermark when nothing was committed (the consumer
 * starts at the earliest offset then). Fills p->offset; -1 on failure. */
static int
resume_offsets(struct consumer *k, rd_kafka_topic_partition_list_t *a, int timeout_ms)
{
	if (rd_kafka_committed(k->rk, a, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	for (int i = 0; i < a->cnt; i++) {
		rd_kafka_topic_partition_t *p = &a->elems[i];
		int64_t lo, hi;

		if (p->offset >= 0)
			continue;
		if (rd_kafka_query_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi,
		    timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
			return -1;
		p->offset = lo;
	}
	return 0;
}

int
consumer_caught_up(struct consumer *k, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *a = NULL, *unread = NULL;
	int ok = 0;

	if (rd_kafka_assignment(k->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	if (rd_kafka_position(k->rk, a) != RD_KAFKA_RESP_ERR_NO_ERROR)
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
		int64_t lo, hi, at = p->offset;

		if (at < 0 && (u = rd_kafka_topic_partition_list_find(unread, p->topic,
		    p->partition)) != NULL)
			at = u->offset;
		if (rd_kafka_query_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi,
		    timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR || at < hi)
			goto out;
	}
	ok = 1;
out:
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
consumer_group_drained(struct consumer *k, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *l = all_partitions(k, timeout_ms);
	int ok = 0;

	if (l == NULL || l->cnt == 0)
		goto out;
	if (rd_kafka_committed(k->rk, l, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		goto out;
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *p = &l->elems[i];
		int64_t lo, hi;

		if (rd_kafka_query_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi,
		    timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
			goto out;
		/* Nothing committed: drained only if the partition is empty. */
		if ((p->offset >= 0 ? p->offset : lo) < hi)
			goto out;
	}
	ok = 1;
out:
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	return ok;
}

void
consumer_close(struct consumer *k)
{
	rd_kafka_resp_err_t e;

	if (k == NULL)
		return;
	/* Commit what was stored, then leave the group so partitions move on
	 * at once instead of after the session timeout. */
	e = rd_kafka_commit(k->rk, NULL, 0);
	if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
		log_warn("worker %d: final offset commit: %s", k->worker, rd_kafka_err2str(e));
	rd_kafka_consumer_close(k->rk);
	rd_kafka_destroy(k->rk);
	consumer_free_topics(k);
	free(k);
}
