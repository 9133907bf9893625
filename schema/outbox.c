/* outbox.c — the alert outbox: claim due rows under a lease, record
 * delivery attempts, release leases, count what is left (see db.h).
 *
 * DESIGN: every operation is one statement in its own transaction, so no
 * transaction (nor row lock) stays open while a webhook POST runs, which may
 * take up to its timeout_ms. A claim picks due rows with FOR UPDATE SKIP
 * LOCKED, which only keeps two claims running at the same instant apart,
 * and marks them with a lease (locked_until, locked_by) that every later
 * claim respects until it expires. The lease is what keeps alerters off each
 * other's rows for the length of a POST. Recording an attempt checks that the
 * row is still leased by the same alerter and clears the lease; when it is
 * not (the lease expired and another alerter took the row), the record
 * changes nothing, so a late answer never overwrites a newer attempt's. A
 * crashed alerter's rows come back when their lease expires. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xmalloc.h"

/* now() is the start of the statement, which is its own transaction: the
 * same instant as clock_timestamp() here, and usable in index scans. A row
 * carries its own payload (a group's notification) or delivers its finding;
 * the payload is read from the row as the statement found it, which the
 * lease does not change. */
static const struct db_sql sql_claim = {
	"kaudit_outbox_claim",
	"WITH c AS ("
	" SELECT id FROM kaudit.outbox"
	" WHERE state = 'pending' AND next_attempt_at <= now()"
	"  AND (locked_until IS NULL OR locked_until <= now())"
	" ORDER BY id LIMIT $1::integer FOR UPDATE SKIP LOCKED"
	"), u AS ("
	" UPDATE kaudit.outbox o SET locked_by = $3,"
	"  locked_until = now() + $2::bigint * interval '1 millisecond'"
	" FROM c WHERE o.id = c.id"
	" RETURNING o.id, o.webhook, o.finding_id, o.attempts"
	")"
	" SELECT u.id, u.webhook, COALESCE(o.payload, f.finding)::text, u.attempts"
	" FROM u JOIN kaudit.outbox o ON o.id = u.id"
	" LEFT JOIN kaudit.findings f ON f.id = u.finding_id ORDER BY u.id",
	3
};
static const struct db_sql sql_record = {
	"kaudit_outbox_record",
	"WITH u AS ("
	" UPDATE kaudit.outbox SET attempts = attempts + 1, state = $2,"
	"  last_status = $3::integer, last_error = $4,"
	"  next_attempt_at = CASE WHEN $2 = 'pending'"
	"   THEN clock_timestamp() + $6::bigint * interval '1 millisecond'"
	"   ELSE next_attempt_at END,"
	"  delivered_at = CASE WHEN $2 = 'done' THEN clock_timestamp() END,"
	"  locked_until = NULL, locked_by = NULL"
	" WHERE id = $1::bigint AND state = 'pending' AND locked_by = $7 RETURNING id)"
	" INSERT INTO kaudit.delivery_attempts (outbox_id, http_status, error, duration_ms)"
	" SELECT id, $3::integer, $4, $5::integer FROM u",
	7
};
static const struct db_sql sql_release = {
	"kaudit_outbox_release",
	"UPDATE kaudit.outbox SET locked_until = NULL, locked_by = NULL"
	" WHERE locked_by = $1",
	1
};
static const struct db_sql sql_pending = {
	"kaudit_outbox_pending",
	"SELECT count(*) FROM kaudit.outbox WHERE state = 'pending'", 0
};
static const struct db_sql sql_due = {
	"kaudit_outbox_due",
	"SELECT count(*) FROM kaudit.outbox WHERE state = 'pending'"
	" AND next_attempt_at <= clock_timestamp()"
	" AND (locked_until IS NULL OR locked_until <= clock_timestamp())", 0
};
static const struct db_sql sql_leased = {
	"kaudit_outbox_leased",
	"SELECT count(*) FROM kaudit.outbox WHERE locked_by IS NOT NULL"
	" AND state = 'pending' AND locked_until > clock_timestamp()", 0
};

