/* metrics.c — the Prometheus registry (see metrics.h). */
#include "base/metrics.h"
#include "base/hmap.h"
#include "base/xmalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mkind { MK_COUNTER, MK_GAUGE, MK_HISTOGRAM };

struct mlabel {
	char	*values[METRICS_MAX_LNAMES];
	double	 v;
	int	 seen;		/* set since the last sweep */
};

struct metric {
	struct metrics	*reg;
	enum mkind	 kind;
	char		*name, *help;
	char		*lnames[METRICS_MAX_LNAMES];
	size_t		 nlnames;
	double		 v;				/* unlabelled counter, gauge */
	struct mlabel	*lv;				/* labelled: nlv of them */
	size_t		 nlv, caplv, maxlv;
	struct hmap	 idx;		/* label values joined by NUL -> position in lv + 1 */
	double		 bounds[METRICS_MAX_BUCKETS];	/* histogram */
	unsigned long	 counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative */
	size_t		 nb;
	double		 sum;
	struct metric	*next;
};

struct metrics {
	pthread_mutex_t	 mu;
	struct metric	*head, **tail;
	struct buf	 key;		/* label_key()'s, used under mu */
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	pthread_mutex_init(&m->mu, NULL);
	m->tail = &m->head;
	buf_init(&m->key);
	return m;
}

void
metrics_free(struct metrics *m)
{
	struct metric *f, *nx;

	if (m == NULL)
		return;
	for (f = m->head; f; f = nx) {
		nx = f->next;
		for (size_t i = 0; i < f->nlv; i++)
			for (size_t k = 0; k < f->nlnames; k++)
				free(f->lv[i].values[k]);
		for (size_t k = 0; k < f->nlnames; k++)
			free(f->lnames[k]);
		free(f->lv);
		hmap_free(&f->idx);
		free(f->name);
		free(f->help);
		free(f);
	}
	pthread_mutex_destroy(&m->mu);
	buf_free(&m->key);
	free(m);
}

static struct metric *
family_new(struct metrics *m, enum mkind kind, const char *name, const char *help)
{
	struct metric *f = xcalloc(1, sizeof(*f));

	f->reg = m;
	f->kind = kind;
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->maxlv = METRICS_MAX_LABELS;
	hmap_init(&f->idx);
	pthread_mutex_lock(&m->mu);
	*m->tail = f;
	m->tail = &f->next;
	pthread_mutex_unlock(&m->mu);
	return f;
}

/* A family with label names names[0..] (NULL-terminated; NULL: none). */
static struct metric *
family_labelled(struct metrics *m, enum mkind kind, const char *name, const char *help,
    const char *const *names)
{
	struct metric *f = family_new(m, kind, name, help);

	for (; names && *names && f->nlnames < METRICS_MAX_LNAMES; names++)
		f->lnames[f->nlnames++] = xstrdup(*names);
	return f;
}

struct metric *
metrics_counter(struct metrics *m, const char *name, const char *help, const char *label)
{
	const char *names[] = { label, NULL };

	return family_labelled(m, MK_COUNTER, name, help, names);
}

struct metric *
metrics_counter_l(struct metrics *m, const char *name, const char *help,
    const char *const *names)
{
	return family_labelled(m, MK_COUNTER, name, help, names);
}

struct metric *
metrics_gauge(struct metrics *m, const char *name, const char *help)
{
	return family_labelled(m, MK_GAUGE, name, help, NULL);
}

struct metric *
metrics_gauge_l(struct metrics *m, const char *name, const char *help,
    const char *const *names)
{
	return family_labelled(m, MK_GAUGE, name, help, names);
}

void
metric_limit(struct metric *f, size_t max)
{
	pthread_mutex_lock(&f->reg->mu);
	f->maxlv = max > 1 ? max : 2;
	pthread_mutex_unlock(&f->reg->mu);
}

