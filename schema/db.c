/* db.c — the PostgreSQL connection, prepared statements, and the batch write
 * of findings, their outbox rows, archived events and ingest errors (see
 * db.h). The months the rows go to are made first (partitions.c).
 *
 * DESIGN: a batch goes to the server as one statement per table and chunk:
 * the findings travel as parallel text[] parameters in binary array format
 * (finding JSON, webhook names, validated time and IP) that one
 * INSERT ... SELECT FROM unnest() spreads into columns, with data-modifying
 * CTEs that add the outbox rows of the findings that were new and put those
 * routed to a grouped webhook into their groups (groups.c); the archived
 * events (among them the event of every finding, which the finding row does
 * not repeat) and the ingest errors likewise. That is one round trip for hundreds of rows instead of
 * one or two per row. Values the server would reject (bad UTF-8, \u0000,
 * unparseable times or addresses) are cleaned or nulled here first. When the
 * server still refuses the batch because of its data, the batch is written
 * again with the refused rows isolated and kept in kaudit.dead_letters
 * (rows.c has the rule), so one bad event can never block the pipeline, and
 * database trouble is retried without losing anything. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/utf8.h"
#include "base/log.h"
#include "base/xmalloc.h"

/* The kinds of rows a batch writes, for isolating refused ones. */
#define ROWS_ERRORS	0
#define ROWS_FINDINGS	1
#define ROWS_EVENTS	2

/* A chunk's parameters stay well under PostgreSQL's 1 GB field limit. */
#define DB_CHUNK_BYTES	(32u << 20)
#define DB_HEAD_MAX	1024

/* Findings go in as parallel text[] arrays: finding JSON, webhook names (a
 * JSON array), validated time and IP, the dedup of a stateful
 * finding, the groups it joins (a JSON array of {w: webhook, k: key text,
 * wait, ivl, rep: its group_wait, group_interval, repeat_interval in ms};
 * see groups.c), its partition time (NULL: now), and the suppression that
 * holds on it (an id, or NULL: see alert/suppress.c). The identity of a
 * finding is its key in kaudit.finding_keys (digests of (audit_id, rule) for
 * a single event; of (rule, dedup) for a correlation, a suppressing rule or
 * an attribution), so it holds for values of any length and whichever month
 * the finding lands in: a finding is inserted only with its key. */
static const struct db_sql sql_findings = {
	"kaudit_findings",
	"WITH input AS MATERIALIZED ("
	" SELECT u.ord, u.f::jsonb AS f, u.w, u.t, u.ip, u.d, u.g, u.s,"
	"  coalesce(u.pt::timestamptz, now()) AS pt"
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
	"  $6::text[], $7::text[], $8::text[]) WITH ORDINALITY"
	"  AS u(f, w, t, ip, d, g, pt, s, ord)"
	"), r AS MATERIALIZED ("
	/* kaudit.finding_key() spelled out: computed once, without the call */
	" SELECT DISTINCT ON (key) * FROM (SELECT ord, f, w, t, ip, d, g, pt, s, audit_id,"
	"  rule, severity, CASE WHEN d IS NULL"
	"   THEN '\\x00'::bytea || sha256(convert_to(audit_id, 'UTF8'))"
	"    || sha256(convert_to(rule, 'UTF8'))"
	"   ELSE '\\x01'::bytea || sha256(convert_to(rule, 'UTF8'))"
	"    || sha256(convert_to(d, 'UTF8')) END AS key"
	" FROM (SELECT ord, f, w, t, ip, d, g, pt, s,"
	"  coalesce(f->>'audit_id', '') AS audit_id, coalesce(f->>'rule', '') AS rule,"
	"  CASE WHEN f->>'severity' IN ('info', 'low', 'medium', 'high', 'critical')"
	"   THEN f->>'severity' ELSE 'info' END AS severity"
	"  FROM input) i) j ORDER BY key, ord"
	/* the identity first: a key already stored (or stored by a concurrent
	 * batch) inserts nothing; NOT EXISTS spares a redelivered finding a
	 * sequence value */
	"), k AS ("
	" INSERT INTO kaudit.finding_keys (key, finding_id, partition_time)"
	" SELECT key, nextval('kaudit.findings_id_seq'), pt FROM r"
	" WHERE NOT EXISTS (SELECT 1 FROM kaudit.finding_keys x WHERE x.key = r.key)"
	" ORDER BY ord"
	" ON CONFLICT DO NOTHING"
	" RETURNING key, finding_id"
	"), kr AS MATERIALIZED ("
	" SELECT k.finding_id AS id, r.* FROM k JOIN r ON r.key = k.key"
	"), ins AS ("
	" INSERT INTO kaudit.findings (id, audit_id, rule, title, severity, severity_rank,"
	"  category, tags, stage, \"time\", cluster, username, groups,"
	"  impersonated_user, source_ip, source_ip_text, user_agent, verb, resource,"
	"  subresource, namespace, name, code, message, evidence, finding,"
	"  dedup, repeats, correlation, attributed_user, partition_time)"
	" SELECT id, audit_id, rule, f->>'title', severity,"
	"  CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3"
	"   WHEN 'critical' THEN 4 ELSE 0 END,"
	"  f->>'category',"
	"  CASE WHEN jsonb_typeof(f->'tags') = 'array'"
	"   THEN ARRAY(SELECT jsonb_array_elements_text(f->'tags')) END,"
	"  f->>'stage', t::timestamptz, f->>'cluster', f->>'user',"
	"  CASE WHEN jsonb_typeof(f->'groups') = 'array'"
	"   THEN ARRAY(SELECT jsonb_array_elements_text(f->'groups')) END,"
	"  f->>'impersonated_user', ip::inet, f->>'source_ip', f->>'user_agent',"
	"  f->>'verb', f->>'resource', f->>'subresource', f->>'namespace', f->>'name',"
	"  CASE WHEN jsonb_typeof(f->'code') = 'number' AND f->>'code' ~ '^-?[0-9]{1,9}$'"
	"   THEN (f->>'code')::integer END,"
	"  f->>'message', f->'evidence', f, d,"
	"  CASE WHEN jsonb_typeof(f->'repeats') = 'number' AND f->>'repeats' ~ '^[0-9]{1,9}$'"
	"   THEN (f->>'repeats')::integer ELSE 0 END,"
	"  f->'correlation', f->>'attributed_user', pt"
	" FROM kr ORDER BY ord"
	" RETURNING id"
	"), ob AS ("
	" INSERT INTO kaudit.outbox (finding_id, webhook)"
	" SELECT DISTINCT kr.id, wh.name FROM kr"
	" CROSS JOIN LATERAL jsonb_array_elements_text(kr.w::jsonb) AS wh(name)"
	" ORDER BY kr.id, wh.name"
	" ON CONFLICT (finding_id, webhook) DO NOTHING"
	/* the groups of the findings inserted, each once per finding */
	"), gin AS MATERIALIZED ("
	" SELECT DISTINCT ON (kr.id, x.digest) kr.id AS fid, x.*,"
	"  kr.f->>'cluster' AS cluster, coalesce(kr.t::timestamptz, now()) AS t"
	" FROM kr"
	" CROSS JOIN LATERAL (SELECT j.*, kaudit.alert_group_digest(j.w, j.k) AS digest"
	"  FROM jsonb_to_recordset(kr.g::jsonb)"
	"  AS j(w text, k text, wait bigint, ivl bigint, rep bigint)) x"
	" WHERE kr.g IS NOT NULL"
	/* one row per group, in digest order; a group notified already is
	 * due group_interval after its last notification */
	"), grp AS ("
	" INSERT INTO kaudit.alert_groups AS a (webhook, cluster, key, digest,"
	"  group_wait_ms, group_interval_ms, repeat_interval_ms, first_event_at,"
	"  last_event_at, count, next_notify_at)"
	" SELECT min(w), min(cluster), min(k)::jsonb, digest, max(wait), max(ivl),"
	"  max(rep), min(t), max(t), count(*), now() + max(wait) * interval '1 millisecond'"
	" FROM gin GROUP BY digest ORDER BY digest"
	" ON CONFLICT (digest) WHERE closed_at IS NULL DO UPDATE SET"
	"  count = a.count + EXCLUDED.count,"
	"  first_event_at = least(a.first_event_at, EXCLUDED.first_event_at),"
	"  last_event_at = greatest(a.last_event_at, EXCLUDED.last_event_at),"
	"  group_wait_ms = EXCLUDED.group_wait_ms,"
	"  group_interval_ms = EXCLUDED.group_interval_ms,"
	"  repeat_interval_ms = EXCLUDED.repeat_interval_ms,"
	"  next_notify_at = coalesce(a.next_notify_at, a.last_notified_at +"
	"   EXCLUDED.group_interval_ms * interval '1 millisecond', now()),"
	"  updated_at = now()"
	" RETURNING a.id, a.digest"
	"), gm AS ("
	" INSERT INTO kaudit.alert_group_members (group_id, finding_id)"
	" SELECT grp.id, gin.fid FROM gin JOIN grp ON grp.digest = gin.digest ORDER BY 1, 2"
	" ON CONFLICT DO NOTHING"
	/* a suppressed finding's status, written only when it is new (kr
	 * holds each key once) */
	"), sup AS ("
	" INSERT INTO kaudit.finding_history (finding_id, status, actor, reason,"
	"  suppression_id)"
	" SELECT kr.id, 'suppressed', 'kaudit', 'suppression ' || kr.s || coalesce(': ' ||"
	"  (SELECT x.reason FROM kaudit.suppressions x WHERE x.id = kr.s::bigint), ''),"
	"  kr.s::bigint"
	" FROM kr WHERE kr.s IS NOT NULL ORDER BY kr.id"
	")"
	" SELECT count(*) FROM ins",
	8
};
#define FINDINGS_ARRAYS	8
static const uint32_t findings_oids[FINDINGS_ARRAYS] = {
	DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT,
	DB_OID_TEXT, DB_OID_TEXT
};

