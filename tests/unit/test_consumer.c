/* test_consumer.c — the Kafka consumer on a real broker: a partition revoked
 * in the middle of a batch leaves none of its messages in that batch, so a
 * state owner never evaluates signals of a partition it no longer owns (its
 * new owner reads them again from the committed offset). Needs
 * KAUDIT_KAFKA_BROKERS.
 *
 * Consumer A reads a four-partition topic as a state owner does (own and
 * disown hooks, offsets from the hooks). During one long batch of A, new
 * messages reach every partition and then consumer B joins the group, so the
 * rebalance revokes partitions from A after the batch already holds some of
 * their messages.
 *
 * Then a plain consumer of another group reads the same topic as --idle-exit
 * sees it: its ends, caught up, the group drained only once committed, and a
 * stop request ending an empty poll. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "base/clock.h"
#include "base/strlist.h"
#include "ingest/consumer.h"
#include "tests/unit/t.h"

#define NPART	4

static const char *brokers;
static char topic[96], group[128];

/* What the own/disown hooks saw, per consumer. */
struct owner {
	int	 owned[NPART];
	int	 revoked;	/* disown calls */
	long	 revoked_at;	/* clock_ms() of the first */
};

static int
own(void *arg, const char *t, int32_t part, int64_t *offset)
{
	struct owner *o = arg;

	(void)t;
	if (part >= 0 && part < NPART)
		o->owned[part] = 1;
	*offset = CONSUMER_OFFSET_BEGINNING;
	return 0;
}

static void
disown(void *arg, const char *t, int32_t part)
{
	struct owner *o = arg;

	(void)t;
	if (part >= 0 && part < NPART)
		o->owned[part] = 0;
	if (o->revoked++ == 0)
		o->revoked_at = clock_ms();
}

static int
create_topic(char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	int rc = -1;

	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, NULL, 0);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen)) == NULL)
		return -1;
	nt = rd_kafka_NewTopic_new(topic, NPART, 1, err, errlen);
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	if ((ev = rd_kafka_queue_poll(q, 20000)) != NULL) {
		const rd_kafka_CreateTopics_result_t *r = rd_kafka_event_CreateTopics_result(ev);
		size_t n = 0;
		const rd_kafka_topic_result_t **tr = r ? rd_kafka_CreateTopics_result_topics(r, &n) :
		    NULL;
		if (rd_kafka_event_error(ev))
			snprintf(err, errlen, "%s", rd_kafka_event_error_string(ev));
		else if (n == 1 && rd_kafka_topic_result_error(tr[0]))
			snprintf(err, errlen, "%s", rd_kafka_topic_result_error_string(tr[0]));
		else
			rc = 0;
		rd_kafka_event_destroy(ev);
	} else
		snprintf(err, errlen, "no answer to CreateTopics in 20 s");
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