struct metric *
metrics_histogram(struct metrics *m, const char *name, const char *help,
    const double *bounds, size_t n)
{
	struct metric *f = family_new(m, MK_HISTOGRAM, name, help);

	f->nb = n < METRICS_MAX_BUCKETS ? n : METRICS_MAX_BUCKETS;
	memcpy(f->bounds, bounds, f->nb * sizeof(*bounds));
	return f;
}

/* The key of a label set in c->idx: its values joined by NUL, in the
 * registry's buffer (valid until the next call). Called with mu held. */
static const struct buf *
label_key(struct metric *c, const char *const *values)
{
	struct buf *k = &c->reg->key;

	buf_reset(k);
	for (size_t i = 0; i < c->nlnames; i++) {
		buf_puts(k, values[i] ? values[i] : "");
		buf_putc(k, '\0');
	}
	return k;
}

/* Files lv[i] in the index. */
static void
label_index(struct metric *c, size_t i)
{
	const struct buf *k = label_key(c, (const char *const *)c->lv[i].values);
	int added;

	hmap_put(&c->idx, k->data, k->len, &added)->val = (void *)(uintptr_t)(i + 1);
}

/* The slot of a label set, made on first use; "other" in every label once
 * the family is full. Called with the registry locked. */
static struct mlabel *
label_slot(struct metric *c, const char *const *values)
{
	static const char *const other[METRICS_MAX_LNAMES] = { "other", "other", "other",
	    "other" };
	const struct buf *k = label_key(c, values);
	uintptr_t at = (uintptr_t)hmap_get(&c->idx, k->data, k->len);
	struct mlabel *l;

	if (at != 0)
		return &c->lv[at - 1];
	if (c->nlv >= c->maxlv - 1 && values != other)
		return label_slot(c, other);
	if (c->nlv == c->caplv) {
		c->caplv = c->caplv ? c->caplv * 2 : 8;
		c->lv = xrealloc(c->lv, c->caplv * sizeof(*c->lv));
	}
	l = &c->lv[c->nlv++];
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < c->nlnames; i++)
		l->values[i] = xstrdup(values[i] ? values[i] : "");
	label_index(c, c->nlv - 1);
	return l;
}

void
metric_add(struct metric *c, const char *value, double v)
{
	const char *values[] = { value };

	metric_add_l(c, value ? values : NULL, v);
}

void
metric_add_l(struct metric *c, const char *const *values, double v)
{
	pthread_mutex_lock(&c->reg->mu);
	if (c->nlnames && values)
		label_slot(c, values)->v += v;
	else
		c->v += v;
	pthread_mutex_unlock(&c->reg->mu);
}

void
metric_set_l(struct metric *g, const char *const *values, double v)
{
	struct mlabel *l;

	pthread_mutex_lock(&g->reg->mu);
	if (g->nlnames && values) {
		l = label_slot(g, values);
		l->v = v;
		l->seen = 1;
	} else {
		g->v = v;
	}
	pthread_mutex_unlock(&g->reg->mu);
}

void
metric_sweep(struct metric *g)
{
	size_t keep = 0;

	pthread_mutex_lock(&g->reg->mu);
	for (size_t i = 0; i < g->nlv; i++) {
		if (!g->lv[i].seen) {
			for (size_t k = 0; k < g->nlnames; k++)
				free(g->lv[i].values[k]);
			continue;
		}
		g->lv[i].seen = 0;
		g->lv[keep++] = g->lv[i];
	}
	g->nlv = keep;
	hmap_free(&g->idx);
	hmap_init(&g->idx);
	for (size_t i = 0; i < g->nlv; i++)
		label_index(g, i);
	pthread_mutex_unlock(&g->reg->mu);
}

void
metric_set(struct metric *g, double v)
{
	pthread_mutex_lock(&g->reg->mu);
	g->v = v;
	pthread_mutex_unlock(&g->reg->mu);
}