/* A batch's ingest errors in one statement, like the findings. */
static const struct db_sql sql_ingest_errors = {
	"kaudit_ingest_errors",
	"INSERT INTO kaudit.ingest_errors (topic, partition, \"offset\", seq, error,"
	" head, size)"
	" SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::integer[],"
	"  $5::text[], $6::bytea[], $7::bigint[])"
	" ON CONFLICT (topic, partition, \"offset\", seq) DO NOTHING",
	7
};
static const uint32_t ingest_error_oids[] = {
	DB_OID_TEXT, DB_OID_INT4, DB_OID_INT8, DB_OID_INT4, DB_OID_TEXT,
	DB_OID_BYTEA, DB_OID_INT8
};

/* Archived events (kaudit.events) likewise: the event's text, its validated
 * stageTimestamp, requestReceivedTimestamp and first source IP, its
 * cluster, its partition time (NULL: now) and the audit ID a finding gives
 * an event without one (analyze/finding.c: "kaudit-" and the FNV-1a of its
 * text), so that a finding and its archived event share their audit_id;
 * the other columns are read from the jsonb. One row per (audit_id, stage): the unique index holds it
 * for a row placed by its time (the same on every delivery); a row placed
 * by the clock is looked for first. */
static const struct db_sql sql_events = {
	"kaudit_events",
	/* MATERIALIZED: each event is parsed once, not once per column */
	"WITH x AS MATERIALIZED ("
	" SELECT v.*, CASE WHEN jsonb_typeof(v.j->'auditID') = 'string'"
	"  AND v.j->>'auditID' <> '' THEN v.j->>'auditID' ELSE coalesce(v.a, '') END AS aid"
	" FROM (SELECT u.e::jsonb AS j, u.t, u.rt, u.ip, u.c, u.pt, u.a, u.ord"
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
	"  $7::text[]) WITH ORDINALITY AS u(e, t, rt, ip, c, pt, a, ord)) v)"
	" INSERT INTO kaudit.events (\"time\", received, audit_id, stage, verb, username,"
	" groups, impersonated_user, source_ip, user_agent, api_group, resource,"
	" subresource, namespace, name, code, decision, cluster, annotations, event,"
	" partition_time)"
	" SELECT t::timestamptz, rt::timestamptz, aid, j->>'stage',"
	"  j->>'verb', j->'user'->>'username',"
	"  CASE WHEN jsonb_typeof(j->'user'->'groups') = 'array'"
	"   THEN ARRAY(SELECT jsonb_array_elements_text(j->'user'->'groups')) END,"
	"  j->'impersonatedUser'->>'username', ip::inet, j->>'userAgent',"
	"  j->'objectRef'->>'apiGroup', j->'objectRef'->>'resource',"
	"  j->'objectRef'->>'subresource', j->'objectRef'->>'namespace',"
	"  j->'objectRef'->>'name',"
	"  CASE WHEN jsonb_typeof(j->'responseStatus'->'code') = 'number'"
	"   AND j->'responseStatus'->>'code' ~ '^-?[0-9]{1,9}$'"
	"   THEN (j->'responseStatus'->>'code')::integer END,"
	"  j->'annotations'->>'authorization.k8s.io/decision', c,"
	"  CASE WHEN jsonb_typeof(j->'annotations') = 'object' THEN j->'annotations' END,"
	"  j, coalesce(pt::timestamptz, now())"
	" FROM x"
	" WHERE pt IS NOT NULL OR NOT EXISTS (SELECT 1 FROM kaudit.events y"
	"  WHERE kaudit.text_digest(y.audit_id) = kaudit.text_digest(x.aid)"
	"  AND kaudit.text_digest(coalesce(y.stage, '')) ="
	"   kaudit.text_digest(coalesce(x.j->>'stage', '')))"
	" ORDER BY ord"
	" ON CONFLICT DO NOTHING",
	7
};
#define EVENTS_ARRAYS	7
static const uint32_t events_oids[EVENTS_ARRAYS] = {
	DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT,
	DB_OID_TEXT
};

