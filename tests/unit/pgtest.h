/* pgtest.h — a fresh PostgreSQL database per test binary, for the tests of
 * schema/ and alert/. KAUDIT_PG_URL (set by tests/services/up.sh) names a
 * server and a role allowed to create databases; each binary creates its own
 * database there, so suites never see each other's rows, and drops it at the
 * end. Tests query with libpq directly to check what was stored.
 *
 *   char *url = pgtest_setup("db");	// NULL (and a FAIL line) when unset
 *   ... db_connect(url, ...) ...
 *   pgtest_teardown();
 */
#ifndef KAUDIT_PGTEST_H
#define KAUDIT_PGTEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

static PGconn	*pgtest_admin;
static PGconn	*pgtest_conn;		/* to the test database */
static char	 pgtest_name[64];
static char	*pgtest_url;

static inline void
pgtest_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static inline int
pgtest_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		printf("  pgtest: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

/* First column of the first row as a new string ("" for NULL; "(error)"). */
static inline char *
pgtest_str(const char *sql)
{
	PGresult *res = PQexec(pgtest_conn, sql);
	char *s;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
		printf("  pgtest: %s: %s", sql, PQerrorMessage(pgtest_conn));
		s = strdup("(error)");
	} else {
		s = strdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return s;
}

static inline long
pgtest_long(const char *sql)
{
	char *s = pgtest_str(sql);
	long v = strcmp(s, "(error)") == 0 ? -999 : strtol(s, NULL, 10);

	free(s);
	return v;
}

/* The same two with the SQL built printf-style. */
static inline char *pgtest_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline long pgtest_longf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline char *
pgtest_strf(const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return pgtest_str(sql);
}

static inline long
pgtest_longf(const char *fmt, ...)
{
	char sql[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return pgtest_long(sql);
}

/* The admin URL with its database name replaced by name. */
static inline char *
pgtest_url_for(const char *admin, const char *name)
{
	const char *p, *q;
	size_t n = strlen(admin) + strlen(name) + 16;
	char *url = malloc(n);

	if (strncmp(admin, "postgresql://", 13) != 0 &&
	    strncmp(admin, "postgres://", 11) != 0) {
		snprintf(url, n, "%s dbname=%s", admin, name);
		return url;
	}
	p = strstr(admin, "://") + 3;
	q = p + strcspn(p, "/?");
	if (*q == '/')
		p = q + 1 + strcspn(q + 1, "?");
	else
		p = q;
	snprintf(url, n, "%.*s/%s%s", (int)(q - admin), admin, name, p);
	return url;
}

static inline char *
pgtest_setup(const char *tag)
{
	const char *admin = getenv("KAUDIT_PG_URL");
	char sql[160];

	if (admin == NULL || *admin == '\0') {
		printf("FAIL pgtest_setup: KAUDIT_PG_URL is not set "
		    "(tests/services/up.sh exports it)\n");
		return NULL;
	}
	pgtest_admin = PQconnectdb(admin);
	if (PQstatus(pgtest_admin) != CONNECTION_OK) {
		printf("FAIL pgtest_setup: %s: %s", admin, PQerrorMessage(pgtest_admin));
		return NULL;
	}
	PQsetNoticeProcessor(pgtest_admin, pgtest_quiet, NULL);
	snprintf(pgtest_name, sizeof(pgtest_name), "kaudit_test_%s_%ld", tag,
	    (long)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", pgtest_name);
	pgtest_exec(pgtest_admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pgtest_name);
	if (pgtest_exec(pgtest_admin, sql) == -1) {
		printf("FAIL pgtest_setup: cannot create database %s\n", pgtest_name);
		return NULL;
	}
	pgtest_url = pgtest_url_for(admin, pgtest_name);
	pgtest_conn = PQconnectdb(pgtest_url);
	if (PQstatus(pgtest_conn) != CONNECTION_OK) {
		printf("FAIL pgtest_setup: %s: %s", pgtest_url, PQerrorMessage(pgtest_conn));
		return NULL;
	}
	PQsetNoticeProcessor(pgtest_conn, pgtest_quiet, NULL);
	return pgtest_url;
}

static inline void
pgtest_teardown(void)
{
	char sql[160];

	PQfinish(pgtest_conn);
	pgtest_conn = NULL;
	if (pgtest_admin != NULL && pgtest_name[0]) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
		    pgtest_name);
		pgtest_exec(pgtest_admin, sql);
	}
	PQfinish(pgtest_admin);
	pgtest_admin = NULL;
	free(pgtest_url);
	pgtest_url = NULL;
}

#endif
