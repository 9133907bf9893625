/* partitions.c — the month partitions of kaudit.findings and kaudit.events
 * (see 0007_partitions.sql): made before a batch needs them, made ahead by
 * the daemon, and dropped whole by retention (see db.h).
 *
 * A batch's months are made in a transaction of their own, before the
 * batch's: creating a partition locks its parent table, and a batch holding
 * that lock would stall every other writer until it commits. The months a
 * connection has seen are remembered, so a batch of the current month costs
 * no statement; should retention drop a remembered month meanwhile, the
 * batch's write fails for want of a partition, and db.c forgets the months
 * and writes it again, which makes the month anew. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/xmalloc.h"

static const struct db_sql sql_ensure = {
	"kaudit_partitions_ensure",
	"SELECT kaudit.partitions_ensure($1::timestamptz[])", 1
};
static const struct db_sql sql_candidates = {
	"kaudit_retention_candidates",
	"SELECT partition_name, to_char(from_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" to_char(to_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), n"
	" FROM kaudit.retention_candidates($1, $2::bigint * interval '1 second')", 2
};
static const struct db_sql sql_drop = {
	"kaudit_partition_drop", "SELECT kaudit.partition_drop($1)", 1
};

static int
partitions_known(const struct db *db, int m)
{
	for (size_t i = 0; i < db->nmonths; i++)
		if (db->months[i] == m)
			return 1;
	return 0;
}

int
db_partitions_need(struct db *db, const int *months, size_t n, char *err, size_t errlen)
{
	struct buf a;
	const char *vals[1];
	PGresult *res;
	size_t k = 0;

	buf_init(&a);
	buf_putc(&a, '{');
	for (size_t i = 0; i < n; i++) {
		if (partitions_known(db, months[i]))
			continue;
		buf_printf(&a, "%s%04d-%02d-01T00:00:00Z", k++ ? "," : "", months[i] / 12,
		    months[i] % 12 + 1);
	}
	buf_putc(&a, '}');
	if (k == 0) {
		buf_free(&a);
		return 0;
	}
	buf_putc(&a, '\0');
	vals[0] = a.data;
	res = db_run(db, &sql_ensure, vals, NULL, NULL, err, errlen);
	buf_free(&a);
	if (res == NULL)
		return -1;
	PQclear(res);
	for (size_t i = 0; i < n; i++) {
		if (partitions_known(db, months[i]))
			continue;
		if (db->nmonths == db->capmonths) {
			db->capmonths = db->capmonths ? db->capmonths * 2 : 16;
			db->months = xrealloc(db->months, db->capmonths * sizeof(*db->months));
		}
		db->months[db->nmonths++] = months[i];
	}
	return 0;
}

void
db_partitions_forget(struct db *db)
{
	db->nmonths = 0;
}

int
db_partitions_ahead(struct db *db, int ahead, char *err, size_t errlen)
{
	int months[2 + DB_PARTITIONS_AHEAD_MAX];
	time_t now = time(NULL);
	struct tm tm;
	int m0, n = 0;

	if (ahead < 0)
		ahead = 0;
	if (ahead > DB_PARTITIONS_AHEAD_MAX)
		ahead = DB_PARTITIONS_AHEAD_MAX;
	/* yesterday's month too: a server clock a little behind */
	now -= 86400;
	gmtime_r(&now, &tm);
	months[n++] = (tm.tm_year + 1900) * 12 + tm.tm_mon;
	now += 86400;
	gmtime_r(&now, &tm);
	m0 = (tm.tm_year + 1900) * 12 + tm.tm_mon;
	for (int i = 0; i <= ahead; i++)
		months[n++] = m0 + i;
	/* asked for explicitly: the cache may hold months dropped since */
	db_partitions_forget(db);
	return db_partitions_need(db, months, (size_t)n, err, errlen);
}

void
db_retention_free(struct db_retention *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].partition);
		free(r[i].from);
		free(r[i].to);
	}
	free(r);
}

int
db_retention(struct db *db, const char *table, int64_t keep_s, int dry_run,
    struct db_retention **out, size_t *nout, char *err, size_t errlen)
{
	char keep[32];
	const char *vals[2] = { table, keep };
	struct db_retention *r = NULL;
	PGresult *res, *d;
	size_t n = 0;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	snprintf(keep, sizeof(keep), "%lld", (long long)keep_s);
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if ((res = db_run(db, &sql_candidates, vals, NULL, NULL, err, errlen)) == NULL)
		goto done;
	n = (size_t)PQntuples(res);
	r = xcalloc(n ? n : 1, sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		r[i].partition = xstrdup(PQgetvalue(res, (int)i, 0));
		r[i].from = xstrdup(PQgetvalue(res, (int)i, 1));
		r[i].to = xstrdup(PQgetvalue(res, (int)i, 2));
		r[i].rows = strtoll(PQgetvalue(res, (int)i, 3), NULL, 10);
	}
	PQclear(res);
	for (size_t i = 0; i < n && !dry_run; i++) {
		const char *pv[1] = { r[i].partition };
		if ((d = db_run(db, &sql_drop, pv, NULL, NULL, err, errlen)) == NULL)
			goto done;
		PQclear(d);
	}
	if (db_commit(db, err, errlen) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1) {
		db_rollback(db);
		db_retention_free(r, n);
		return -1;
	}
	db_partitions_forget(db);
	*out = r;
	*nout = n;
	return 0;
}
