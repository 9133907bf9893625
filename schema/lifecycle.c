/* lifecycle.c — a finding's life after it is stored (see db.h): its status
 * history, the suppressions, and what `kaudit findings` reads.
 *
 * The answers for people (lists, one finding with its history and
 * deliveries) are built by PostgreSQL as one JSON text and handed over as a
 * jansson value: the command prints them as a table or as JSON, and no
 * column list is kept twice. The daemon's own question, which suppressions
 * hold, gets plain rows. Every change of a suppression notifies
 * DB_SUPPRESS_CHANNEL in its own statement, so listening daemons reload at
 * once when it commits. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"

/* A time as RFC 3339 UTC text with milliseconds, NULL staying NULL. */
#define LC_TIME(t) \
	"to_char((" t ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* A finding's current status: its latest history row, open without one. */
#define LC_STATUS(id) \
	"coalesce((SELECT h.status FROM kaudit.finding_history h" \
	" WHERE h.finding_id = " id " ORDER BY h.id DESC LIMIT 1), 'open')"

static const struct db_sql sql_supp_live = {
	"kaudit_supp_live",
	"SELECT id, condition,"
	" coalesce((extract(epoch FROM expires_at) * 1000)::bigint, 0)"
	" FROM kaudit.suppressions"
	" WHERE lifted_at IS NULL AND (expires_at IS NULL OR expires_at > now())"
	" ORDER BY id",
	0
};

static const struct db_sql sql_supp_list = {
	"kaudit_supp_list",
	"SELECT coalesce(json_agg(json_build_object('id', s.id, 'condition', s.condition,"
	" 'reason', s.reason, 'created_by', s.created_by,"
	" 'created_at', " LC_TIME("s.created_at") ", 'expires_at', " LC_TIME("s.expires_at") ","
	" 'lifted_at', " LC_TIME("s.lifted_at") ", 'lifted_by', s.lifted_by,"
	" 'lift_reason', s.lift_reason,"
	" 'live', s.lifted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now()),"
	" 'matched', (SELECT count(*) FROM kaudit.finding_history h"
	"  WHERE h.suppression_id = s.id)) ORDER BY s.id), '[]')::text"
	" FROM kaudit.suppressions s"
	" WHERE $1::boolean"
	"  OR (s.lifted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now()))",
	1
};

static const struct db_sql sql_supp_add = {
	"kaudit_supp_add",
	"WITH s AS (INSERT INTO kaudit.suppressions (condition, reason, created_by, expires_at)"
	" VALUES ($1, $2, $3, CASE WHEN $4::bigint > 0"
	"  THEN now() + $4::bigint * interval '1 millisecond' END)"
	" RETURNING id, expires_at)"
	" SELECT s.id, coalesce((extract(epoch FROM s.expires_at) * 1000)::bigint, 0),"
	"  pg_notify('" DB_SUPPRESS_CHANNEL "', s.id::text) FROM s",
	4
};

static const struct db_sql sql_supp_lift = {
	"kaudit_supp_lift",
	"WITH s AS (UPDATE kaudit.suppressions SET lifted_at = now(), lifted_by = $2,"
	"  lift_reason = $3"
	" WHERE id = $1::bigint AND lifted_at IS NULL"
	"  AND (expires_at IS NULL OR expires_at > now())"
	" RETURNING id)"
	" SELECT s.id, pg_notify('" DB_SUPPRESS_CHANNEL "', s.id::text) FROM s",
	3
};

/* Newest first; each filter NULL when not given. */
static const struct db_sql sql_findings_list = {
	"kaudit_findings_list",
	"SELECT coalesce(json_agg(x ORDER BY x.id DESC), '[]')::text FROM ("
	" SELECT f.id, " LC_TIME("f.\"time\"") " AS time, f.rule, f.severity,"
	"  f.category, f.username AS user, f.namespace, f.name, f.cluster, f.audit_id,"
	"  f.title, st.status"
	" FROM kaudit.findings f"
	" CROSS JOIN LATERAL (SELECT " LC_STATUS("f.id") " AS status) st"
	" WHERE ($1::text IS NULL OR st.status = $1)"
	"  AND ($2::text IS NULL OR f.rule = $2)"
	"  AND ($3::integer IS NULL OR f.severity_rank >= $3::integer)"
	"  AND ($4::timestamptz IS NULL OR coalesce(f.\"time\", f.created_at) >= $4::timestamptz)"
	"  AND ($5::text IS NULL OR f.username = $5)"
	" ORDER BY f.id DESC LIMIT $6::bigint) x",
	6
};