void
db_set_err(char *err, size_t errlen, const char *prefix, const char *msg)
{
	size_t n;

	if (errlen == 0)
		return;
	snprintf(err, errlen, "%s%s", prefix ? prefix : "", msg ? msg : "unknown error");
	n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	/* One line for logs: DETAIL and CONTEXT follow on the same line. */
	for (char *p = err; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

static void
db_save_state(struct db *db, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", st ? st : "");
	db->constraint = res != NULL &&
	    PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) != NULL;
}

static void
db_notice(void *arg, const char *msg)
{
	log_debug("postgres: %s", msg);
}

struct db *
db_connect(const char *url, char *err, size_t errlen)
{
	/* Later keywords override the URL's; earlier ones are its defaults. */
	const char *keys[] = { "connect_timeout", "fallback_application_name",
	    "dbname", "client_encoding", NULL };
	const char *vals[] = { "10", "kaudit", url, "UTF8", NULL };
	struct db *db;

	db = xcalloc(1, sizeof(*db));
	db->url = xstrdup(url);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_set_err(err, errlen, "postgres: ", PQerrorMessage(db->conn));
		db_close(db);
		return NULL;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	return db;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	free(db->url);
	free(db->months);
	free(db);
}

/* Restores on a new connection what the session had asked for: generic
 * plans, LISTEN. Notifications sent while the old one was down are lost,
 * which its user covers by looking at the table once reconnected. */
static int
db_session_restore(struct db *db)
{
	char sql[96], err[256];

	if (db->generic && !db->generic_set) {
		/* PostgreSQL 12 and later; an older server keeps its choice */
		if (db_exec(db, "SET plan_cache_mode = force_generic_plan", err,
		    sizeof(err)) == -1)
			log_once("db.plan_cache_mode", "%s", err);
		db->generic_set = 1;
	}
	if (db->listen[0] == '\0' || db->listening)
		return 0;
	snprintf(sql, sizeof(sql), "LISTEN %s", db->listen);
	if (db_exec(db, sql, err, sizeof(err)) == -1) {
		log_once("db.listen", "%s", err);
		return -1;
	}
	db->listening = 1;
	return 0;
}

int
db_ok(struct db *db)
{
	if (PQstatus(db->conn) == CONNECTION_OK) {
		/* Should LISTEN fail, the listener falls back on polling. */
		db_session_restore(db);
		return 1;
	}
	db->nprepared = 0;
	db->listening = 0;
	db->generic_set = 0;
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK)
		return 0;
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	log_info("postgres: reconnected");
	db_session_restore(db);
	return 1;
}

int
db_listen(struct db *db, const char *channel, char *err, size_t errlen)
{
	snprintf(db->listen, sizeof(db->listen), "%s", channel);
	db->listening = 0;
	if (db_session_restore(db) == -1) {
		snprintf(err, errlen, "postgres: cannot LISTEN on %s", channel);
		return -1;
	}
	return 0;
}

void
db_generic_plans(struct db *db)
{
	db->generic = 1;
	db->generic_set = 0;
	db_session_restore(db);
}

int
db_socket(struct db *db)
{
	return PQstatus(db->conn) == CONNECTION_OK ? PQsocket(db->conn) : -1;
}

int
db_backend_pid(struct db *db)
{
	return PQstatus(db->conn) == CONNECTION_OK ? PQbackendPID(db->conn) : 0;
}

int
db_notifications(struct db *db)
{
	PGnotify *nf;
	int n = 0;

	if (PQstatus(db->conn) != CONNECTION_OK || !PQconsumeInput(db->conn))
		return -1;
	while ((nf = PQnotifies(db->conn)) != NULL) {
		PQfreemem(nf);
		n++;
	}
	return n;
}

static const struct db_sql sql_notify = {
	"kaudit_notify_outbox", "SELECT pg_notify('" DB_OUTBOX_CHANNEL "', '')", 0
};

