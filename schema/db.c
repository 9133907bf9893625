/* db.c — the PostgreSQL connection, prepared statements, and the batch write
 * of findings, their outbox rows and ingest errors (see db.h).
 *
 * DESIGN: a batch goes to the server as one statement per chunk: the findings
 * travel as parallel text[] parameters in binary array format (finding JSON, event JSON, webhook
 * names, validated time and IP) that one INSERT ... SELECT FROM unnest()
 * spreads into columns, with a data-modifying CTE that adds the outbox rows
 * of the findings that were new. That is one round trip for hundreds of
 * findings instead of two per finding. Values the server would reject (bad
 * UTF-8, \u0000, unparseable times or addresses) are cleaned or nulled here
 * first; if an event is still refused, the batch is retried once with a
 * per-row safe cast that stores the event as a JSON string, so one bad event
 * can never block the pipeline. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "base/log.h"
#include "base/xmalloc.h"

/* A chunk's parameters stay well under PostgreSQL's 1 GB field limit. */
#define DB_CHUNK_BYTES	(32u << 20)
#define DB_HEAD_MAX	1024

#define FINDINGS_SQL(EVENT) \
	"WITH input AS MATERIALIZED (" \
	" SELECT u.ord, u.f::jsonb AS f, u.e, u.w, u.t, u.ip" \
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])" \
	"  WITH ORDINALITY AS u(f, e, w, t, ip, ord)" \
	"), r AS (" \
	" SELECT ord, f, e, w, t, ip," \
	"  coalesce(f->>'audit_id', '') AS audit_id, coalesce(f->>'rule', '') AS rule," \
	"  CASE WHEN f->>'severity' IN ('info', 'low', 'medium', 'high', 'critical')" \
	"   THEN f->>'severity' ELSE 'info' END AS severity" \
	" FROM input" \
	"), ins AS (" \
	" INSERT INTO kaudit.findings (audit_id, rule, title, severity, severity_rank," \
	"  category, tags, stage, \"time\", cluster, username, groups," \
	"  impersonated_user, source_ip, source_ip_text, user_agent, verb, resource," \
	"  subresource, namespace, name, code, message, evidence, event, finding)" \
	" SELECT audit_id, rule, f->>'title', severity," \
	"  CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3" \
	"   WHEN 'critical' THEN 4 ELSE 0 END," \
	"  f->>'category'," \
	"  CASE WHEN jsonb_typeof(f->'tags') = 'array'" \
	"   THEN ARRAY(SELECT jsonb_array_elements_text(f->'tags')) END," \
	"  f->>'stage', t::timestamptz, f->>'cluster', f->>'user'," \
	"  CASE WHEN jsonb_typeof(f->'groups') = 'array'" \
	"   THEN ARRAY(SELECT jsonb_array_elements_text(f->'groups')) END," \
	"  f->>'impersonated_user', ip::inet, f->>'source_ip', f->>'user_agent'," \
	"  f->>'verb', f->>'resource', f->>'subresource', f->>'namespace', f->>'name'," \
	"  CASE WHEN jsonb_typeof(f->'code') = 'number' AND f->>'code' ~ '^-?[0-9]{1,9}$'" \
	"   THEN (f->>'code')::integer END," \
	"  f->>'message', f->'evidence', " EVENT ", f" \
	" FROM r WHERE NOT EXISTS (SELECT 1 FROM kaudit.findings x" \
	"  WHERE x.audit_id = r.audit_id AND x.rule = r.rule)" \
	" ORDER BY ord" \
	" ON CONFLICT (audit_id, rule) DO NOTHING" \
	" RETURNING id, audit_id, rule" \
	"), ob AS (" \
	" INSERT INTO kaudit.outbox (finding_id, webhook)" \
	" SELECT DISTINCT ins.id, wh.name FROM ins" \
	" JOIN r ON r.audit_id = ins.audit_id AND r.rule = ins.rule" \
	" CROSS JOIN LATERAL jsonb_array_elements_text(r.w::jsonb) AS wh(name)" \
	" ORDER BY ins.id, wh.name" \
	" ON CONFLICT (finding_id, webhook) DO NOTHING" \
	")" \
	" SELECT count(*) FROM ins"

static const struct db_sql sql_findings = {
	"kaudit_findings", FINDINGS_SQL("e::jsonb"), 5
};
static const struct db_sql sql_findings_safe = {
	"kaudit_findings_safe", FINDINGS_SQL("kaudit.jsonb_or_text(e)"), 5
};
static const struct db_sql sql_ingest_error = {
	"kaudit_ingest_error",
	"INSERT INTO kaudit.ingest_errors (topic, partition, \"offset\", seq, error,"
	" head, size) VALUES ($1, $2, $3, $4, $5, $6, $7)"
	" ON CONFLICT (topic, partition, \"offset\", seq) DO NOTHING",
	7
};

/* The parallel arrays of one chunk, as PostgreSQL array literals. */
struct db_chunk {
	struct buf	 f, e, w, t, ip;
	size_t		 n;
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
	free(db);
}

int
db_ok(struct db *db)
{
	if (PQstatus(db->conn) == CONNECTION_OK)
		return 1;
	db->nprepared = 0;
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK)
		return 0;
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	log_info("postgres: reconnected");
	return 1;
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
	size_t i = 0, len;
	int replaced = 0, bad;

	while (i < n) {
		if (p[i] == '\\' && json) {
			len = json_escape_len(s, n, i, &bad);
			if (bad) {
				buf_append(b, "\\ufffd", 6);
				replaced = 1;
			} else {
				buf_append(b, p + i, len);
			}
			i += len;
			continue;
		}
		/* NUL is invalid here: no PostgreSQL text can hold it */
		len = p[i] == 0 ? 0 : utf8_seq(p + i, n - i);
		if (len == 0) {
			buf_append(b, "\xef\xbf\xbd", 3);
			replaced = 1;
			i++;
			continue;
		}
		buf_append(b, p + i, len);
		i += len;
	}
	return replaced;
}

static void
put_be32(struct buf *b, size_t at, uint32_t v)
{
	unsigned char *p = (unsigned char *)b->data + at;

	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Appends an element to a text[] in PostgreSQL's binary array format: a
 * 20-byte header (patched by barray_finish()), then per element its length
 * (-1 for NULL) and bytes. Binary saves the server parsing and us quoting. */
static void
barray_add(struct buf *b, const char *s, size_t n, int json)
{
	static const char zero[20];
	size_t at;

	if (b->len == 0)
		buf_append(b, zero, sizeof(zero));
	at = b->len;
	buf_append(b, zero, 4);
	if (s == NULL) {
		put_be32(b, at, UINT32_MAX);
		return;
	}
	db_clean_text(b, s, n, json);
	put_be32(b, at, (uint32_t)(b->len - at - 4));
}

static void
barray_finish(struct buf *b, size_t n)
{
	put_be32(b, 0, 1);	/* dimensions */
	put_be32(b, 4, 1);	/* may hold NULLs */
	put_be32(b, 8, 25);	/* element type: text */
	put_be32(b, 12, (uint32_t)n);
	put_be32(b, 16, 1);	/* lower bound */
}

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* 1 when s is an RFC 3339 date-time PostgreSQL will accept as timestamptz. */
static int
time_valid(const char *s)
{
	int y, mo, d, h, mi, sec, used = 0;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
	    &sec, &used) != 6 || used != 19)
		return 0;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0)
		return 0;
	s += used;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return 0;
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return 1;
	if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d%n", &h, &mi, &used) == 2 &&
	    used == 5 && s[6] == '\0' && h >= 0 && h <= 15 && mi >= 0 && mi <= 59)
		return 1;
	return 0;
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

