/* outbox.c — the alert outbox: claim due rows, record delivery attempts,
 * count what is left (see db.h).
 *
 * A claim is a transaction that holds row locks (FOR UPDATE SKIP LOCKED) on
 * the rows it returned until db_outbox_end(), so several alerters, in one
 * process or many, never deliver the same row at the same time. A row whose
 * attempt was not recorded when the transaction ends is simply still pending.
 * Times use clock_timestamp(), not now(): a claim may last as long as its
 * deliveries, and retry times count from the attempt, not the claim. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xmalloc.h"

static const struct db_sql sql_claim = {
	"kaudit_outbox_claim",
	"SELECT o.id, o.webhook, f.finding::text, o.attempts"
	" FROM kaudit.outbox o JOIN kaudit.findings f ON f.id = o.finding_id"
	" WHERE o.state = 'pending' AND o.next_attempt_at <= clock_timestamp()"
	" ORDER BY o.id LIMIT $1::integer FOR UPDATE OF o SKIP LOCKED",
	1
};
static const struct db_sql sql_record = {
	"kaudit_outbox_record",
	"WITH u AS ("
	" UPDATE kaudit.outbox SET attempts = attempts + 1, state = $2,"
	"  last_status = $3::integer, last_error = $4,"
	"  next_attempt_at = CASE WHEN $2 = 'pending'"
	"   THEN clock_timestamp() + $6::bigint * interval '1 millisecond'"
	"   ELSE next_attempt_at END,"
	"  delivered_at = CASE WHEN $2 = 'done' THEN clock_timestamp() END"
	" WHERE id = $1::bigint AND state = 'pending' RETURNING id)"
	" INSERT INTO kaudit.delivery_attempts (outbox_id, http_status, error, duration_ms)"
	" SELECT id, $3::integer, $4, $5::integer FROM u",
	6
};
static const struct db_sql sql_pending = {
	"kaudit_outbox_pending",
	"SELECT count(*) FROM kaudit.outbox WHERE state = 'pending'", 0
};
static const struct db_sql sql_due = {
	"kaudit_outbox_due",
	"SELECT count(*) FROM kaudit.outbox WHERE state = 'pending'"
	" AND next_attempt_at <= clock_timestamp()", 0
};

int
db_outbox_claim(struct db *db, int limit, struct outbox_item **items,
    size_t *n, char *err, size_t errlen)
{
	char lim[16];
	const char *vals[] = { lim };
	struct outbox_item *it;
	PGresult *res;
	int i, rows;

	*items = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : 1);
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if ((res = db_run(db, &sql_claim, vals, NULL, NULL, err, errlen)) == NULL) {
		db_rollback(db);
		return -1;
	}
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
db_outbox_record(struct db *db, int64_t id, enum outbox_result res,
    int http_status, const char *error, long duration_ms, long retry_ms,
    char *err, size_t errlen)
{
	char idb[24], status[16], dur[24], retry[24];
	const char *vals[6];
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
	if ((r = db_run(db, &sql_record, vals, NULL, NULL, err, errlen)) == NULL) {
		rc = -1;
	} else if (strcmp(PQcmdTuples(r), "1") != 0) {
		snprintf(err, errlen, "outbox row %lld is not pending", (long long)id);
		rc = -1;
	}
	PQclear(r);
	buf_free(&msg);
	return rc;
}

int
db_outbox_end(struct db *db, int commit, char *err, size_t errlen)
{
	if (commit) {
		if (db_commit(db, err, errlen) == -1) {
			db_rollback(db);
			return -1;
		}
		return 0;
	}
	db_rollback(db);
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
