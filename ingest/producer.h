/* producer.h — a Kafka producer for kaudit's own topic of signals (memory
 * across events): idempotent, acks from every in-sync replica, keyed so that
 * every signal of one key lands on one partition.
 *
 * A batch's messages are counted as they are queued and as their delivery
 * reports come back, so the worker can store its source offsets only once
 * every signal of the batch is safe in Kafka. */
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
};

/* The messages of one batch: queued, and of those, acknowledged or failed. */
struct producer_batch {
	atomic_long	 queued, acked, failed;
};

struct producer *producer_new(const struct producer_opts *o, char *err, size_t errlen);
void	producer_free(struct producer *p);

/* Queues one message (copied), keyed by key. Waits while librdkafka's queue
 * is full. Returns 0, or -1 with a reason when it cannot be queued. */
int	producer_send(struct producer *p, struct producer_batch *b, const char *key,
	    size_t klen, const char *val, size_t vlen, char *err, size_t errlen);
/* Serves delivery reports until every queued message of b is acknowledged
 * or failed, or timeout_ms passed. Returns 0 when all were acknowledged,
 * -1 otherwise (b->failed says how many failed; the caller sends them all
 * again: the state engine counts a signal once). */
int	producer_wait(struct producer *p, struct producer_batch *b, int timeout_ms);

/* Creates topic with partitions partitions when the cluster lacks it. 0, or
 * -1 with a reason (an existing topic is fine, whatever its partitions:
 * their count is then logged by the caller if it differs). */
int	producer_topic_ensure(const struct producer_opts *o, int partitions, int *have,
	    char *err, size_t errlen);

#endif
