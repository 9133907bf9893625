/* tabout.c — query results as text, CSV, JSON, Markdown and HTML (see
 * tabout.h). */
#include "app/tabout.h"

#include <stdlib.h>
#include <string.h>

#include "base/esc.h"
#include "base/termesc.h"
#include "base/xmalloc.h"

static const char *
tabout_cell(const struct db_table *t, size_t r, size_t c)
{
	return t->cells[r * t->ncols + c];
}

/* Characters (code points) in s: a column's width on a terminal, near
 * enough for tables of names. */
static size_t
tabout_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
tabout_text(struct buf *b, const struct db_table *t, size_t max)
{
	size_t *w = xcalloc(t->ncols + 1, sizeof(*w)), n = t->ncols * (t->nrows + 1), k;
	char **shown = xcalloc(n + 1, sizeof(*shown));
	struct buf e;

	buf_init(&e);
	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = r == 0 ? t->cols[c] : tabout_cell(t, r - 1, c);

			buf_reset(&e);
			if (v == NULL)
				v = "";
			termesc_append(&e, v, strlen(v), max);
			k = r * t->ncols + c;
			shown[k] = xstrdup(buf_cstr(&e));
			if (tabout_width(shown[k]) > w[c])
				w[c] = tabout_width(shown[k]);
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			k = r * t->ncols + c;
			buf_puts(b, shown[k]);
			if (c + 1 < t->ncols)
				for (size_t i = tabout_width(shown[k]); i < w[c] + 2; i++)
					buf_putc(b, ' ');
		}
		buf_putc(b, '\n');
	}
	for (size_t i = 0; i < n; i++)
		free(shown[i]);
	free(shown);
	free(w);
	buf_free(&e);
}

void
tabout_csv(struct buf *b, const struct db_table *t)
{
	for (size_t c = 0; c < t->ncols; c++) {
		if (c > 0)
			buf_putc(b, ',');
		esc_csv(b, t->cols[c], 0);
	}
	buf_puts(b, "\r\n");
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = tabout_cell(t, r, c);

			if (c > 0)
				buf_putc(b, ',');
			if (v != NULL)
				esc_csv(b, v, t->kinds[c] == DB_COL_NUMBER);
		}
		buf_puts(b, "\r\n");
	}
}

/* PostgreSQL prints NaN and Infinity for floats, which JSON has not. */
static int
tabout_json_number(const char *v)
{
	return strspn(v, "-0123456789.eE+") == strlen(v) && strpbrk(v, "0123456789") != NULL;
}

void
tabout_json(struct buf *b, const struct db_table *t)
{
	buf_putc(b, '[');
	for (size_t r = 0; r < t->nrows; r++) {
		buf_puts(b, r > 0 ? ",\n{" : "\n{");
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = tabout_cell(t, r, c);

			if (c > 0)
				buf_putc(b, ',');
			buf_json_str(b, t->cols[c], strlen(t->cols[c]));
			buf_putc(b, ':');
			if (v == NULL)
				buf_puts(b, "null");
			else if (t->kinds[c] == DB_COL_BOOL)
				buf_puts(b, v[0] == 't' ? "true" : "false");
			else if ((t->kinds[c] == DB_COL_NUMBER && tabout_json_number(v)) ||
			    t->kinds[c] == DB_COL_JSON)
				buf_puts(b, v);	/* PostgreSQL's own JSON text */
			else
				buf_json_str(b, v, strlen(v));
		}
		buf_putc(b, '}');
	}
	buf_puts(b, t->nrows > 0 ? "\n]\n" : "]\n");
}

void
tabout_md(struct buf *b, const struct db_table *t)
{
	if (t->nrows == 0) {
		buf_puts(b, "(none)\n");
		return;
	}
	buf_putc(b, '|');
	for (size_t c = 0; c < t->ncols; c++) {
		buf_putc(b, ' ');
		esc_md(b, t->cols[c]);
		buf_puts(b, " |");
	}
	buf_puts(b, "\n|");
	for (size_t c = 0; c < t->ncols; c++)
		buf_puts(b, t->kinds[c] == DB_COL_NUMBER ? " ---: |" : " --- |");
	buf_putc(b, '\n');
	for (size_t r = 0; r < t->nrows; r++) {
		buf_putc(b, '|');
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = tabout_cell(t, r, c);

			buf_putc(b, ' ');
			esc_md(b, v != NULL ? v : "");
			buf_puts(b, " |");
		}
		buf_putc(b, '\n');
	}
}

void
tabout_html(struct buf *b, const struct db_table *t, const char *caption)
{
	buf_puts(b, "<table>\n<caption>");
	esc_html(b, caption);
	buf_puts(b, "</caption>\n<thead><tr>");
	for (size_t c = 0; c < t->ncols; c++) {
		buf_puts(b, "<th scope=\"col\">");
		esc_html(b, t->cols[c]);
		buf_puts(b, "</th>");
	}
	buf_puts(b, "</tr></thead>\n<tbody>\n");
	if (t->nrows == 0)
		buf_printf(b, "<tr><td colspan=\"%zu\">(none)</td></tr>\n", t->ncols);
	for (size_t r = 0; r < t->nrows; r++) {
		buf_puts(b, "<tr>");
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = tabout_cell(t, r, c);

			buf_puts(b, t->kinds[c] == DB_COL_NUMBER ? "<td class=\"n\">" : "<td>");
			esc_html(b, v != NULL ? v : "");
			buf_puts(b, "</td>");
		}
		buf_puts(b, "</tr>\n");
	}
	buf_puts(b, "</tbody>\n</table>\n");
}
