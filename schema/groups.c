/* groups.c — alert groups in PostgreSQL (see db.h): the part of the batch
 * write that puts findings routed to a grouped webhook into their groups,
 * and the flusher that turns due groups into outbox rows.
 *
 * DESIGN: a group is a row of kaudit.alert_groups, unique among open groups
 * on a digest of (webhook, key); the key is the JSON text of the cluster and
 * the webhook's group_by values, made once per batch here so every statement
 * of the batch digests the same text. Joining a group happens in the batch's
 * own transaction, inside the findings statement (schema/db.c): only
 * findings that statement actually inserted are counted and get a
 * membership row, so a retried or redelivered batch can neither lose a
 * finding from its group nor count it twice.
 *
 * Before its findings, a batch locks its groups: one transaction-level
 * advisory lock per group digest, taken in ascending order in one
 * statement, before any group row is touched. Two batches sharing groups
 * thus queue on the first group they share, and neither can hold a group
 * row the other waits for: no deadlock, whatever order their findings come
 * in. The same statement closes the batch's groups that have been quiet
 * for their repeat_interval since their last notification, so the new
 * finding opens a new group even when the flusher has not closed the old one
 * yet. (The findings statement upserts groups in digest order too.)
 *
 * The flusher never waits on a lock: it takes due groups with FOR UPDATE
 * SKIP LOCKED, so a group a batch is writing, or another alerter is
 * flushing, is left for a later round. It runs in one transaction: take the
 * due groups; then, in a second statement whose snapshot sees every finding
 * committed to them before the lock was granted, aggregate each group's
 * unannounced members into one notification (an outbox row with the
 * notification as payload), mark the members with the notification's
 * number and advance the group; close quiet groups; NOTIFY the alerters.
 * A batch adding to a group waits for the flusher's commit and then sets the
 * next due time from the advanced group. A crash before the commit leaves
 * everything as it was; after it, the notification is in the outbox. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xmalloc.h"

/* The advisory lock class of group digests ("kagr"): the two-key form of
 * pg_advisory_xact_lock(), apart from the migrations' one-key lock. */
#define GROUPS_LOCK_CLASS	"1801545586"

/* The lock set is taken by the innermost subquery, whose output is ordered
 * and has a volatile target list, so the locks are taken in that order; the
 * UPDATE's input joins the one-row count of them, so no group row is locked
 * before every advisory lock is held. Two digests that share a lock key
 * only queue a little more. */
static const struct db_sql sql_lock = {
	"kaudit_groups_lock",
	"WITH u AS MATERIALIZED ("
	" SELECT kaudit.alert_group_digest(w, k) AS digest, rep"
	" FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(w, k, rep)"
	"), l AS MATERIALIZED ("
	" SELECT count(*) AS n FROM (SELECT pg_advisory_xact_lock(" GROUPS_LOCK_CLASS ", lk)"
	"  FROM (SELECT DISTINCT ('x' || encode(substr(digest, 1, 4), 'hex'))::bit(32)::integer"
	"   AS lk FROM u ORDER BY 1) s) t"
	"), c AS ("
	" UPDATE kaudit.alert_groups a SET closed_at = now(), updated_at = now()"
	" FROM (SELECT u.digest, max(u.rep) AS rep FROM u CROSS JOIN l GROUP BY u.digest) x"
	" WHERE a.digest = x.digest AND a.closed_at IS NULL AND a.next_notify_at IS NULL"
	"  AND a.last_notified_at <= now() - x.rep * interval '1 millisecond'"
	" RETURNING a.id"
	")"
	" SELECT (SELECT n FROM l), (SELECT count(*) FROM c), pg_notify('kaudit_outbox', '')",
	3
};
static const uint32_t lock_oids[] = { DB_OID_TEXT, DB_OID_TEXT, DB_OID_INT8 };

/* Due groups, oldest due first, none another transaction holds. */
static const struct db_sql sql_take = {
	"kaudit_groups_take",
	"SELECT id FROM kaudit.alert_groups"
	" WHERE closed_at IS NULL AND next_notify_at <= now()"
	" ORDER BY next_notify_at, id LIMIT $1::integer FOR UPDATE SKIP LOCKED",
	1
};

#define GROUPS_TIME(c) \
	"to_char(" c " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The notifications of the groups taken ($1): every member not announced
 * yet, the first $2 of them (in the order they were stored) in the payload.
 * A taken group with nothing to announce (its findings were deleted) is
 * only advanced. */
