/* scantally.c — the summary of kaudit scan (see scantally.h). */
#include "app/scantally.h"

#include "analyze/rules.h"
#include "base/buf.h"
#include "base/termesc.h"
#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct scantally_row {
	const char	*rule;		/* into the map's key */
	int		 sev;
	uint64_t	 n;
};

void
scantally_init(struct scantally *t)
{
	memset(t, 0, sizeof(*t));
	hmap_init(&t->rows);
}

void
scantally_free(struct scantally *t)
{
	for (size_t i = 0; i < t->rows.cap; i++)
		if (t->rows.slot[i].key)
			free(t->rows.slot[i].val);
	hmap_free(&t->rows);
}

void
scantally_add(struct scantally *t, const char *rule, int sev)
{
	char key[256];
	struct hmap_slot *s;
	struct scantally_row *row;
	int added, n;

	if (sev < SEV_INFO || sev > SEV_CRITICAL)
		sev = SEV_INFO;
	n = snprintf(key, sizeof(key), "%c%s", '0' + sev, rule ? rule : "(no rule)");
	if (n < 0 || (size_t)n >= sizeof(key))
		n = (int)sizeof(key) - 1;
	s = hmap_put(&t->rows, key, (size_t)n, &added);
	if (added) {
		row = xcalloc(1, sizeof(*row));
		row->rule = s->key + 1;
		row->sev = sev;
		s->val = row;
	}
	((struct scantally_row *)s->val)->n++;
	t->by_sev[sev]++;
	t->findings++;
}

static int
scantally_order(const void *a, const void *b)
{
	const struct scantally_row *x = *(const struct scantally_row *const *)a;
	const struct scantally_row *y = *(const struct scantally_row *const *)b;

	if (x->sev != y->sev)
		return y->sev - x->sev;
	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->rule, y->rule);
}

void
scantally_print(const struct scantally *t, FILE *f, uint64_t events, uint64_t outside,
    uint64_t errors, double secs)
{
	struct scantally_row **row = xcalloc(t->rows.n + 1, sizeof(*row));
	struct buf b;
	size_t n = 0;

	buf_init(&b);
	for (size_t i = 0; i < t->rows.cap; i++)
		if (t->rows.slot[i].key)
			row[n++] = t->rows.slot[i].val;
	qsort(row, n, sizeof(*row), scantally_order);
	buf_printf(&b, "summary: %llu events", (unsigned long long)events);
	if (outside)
		buf_printf(&b, " (%llu more outside --since/--until or without a time)",
		    (unsigned long long)outside);
	buf_printf(&b, ", %llu findings", (unsigned long long)t->findings);
	for (int s = SEV_CRITICAL, first = 1; s >= SEV_INFO; s--) {
		if (t->by_sev[s] == 0)
			continue;
		buf_printf(&b, "%s%llu %s", first ? " (" : ", ", (unsigned long long)t->by_sev[s],
		    severity_name((enum severity)s));
		first = 0;
	}
	if (t->findings)
		buf_putc(&b, ')');
	buf_printf(&b, ", %llu decode errors, %.1f s\n", (unsigned long long)errors, secs);
	for (size_t i = 0; i < n; i++) {
		buf_printf(&b, "  %-8s %8llu  ", severity_name((enum severity)row[i]->sev),
		    (unsigned long long)row[i]->n);
		termesc_append(&b, row[i]->rule, strlen(row[i]->rule), 0);
		buf_putc(&b, '\n');
	}
	fputs(buf_cstr(&b), f);
	fflush(f);
	buf_free(&b);
	free(row);
}