static const struct db_sql sql_finding_show = {
	"kaudit_finding_show",
	"SELECT json_build_object('id', f.id, 'status', " LC_STATUS("f.id") ","
	" 'stored_at', " LC_TIME("f.created_at") ", 'finding', f.finding,"
	" 'history', (SELECT coalesce(json_agg(json_build_object('status', h.status,"
	"  'by', h.actor, 'at', " LC_TIME("h.at") ", 'reason', h.reason,"
	"  'suppression_id', h.suppression_id) ORDER BY h.id), '[]')"
	"  FROM kaudit.finding_history h WHERE h.finding_id = f.id),"
	" 'deliveries', (SELECT coalesce(json_agg(json_build_object('id', o.id,"
	"  'webhook', o.webhook, 'state', o.state, 'attempts', o.attempts,"
	"  'last_status', o.last_status, 'last_error', o.last_error,"
	"  'created_at', " LC_TIME("o.created_at") ","
	"  'delivered_at', " LC_TIME("o.delivered_at") ") ORDER BY o.id), '[]')"
	"  FROM kaudit.outbox o WHERE o.finding_id = f.id),"
	" 'groups', (SELECT coalesce(json_agg(json_build_object('group_id', m.group_id,"
	"  'webhook', g.webhook, 'notification', m.notification, 'delivery', o.id,"
	"  'state', o.state) ORDER BY m.group_id), '[]')"
	"  FROM kaudit.alert_group_members m JOIN kaudit.alert_groups g ON g.id = m.group_id"
	"  LEFT JOIN kaudit.outbox o ON o.group_id = m.group_id"
	"   AND (o.payload->>'notification')::integer = m.notification"
	"  WHERE m.finding_id = f.id)"
	")::text FROM kaudit.findings f WHERE f.id = $1::bigint",
	1
};

/* A page of stored findings, newest first, below id $1. */
static const struct db_sql sql_findings_page = {
	"kaudit_findings_page",
	"SELECT id, finding::text FROM kaudit.findings"
	" WHERE id < $1::bigint"
	"  AND ($2::timestamptz IS NULL OR coalesce(\"time\", created_at) >= $2::timestamptz)"
	" ORDER BY id DESC LIMIT $3::bigint",
	3
};

/* One row per id asked: missing (no such finding), unchanged (already in
 * that status) or changed, with the status it had. */
static const struct db_sql sql_findings_status = {
	"kaudit_findings_status",
	"WITH ids AS (SELECT DISTINCT unnest($1::bigint[]) AS id),"
	" cur AS MATERIALIZED (SELECT i.id, f.id IS NOT NULL AS found,"
	"  CASE WHEN f.id IS NOT NULL THEN " LC_STATUS("i.id") " END AS status"
	"  FROM ids i LEFT JOIN kaudit.findings f ON f.id = i.id),"
	" ins AS (INSERT INTO kaudit.finding_history (finding_id, status, actor, reason)"
	"  SELECT id, $2, $3, $4 FROM cur WHERE found AND status <> $2 ORDER BY id"
	"  RETURNING finding_id)"
	" SELECT coalesce(json_agg(json_build_object('id', c.id, 'from', c.status,"
	"  'result', CASE WHEN NOT c.found THEN 'missing'"
	"   WHEN ins.finding_id IS NULL THEN 'unchanged' ELSE 'changed' END)"
	"  ORDER BY c.id), '[]')::text"
	" FROM cur c LEFT JOIN ins ON ins.finding_id = c.id",
	4
};

int
db_suppressions_live(struct db *db, struct db_suppression **v, size_t *n, char *err,
    size_t errlen)
{
	struct db_suppression *s;
	PGresult *res;
	int k;

	*v = NULL;
	*n = 0;
	if ((res = db_run(db, &sql_supp_live, NULL, NULL, NULL, err, errlen)) == NULL)
		return -1;
	s = xcalloc((size_t)PQntuples(res) + 1, sizeof(*s));
	for (k = 0; k < PQntuples(res); k++) {
		s[k].id = strtoll(PQgetvalue(res, k, 0), NULL, 10);
		s[k].condition = xstrdup(PQgetvalue(res, k, 1));
		s[k].expires_ms = strtoll(PQgetvalue(res, k, 2), NULL, 10);
	}
	PQclear(res);
	*v = s;
	*n = (size_t)k;
	return 0;
}

void
db_suppressions_free(struct db_suppression *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i].condition);
	free(v);
}

/* s cleaned for PostgreSQL into b; NULL stays NULL. */
static const char *
lc_text(struct buf *b, const char *s)
{
	if (s == NULL)
		return NULL;
	buf_reset(b);
	db_clean_text(b, s, strlen(s), 0);
	return buf_cstr(b);
}

/* Runs s and parses the JSON text in its first column; *out NULL when the
 * statement returned no row. */