static const struct db_sql sql_notify = {
	"kaudit_groups_notify",
	"WITH d AS (SELECT DISTINCT unnest($1::bigint[]) AS id"
	"), m AS MATERIALIZED ("
	" SELECT m.group_id, f.finding,"
	"  row_number() OVER (PARTITION BY m.group_id ORDER BY m.finding_id) AS rn"
	" FROM kaudit.alert_group_members m JOIN kaudit.findings f ON f.id = m.finding_id"
	" WHERE m.group_id IN (SELECT id FROM d) AND m.notification IS NULL"
	"), a AS ("
	" SELECT group_id, count(*) AS fresh,"
	"  jsonb_agg(finding ORDER BY rn) FILTER (WHERE rn <= $2::integer) AS findings"
	" FROM m GROUP BY group_id"
	"), g AS ("
	" UPDATE kaudit.alert_groups g SET"
	"  notifications = g.notifications + (a.group_id IS NOT NULL)::integer,"
	"  notified_count = g.notified_count + coalesce(a.fresh, 0),"
	"  last_notified_at = CASE WHEN a.group_id IS NULL THEN g.last_notified_at"
	"   ELSE now() END,"
	"  next_notify_at = NULL, updated_at = now()"
	" FROM d LEFT JOIN a ON a.group_id = d.id"
	" WHERE g.id = d.id"
	" RETURNING g.id, g.webhook, g.key, g.notifications, g.notified_count,"
	"  g.first_event_at, g.last_event_at, a.fresh, a.findings"
	"), ob AS ("
	" INSERT INTO kaudit.outbox (webhook, group_id, payload)"
	" SELECT webhook, id, jsonb_build_object('group', key, 'group_id', id,"
	"  'webhook', webhook, 'count', notified_count, 'new', fresh,"
	"  'notification', notifications, 'first', " GROUPS_TIME("first_event_at") ","
	"  'last', " GROUPS_TIME("last_event_at") ", 'findings', findings)"
	" FROM g WHERE fresh IS NOT NULL ORDER BY id"
	" RETURNING id"
	"), mk AS ("
	" UPDATE kaudit.alert_group_members x SET notification = g.notifications"
	" FROM g WHERE x.group_id = g.id AND x.notification IS NULL AND g.fresh IS NOT NULL"
	")"
	" SELECT count(*) FROM ob",
	2
};

/* Groups quiet for their repeat_interval since their last notification. */
static const struct db_sql sql_close = {
	"kaudit_groups_close",
	"WITH q AS ("
	" SELECT id FROM kaudit.alert_groups"
	" WHERE closed_at IS NULL AND next_notify_at IS NULL AND last_notified_at IS NOT NULL"
	"  AND last_notified_at + repeat_interval_ms * interval '1 millisecond' <= now()"
	" ORDER BY last_notified_at LIMIT $1::integer FOR UPDATE SKIP LOCKED)"
	" UPDATE kaudit.alert_groups a SET closed_at = now(), updated_at = now()"
	" FROM q WHERE a.id = q.id",
	1
};

static const struct db_sql sql_next = {
	"kaudit_groups_next",
	"SELECT CASE WHEN n IS NULL THEN -1 ELSE greatest(0,"
	" ceil(extract(epoch FROM n - clock_timestamp()) * 1000))::bigint END"
	" FROM (SELECT min(next_notify_at) AS n FROM kaudit.alert_groups"
	"  WHERE closed_at IS NULL AND next_notify_at IS NOT NULL) s",
	0
};

static const struct db_sql sql_wake = {
	"kaudit_groups_wake", "SELECT pg_notify('kaudit_outbox', '')", 0
};

/* Appends a key's JSON text as PostgreSQL may hold it, in one spelling per
 * value: jansson writes a NUL as \u0000, which the cleaning makes \ufffd,
 * while U+FFFD itself comes out raw. Both become the raw character, so a
 * NUL and U+FFFD make the same group, as they are the same stored value. */
static void
key_text(struct buf *out, const char *t, size_t n)
{
	struct buf c;
	size_t i = 0;

	buf_init(&c);
	db_clean_text(&c, t, n, 1);
	while (i < c.len) {
		if (c.data[i] != '\\' || i + 1 == c.len) {
			buf_putc(out, c.data[i++]);
		} else if (i + 6 <= c.len && c.data[i + 1] == 'u' &&
		    strncasecmp(c.data + i + 2, "fffd", 4) == 0) {
			buf_append(out, "\xef\xbf\xbd", 3);
			i += 6;
		} else {
			buf_append(out, c.data + i, 2);	/* any other escape */
			i += 2;
		}
	}
	buf_free(&c);
}

void
db_group_refs_build(struct db_group_refs *g, const struct db_finding *f, size_t nf)
{
	struct db_group_ref *r;
	char *t;

	memset(g, 0, sizeof(*g));
	buf_init(&g->text);
	g->first = xcalloc(nf + 1, sizeof(*g->first));
	for (size_t i = 0; i < nf; i++) {
		g->first[i] = g->n;
		for (size_t k = 0; f[i].groups != NULL && k < f[i].nwebhooks; k++) {
			const struct db_grouping *dg = &f[i].groups[k];

			if (dg->key == NULL)
				continue;
			if (g->n == g->cap) {
				g->cap = g->cap ? g->cap * 2 : 16;
				g->v = xrealloc(g->v, g->cap * sizeof(*g->v));
			}
			r = &g->v[g->n++];
			r->webhook = f[i].webhooks[k];
			r->wait_ms = dg->wait_ms;
			r->interval_ms = dg->interval_ms;
			r->repeat_ms = dg->repeat_ms;
			/* A key jansson cannot write comes from a finding it
			 * cannot write either, which is not stored. */
			t = json_dumps(dg->key, JSON_COMPACT);
			r->off = g->text.len;
			key_text(&g->text, t ? t : "{}", t ? strlen(t) : 2);
			r->len = g->text.len - r->off;
			free(t);
		}
	}
	g->first[nf] = g->n;
}

