/* query.c — the query cookbook (schema/queries/NAME.sql, compiled into the
 * binary) and running read-only SQL whose result is shown as a table: what
 * `kaudit query` and `kaudit report` print.
 *
 * A cookbook file opens with a header of SQL comments:
 *
 *   -- title: Everything one identity did in a time range
 *   -- param: user text required   The user name (user.username)
 *   -- param: from timestamptz     Start (default: 7 days before to)
 *
 * Parameter k is $k in the SQL, in header order; one not given is NULL (the
 * SQL supplies defaults with coalesce). Values are always bound, never
 * pasted into the text. Every statement runs in a READ ONLY transaction. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/embed.h"
#include "base/xmalloc.h"
#include "queries.inc"

#define QUERY_MAX_PARAMS	16

static const struct db_sql sql_relation = {
	"kaudit_query_relation", "SELECT to_regclass($1) IS NOT NULL", 1
};

static char *
query_trim(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

/* "NAME TYPE [required] HELP" after "-- param:". */
static int
query_param(struct db_query_param *p, const char *s, size_t n)
{
	char *line = query_trim(s, n), *save = NULL, *tok;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if ((tok = strtok_r(line, " \t", &save)) == NULL)
		goto out;
	p->name = xstrdup(tok);
	if ((tok = strtok_r(NULL, " \t", &save)) == NULL)
		goto out;
	p->type = xstrdup(tok);
	tok = save != NULL ? save + strspn(save, " \t") : "";
	if (strncmp(tok, "required", 8) == 0 && (tok[8] == '\0' || tok[8] == ' ' || tok[8] == '\t')) {
		p->required = 1;
		tok += 8;
		tok += strspn(tok, " \t");
	}
	p->help = xstrdup(tok);
	rc = 0;
out:
	free(line);
	return rc;
}

static void
query_free_one(struct db_query *q)
{
	for (size_t i = 0; i < q->nparams; i++) {
		free(q->params[i].name);
		free(q->params[i].type);
		free(q->params[i].help);
	}
	free(q->params);
	free(q->name);
	free(q->title);
}

static int
query_parse(struct db_query *q, const struct embedded_file *f, char *err, size_t errlen)
{
	const char *p = f->text, *end = f->text + f->len, *nl;
	size_t n;

	memset(q, 0, sizeof(*q));
	n = strlen(f->name);
	q->name = xstrndup(f->name, n > 4 && strcmp(f->name + n - 4, ".sql") == 0 ? n - 4 : n);
	q->sql = f->text;
	q->params = xcalloc(QUERY_MAX_PARAMS, sizeof(*q->params));
	for (; p < end && strncmp(p, "--", 2) == 0; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (strncmp(p, "-- title:", 9) == 0) {
			free(q->title);
			q->title = query_trim(p + 9, (size_t)(nl - p - 9));
		} else if (strncmp(p, "-- param:", 9) == 0) {
			if (q->nparams == QUERY_MAX_PARAMS ||
			    query_param(&q->params[q->nparams++], p + 9, (size_t)(nl - p - 9)) == -1) {
				snprintf(err, errlen, "query %s: bad param line", f->name);
				return -1;
			}
		}
	}
	if (q->title == NULL) {
		snprintf(err, errlen, "query %s: no \"-- title:\" line", f->name);
		return -1;
	}
	return 0;
}

int
db_queries(struct db_query **out, size_t *n, char *err, size_t errlen)
{
	struct db_query *q = xcalloc(embedded_queries_count + 1, sizeof(*q));

	for (size_t i = 0; i < embedded_queries_count; i++)
		if (query_parse(&q[i], &embedded_queries[i], err, errlen) == -1) {
			db_queries_free(q, i + 1);
			return -1;
		}
	*out = q;
	*n = embedded_queries_count;
	return 0;
}

void
db_queries_free(struct db_query *q, size_t n)
{
	for (size_t i = 0; q != NULL && i < n; i++)
		query_free_one(&q[i]);
	free(q);
}

static int
query_kind(Oid oid)
{
	switch (oid) {
	case 20: case 21: case 23: case 700: case 701: case 1700:
		return DB_COL_NUMBER;
	case 16:
		return DB_COL_BOOL;
	case 114: case 3802:
		return DB_COL_JSON;
	default:
		return DB_COL_TEXT;
	}
}

static void
query_table(PGresult *res, struct db_table *t)
{
	size_t nc = (size_t)PQnfields(res), nr = (size_t)PQntuples(res);

	t->ncols = nc;
	t->nrows = nr;
	t->cols = xcalloc(nc + 1, sizeof(*t->cols));
	t->kinds = xcalloc(nc + 1, sizeof(*t->kinds));
	t->cells = xcalloc(nc * nr + 1, sizeof(*t->cells));
	for (size_t c = 0; c < nc; c++) {
		t->cols[c] = xstrdup(PQfname(res, (int)c));
		t->kinds[c] = query_kind(PQftype(res, (int)c));
	}
	for (size_t r = 0; r < nr; r++)
		for (size_t c = 0; c < nc; c++)
			if (!PQgetisnull(res, (int)r, (int)c))
				t->cells[r * nc + c] = xstrdup(PQgetvalue(res, (int)r, (int)c));
}

int
db_query_run(struct db *db, const char *sql, const char *const *vals, size_t nvals,
    struct db_table *t, char *err, size_t errlen)
{
	PGresult *res = NULL;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (db_exec(db, "BEGIN READ ONLY", err, errlen) == -1)
		return -1;
	res = PQexecParams(db->conn, sql, (int)nvals, NULL, vals, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_set_err(err, errlen, "postgres: ", PQerrorMessage(db->conn));
		goto out;
	}
	query_table(res, t);
	rc = 0;
out:
	PQclear(res);
	db_rollback(db);
	return rc;
}

void
db_table_free(struct db_table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		free(t->cols[i]);
	for (size_t i = 0; i < t->ncols * t->nrows; i++)
		free(t->cells[i]);
	free(t->cols);
	free(t->kinds);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

int
db_relation_exists(struct db *db, const char *name, char *err, size_t errlen)
{
	const char *vals[1] = { name };
	PGresult *res;
	int have;

	if ((res = db_run(db, &sql_relation, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	have = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return have;
}
