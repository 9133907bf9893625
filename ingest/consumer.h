/* consumer.h — one Kafka consumer per ingest worker (the only code that
 * includes librdkafka.h lives in ingest/).
 *
 * Offsets are stored by hand (enable.auto.offset.store=false) and only after
 * the batch's findings are committed in PostgreSQL; librdkafka's auto-commit
 * then commits stored offsets in the background and on close. A crash between
 * the database commit and the offset commit redelivers messages, whose
 * findings the unique key (audit_id, rule) absorbs: at-least-once.
 *
 * Rebalances follow the group's protocol: eager strategies (range,
 * roundrobin) replace the whole assignment, cooperative-sticky adds and
 * removes only the partitions that move. The rebalance callback never stores
 * or commits anything, and offsets for a partition revoked while its batch
 * was in hand are refused by librdkafka and dropped: the new owner reads
 * those messages again. */
#ifndef KAUDIT_CONSUMER_H
#define KAUDIT_CONSUMER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/strlist.h"

struct consumer;

#define CONSUMER_CLUSTER_MAX	128	/* bytes of a kaudit-cluster header */

struct kmsg {
	const char	*payload;
	size_t		 len;
	const char	*topic;
	int32_t		 partition;
	int64_t		 offset;
	/* the kaudit-cluster header (kaudit gateway sets it) or "": names the
	 * cluster of events that do not carry their own */
	char		 cluster[CONSUMER_CLUSTER_MAX + 1];
	void		*priv;		/* the librdkafka message */
};

/* What one consumer needs; strings are borrowed for the consumer's life. */
struct consumer_opts {
	const char		*brokers;	/* bootstrap.servers */
	const char		*group;		/* group.id */
	const struct strlist	*topics;	/* subscribed */
	const struct kvlist	*props;		/* librdkafka properties, applied last */
	int			 worker;	/* for client.id and log lines */
	const char		*name;		/* for log lines; NULL: "worker" */
	/* A consumer whose offsets live elsewhere (the state owners keep
	 * theirs in PostgreSQL, with the state they produced): nothing is
	 * stored in or committed to Kafka, and on an assignment own() gives
	 * each partition the offset to start from (or
	 * CONSUMER_OFFSET_BEGINNING) after loading what it needs; disown() is
	 * told of each revoked partition after its batches ended. Both run
	 * inside consumer polls, on the worker's thread. NULL own: offsets
	 * are Kafka's, stored after each batch's commit. */
	int	(*own)(void *arg, const char *topic, int32_t partition, int64_t *offset);
	void	(*disown)(void *arg, const char *topic, int32_t partition);
	void	*owner;
	/* NULL, or called with revoking_arg inside a consumer poll, on the
	 * worker's thread, before partitions are revoked (while they are
	 * still assigned): the worker settles the batch being written. */
	void	(*revoking)(void *arg);
	void	*revoking_arg;
	/* NULL, or the worker's stop request: once set, a poll that has no
	 * message yet returns within CONSUMER_STOP_SLICE_MS instead of
	 * waiting out its timeout, so that a stop does not wait for it. */
	atomic_int	*stop;
};

#define CONSUMER_STOP_SLICE_MS	20
#define CONSUMER_OFFSET_BEGINNING	(-2)

/* Checks kafka.properties against the linked librdkafka before anything
 * starts: every property as librdkafka would take it, and the assignment
 * strategy. Returns -1 with err for a setting that cannot run; 0 otherwise,
 * with warn filled (empty when there is nothing to say) when the strategy
 * has known bugs in this librdkafka. */
int	consumer_check_props(const struct kvlist *props, char *err, size_t errlen,
	    char *warn, size_t warnlen);
struct consumer *consumer_new(const struct consumer_opts *o, char *err, size_t errlen);
/* Fills up to max messages, waiting at most timeout_ms in all. Consumer
 * errors are logged and counted, not returned. A partition revoked by a
 * rebalance inside the call leaves none of its messages in the batch.
 * Returns the count. */
int	consumer_poll_batch(struct consumer *k, struct kmsg *out, int max, int timeout_ms);
/* Serves the consumer for up to timeout_ms while a batch is held and the
 * partitions are paused: rebalances run and the group sees a live member
 * (max.poll.interval.ms). A message that still arrives is kept and starts
 * the next consumer_poll_batch(). */
void	consumer_serve(struct consumer *k, int timeout_ms);
/* Pause and resume fetching for every assigned partition; partitions assigned
 * while paused are paused too. Messages in hand are not affected. 0 or -1. */
int	consumer_pause(struct consumer *k);
int	consumer_resume(struct consumer *k);
/* Stores the offsets after these messages and releases them. Offsets of
 * partitions no longer assigned are dropped (logged). */
void	consumer_done(struct consumer *k, struct kmsg *msgs, int n);
/* Releases messages without storing offsets (they will be redelivered). */
void	consumer_release(struct kmsg *msgs, int n);
/* 1 once the group has given this consumer an assignment, even an empty one
 * (it has joined; with more members than partitions some get nothing). */
int	consumer_assigned(const struct consumer *k);
/* 1 while this consumer is a member of the group: assigned, and its
 * assignment not lost since (a session that expired while the broker was
 * away); any thread may ask. */
int	consumer_member(const struct consumer *k);
/* 1 when every assigned partition has been read up to its high watermark
 * (position, or the committed offset when nothing was consumed since the
 * assignment, equals the high watermark). The watermark is the last fetch's
 * when there was one (no round trip), otherwise the broker's; may block up
 * to timeout_ms on broker round trips; thread-safe against the worker's
 * polling. */
int	consumer_caught_up(struct consumer *k, int timeout_ms);
/* 1 when the consumer group has committed, for every partition of every
 * subscribed topic, the offset at its high watermark: everything produced so
 * far has been processed by some member of the group. Partitions still held
 * by a killed member count as not drained until the group reassigns them and
 * they are read. Blocks for broker round trips (at most timeout_ms each). */
int	consumer_group_drained(struct consumer *k, int timeout_ms);
/* The high watermark of every partition of topic (subscribed): hi[p] for
 * p < *n. -1 on a broker failure or a partition numbered max or more. */
int	consumer_watermarks(struct consumer *k, const char *topic, int64_t *hi, int *n,
	    int max, int timeout_ms);
/* Calls each with the lag of every assigned partition: the high watermark
 * last seen by the fetcher minus the position, or minus the group's
 * committed offset for a partition nothing was read from since its
 * assignment (one broker round trip of at most timeout_ms; the state
 * owners' partitions, whose offsets live in PostgreSQL, are then left
 * out). Safe from another thread. Returns the count reported, -1 on
 * failure. */
int	consumer_lag(struct consumer *k, void (*each)(void *arg, const char *topic,
	    int32_t partition, int64_t lag), void *arg, int timeout_ms);
/* Commits stored offsets, leaves the group, frees; waits for the broker
 * until deadline_ms (monotonic, base/clock.h) at most. Past it the group
 * leave is given up and the librdkafka handle left to the exiting process:
 * offsets the broker did not acknowledge are read again by the group. With
 * cooperative-sticky on librdkafka before 2.3.0 it first waits (15 s at
 * most) for the first assignment, which that librdkafka needs to close. */
void	consumer_close(struct consumer *k, long deadline_ms);

#endif