int
db_notify_outbox(struct db *db, char *err, size_t errlen)
{
	PGresult *res;

	if ((res = db_run(db, &sql_notify, NULL, NULL, NULL, err, errlen)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_exec(struct db *db, const char *sql, char *err, size_t errlen)
{
	PGresult *res;
	int rc = 0;

	res = PQexec(db->conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_set_err(err, errlen, "postgres: ", PQerrorMessage(db->conn));
		db_save_state(db, res);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

static int
db_prepare(struct db *db, const struct db_sql *s, char *err, size_t errlen)
{
	PGresult *res;
	size_t i;
	int rc = 0;

	for (i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == s)
			return 0;
	if (db->nprepared == DB_MAX_STMTS) {
		snprintf(err, errlen, "postgres: more than %d prepared statements", DB_MAX_STMTS);
		return -1;
	}
	res = PQprepare(db->conn, s->name, s->sql, s->nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_set_err(err, errlen, "postgres: ", PQerrorMessage(db->conn));
		db_save_state(db, res);
		rc = -1;
	} else {
		db->prepared[db->nprepared++] = s;
	}
	PQclear(res);
	return rc;
}

PGresult *
db_run(struct db *db, const struct db_sql *s, const char *const *values,
    const int *lengths, const int *formats, char *err, size_t errlen)
{
	PGresult *res;
	ExecStatusType st;

	if (db_prepare(db, s, err, errlen) == -1)
		return NULL;
	res = PQexecPrepared(db->conn, s->name, s->nparams, values, lengths,
	    formats, 0);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	db_set_err(err, errlen, "postgres: ", PQerrorMessage(db->conn));
	db_save_state(db, res);
	PQclear(res);
	return NULL;
}

int
db_send(struct db *db, const struct db_sql *s, const char *const *values, char *err,
    size_t errlen)
{
	if (db_prepare(db, s, err, errlen) == -1)
		return -1;
	if (!PQsendQueryPrepared(db->conn, s->name, s->nparams, values, NULL, NULL, 0)) {
		db_set_err(err, errlen, "postgres: ", PQerrorMessage(db->conn));
		db->sqlstate[0] = '\0';
		return -1;
	}
	return 0;
}

PGresult *
db_recv(struct db *db, char *err, size_t errlen)
{
	PGresult *res = NULL, *r;
	ExecStatusType st;

	/* One statement, so one result; read on to the end of it. */
	while ((r = PQgetResult(db->conn)) != NULL) {
		if (res == NULL)
			res = r;
		else
			PQclear(r);
	}
	st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	db_set_err(err, errlen, "postgres: ", res ? PQresultErrorMessage(res) :
	    PQerrorMessage(db->conn));
	db_save_state(db, res);
	PQclear(res);
	return NULL;
}

int
db_result_ready(struct db *db)
{
	if (PQstatus(db->conn) != CONNECTION_OK || !PQconsumeInput(db->conn))
		return -1;
	return PQisBusy(db->conn) ? 0 : 1;
}

int
db_begin(struct db *db, char *err, size_t errlen)
{
	return db_exec(db, "BEGIN", err, errlen);
}

int
db_commit(struct db *db, char *err, size_t errlen)
{
	PGresult *res = PQexec(db->conn, "COMMIT");
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_set_err(err, errlen, "postgres: ", PQerrorMessage(db->conn));
		db_save_state(db, res);
		rc = -1;
	} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* COMMIT of a failed transaction "succeeds" as a ROLLBACK. */
		snprintf(err, errlen, "postgres: the transaction was rolled back");
		rc = -1;
	}
	PQclear(res);
	return rc;
}

void
db_rollback(struct db *db)
{
	PGresult *res;

	if (PQstatus(db->conn) != CONNECTION_OK)
		return;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
}

/* Value of the 4 hex digits at p, or -1. */
static long
hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* At s[i] == '\\' in JSON text: how many bytes the escape takes and whether
 * jsonb would refuse it (\u0000, a surrogate that is not a proper pair). */
static size_t
json_escape_len(const char *s, size_t n, size_t i, int *bad)
{
	long u, lo;

	*bad = 0;
	if (i + 1 >= n)
		return 1;
	if (s[i + 1] != 'u' || i + 6 > n || (u = hex4(s + i + 2)) < 0)
		return 2;
	if (u == 0 || (u >= 0xdc00 && u <= 0xdfff)) {
		*bad = 1;
		return 6;
	}
	if (u < 0xd800 || u > 0xdbff)
		return 6;
	if (i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u' &&
	    (lo = hex4(s + i + 8)) >= 0xdc00 && lo <= 0xdfff)
		return 12;
	*bad = 1;
	return 6;
}

int
db_clean_text(struct buf *b, const char *s, size_t n, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, len;
	int replaced = 0, bad;

	/* Bytes that stay as they are are copied a run at a time: an event is
	 * nearly all of them, and a copy per byte was most of the client's
	 * share of a batch write (docs/performance.md). */
	while (i < n) {
		if (p[i] >= 0x80) {
			if ((len = utf8_seq(p + i, n - i)) > 0) {
				i += len;
				continue;
			}
		} else if (p[i] != 0 && !(p[i] == '\\' && json)) {
			i++;
			continue;
		}
		buf_append(b, p + run, i - run);
		if (p[i] == '\\') {
			len = json_escape_len(s, n, i, &bad);
			if (bad) {
				buf_append(b, "\\ufffd", 6);
				replaced = 1;
			} else {
				buf_append(b, p + i, len);
			}
			i += len;
		} else {
			/* NUL is invalid here: no PostgreSQL text can hold it;
			 * so is a byte that starts no valid UTF-8 sequence */
			buf_append(b, "\xef\xbf\xbd", 3);
			replaced = 1;
			i++;
		}
		run = i;
	}
	buf_append(b, p + run, i - run);
	return replaced;
}

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* The value of the n decimal digits at s, or -1 when one is not a digit
 * (where sscanf's %2d would also take a sign or a space). */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* 1 when s is an RFC 3339 date-time PostgreSQL accepts as timestamptz:
 * digits only at exact widths, a date that exists, at most 9 fraction digits
 * (PostgreSQL refuses a time of more than 128 characters) and an offset of at
 * most 15:59. What it accepts is what goes to the server; the rest is NULL.
 * *epoch receives the time in seconds since 1970 (UTC, whole seconds). */
static int
time_parse(const char *s, int64_t *epoch)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 1;
	size_t i = 19, k;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' ||
	    s[16] != ':' || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
		return 0;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return 0;
	if (s[i] == '.') {
		for (k = ++i; s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == k || i - k > 9)
			return 0;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
		goto ok;
	if ((s[i] != '+' && s[i] != '-') || (oh = digits(s + i + 1, 2)) < 0 ||
	    s[i + 3] != ':' || (om = digits(s + i + 4, 2)) < 0 || s[i + 6] != '\0')
		return 0;
	if (oh > 15 || om > 59)
		return 0;
	sign = s[i] == '-' ? -1 : 1;
ok:
	*epoch = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	return 1;
}

static int
time_valid(const char *s)
{
	int64_t t;

	return time_parse(s, &t);
}

/* The month of t (seconds since 1970, UTC) as months since year 0. */
static int
epoch_month(int64_t t)
{
	int64_t z = (t >= 0 ? t : t - 86399) / 86400 + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);

	return (int)(y * 12 + m - 1);
}

static int
ip_valid(const char *s)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

static const char *
string_field(json_t *finding, const char *key)
{
	return json_string_value(json_object_get(finding, key));
}

/* A batch being written, and what came of it. */
struct batch {
	const struct db_finding		*f;
	size_t				 nf;
	const struct db_ingest_error	*e;
	size_t				 ne;
	const struct db_event		*ev;
	size_t				 nev;
	int				 isolate;	/* rows under savepoints */
	struct db_faults		 ffaults, efaults, vfaults;
	size_t				 inserted, archived, dead;
	struct buf			 tmp;
	struct db_group_refs		 groups;
	db_extra_fn			 extra;
	void				*extra_arg;
	int64_t				 now;		/* seconds since 1970 */
	int				*months;	/* the months its rows need */
	size_t				 nmonths, capmonths;
	json_t				**docs;		/* findings' events parsed */
	size_t				 ndocs;
};

/* A time more than this far back, or ahead, is stored under the time kaudit
 * stores it (see 0007_partitions.sql): a hostile time can neither make a
 * month nobody's retention reaches nor thousands of months. */
#define PART_BACK_S	(10 * 366 * 86400LL)
#define PART_AHEAD_S	86400LL

static void
batch_month(struct batch *b, int m)
{
	for (size_t i = 0; i < b->nmonths; i++)
		if (b->months[i] == m)
			return;
	if (b->nmonths == b->capmonths) {
		b->capmonths = b->capmonths ? b->capmonths * 2 : 8;
		b->months = xrealloc(b->months, b->capmonths * sizeof(*b->months));
	}
	b->months[b->nmonths++] = m;
}

/* The partition time of a row: the first of the candidates that is a valid
 * time within the window, or NULL for "when stored" (whose months, give or
 * take a day of clock skew with the server, are then needed). */
static const char *
partition_time(struct batch *b, const char *const *cand, size_t ncand)
{
	int64_t t;

	for (size_t i = 0; i < ncand; i++) {
		if (cand[i] == NULL || !time_parse(cand[i], &t) ||
		    t < b->now - PART_BACK_S || t > b->now + PART_AHEAD_S)
			continue;
		batch_month(b, epoch_month(t));
		return cand[i];
	}
	batch_month(b, epoch_month(b->now - 86400));
	batch_month(b, epoch_month(b->now));
	batch_month(b, epoch_month(b->now + 86400));
	return NULL;
}

/* Adds finding i as a row; -1 when it is unusable. A grouped webhook gets
 * no outbox row: the finding joins its group. */
static int
finding_row(struct db_rows *r, struct batch *b, const struct db_finding *df, size_t i,
    const struct db_group_refs *g, struct buf *tmp)
{
	const char *t, *ip, *pt, *cand[2];
	char *text;
	int n = 0;

	if (!json_is_object(df->finding) ||
	    (text = json_dumps(df->finding, JSON_COMPACT)) == NULL)
		return -1;
	db_rows_add(r, i);
	db_rows_text(r, 0, text, strlen(text), 1);
	free(text);
	buf_reset(tmp);
	buf_putc(tmp, '[');
	for (size_t k = 0; k < df->nwebhooks; k++) {
		if (df->groups != NULL && df->groups[k].key != NULL)
			continue;
		if (n++)
			buf_putc(tmp, ',');
		buf_json_str(tmp, df->webhooks[k], strlen(df->webhooks[k]));
	}
	buf_putc(tmp, ']');
	db_rows_text(r, 1, tmp->data, tmp->len, 1);
	t = string_field(df->finding, "time");
	if (t != NULL && !time_valid(t))
		t = NULL;
	db_rows_text(r, 2, t, t ? strlen(t) : 0, 0);
	ip = string_field(df->finding, "source_ip");
	if (ip != NULL && !ip_valid(ip))
		ip = NULL;
	db_rows_text(r, 3, ip, ip ? strlen(ip) : 0, 0);
	db_rows_text(r, 4, df->dedup, df->dedup ? strlen(df->dedup) : 0, 0);
	if (db_group_refs_json(g, i, tmp))
		db_rows_text(r, 5, tmp->data, tmp->len, 1);
	else
		db_rows_null(r, 5);
	cand[0] = df->received;
	cand[1] = t;
	pt = partition_time(b, cand, 2);
	db_rows_text(r, 6, pt, pt ? strlen(pt) : 0, 0);
	if (df->suppressed_by > 0) {
		char id[24];
		int len = snprintf(id, sizeof(id), "%lld", (long long)df->suppressed_by);
		db_rows_text(r, 7, id, (size_t)len, 0);
	} else {
		db_rows_null(r, 7);
	}
	return 0;
}

static void
ingest_error_row(struct db_rows *r, const struct db_ingest_error *e, size_t i)
{
	size_t head = e->head == NULL ? 0 :
	    e->head_len < DB_HEAD_MAX ? e->head_len : DB_HEAD_MAX;

	db_rows_add(r, i);
	db_rows_text(r, 0, e->topic ? e->topic : "", e->topic ? strlen(e->topic) : 0, 0);
	db_rows_int(r, 1, e->partition);
	db_rows_int(r, 2, e->offset);
	db_rows_int(r, 3, e->seq);
	db_rows_text(r, 4, e->error ? e->error : "", e->error ? strlen(e->error) : 0, 0);
	db_rows_bytes(r, 5, e->head ? e->head : "", head);
	db_rows_int(r, 6, (int64_t)e->size);
}

/* Sends the rows built so far: whole, or isolating refused ones. */
static int
rows_flush(struct db *db, struct batch *b, struct db_rows *r, struct db_faults *f,
    size_t *count, char *err, size_t errlen)
{
	int rc = 0;

	if (r->n > 0)
		rc = b->isolate ? db_rows_isolate(db, r, f, count, err, errlen) :
		    db_rows_run(db, r, 0, r->n, count, err, errlen);
	db_rows_reset(r);
	return rc;
}

static int
write_findings(struct db *db, struct batch *b, char *err, size_t errlen)
{
	struct db_rows r;
	int rc = 0;

	db_rows_init(&r, &sql_findings, findings_oids, FINDINGS_ARRAYS);
	for (size_t i = 0; i < b->nf && rc == 0; i++) {
		if (finding_row(&r, b, &b->f[i], i, &b->groups, &b->tmp) == -1) {
			log_once("db.bad_finding", "postgres: a finding that is not "
			    "a JSON object was not stored");
			continue;
		}
		if (db_rows_size(&r) >= DB_CHUNK_BYTES)
			rc = rows_flush(db, b, &r, &b->ffaults, &b->inserted, err, errlen);
	}
	if (rc == 0)
		rc = rows_flush(db, b, &r, &b->ffaults, &b->inserted, err, errlen);
	db_rows_free(&r);
	return rc;
}

static int
write_ingest_errors(struct db *db, struct batch *b, char *err, size_t errlen)
{
	struct db_rows r;
	int rc = 0;

	db_rows_init(&r, &sql_ingest_errors, ingest_error_oids, 7);
	for (size_t i = 0; i < b->ne && rc == 0; i++) {
		ingest_error_row(&r, &b->e[i], i);
		if (db_rows_size(&r) >= DB_CHUNK_BYTES)
			rc = rows_flush(db, b, &r, &b->efaults, NULL, err, errlen);
	}
	if (rc == 0)
		rc = rows_flush(db, b, &r, &b->efaults, NULL, err, errlen);
	db_rows_free(&r);
	return rc;
}

static void
event_row(struct db_rows *r, struct batch *b, const struct db_event *v, size_t i)
{
	const char *t = v->time, *rt = v->received, *ip = v->source_ip, *pt, *cand[2];

	if (t != NULL && !time_valid(t))
		t = NULL;
	if (rt != NULL && !time_valid(rt))
		rt = NULL;
	if (ip != NULL && !ip_valid(ip))
		ip = NULL;
	db_rows_add(r, i);
	db_rows_text(r, 0, v->json, v->json ? v->len : 0, 1);
	db_rows_text(r, 1, t, t ? strlen(t) : 0, 0);
	db_rows_text(r, 2, rt, rt ? strlen(rt) : 0, 0);
	db_rows_text(r, 3, ip, ip ? strlen(ip) : 0, 0);
	db_rows_text(r, 4, v->cluster, v->cluster ? strlen(v->cluster) : 0, 0);
	cand[0] = rt;
	cand[1] = t;
	pt = partition_time(b, cand, 2);
	db_rows_text(r, 5, pt, pt ? strlen(pt) : 0, 0);
	/* the statement uses it when the event has no auditID string; sent
	 * for every event, as finding.c decides from the decoded event (an
	 * escaped key, an empty value) what a search of the text would miss */
	if (v->json != NULL) {
		char id[40];
		int n = snprintf(id, sizeof(id), "kaudit-%016llx",
		    (unsigned long long)fnv1a64(FNV1A64_INIT, v->json, v->len));
		db_rows_text(r, 6, id, (size_t)n, 0);
	} else {
		db_rows_null(r, 6);
	}
}

static int
write_events(struct db *db, struct batch *b, char *err, size_t errlen)
{
	struct db_rows r;
	int rc = 0;

	db_rows_init(&r, &sql_events, events_oids, EVENTS_ARRAYS);
	for (size_t i = 0; i < b->nev && rc == 0; i++) {
		if (b->ev[i].json == NULL)
			continue;
		event_row(&r, b, &b->ev[i], i);
		if (db_rows_size(&r) >= DB_CHUNK_BYTES)
			rc = rows_flush(db, b, &r, &b->vfaults, &b->archived, err, errlen);
	}
	if (rc == 0)
		rc = rows_flush(db, b, &r, &b->vfaults, &b->archived, err, errlen);
	db_rows_free(&r);
	return rc;
}

/* One neutral row of kaudit's own through the findings, events or ingest
 * errors statement (rows.c, rule 3). */
static void
probe_rows(struct db_rows *r, int kind)
{
	static const char f[] = "{\"audit_id\":\"kaudit:probe\",\"rule\":\"kaudit:probe\"}";
	static const char v[] = "{\"auditID\":\"kaudit:probe\",\"stage\":\"kaudit:probe\"}";

	if (kind == ROWS_EVENTS) {
		db_rows_init(r, &sql_events, events_oids, EVENTS_ARRAYS);
		db_rows_add(r, 0);
		db_rows_text(r, 0, v, sizeof(v) - 1, 1);
		for (size_t k = 1; k < EVENTS_ARRAYS; k++)
			db_rows_null(r, k);
		return;
	}
	if (kind == ROWS_FINDINGS) {
		db_rows_init(r, &sql_findings, findings_oids, FINDINGS_ARRAYS);
		db_rows_add(r, 0);
		db_rows_text(r, 0, f, sizeof(f) - 1, 1);
		db_rows_text(r, 1, "[]", 2, 1);
		for (size_t k = 2; k < FINDINGS_ARRAYS; k++)
			db_rows_null(r, k);
		return;
	}
	db_rows_init(r, &sql_ingest_errors, ingest_error_oids, 7);
	db_rows_add(r, 0);
	db_rows_text(r, 0, "kaudit:probe", 12, 0);
	db_rows_int(r, 1, -1);
	db_rows_int(r, 2, -1);
	db_rows_int(r, 3, -1);
	db_rows_text(r, 4, "probe", 5, 0);
	db_rows_bytes(r, 5, "", 0);
	db_rows_int(r, 6, 0);
}

/* The dead letter of a finding; d->item is allocated. */
static void
dead_finding(struct db_dead *d, const struct db_finding *df)
{
	json_t *a = json_object_get(df->finding, "audit_id");
	json_t *r = json_object_get(df->finding, "rule");

	d->kind = "finding";
	d->audit_id = json_string_value(a);
	d->audit_id_len = json_string_length(a);
	d->rule = json_string_value(r);
	d->rule_len = json_string_length(r);
	buf_printf(&d->id, "finding %zu:", d->audit_id_len);
	buf_append(&d->id, d->audit_id ? d->audit_id : "", d->audit_id_len);
	buf_printf(&d->id, " %zu:", d->rule_len);
	buf_append(&d->id, d->rule ? d->rule : "", d->rule_len);
	if (df->dedup)	/* a stateful finding: one per key and window */
		buf_printf(&d->id, " dedup %zu:%s", strlen(df->dedup), df->dedup);
	d->topic = df->topic;
	d->partition = df->partition;
	d->offset = df->offset;
	d->item = json_dumps(df->finding, JSON_COMPACT);
	d->item_len = d->item ? strlen(d->item) : 0;
	d->event = df->event_json;
	d->event_len = df->event_json ? df->event_len : 0;
}

/* The dead letter of an archived event. */
static void
dead_event(struct db_dead *d, const struct db_event *v)
{
	d->kind = "event";
	buf_printf(&d->id, "event %zu:", v->len);
	buf_append(&d->id, v->json, v->len);
	d->topic = v->topic;
	d->partition = v->partition;
	d->offset = v->offset;
	d->item = "{}";
	d->item_len = 2;
	d->event = v->json;
	d->event_len = v->len;
}

static void
dead_ingest_error(struct db_dead *d, const struct db_ingest_error *e, struct buf *item)
{
	const char *topic = e->topic ? e->topic : "";
	const char *msg = e->error ? e->error : "";

	d->kind = "ingest_error";
	buf_printf(&d->id, "ingest_error %zu:%s %d %lld %d", strlen(topic), topic,
	    (int)e->partition, (long long)e->offset, (int)e->seq);
	d->topic = topic;
	d->partition = e->partition;
	d->offset = e->offset;
	buf_reset(item);
	buf_puts(item, "{\"topic\":");
	buf_json_str(item, topic, strlen(topic));
	buf_printf(item, ",\"partition\":%d,\"offset\":%lld,\"seq\":%d,\"size\":%zu,"
	    "\"error\":", (int)e->partition, (long long)e->offset, (int)e->seq, e->size);
	buf_json_str(item, msg, strlen(msg));
	buf_putc(item, '}');
	d->event = e->head ? e->head : "";
	d->event_len = e->head == NULL ? 0 :
	    e->head_len < DB_HEAD_MAX ? e->head_len : DB_HEAD_MAX;
}

static int
dead_letter(struct db *db, struct batch *b, int kind, const struct db_fault *x,
    char *err, size_t errlen)
{
	struct db_dead d;
	char *owned = NULL;
	int rc;

	memset(&d, 0, sizeof(d));
	buf_init(&d.id);
	if (kind == ROWS_FINDINGS) {
		dead_finding(&d, &b->f[x->src]);
		owned = (char *)d.item;
	} else if (kind == ROWS_EVENTS) {
		dead_event(&d, &b->ev[x->src]);
	} else {
		dead_ingest_error(&d, &b->e[x->src], &b->tmp);
		d.item = b->tmp.data;
		d.item_len = b->tmp.len;
	}
	rc = db_dead_letter(db, &d, x, &b->dead, err, errlen);
	free(owned);
	buf_free(&d.id);
	return rc;
}

/* After an isolating pass: convicts the rows of one kind that were refused
 * on their own, or finds the database refusing everything (rows.c, rule 3). */
static int
settle(struct db *db, struct batch *b, int kind, char *err, size_t errlen)
{
	struct db_faults *f = kind == ROWS_FINDINGS ? &b->ffaults :
	    kind == ROWS_EVENTS ? &b->vfaults : &b->efaults;
	struct db_rows probe;
	int rc = 0;

	if (f->n == 0)
		return 0;
	if (!f->wrote) {
		probe_rows(&probe, kind);
		rc = db_rows_probe(db, &probe, err, errlen);
		db_rows_free(&probe);
	}
	for (size_t i = 0; i < f->n && rc == 0; i++)
		rc = dead_letter(db, b, kind, &f->v[i], err, errlen);
	return rc;
}

/* 1 when the batch may have added outbox rows: a new finding, and one of
 * the batch's findings goes to a webhook. The alerters then hear of it when
 * the transaction commits (NOTIFY is delivered at commit, once however many
 * times it was sent). */
static int
batch_alerts(const struct batch *b)
{
	if (b->inserted == 0)
		return 0;
	for (size_t i = 0; i < b->nf; i++)
		if (b->f[i].nwebhooks > 0)
			return 1;
	return 0;
}

/* An event's text and where it first appears; the same text is the same
 * event (the findings of one event share its decoded text). */
struct event_ref {
	uintptr_t	 at;
	size_t		 i;	/* archived events first, then findings */
};

static int
event_ref_cmp(const void *a, const void *b)
{
	const struct event_ref *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The archive row of a finding's event. Its times place the row, and the
 * archive's identity holds the partition time: they must be the event's own,
 * as the ingester's archived events have them, or a redelivery or the same
 * event archived by the ingester would make a second row. A correlation's
 * finding has a time of its own, so they are read from the event's text
 * (parsed here only for events the caller did not archive); the parsed
 * document, which the strings point into, is kept in *doc for the batch.
 * Text that does not parse keeps no time (the write will refuse it). */
static struct db_event
finding_event_row(const struct db_finding *df, json_t **doc)
{
	json_t *ev = json_loadb(df->event_json, df->event_len, 0, NULL);

	*doc = ev;
	return (struct db_event){ df->event_json, df->event_len,
	    json_string_value(json_object_get(ev, "stageTimestamp")),
	    json_string_value(json_object_get(ev, "requestReceivedTimestamp")),
	    json_string_value(json_array_get(json_object_get(ev, "sourceIPs"), 0)),
	    string_field(df->finding, "cluster"), df->topic, df->partition, df->offset };
}

/* The event of every finding is archived in the finding's transaction: the
 * finding row no longer carries it (0012_event_once.sql), its readers find
 * it in kaudit.events. This makes b->ev the caller's archived events plus,
 * once each, the events of findings not among them, in finding order. The
 * returned array is the caller's to free; b->docs holds what its rows'
 * strings point into. */
static struct db_event *
batch_finding_events(struct batch *b)
{
	size_t n = 0, nev = b->nev;
	struct db_event *all = xcalloc(b->nev + b->nf + 1, sizeof(*all));
	struct event_ref *refs = xcalloc(b->nev + b->nf + 1, sizeof(*refs));
	unsigned char *take = xcalloc(b->nf + 1, 1);

	for (size_t i = 0; i < b->nev; i++)
		refs[n++] = (struct event_ref){ (uintptr_t)b->ev[i].json, i };
	for (size_t i = 0; i < b->nf; i++)
		if (b->f[i].event_json != NULL && json_is_object(b->f[i].finding))
			refs[n++] = (struct event_ref){ (uintptr_t)b->f[i].event_json,
			    b->nev + i };
	qsort(refs, n, sizeof(*refs), event_ref_cmp);
	for (size_t k = 0; k < n; k++)
		if (refs[k].i >= b->nev && (k == 0 || refs[k - 1].at != refs[k].at))
			take[refs[k].i - b->nev] = 1;
	if (b->nev > 0)
		memcpy(all, b->ev, b->nev * sizeof(*all));
	b->docs = xcalloc(b->nf + 1, sizeof(*b->docs));
	for (size_t i = 0; i < b->nf; i++)
		if (take[i])
			all[nev++] = finding_event_row(&b->f[i], &b->docs[b->ndocs++]);
	free(refs);
	free(take);
	b->ev = all;
	b->nev = nev;
	return all;
}

/* The months the batch's rows go to. */
static void
batch_months(struct batch *b)
{
	const char *cand[2];

	b->nmonths = 0;
	for (size_t i = 0; i < b->nf; i++) {
		cand[0] = b->f[i].received;
		cand[1] = string_field(b->f[i].finding, "time");
		(void)partition_time(b, cand, 2);
	}
	for (size_t i = 0; i < b->nev; i++) {
		cand[0] = b->ev[i].received;
		cand[1] = b->ev[i].time;
		(void)partition_time(b, cand, 2);
	}
	/* the months of now, for a probe row */
	if (b->nf + b->nev > 0)
		(void)partition_time(b, NULL, 0);
}

/* One transaction; the second pass isolates the rows PostgreSQL refuses.
 * The months the rows need are made first, outside it. */
static int
write_pass(struct db *db, struct batch *b, char *err, size_t errlen)
{
	b->inserted = 0;
	b->archived = 0;
	b->dead = 0;
	db_faults_free(&b->ffaults);
	db_faults_free(&b->efaults);
	db_faults_free(&b->vfaults);
	if (db_partitions_need(db, b->months, b->nmonths, err, errlen) == -1)
		return -1;
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (db_groups_lock(db, &b->groups, err, errlen) == -1 ||
	    write_ingest_errors(db, b, err, errlen) == -1 ||
	    write_findings(db, b, err, errlen) == -1 ||
	    write_events(db, b, err, errlen) == -1 ||
	    settle(db, b, ROWS_ERRORS, err, errlen) == -1 ||
	    settle(db, b, ROWS_FINDINGS, err, errlen) == -1 ||
	    settle(db, b, ROWS_EVENTS, err, errlen) == -1 ||
	    (b->extra && b->extra(db, b->extra_arg, err, errlen) == -1) ||
	    (batch_alerts(b) && db_notify_outbox(db, err, errlen) == -1) ||
	    db_commit(db, err, errlen) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

int
db_write_batch(struct db *db, const struct db_finding *f, size_t nf,
    const struct db_ingest_error *e, size_t ne, size_t *inserted, size_t *dead,
    char *err, size_t errlen)
{
	struct db_batch_in in = { f, nf, NULL, 0, e, ne, NULL, NULL };
	struct db_batch_out out;
	int rc = db_write(db, &in, &out, err, errlen);

	if (inserted != NULL)
		*inserted = out.inserted;
	if (dead != NULL)
		*dead = out.dead;
	return rc;
}

int
db_write_batch_with(struct db *db, const struct db_finding *f, size_t nf,
    const struct db_ingest_error *e, size_t ne, db_extra_fn extra, void *extra_arg,
    size_t *inserted, size_t *dead, char *err, size_t errlen)
{
	struct db_batch_in in = { f, nf, NULL, 0, e, ne, extra, extra_arg };
	struct db_batch_out out;
	int rc = db_write(db, &in, &out, err, errlen);

	if (inserted != NULL)
		*inserted = out.inserted;
	if (dead != NULL)
		*dead = out.dead;
	return rc;
}

int
db_write(struct db *db, const struct db_batch_in *in, struct db_batch_out *out,
    char *err, size_t errlen)
{
	struct db_event *owned;
	struct batch b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.f = in->f;
	b.nf = in->nf;
	b.ev = in->ev;
	b.nev = in->nev;
	b.e = in->e;
	b.ne = in->ne;
	b.extra = in->extra;
	b.extra_arg = in->extra_arg;
	buf_init(&b.tmp);
	b.now = (int64_t)time(NULL);
	owned = batch_finding_events(&b);
	db_group_refs_build(&b.groups, b.f, b.nf);
	batch_months(&b);
	db->sqlstate[0] = '\0';
	rc = write_pass(db, &b, err, errlen);
	if (rc == -1) {
		/* A month this connection saw may have been dropped by retention
		 * since (a row with no partition: 23514 without a constraint
		 * name): forgotten, it is made again by the next pass. */
		db_partitions_forget(db);
		if (strcmp(db->sqlstate, "23514") == 0 && !db->constraint &&
		    PQstatus(db->conn) == CONNECTION_OK)
			rc = write_pass(db, &b, err, errlen);
	}
	if (rc == -1 && db_error_is_data(db)) {
		log_once("db.isolate", "%s; writing the batch again with the rows "
		    "PostgreSQL refuses isolated", err);
		b.isolate = 1;
		rc = write_pass(db, &b, err, errlen);
	}
	memset(out, 0, sizeof(*out));
	if (rc == 0) {
		out->inserted = b.inserted;
		out->archived = b.archived;
		out->dead = b.dead;
	}
	db_faults_free(&b.ffaults);
	db_faults_free(&b.efaults);
	db_faults_free(&b.vfaults);
	db_group_refs_free(&b.groups);
	buf_free(&b.tmp);
	free(b.months);
	free(owned);
	for (size_t i = 0; i < b.ndocs; i++)
		json_decref(b.docs[i]);
	free(b.docs);
	return rc;
}
