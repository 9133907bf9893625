/* metrics.h — a small Prometheus metrics registry: counters and gauges with
 * up to METRICS_MAX_LNAMES labels, histograms, written out in the text
 * exposition format (0.0.4) for a /metrics endpoint.
 *
 * Every function is safe from any thread: one mutex per registry guards the
 * values, and an update holds it for a few additions only. A family is
 * registered once, at start; updating or writing out never allocates except
 * for the first occurrence of a label value. A labelled family keeps at most
 * METRICS_MAX_LABELS label sets (metric_limit() changes that for a family
 * whose label is a rule id or a partition); later sets are counted under
 * "other" in every label, so a hostile label value cannot grow memory
 * without bound (callers pass label values from fixed sets anyway: status
 * codes, reasons, rule ids of the loaded rules).
 *
 * Ownership: the registry owns its families; a struct metric pointer is
 * borrowed from it and valid until metrics_free(). Names and help texts are
 * copied. */
#ifndef KAUDIT_METRICS_H
#define KAUDIT_METRICS_H

#include <stddef.h>

#include "base/buf.h"

#define METRICS_MAX_LABELS	64
#define METRICS_MAX_BUCKETS	32
#define METRICS_MAX_LNAMES	4	/* labels of one family */

struct metrics;
struct metric;

struct metrics *metrics_new(void);
void	metrics_free(struct metrics *m);

/* A counter; label is the label's name for a labelled one, NULL for none. */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
	    const char *label);
/* A counter with labels: names[0..] NULL-terminated, at most
 * METRICS_MAX_LNAMES of them. */
struct metric *metrics_counter_l(struct metrics *m, const char *name, const char *help,
	    const char *const *names);
/* A gauge (a value set, not added to); the second with labels. */
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help);
struct metric *metrics_gauge_l(struct metrics *m, const char *name, const char *help,
	    const char *const *names);
/* The most label sets family f keeps (default METRICS_MAX_LABELS). */
void	metric_limit(struct metric *f, size_t max);
/* A histogram with n ascending upper bounds (at most METRICS_MAX_BUCKETS);
 * the +Inf bucket is implied. */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
	    const double *bounds, size_t n);

/* Adds v to a counter (value NULL for an unlabelled one, else the label's
 * value). */
void	metric_add(struct metric *c, const char *value, double v);
void	metric_set(struct metric *g, double v);
/* The same for a family with labels: values[i] for the i-th label name. */
void	metric_add_l(struct metric *c, const char *const *values, double v);
void	metric_set_l(struct metric *g, const char *const *values, double v);
double	metric_value_l(struct metric *c, const char *const *values);
/* Drops the label sets of a labelled gauge that were not set since the
 * previous sweep: a gauge per partition forgets the partitions that moved
 * to another process. */
void	metric_sweep(struct metric *g);
void	metric_observe(struct metric *h, double v);
/* The current value of a counter's label value (NULL: unlabelled), or of a
 * gauge; a histogram's count. For tests and progress lines. */
double	metric_value(struct metric *c, const char *value);

/* Appends every family, in registration order, in the text format. */
void	metrics_expose(struct metrics *m, struct buf *out);

#endif