static void
chunk_init(struct db_chunk *ch)
{
	buf_init(&ch->f);
	buf_init(&ch->e);
	buf_init(&ch->w);
	buf_init(&ch->t);
	buf_init(&ch->ip);
	ch->n = 0;
}

static void
chunk_reset(struct db_chunk *ch)
{
	buf_reset(&ch->f);
	buf_reset(&ch->e);
	buf_reset(&ch->w);
	buf_reset(&ch->t);
	buf_reset(&ch->ip);
	ch->n = 0;
}

static void
chunk_free(struct db_chunk *ch)
{
	buf_free(&ch->f);
	buf_free(&ch->e);
	buf_free(&ch->w);
	buf_free(&ch->t);
	buf_free(&ch->ip);
}

static size_t
chunk_bytes(const struct db_chunk *ch)
{
	return ch->f.len + ch->e.len + ch->w.len + ch->t.len + ch->ip.len;
}

/* Adds one finding to the chunk's arrays; 0, or -1 when it is unusable. */
static int
chunk_add(struct db_chunk *ch, const struct db_finding *df, struct buf *tmp)
{
	const char *t, *ip;
	char *text;
	size_t i;

	if (!json_is_object(df->finding))
		return -1;
	text = json_dumps(df->finding, JSON_COMPACT);
	if (text == NULL)
		return -1;
	barray_add(&ch->f, text, strlen(text), 1);
	free(text);
	barray_add(&ch->e, df->event_json, df->event_json ? df->event_len : 0, 1);
	buf_reset(tmp);
	buf_putc(tmp, '[');
	for (i = 0; i < df->nwebhooks; i++) {
		if (i)
			buf_putc(tmp, ',');
		buf_json_str(tmp, df->webhooks[i], strlen(df->webhooks[i]));
	}
	buf_putc(tmp, ']');
	barray_add(&ch->w, tmp->data, tmp->len, 1);
	t = string_field(df->finding, "time");
	if (t != NULL && !time_valid(t))
		t = NULL;
	barray_add(&ch->t, t, t ? strlen(t) : 0, 0);
	ip = string_field(df->finding, "source_ip");
	if (ip != NULL && !ip_valid(ip))
		ip = NULL;
	barray_add(&ch->ip, ip, ip ? strlen(ip) : 0, 0);
	ch->n++;
	return 0;
}