static int
lc_json(struct db *db, const struct db_sql *s, const char *const *vals, json_t **out,
    char *err, size_t errlen)
{
	PGresult *res;
	json_error_t je;

	*out = NULL;
	if ((res = db_run(db, s, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	if (PQntuples(res) > 0 &&
	    (*out = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, &je)) == NULL) {
		snprintf(err, errlen, "postgres: unreadable answer: %s", je.text);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
db_suppressions_list(struct db *db, int all, json_t **out, char *err, size_t errlen)
{
	const char *vals[] = { all ? "true" : "false" };

	return lc_json(db, &sql_supp_list, vals, out, err, errlen);
}

int
db_suppression_add(struct db *db, const char *condition, const char *reason,
    const char *by, int64_t duration_ms, int64_t *id, int64_t *expires_ms, char *err,
    size_t errlen)
{
	struct buf b[3];
	char dur[24];
	const char *vals[4];
	PGresult *res;
	int rc = -1;

	for (int i = 0; i < 3; i++)
		buf_init(&b[i]);
	vals[0] = lc_text(&b[0], condition);
	vals[1] = lc_text(&b[1], reason);
	vals[2] = lc_text(&b[2], by);
	vals[3] = dur;
	snprintf(dur, sizeof(dur), "%lld", (long long)duration_ms);
	if ((res = db_run(db, &sql_supp_add, vals, NULL, NULL, err, errlen)) == NULL)
		goto out;
	*id = PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	if (expires_ms != NULL)
		*expires_ms = PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
	PQclear(res);
	rc = 0;
out:
	for (int i = 0; i < 3; i++)
		buf_free(&b[i]);
	return rc;
}

int
db_suppression_lift(struct db *db, int64_t id, const char *by, const char *reason,
    int *found, char *err, size_t errlen)
{
	struct buf b[2];
	char idbuf[24];
	const char *vals[3];
	PGresult *res;
	int rc = -1;

	buf_init(&b[0]);
	buf_init(&b[1]);
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	vals[0] = idbuf;
	vals[1] = lc_text(&b[0], by);
	vals[2] = lc_text(&b[1], reason);
	if ((res = db_run(db, &sql_supp_lift, vals, NULL, NULL, err, errlen)) == NULL)
		goto out;
	*found = PQntuples(res) > 0;
	PQclear(res);
	rc = 0;
out:
	buf_free(&b[0]);
	buf_free(&b[1]);
	return rc;
}

int
db_findings_list(struct db *db, const struct db_findings_filter *f, json_t **out,
    char *err, size_t errlen)
{
	struct buf b[3];
	char rank[16], limit[24];
	const char *vals[6];
	int rc;

	for (int i = 0; i < 3; i++)
		buf_init(&b[i]);
	vals[0] = lc_text(&b[0], f->status);
	vals[1] = lc_text(&b[1], f->rule);
	vals[2] = NULL;
	vals[3] = f->since;
	vals[4] = lc_text(&b[2], f->user);
	vals[5] = limit;
	if (f->min_rank >= 0) {
		snprintf(rank, sizeof(rank), "%d", f->min_rank);
		vals[2] = rank;
	}
	snprintf(limit, sizeof(limit), "%ld", f->limit);
	rc = lc_json(db, &sql_findings_list, vals, out, err, errlen);
	for (int i = 0; i < 3; i++)
		buf_free(&b[i]);
	return rc;
}

int
db_finding_show(struct db *db, int64_t id, json_t **out, char *err, size_t errlen)
{
	char idbuf[24];
	const char *vals[] = { idbuf };

	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	return lc_json(db, &sql_finding_show, vals, out, err, errlen);
}

int
db_findings_set_status(struct db *db, const int64_t *ids, size_t n, const char *status,
    const char *by, const char *reason, json_t **out, char *err, size_t errlen)
{
	struct buf arr, b[2];
	const char *vals[4];
	int rc;

	buf_init(&arr);
	buf_init(&b[0]);
	buf_init(&b[1]);
	buf_putc(&arr, '{');
	for (size_t i = 0; i < n; i++)
		buf_printf(&arr, "%s%lld", i ? "," : "", (long long)ids[i]);
	buf_putc(&arr, '}');
	vals[0] = buf_cstr(&arr);
	vals[1] = status;
	vals[2] = lc_text(&b[0], by);
	vals[3] = lc_text(&b[1], reason);
	rc = lc_json(db, &sql_findings_status, vals, out, err, errlen);
	buf_free(&arr);
	buf_free(&b[0]);
	buf_free(&b[1]);
	return rc;
}

int
db_findings_scan(struct db *db, const char *since, long limit, db_finding_fn fn, void *arg,
    char *err, size_t errlen)
{
	char below[24], page[24];
	const char *vals[] = { below, since, page };
	int64_t last = INT64_MAX;
	long seen = 0, want, got;
	PGresult *res;

	while (seen < limit) {
		want = limit - seen < DB_SCAN_PAGE ? limit - seen : DB_SCAN_PAGE;
		snprintf(below, sizeof(below), "%lld", (long long)last);
		snprintf(page, sizeof(page), "%ld", want);
		if ((res = db_run(db, &sql_findings_page, vals, NULL, NULL, err, errlen)) == NULL)
			return -1;
		got = PQntuples(res);
		for (int k = 0; k < got; k++) {
			last = strtoll(PQgetvalue(res, k, 0), NULL, 10);
			fn(arg, last, PQgetvalue(res, k, 1), (size_t)PQgetlength(res, k, 1));
		}
		PQclear(res);
		seen += got;
		if (got < want)
			break;	/* nothing older */
	}
	return 0;
}