int
db_outbox_claim(struct db *db, const char *owner, int limit, long lease_ms,
    struct outbox_item **items, size_t *n, char *err, size_t errlen)
{
	char lim[16], lease[24];
	const char *vals[] = { lim, lease, owner };
	struct outbox_item *it;
	PGresult *res;
	int i, rows;

	*items = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : 1);
	snprintf(lease, sizeof(lease), "%ld", lease_ms > 0 ? lease_ms : 1);
	if ((res = db_run(db, &sql_claim, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	rows = PQntuples(res);
	it = xcalloc(rows ? (size_t)rows : 1, sizeof(*it));
	for (i = 0; i < rows; i++) {
		it[i].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		it[i].webhook = xstrdup(PQgetvalue(res, i, 1));
		it[i].payload = xstrdup(PQgetvalue(res, i, 2));
		it[i].attempts = atoi(PQgetvalue(res, i, 3));
	}
	PQclear(res);
	*items = it;
	*n = (size_t)rows;
	return 0;
}

void
db_outbox_items_free(struct outbox_item *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(items[i].webhook);
		free(items[i].payload);
	}
	free(items);
}

static const char *
outbox_state(enum outbox_result res)
{
	switch (res) {
	case OUTBOX_DONE:
		return "done";
	case OUTBOX_DEAD:
		return "dead";
	default:
		return "pending";
	}
}

int
db_outbox_record(struct db *db, const char *owner, int64_t id, enum outbox_result res,
    int http_status, const char *error, long duration_ms, long retry_ms,
    char *err, size_t errlen)
{
	char idb[24], status[16], dur[24], retry[24];
	const char *vals[7];
	struct buf msg;
	PGresult *r;
	int rc = 0;

	buf_init(&msg);
	snprintf(idb, sizeof(idb), "%lld", (long long)id);
	snprintf(status, sizeof(status), "%d", http_status);
	snprintf(dur, sizeof(dur), "%ld", duration_ms < 0 ? 0 : duration_ms);
	snprintf(retry, sizeof(retry), "%ld", retry_ms < 0 ? 0 : retry_ms);
	if (error != NULL)
		db_clean_text(&msg, error, strlen(error), 0);
	vals[0] = idb;
	vals[1] = outbox_state(res);
	vals[2] = http_status > 0 ? status : NULL;
	vals[3] = error != NULL ? buf_cstr(&msg) : NULL;
	vals[4] = dur;
	vals[5] = retry;
	vals[6] = owner;
	if ((r = db_run(db, &sql_record, vals, NULL, NULL, err, errlen)) == NULL)
		rc = -1;
	else if (strcmp(PQcmdTuples(r), "1") != 0)
		rc = 1;
	PQclear(r);
	buf_free(&msg);
	return rc;
}

int
db_outbox_release(struct db *db, const char *owner, long *released, char *err,
    size_t errlen)
{
	const char *vals[] = { owner };
	PGresult *res;

	*released = 0;
	if ((res = db_run(db, &sql_release, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	*released = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static int
outbox_count(struct db *db, const struct db_sql *s, long *count, char *err,
    size_t errlen)
{
	PGresult *res;

	*count = 0;
	if ((res = db_run(db, s, NULL, NULL, NULL, err, errlen)) == NULL)
		return -1;
	*count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
db_outbox_pending(struct db *db, long *pending, char *err, size_t errlen)
{
	return outbox_count(db, &sql_pending, pending, err, errlen);
}

int
db_outbox_due(struct db *db, long *due, char *err, size_t errlen)
{
	return outbox_count(db, &sql_due, due, err, errlen);
}

int
db_outbox_leased(struct db *db, long *leased, char *err, size_t errlen)
{
	return outbox_count(db, &sql_leased, leased, err, errlen);
}
