/* stateowner.h — the work of a state owner: signals from stateful.topic to
 * the keyed state of memory across events, and its findings, exactly once
 * (see stateowner.c). */
#ifndef KAUDIT_STATEOWNER_H
#define KAUDIT_STATEOWNER_H

#include <stdatomic.h>
#include <stddef.h>

#include "alert/suppress.h"
#include "analyze/rules.h"
#include "app/config.h"
#include "app/worker.h"

extern const struct worker_ops stateowner_ops;

/* The work of state owner id, with its own database connection. Sets k's
 * own/disown hooks, so the consumer made with k reads from the offsets kept
 * with the state. sup (borrowed, shared) says which findings get no alert.
 * stop is checked while the database is away. NULL with err on failure. */
void	*stateowner_new(int id, const struct config *c, const struct ruleset *rs,
	    struct suppress_set *sup, struct worker_stats *st, atomic_int *stop,
	    struct consumer_opts *k, char *err, size_t errlen);

#endif