void
metric_observe(struct metric *h, double v)
{
	size_t i;

	pthread_mutex_lock(&h->reg->mu);
	for (i = 0; i < h->nb && v > h->bounds[i]; i++)
		;
	h->counts[i]++;
	h->sum += v;
	pthread_mutex_unlock(&h->reg->mu);
}

double
metric_value(struct metric *c, const char *value)
{
	const char *values[] = { value };

	return metric_value_l(c, value ? values : NULL);
}

double
metric_value_l(struct metric *c, const char *const *values)
{
	double v = 0;

	pthread_mutex_lock(&c->reg->mu);
	if (c->kind == MK_HISTOGRAM) {
		for (size_t i = 0; i <= c->nb; i++)
			v += (double)c->counts[i];
	} else if (c->nlnames && values) {
		const struct buf *k = label_key(c, values);
		uintptr_t at = (uintptr_t)hmap_get(&c->idx, k->data, k->len);
		if (at != 0)
			v = c->lv[at - 1].v;
	} else {
		v = c->v;
	}
	pthread_mutex_unlock(&c->reg->mu);
	return v;
}

/* A sample value as the format writes it: integers without a fraction,
 * +Inf, -Inf and NaN by name, others in the fewest digits that read back
 * as the same double (0.1, not 0.10000000000000001). */
static void
put_value(struct buf *b, double v)
{
	if (isnan(v))
		buf_puts(b, "NaN");
	else if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_printf(b, "%.0f", v);
	else
		for (int prec = 15; prec <= 17; prec++) {
			char s[32];
			snprintf(s, sizeof(s), "%.*g", prec, v);
			if (strtod(s, NULL) == v || prec == 17) {
				buf_puts(b, s);
				break;
			}
		}
}

/* HELP text escapes backslash and newline; a label value also the quote. */
static void
put_escaped(struct buf *b, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else if (*s == '"' && quote)
			buf_puts(b, "\\\"");
		else
			buf_putc(b, *s);
	}
}

static void
expose_histogram(struct buf *b, const struct metric *h)
{
	unsigned long cum = 0;

	for (size_t i = 0; i <= h->nb; i++) {
		cum += h->counts[i];
		buf_printf(b, "%s_bucket{le=\"", h->name);
		put_value(b, i < h->nb ? h->bounds[i] : INFINITY);
		buf_printf(b, "\"} %lu\n", cum);
	}
	buf_printf(b, "%s_sum ", h->name);
	put_value(b, h->sum);
	buf_printf(b, "\n%s_count %lu\n", h->name, cum);
}

static void
expose_family(struct buf *b, const struct metric *f)
{
	static const char *const kinds[] = { "counter", "gauge", "histogram" };

	buf_printf(b, "# HELP %s ", f->name);
	put_escaped(b, f->help, 0);
	buf_printf(b, "\n# TYPE %s %s\n", f->name, kinds[f->kind]);
	if (f->kind == MK_HISTOGRAM) {
		expose_histogram(b, f);
	} else if (f->nlnames) {
		for (size_t i = 0; i < f->nlv; i++) {
			buf_printf(b, "%s{", f->name);
			for (size_t k = 0; k < f->nlnames; k++) {
				buf_printf(b, "%s%s=\"", k ? "," : "", f->lnames[k]);
				put_escaped(b, f->lv[i].values[k], 1);
				buf_putc(b, '"');
			}
			buf_puts(b, "} ");
			put_value(b, f->lv[i].v);
			buf_putc(b, '\n');
		}
	} else {
		buf_printf(b, "%s ", f->name);
		put_value(b, f->v);
		buf_putc(b, '\n');
	}
}

void
metrics_expose(struct metrics *m, struct buf *out)
{
	pthread_mutex_lock(&m->mu);
	for (const struct metric *f = m->head; f; f = f->next)
		expose_family(out, f);
	pthread_mutex_unlock(&m->mu);
}
