/* bench_util.h — what the benchmark programs under tests/ that write into a
 * database of their own share: a monotonic clock, the URL of a database next
 * to another's, and a statement run on a connection of its own. Header-only:
 * each benchmark is one .c file linked with libkaudit.a. */
#ifndef KAUDIT_BENCH_UTIL_H
#define KAUDIT_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* url with its database name replaced by name (allocated). */
static inline char *
bench_url_for(const char *url, const char *name)
{
	const char *slash = strrchr(url, '/');
	size_t n = slash ? (size_t)(slash - url) : strlen(url);
	char *out = malloc(n + strlen(name) + 2);

	sprintf(out, "%.*s/%s", (int)n, url, name);
	return out;
}

/* Runs sql on a connection of its own; the first value of its result goes
 * to out when out is not NULL. 0, or -1 with the server's message on
 * stderr after who's name. */
static inline int
bench_admin(const char *who, const char *url, const char *sql, char *out, size_t outlen)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r = PQexec(c, sql);
	int st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "%s: %s", who, PQerrorMessage(c));
	else if (out != NULL)
		snprintf(out, outlen, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

#endif
