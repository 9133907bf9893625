/* worker.h — a worker thread: Kafka batch -> work -> one PostgreSQL
 * transaction -> offsets.
 *
 * Two kinds of work run in this loop. An ingester (ingester.c) decodes audit
 * events, runs the rules, writes findings and hands signals to the state
 * owners through the signal topic; a state owner (stateowner.c) reads that
 * topic, keeps the state of its keys and writes the findings they make. What
 * the loop guarantees is the same for both: a batch is retried against the
 * database until it commits or shutdown is requested; meanwhile its
 * partitions are paused and the consumer keeps polling, so the worker stays in
 * the group however long the database is away. Offsets follow commits, so a
 * failure at any point redelivers instead of losing. worker.c has the state
 * machine. */
#ifndef KAUDIT_WORKER_H
#define KAUDIT_WORKER_H

#include <stdatomic.h>

#include "ingest/consumer.h"

struct worker_stats {
	atomic_ulong	messages;
	atomic_ulong	events;
	atomic_ulong	findings;	/* new findings committed */
	atomic_ulong	errors;		/* undecodable parts, in kaudit.ingest_errors */
	atomic_ulong	dead_letters;	/* rows PostgreSQL refused, kept aside */
	atomic_ulong	db_retries;
	atomic_ulong	signals;	/* handed to the state owners */
	atomic_ulong	state_findings;	/* new findings of the state owners */
	atomic_ulong	archived;	/* new rows of the event archive (kaudit.events) */
	atomic_ulong	write_ms;	/* spent in commits (the database write, the signals' acks) */
	atomic_ulong	write_wait_ms;	/* of it, the worker threads waited for (see worker.c) */
	atomic_long	last_message_ms;	/* monotonic ms of the last message seen */
	atomic_int	assigned;	/* some worker has partitions */
	atomic_int	busy;		/* batches in hand */
};

/* What a kind of work does with a batch. */
struct worker_ops {
	/* Works on msgs[0..n) and keeps the results until the batch ends.
	 * Pipelined (worker_conf.pipelined), the work holds two batches:
	 * commit() of the older runs on the writer thread while evaluate()
	 * works on the newer, and commit() and end() act on the older (the
	 * batches end in the order they were evaluated). */
	void	(*evaluate)(void *impl, struct kmsg *msgs, int n);
	/* Writes the batch's results in one transaction (and whatever else
	 * must be safe before the offsets move on). 0 when done; -1 on
	 * trouble, to be called again later with the same batch. */
	int	(*commit)(void *impl);
	/* The batch ended (stored or given back): forget its results. */
	void	(*end)(void *impl);
	void	(*free)(void *impl);
};

struct worker_conf {
	int			 id;
	const char		*name;		/* "worker", "state owner": for logs */
	struct consumer_opts	 kafka;
	int			 batch_max;	/* messages per batch */
	int			 batch_ms;	/* longest wait to fill one */
	const struct worker_ops	*ops;
	void			*impl;		/* owned: ops->free at the end */
	/* 1: a writer thread commits a batch while the next is read and
	 * evaluated (worker.c); 0: one batch at a time, all on the worker's
	 * thread (the state owners, whose evaluate() changes the state that
	 * commit() writes). */
	int			 pipelined;
	struct worker_stats	*st;
	atomic_int		*stop;		/* polled between batches */
	atomic_long		*deadline;	/* monotonic ms by which a stop must end:
						 * the consumer close gives up then */
};

struct worker;

/* Starts a worker thread; on failure frees wc->impl. */
struct worker *worker_start(const struct worker_conf *wc, char *err, size_t errlen);
/* 1 once the thread has ended (after *stop was set). */
int	worker_done(struct worker *w);
/* Joins the thread (after *stop was set); returns 0 when it ended cleanly. */
int	worker_join(struct worker *w);

/* 1 when this worker has read every assigned partition to its end, and 1
 * when the whole group has committed every partition to its end (for
 * --idle-exit; both may block on broker round trips). */
int	worker_caught_up(struct worker *w);
/* 1 while the worker's consumer is a member of its group (consumer_member;
 * safe from any thread). */
int	worker_member(const struct worker *w);
int	worker_group_drained(struct worker *w);
/* The high watermark of each partition of topic: hi[0..n), n set; for
 * owners that keep offsets themselves. -1 on failure. */
int	worker_watermarks(struct worker *w, const char *topic, int64_t *hi, int *n, int max);
/* Calls each with the lag of every partition assigned to this worker (see
 * consumer_lag; may wait up to half a second on the broker). The count, or
 * -1 when it has no consumer. */
int	worker_lag(struct worker *w, void (*each)(void *arg, const char *topic,
	    int32_t partition, int64_t lag), void *arg);

#endif
