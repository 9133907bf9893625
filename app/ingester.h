/* ingester.h — the work of an ingest worker: audit events from Kafka to
 * findings in PostgreSQL and signals for the state owners (see ingester.c). */
#ifndef KAUDIT_INGESTER_H
#define KAUDIT_INGESTER_H

#include <stddef.h>

#include "alert/suppress.h"
#include "analyze/rules.h"
#include "app/config.h"
#include "app/worker.h"

extern const struct worker_ops ingester_ops;

/* The work of ingest worker id, with its own database connection and, when
 * stateful (the rules remember across events), a producer for
 * stateful.topic; sup (borrowed, shared) says which findings get no alert.
 * NULL with err on failure. */
void	*ingester_new(int id, const struct config *c, const struct ruleset *rs,
	    int stateful, struct suppress_set *sup, struct worker_stats *st, char *err,
	    size_t errlen);

#endif