/* n messages to each partition, flushed. */
static int
produce(int n, const char *tag)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char err[256], v[64];
	int rc = 0;

	rd_kafka_conf_set(conf, "bootstrap.servers", brokers, NULL, 0);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL)
		return -1;
	for (int p = 0; p < NPART; p++)
		for (int i = 0; i < n; i++) {
			int len = snprintf(v, sizeof(v), "%s-%d-%d", tag, p, i);
			if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
			    RD_KAFKA_V_VALUE(v, (size_t)len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR)
				rc = -1;
		}
	if (rd_kafka_flush(rk, 20000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		rc = -1;
	rd_kafka_destroy(rk);
	return rc;
}

static struct consumer *
consumer(struct owner *o, int worker, struct strlist *topics, struct kvlist *props)
{
	struct consumer_opts co = { .brokers = brokers, .group = group, .topics = topics,
	    .props = props, .worker = worker, .name = "test consumer", .own = own,
	    .disown = disown, .owner = o };
	char err[512];
	struct consumer *k = consumer_new(&co, err, sizeof(err));

	if (k == NULL)
		printf("  consumer_new: %s\n", err);
	return k;
}

struct joiner {
	struct strlist	*topics;
	struct kvlist	*props;
	struct owner	 o;
	volatile int	 stop;
	int		 produced;
};

/* New messages on every partition, then B joins and keeps polling. */
static void *
joiner_main(void *arg)
{
	struct joiner *j = arg;
	struct kmsg msgs[256];
	struct consumer *b;
	int n;

	usleep(300 * 1000);
	j->produced = produce(5, "during") == 0;
	usleep(500 * 1000);
	if ((b = consumer(&j->o, 2, j->topics, j->props)) == NULL)
		return NULL;
	while (!j->stop) {
		n = consumer_poll_batch(b, msgs, 256, 100);
		consumer_release(msgs, n);
	}
	consumer_close(b, clock_ms() + 30000);
	return NULL;
}

static void
test_revoked_mid_batch(void)
{
	static char *tv[1];
	static struct kv pv[] = {
		{ "session.timeout.ms", "6000" }, { "heartbeat.interval.ms", "300" },
		{ "auto.offset.reset", "earliest" },
	};
	struct strlist topics = { tv, 1 };
	struct kvlist props = { pv, sizeof(pv) / sizeof(pv[0]) };
	struct owner a = { { 0 }, 0, 0 };
	struct joiner j = { &topics, &props, { { 0 }, 0, 0 }, 0, 0 };
	struct kmsg *msgs = calloc(4096, sizeof(*msgs));
	struct consumer *k;
	pthread_t th;
	long start, end;
	int n, got = 0, stray = 0, owned_after = 0;
	char err[512];

	tv[0] = topic;
	if (create_topic(err, sizeof(err)) != 0) {
		printf("  create topic %s: %s\n", topic, err);
		T_ASSERT(0);
		free(msgs);
		return;
	}
	T_ASSERT(produce(5, "before") == 0);
	if ((k = consumer(&a, 1, &topics, &props)) == NULL) {
		T_ASSERT(0);
		free(msgs);
		return;
	}
	/* A alone: all four partitions, and what they held before */
	start = clock_ms();
	while (got < 5 * NPART && clock_ms() - start < 30000) {
		n = consumer_poll_batch(k, msgs, 4096, 200);
		got += n;
		consumer_release(msgs, n);
	}
	T_INTEQ(got, 5 * NPART);
	T_INTEQ(a.owned[0] + a.owned[1] + a.owned[2] + a.owned[3], NPART);
	T_INTEQ(a.revoked, 0);

	/* one long batch: new messages on every partition, then B joins */
	pthread_create(&th, NULL, joiner_main, &j);
	start = clock_ms();
	n = consumer_poll_batch(k, msgs, 4096, 6000);
	end = clock_ms();
	for (int i = 0; i < NPART; i++)
		owned_after += a.owned[i];
	for (int i = 0; i < n; i++)
		if (msgs[i].partition < 0 || msgs[i].partition >= NPART ||
		    !a.owned[msgs[i].partition])
			stray++;
	if (stray)
		printf("  %d of %d message(s) in the batch belong to partitions revoked "
		    "during it\n", stray, n);
	T_ASSERT(j.produced);
	/* the rebalance happened inside the batch, and took something away */
	T_ASSERT(a.revoked > 0);
	T_ASSERT(a.revoked_at >= start && a.revoked_at <= end);
	T_ASSERT(owned_after < NPART);
	T_INTEQ(stray, 0);
	consumer_release(msgs, n);

	j.stop = 1;
	pthread_join(th, NULL);
	consumer_close(k, clock_ms() + 30000);
	free(msgs);
}

/* What --idle-exit asks of a plain consumer (offsets in Kafka), on the
 * topic the test above left with 10 messages in each partition: the ends in
 * one request, nothing drained before the offsets are committed, drained
 * after; and a stop request ends a poll that has nothing. */
static void
test_drain_and_stop(void)
{
	static char *tv[1];
	static struct kv pv[] = { { "auto.offset.reset", "earliest" } };
	struct strlist topics = { tv, 1 };
	struct kvlist props = { pv, 1 };
	atomic_int stop = 0;
	struct consumer_opts co = { .brokers = brokers, .topics = &topics, .props = &props,
	    .name = "test consumer", .stop = &stop };
	struct kmsg *msgs = calloc(4096, sizeof(*msgs));
	char g[160], err[512];
	struct consumer *k;
	int64_t hi[8];
	int n = 0, got = 0, drained = 0;
	long start;

	tv[0] = topic;
	snprintf(g, sizeof(g), "%s-drain", group);
	co.group = g;
	if ((k = consumer_new(&co, err, sizeof(err))) == NULL) {
		printf("  consumer_new: %s\n", err);
		T_ASSERT(0);
		free(msgs);
		return;
	}
	start = clock_ms();
	while (got < 10 * NPART && clock_ms() - start < 30000)
		got += consumer_poll_batch(k, msgs + got, 4096 - got, 200);
	T_INTEQ(got, 10 * NPART);
	T_INTEQ(consumer_watermarks(k, topic, hi, &n, 8, 5000), 0);
	T_INTEQ(n, NPART);
	for (int p = 0; p < n; p++)
		T_INTEQ(hi[p], 10);
	T_ASSERT(consumer_caught_up(k, 5000));
	T_ASSERT(!consumer_group_drained(k, 5000));	/* nothing committed yet */
	consumer_done(k, msgs, got);
	start = clock_ms();
	while (!(drained = consumer_group_drained(k, 5000)) && clock_ms() - start < 15000)
		usleep(200 * 1000);
	T_ASSERT(drained);
	atomic_store(&stop, 1);
	start = clock_ms();
	T_INTEQ(consumer_poll_batch(k, msgs, 16, 60000), 0);
	T_ASSERT(clock_ms() - start < 30000);	/* it did not wait for the 60 s */
	consumer_close(k, clock_ms() + 30000);
	free(msgs);
}

int
main(void)
{
	if ((brokers = getenv("KAUDIT_KAFKA_BROKERS")) == NULL || *brokers == '\0') {
		printf("FAIL test_consumer: KAUDIT_KAFKA_BROKERS is not set (tests/run.sh starts "
		    "Kafka and sets it)\n");
		return 1;
	}
	snprintf(topic, sizeof(topic), "ut-consumer-%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(group, sizeof(group), "%s-group", topic);
	T_RUN(test_revoked_mid_batch);
	T_RUN(test_drain_and_stop);
	return t_done();
}
