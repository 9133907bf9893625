/* producer.h — kaudit's Kafka producer: idempotent, acks from every in-sync
 * replica, keyed so that every message of one key lands on one partition.
 * It carries the daemon's signals (memory across events) and the events
 * `kaudit gateway` receives from the API server.
 *
 * A batch's messages are counted as they are queued and as their delivery
 * reports come back, so the worker can store its source offsets, and the
 * gateway answer 200, only once every message of the batch is safe in
 * Kafka. */
#ifndef KAUDIT_PRODUCER_H
#define KAUDIT_PRODUCER_H

#include <stdatomic.h>
#include <stddef.h>

#include "base/strlist.h"

struct producer;

struct producer_opts {
	const char		*brokers;
	const struct kvlist	*props;		/* librdkafka properties (security...) */
	const char		*topic;
	int			 worker;	/* for client.id */
	const char		*client_id;	/* NULL: kaudit-signals-WORKER */
	/* a header every message carries (NULL: none), e.g. the cluster */
	const char		*header_key, *header_value;
};

/* The messages of one batch: queued, and of those, acknowledged or failed. */
struct producer_batch {
	atomic_long	 queued, acked, failed;
};

struct producer *producer_new(const struct producer_opts *o, char *err, size_t errlen);
void	producer_free(struct producer *p);

/* Queues one message (copied), keyed by key. Waits while librdkafka's queue
 * is full. Returns 0; -2 with a reason when the message is larger than
 * Kafka takes (sending it again cannot help); -1 with a reason when it
 * cannot be queued now. */
int	producer_send(struct producer *p, struct producer_batch *b, const char *key,
	    size_t klen, const char *val, size_t vlen, char *err, size_t errlen);
/* Serves delivery reports until every queued message of b is acknowledged
 * or failed, or timeout_ms passed. Returns 0 when all were acknowledged,
 * -1 otherwise (b->failed says how many failed; the caller sends them all
 * again: the state engine counts a signal once). */
int	producer_wait(struct producer *p, struct producer_batch *b, int timeout_ms);

/* Serves delivery reports for up to timeout_ms. */
void	producer_poll(struct producer *p, int timeout_ms);
/* 1 after a fatal error (an idempotence guarantee the broker could not
 * keep), with its reason: the producer takes nothing more and must be
 * replaced; 0 otherwise. */
int	producer_fatal(struct producer *p, char *err, size_t errlen);
/* Makes the producer fail as after a fatal idempotence error (librdkafka
 * offers this for tests: a real one cannot be caused at will). */
void	producer_test_fatal(struct producer *p);
/* Drops what is queued or in flight and serves the delivery reports
 * (each one failed), so that no batch waits on a producer about to be
 * freed. */
void	producer_purge(struct producer *p);

/* Creates topic with partitions partitions when the cluster lacks it. 0, or
 * -1 with a reason (an existing topic is fine, whatever its partitions:
 * their count is then logged by the caller if it differs). Waits at most
 * 30 s for the brokers' answer, less when *stop (may be NULL) becomes
 * non-zero. */
int	producer_topic_ensure(const struct producer_opts *o, int partitions, int *have,
	    const atomic_int *stop, char *err, size_t errlen);

#endif
