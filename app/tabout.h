/* tabout.h — a query result (struct db_table) written as a terminal table,
 * CSV, JSON, a Markdown table or an HTML table, each value escaped for its
 * reader (base/esc.h). Used by `kaudit query` and `kaudit report`. */
#ifndef KAUDIT_TABOUT_H
#define KAUDIT_TABOUT_H

#include "base/buf.h"
#include "schema/db.h"

/* Columns aligned, values escaped for a terminal and cut after max
 * characters (0: never); NULL shows as empty. */
void	tabout_text(struct buf *b, const struct db_table *t, size_t max);
/* A header line, then one line per row (RFC 4180, CRLF line ends);
 * formulas neutralised except in numeric columns. */
void	tabout_csv(struct buf *b, const struct db_table *t);
/* An array of objects, one per row: numbers, booleans and JSON columns as
 * themselves, NULL as null, the rest as strings. */
void	tabout_json(struct buf *b, const struct db_table *t);
/* A GFM table; "(none)" when there are no rows. */
void	tabout_md(struct buf *b, const struct db_table *t);
/* A <table> with a <caption> and <th scope="col"> headers; numeric cells
 * carry class "n". */
void	tabout_html(struct buf *b, const struct db_table *t, const char *caption);

#endif
