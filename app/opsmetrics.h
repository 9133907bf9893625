/* opsmetrics.h — the daemon's monitoring listener (metrics.listen):
 * GET /metrics (base/obs.h's registry in the Prometheus text format),
 * /healthz (the process answers) and /readyz (200 once it has joined the
 * consumer group, reached the database and loaded its rules; 503 naming
 * what is missing otherwise). A replica with no partition to read (more
 * replicas than partitions) has joined with an empty assignment: ready,
 * idle. */
#ifndef KAUDIT_OPSMETRICS_H
#define KAUDIT_OPSMETRICS_H

#include <stddef.h>

struct opsmetrics;

/* Listens on listen (HOST:PORT, port 0: any free one). NULL with err. */
struct opsmetrics *opsmetrics_start(const char *listen, char *err, size_t errlen);
unsigned opsmetrics_port(const struct opsmetrics *o);
/* What /readyz reports from now on. */
void	opsmetrics_ready(struct opsmetrics *o, int joined, int db_reachable, int rules_loaded);
/* Stops listening and frees o (NULL: nothing). */
void	opsmetrics_stop(struct opsmetrics *o);

#endif