void
db_group_refs_free(struct db_group_refs *g)
{
	buf_free(&g->text);
	free(g->v);
	free(g->first);
	memset(g, 0, sizeof(*g));
}

int
db_group_refs_json(const struct db_group_refs *g, size_t i, struct buf *out)
{
	const struct db_group_ref *r;

	buf_reset(out);
	if (g->first == NULL || g->first[i] == g->first[i + 1])
		return 0;
	buf_putc(out, '[');
	for (size_t j = g->first[i]; j < g->first[i + 1]; j++) {
		r = &g->v[j];
		if (j > g->first[i])
			buf_putc(out, ',');
		buf_puts(out, "{\"w\":");
		buf_json_str(out, r->webhook, strlen(r->webhook));
		buf_puts(out, ",\"k\":");
		buf_json_str(out, g->text.data + r->off, r->len);
		buf_printf(out, ",\"wait\":%ld,\"ivl\":%ld,\"rep\":%ld}", r->wait_ms,
		    r->interval_ms, r->repeat_ms);
	}
	buf_putc(out, ']');
	return 1;
}

int
db_groups_lock(struct db *db, const struct db_group_refs *g, char *err, size_t errlen)
{
	struct db_rows r;
	int rc;

	if (g->n == 0)
		return 0;
	db_rows_init(&r, &sql_lock, lock_oids, 3);
	for (size_t j = 0; j < g->n; j++) {
		db_rows_add(&r, j);
		db_rows_text(&r, 0, g->v[j].webhook, strlen(g->v[j].webhook), 0);
		db_rows_text(&r, 1, g->text.data + g->v[j].off, g->v[j].len, 0);
		db_rows_int(&r, 2, g->v[j].repeat_ms);
	}
	rc = db_rows_run(db, &r, 0, r.n, NULL, err, errlen);
	db_rows_free(&r);
	return rc;
}

/* Takes the due groups; ids receives them as an array literal. */
static int
flush_take(struct db *db, int limit, struct buf *ids, long *n, char *err, size_t errlen)
{
	char lim[16];
	const char *vals[1] = { lim };
	PGresult *res;

	snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : 1);
	if ((res = db_run(db, &sql_take, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	*n = PQntuples(res);
	buf_reset(ids);
	buf_putc(ids, '{');
	for (int i = 0; i < PQntuples(res); i++) {
		if (i)
			buf_putc(ids, ',');
		buf_puts(ids, PQgetvalue(res, i, 0));
	}
	buf_putc(ids, '}');
	PQclear(res);
	return 0;
}

/* Runs s and adds its first value (or the rows it changed) to *count. */
static int
flush_run(struct db *db, const struct db_sql *s, const char *const *vals, long *count,
    char *err, size_t errlen)
{
	PGresult *res;

	if ((res = db_run(db, s, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	if (count != NULL)
		*count += strtol(PQntuples(res) > 0 && PQnfields(res) > 0 ?
		    PQgetvalue(res, 0, 0) : PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static int
flush_tx(struct db *db, int limit, struct db_groups_flush *out, char *err, size_t errlen)
{
	char lim[16], max[16];
	const char *vals[2];
	struct buf ids;
	long taken = 0;
	int rc = -1;

	buf_init(&ids);
	snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : 1);
	snprintf(max, sizeof(max), "%d", DB_GROUP_FINDINGS);
	if (flush_take(db, limit, &ids, &taken, err, errlen) == -1)
		goto out;
	vals[0] = buf_cstr(&ids);
	vals[1] = max;
	if (taken > 0 && flush_run(db, &sql_notify, vals, &out->notifications,
	    err, errlen) == -1)
		goto out;
	vals[0] = lim;
	if (flush_run(db, &sql_close, vals, &out->closed, err, errlen) == -1)
		goto out;
	if (out->notifications > 0 &&
	    flush_run(db, &sql_wake, NULL, NULL, err, errlen) == -1)
		goto out;
	out->next_ms = 0;
	if (flush_run(db, &sql_next, NULL, &out->next_ms, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&ids);
	return rc;
}

int
db_groups_flush(struct db *db, int limit, struct db_groups_flush *out, char *err,
    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (flush_tx(db, limit, out, err, errlen) == -1 ||
	    db_commit(db, err, errlen) == -1) {
		db_rollback(db);
		memset(out, 0, sizeof(*out));
		out->next_ms = -1;
		return -1;
	}
	return 0;
}
