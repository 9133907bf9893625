/* worker.h — an ingest worker thread: Kafka batch -> decode -> rules ->
 * one PostgreSQL transaction -> offsets stored.
 *
 * DESIGN: each worker owns its consumer, its database connection, its
 * decoder buffers and its rule scratch; it shares only the immutable rule set
 * and the config. A batch is retried against the database until it commits
 * or shutdown is requested; meanwhile its partitions are paused and the
 * consumer keeps polling, so the worker stays in the group however long the
 * database is away. Offsets are stored only after the commit, so a failure at
 * any point redelivers instead of losing. A row the database refuses on its
 * own does not fail the batch: it commits in kaudit.dead_letters
 * (db_write_batch), so only database trouble retries. worker.c has the state
 * machine. */
#ifndef KAUDIT_WORKER_H
#define KAUDIT_WORKER_H

#include <stdatomic.h>

#include "analyze/rules.h"
#include "app/config.h"

struct worker_stats {
	atomic_ulong	messages;
	atomic_ulong	events;
	atomic_ulong	findings;	/* new findings committed */
	atomic_ulong	errors;		/* undecodable parts, in kaudit.ingest_errors */
	atomic_ulong	dead_letters;	/* rows PostgreSQL refused, kept aside */
	atomic_ulong	db_retries;
	atomic_long	last_message_ms;	/* monotonic ms of the last message seen */
	atomic_int	assigned;	/* some worker has partitions */
	atomic_int	busy;		/* batches in hand */
};

struct worker;

/* Starts a worker thread. stop is polled between batches. */
struct worker *worker_start(int id, const struct config *c, const struct ruleset *rs,
	    struct worker_stats *st, atomic_int *stop, char *err, size_t errlen);
/* Joins the thread (after *stop was set); returns 0 when it ended cleanly. */
int	worker_join(struct worker *w);

/* 1 when this worker has read every assigned partition to its end, and 1
 * when the whole group has committed every partition to its end (for
 * --idle-exit; both may block on broker round trips). */
int	worker_caught_up(struct worker *w);
int	worker_group_drained(struct worker *w);


#endif
