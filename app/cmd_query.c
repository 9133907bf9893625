/* cmd_query.c — `kaudit query`: the cookbook's named questions
 * (schema/queries/NAME.sql) run against the database.
 *
 *   kaudit query [-c FILE] NAME [--param K=V]... [--format table|csv|json]
 *   kaudit query --list
 *
 * Parameter values are bound to the query, never pasted into it, and each
 * query runs in a read-only transaction. Every value printed comes from an
 * audit event: the table escapes what a terminal would act on, CSV
 * neutralises spreadsheet formulas, JSON is JSON. */
#include "app/cmd.h"
#include "app/config.h"
#include "app/tabout.h"
#include "base/buf.h"
#include "base/xmalloc.h"
#include "schema/db.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_CELL_COLS	120	/* characters of a value in the table */

#define QUERY_SYNOPSIS \
    "usage: kaudit query [-c FILE] NAME [--param K=V]... [--format table|csv|json]\n" \
    "       kaudit query --list\n"

static const char query_usage[] =
    QUERY_SYNOPSIS
    "\n"
    "Runs the cookbook question NAME (kaudit query --list shows each with its\n"
    "parameters) in a read-only transaction and prints the result.\n"
    "\n"
    "  -c, --config FILE     the configuration whose postgres.url is used (default:\n"
    "                        the built-in default configuration)\n"
    "  -p, --param K=V       a parameter of the query; times and dates in any form\n"
    "                        PostgreSQL reads (2026-11-03T10:00:00Z, 2026-11-03)\n"
    "  -f, --format FORMAT   table (default; values escaped for a terminal and cut\n"
    "                        after 120 characters), csv (RFC 4180, spreadsheet\n"
    "                        formulas neutralised) or json (an array of objects)\n"
    "  -l, --list            the queries, their parameters and defaults\n"
    "\n"
    "Exits 0 with the result (even an empty one), 1 when the database cannot be\n"
    "used or the query fails, 2 on a usage error.\n";

struct db *
cmd_db_open(const char *path, const char *cmd)
{
	struct config c;
	struct buf errs;
	struct db *db = NULL;
	char err[512];

	buf_init(&errs);
	config_defaults(&c);
	if (path != NULL && config_load(&c, path, &errs) != 0) {
		fputs(buf_cstr(&errs), stderr);
		goto out;
	}
	if ((db = db_connect(c.pg_url, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kaudit %s: %s\n", cmd, err);
		goto out;
	}
	if (db_check_schema(db, err, sizeof(err)) != 0) {
		fprintf(stderr, "kaudit %s: %s\n", cmd, err);
		db_close(db);
		db = NULL;
	}
out:
	buf_free(&errs);
	config_free(&c);
	return db;
}

static void
query_list(const struct db_query *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		printf("%s\n    %s\n", q[i].name, q[i].title);
		for (size_t k = 0; k < q[i].nparams; k++)
			printf("    --param %s=%s%s  %s\n", q[i].params[k].name,
			    q[i].params[k].type, q[i].params[k].required ? " (required)" : "",
			    q[i].params[k].help);
	}
}

/* Puts each K=V into its slot of vals; 2 after saying what is wrong. */
static int
query_bind(const struct db_query *q, char **kv, size_t nkv, const char **vals)
{
	for (size_t i = 0; i < nkv; i++) {
		char *eq = strchr(kv[i], '=');
		size_t k;

		if (eq == NULL) {
			fprintf(stderr, "kaudit query: --param %s: expected K=V\n", kv[i]);
			return 2;
		}
		for (k = 0; k < q->nparams; k++)
			if (strlen(q->params[k].name) == (size_t)(eq - kv[i]) &&
			    strncmp(q->params[k].name, kv[i], (size_t)(eq - kv[i])) == 0)
				break;
		if (k == q->nparams) {
			fprintf(stderr, "kaudit query %s: no parameter \"%.*s\" (kaudit query "
			    "--list)\n", q->name, (int)(eq - kv[i]), kv[i]);
			return 2;
		}
		vals[k] = eq + 1;
	}
	for (size_t k = 0; k < q->nparams; k++)
		if (q->params[k].required && vals[k] == NULL) {
			fprintf(stderr, "kaudit query %s: --param %s=... is required\n",
			    q->name, q->params[k].name);
			return 2;
		}
	return 0;
}

static int
query_run(const char *config, const struct db_query *q, const char **vals,
    const char *format)
{
	struct db_table t;
	struct buf out;
	struct db *db;
	char err[1024];
	int rc = 1;

	buf_init(&out);
	if ((db = cmd_db_open(config, "query")) == NULL)
		return 1;
	if (db_query_run(db, q->sql, vals, q->nparams, &t, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit query %s: %s\n", q->name, err);
		goto out;
	}
	if (strcmp(format, "csv") == 0)
		tabout_csv(&out, &t);
	else if (strcmp(format, "json") == 0)
		tabout_json(&out, &t);
	else
		tabout_text(&out, &t, QUERY_CELL_COLS);
	fwrite(out.data != NULL ? out.data : "", 1, out.len, stdout);
	db_table_free(&t);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	buf_free(&out);
	db_close(db);
	return rc;
}

int
cmd_query(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "param", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *format = "table", **vals = NULL;
	char **kv = xcalloc((size_t)argc + 1, sizeof(*kv)), err[256];
	struct db_query *q = NULL, *it = NULL;
	size_t nq = 0, nkv = 0;
	int ch, list = 0, rc = 2;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:p:f:lh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 'p': kv[nkv++] = optarg; break;
		case 'f': format = optarg; break;
		case 'l': list = 1; break;
		case 'h':
			fputs(query_usage, stdout);
			rc = 0;
			goto out;
		default:
			fputs(QUERY_SYNOPSIS, stderr);
			goto out;
		}
	}
	if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0 &&
	    strcmp(format, "json") != 0) {
		fprintf(stderr, "kaudit query: --format %s: expected table, csv or json\n", format);
		goto out;
	}
	if (db_queries(&q, &nq, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit query: %s\n", err);
		rc = 1;
		goto out;
	}
	if (list) {
		query_list(q, nq);
		rc = 0;
		goto out;
	}
	if (optind != argc - 1) {
		fputs(QUERY_SYNOPSIS, stderr);
		goto out;
	}
	for (size_t i = 0; i < nq && it == NULL; i++)
		if (strcmp(q[i].name, argv[optind]) == 0)
			it = &q[i];
	if (it == NULL) {
		fprintf(stderr, "kaudit query: no query \"%s\" (kaudit query --list)\n",
		    argv[optind]);
		goto out;
	}
	vals = xcalloc(it->nparams + 1, sizeof(*vals));
	if ((rc = query_bind(it, kv, nkv, vals)) != 0)
		goto out;
	rc = query_run(config, it, vals, format);
out:
	free(vals);
	free(kv);
	db_queries_free(q, nq);
	return rc;
}