static int
chunk_flush(struct db *db, struct db_chunk *ch, int safe, size_t *inserted,
    char *err, size_t errlen)
{
	struct buf *arr[5] = { &ch->f, &ch->e, &ch->w, &ch->t, &ch->ip };
	static const int fmts[5] = { 1, 1, 1, 1, 1 };
	const char *vals[5];
	int lens[5];
	PGresult *res;

	if (ch->n == 0)
		return 0;
	for (int i = 0; i < 5; i++) {
		barray_finish(arr[i], ch->n);
		vals[i] = arr[i]->data;
		lens[i] = (int)arr[i]->len;
	}
	res = db_run(db, safe ? &sql_findings_safe : &sql_findings, vals, lens,
	    fmts, err, errlen);
	chunk_reset(ch);
	if (res == NULL)
		return -1;
	*inserted += strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static int
write_findings(struct db *db, const struct db_finding *f, size_t nf, int safe,
    size_t *inserted, char *err, size_t errlen)
{
	struct db_chunk ch;
	struct buf tmp;
	size_t i;
	int rc = 0;

	chunk_init(&ch);
	buf_init(&tmp);
	for (i = 0; i < nf && rc == 0; i++) {
		if (chunk_add(&ch, &f[i], &tmp) == -1) {
			log_once("db.bad_finding", "postgres: a finding that is not "
			    "a JSON object was not stored");
			continue;
		}
		if (chunk_bytes(&ch) >= DB_CHUNK_BYTES)
			rc = chunk_flush(db, &ch, safe, inserted, err, errlen);
	}
	if (rc == 0)
		rc = chunk_flush(db, &ch, safe, inserted, err, errlen);
	chunk_free(&ch);
	buf_free(&tmp);
	return rc;
}

static int
write_ingest_error(struct db *db, const struct db_ingest_error *e,
    struct buf *topic, struct buf *msg, char *err, size_t errlen)
{
	char part[16], off[24], seq[16], size[24];
	const char *vals[7];
	int lens[7] = { 0 }, fmts[7] = { 0, 0, 0, 0, 0, 1, 0 };
	PGresult *res;

	buf_reset(topic);
	buf_reset(msg);
	db_clean_text(topic, e->topic ? e->topic : "", e->topic ? strlen(e->topic) : 0, 0);
	db_clean_text(msg, e->error ? e->error : "", e->error ? strlen(e->error) : 0, 0);
	snprintf(part, sizeof(part), "%d", (int)e->partition);
	snprintf(off, sizeof(off), "%lld", (long long)e->offset);
	snprintf(seq, sizeof(seq), "%d", (int)e->seq);
	snprintf(size, sizeof(size), "%zu", e->size);
	vals[0] = buf_cstr(topic);
	vals[1] = part;
	vals[2] = off;
	vals[3] = seq;
	vals[4] = buf_cstr(msg);
	vals[5] = e->head ? e->head : "";
	lens[5] = (int)(e->head ? (e->head_len < DB_HEAD_MAX ? e->head_len : DB_HEAD_MAX) : 0);
	vals[6] = size;
	res = db_run(db, &sql_ingest_error, vals, lens, fmts, err, errlen);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
write_ingest_errors(struct db *db, const struct db_ingest_error *e, size_t ne,
    char *err, size_t errlen)
{
	struct buf topic, msg;
	size_t i;
	int rc = 0;

	buf_init(&topic);
	buf_init(&msg);
	for (i = 0; i < ne && rc == 0; i++)
		rc = write_ingest_error(db, &e[i], &topic, &msg, err, errlen);
	buf_free(&topic);
	buf_free(&msg);
	return rc;
}

static int
write_batch(struct db *db, const struct db_finding *f, size_t nf,
    const struct db_ingest_error *e, size_t ne, int safe, size_t *inserted,
    char *err, size_t errlen)
{
	*inserted = 0;
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (write_findings(db, f, nf, safe, inserted, err, errlen) == -1 ||
	    write_ingest_errors(db, e, ne, err, errlen) == -1 ||
	    db_commit(db, err, errlen) == -1) {
		db_rollback(db);
		*inserted = 0;
		return -1;
	}
	return 0;
}

/* SQLSTATE class 22 is "data exception": the input, not the server, is wrong. */
static int
db_last_error_is_data(const struct db *db)
{
	return PQstatus(db->conn) == CONNECTION_OK && strncmp(db->sqlstate, "22", 2) == 0;
}

int
db_write_batch(struct db *db, const struct db_finding *f, size_t nf,
    const struct db_ingest_error *e, size_t ne, size_t *inserted,
    char *err, size_t errlen)
{
	size_t dummy;

	if (inserted == NULL)
		inserted = &dummy;
	if (write_batch(db, f, nf, e, ne, 0, inserted, err, errlen) == 0)
		return 0;
	if (nf == 0 || !db_last_error_is_data(db))
		return -1;
	log_once("db.event_fallback", "%s; retrying the batch storing "
	    "unparseable events as JSON strings", err);
	return write_batch(db, f, nf, e, ne, 1, inserted, err, errlen);
}
