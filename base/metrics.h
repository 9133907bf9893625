/* metrics.h — a small Prometheus metrics registry: counters, counters with
 * one label, histograms, written out in the text exposition format (0.0.4)
 * for a /metrics endpoint.
 *
 * Every function is safe from any thread: one mutex per registry guards the
 * values, and an update holds it for a few additions only. A family is
 * registered once, at start; updating or writing out never allocates except
 * for the first occurrence of a label value. A labelled family keeps at most
 * METRICS_MAX_LABELS values; later values are counted under "other", so a
 * hostile label value cannot grow memory without bound (callers pass label
 * values from fixed sets anyway: status codes, reasons).
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

struct metrics;
struct metric;

struct metrics *metrics_new(void);
void	metrics_free(struct metrics *m);

/* A counter; label is the label's name for a labelled one, NULL for none. */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
	    const char *label);
/* A gauge (a value set, not added to). */
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help);
/* A histogram with n ascending upper bounds (at most METRICS_MAX_BUCKETS);
 * the +Inf bucket is implied. */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
	    const double *bounds, size_t n);

/* Adds v to a counter (value NULL for an unlabelled one, else the label's
 * value). */
void	metric_add(struct metric *c, const char *value, double v);
void	metric_set(struct metric *g, double v);
void	metric_observe(struct metric *h, double v);
/* The current value of a counter's label value (NULL: unlabelled), or of a
 * gauge; a histogram's count. For tests and progress lines. */
double	metric_value(struct metric *c, const char *value);

/* Appends every family, in registration order, in the text format. */
void	metrics_expose(struct metrics *m, struct buf *out);

#endif
