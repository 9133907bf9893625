/* test_roles.c — the database roles of 0011_roles.sql against a real
 * PostgreSQL: the writer's privileges are exactly the listed ones and
 * enough for every statement the daemon, `kaudit alerts` and `kaudit
 * retention` run (each run here as the role); the writer cannot drop,
 * alter or truncate a table; the reader can read findings, the archive and
 * the views and write nothing. Needs KAUDIT_PG_URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "schema/db.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/t.h"

static char	*url;
static char	 err[512];
static char	 writer[96], reader[96];

/* What kaudit_writer may do, table by table (0011_roles.sql). */
static const char writer_grants[] =
	"alert_destinations:SELECT "
	"alert_group_members:INSERT,SELECT,UPDATE "
	"alert_groups:INSERT,SELECT,UPDATE "
	"dead_letters:INSERT,SELECT "
	"delivery_attempts:INSERT "
	"events:INSERT,SELECT "
	"finding_history:INSERT,SELECT "
	"finding_keys:INSERT,SELECT "
	"findings:INSERT,SELECT,UPDATE "
	"ingest_errors:INSERT,SELECT "
	"outbox:INSERT,SELECT,UPDATE "
	"schema_migrations:SELECT "
	"state_keys:DELETE,INSERT,SELECT,UPDATE "
	"state_partitions:INSERT,SELECT,UPDATE "
	"suppressions:SELECT "
	"webhooks:INSERT,SELECT,UPDATE";

/* The test database's URL with user name user. */
static char *
url_as(const char *user)
{
	const char *p = strstr(url, "://"), *at;
	char *out = malloc(strlen(url) + strlen(user) + 8);

	if (p == NULL) {
		sprintf(out, "%s user=%s", url, user);
		return out;
	}
	p += 3;
	at = strchr(p, '@');
	sprintf(out, "%.*s%s@%s", (int)(p - url), url, user, at ? at + 1 : p);
	return out;
}

/* 1 when sql fails on conn with SQLSTATE state. */
static int
refused(PGconn *conn, const char *sql, const char *state)
{
	PGresult *res = PQexec(conn, sql);
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	int ok = PQresultStatus(res) == PGRES_FATAL_ERROR && st && strcmp(st, state) == 0;

	if (!ok)
		printf("  %s: %s (%s)\n", sql, PQresStatus(PQresultStatus(res)), st ? st : "-");
	PQclear(res);
	return ok;
}

static int
runs(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		printf("  %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

static void
test_setup(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	char sql[256];

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);	/* idempotent, roles exist */
	db_close(db);
	snprintf(writer, sizeof(writer), "%s_w", pgtest_name);
	snprintf(reader, sizeof(reader), "%s_r", pgtest_name);
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN IN ROLE"
	    " kaudit_writer", writer, writer);
	T_INTEQ(pgtest_exec(pgtest_admin, sql), 0);
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN IN ROLE"
	    " kaudit_reader", reader, reader);
	T_INTEQ(pgtest_exec(pgtest_admin, sql), 0);
}

static void
test_writer_grants(void)
{
	char *s = pgtest_str("SELECT string_agg(t || ':' || p, ' ' ORDER BY t) FROM"
	    " (SELECT table_name AS t, string_agg(privilege_type, ',' ORDER BY privilege_type)"
	    " AS p FROM information_schema.role_table_grants WHERE grantee = 'kaudit_writer'"
	    " AND table_schema = 'kaudit' GROUP BY table_name) x");

	T_STREQ(s, writer_grants);
	free(s);
	/* and the owner's functions, nothing else of the owner's */
	T_INTEQ(pgtest_long("SELECT count(*) FROM pg_proc p JOIN pg_namespace n"
	    " ON n.oid = p.pronamespace WHERE n.nspname = 'kaudit' AND p.prosecdef"
	    " AND has_function_privilege('kaudit_writer', p.oid, 'EXECUTE')"), 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM pg_proc p JOIN pg_namespace n"
	    " ON n.oid = p.pronamespace WHERE n.nspname = 'kaudit' AND p.prosecdef"
	    " AND has_function_privilege('public', p.oid, 'EXECUTE')"), 0);
}

static json_t *
finding(const char *audit_id, const char *rule)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "audit_id", audit_id, "rule", rule,
	    "severity", "high", "category", "exec", "time", "2026-01-15T10:00:00Z",
	    "user", "alice");
}

/* Every kind of write the daemon and the commands make, as the writer. */
static void
test_writer_runs_the_daemon(void)
{
	char *wurl = url_as(writer);
	struct db *db = db_connect(wurl, err, sizeof(err));
	static const char *const hooks[] = { "soc", "grouped" };
	struct db_grouping groups[2] = { { NULL, 0, 0, 0 },
	    { json_pack("{s:s}", "cluster", "c1"), 0, 1000, 60000 } };
	json_t *f[2] = { finding("w-1", "r1"), finding("w-2", "r1") };
	struct db_finding df[2];
	const char ev[] = "{\"auditID\":\"w-1\",\"stage\":\"ResponseComplete\",\"verb\":\"create\"}";
	struct db_event v[2] = {
		{ ev, sizeof(ev) - 1, "2026-01-15T10:00:00Z", NULL, "10.0.0.1", "c1", NULL, 0, 0 },
		{ "{\"auditID\":", 11, NULL, NULL, NULL, "c1", "t", 0, 5 },	/* dead letter */
	};
	struct db_ingest_error ie = { "t", 0, 7, 0, "bad", "xx", 2, 2 };
	struct db_state_part part = { 0, 10, "{}", 2 };
	struct db_state_key key = { 0, "[\"c1\",\"r\"]", 10, "{\"n\":1}", 7 };
	struct db_state_update upd = { "r2", "k|w", "{\"repeats\":3}", 13 };
	struct db_state_write w = { "sig", &part, 1, &key, 1, &upd, 1 };
	struct db_batch_in in = { df, 2, v, 2, &ie, 1, NULL, NULL };
	struct db_batch_out out;
	struct outbox_dest dest[2] = { { "soc", 10, 0 }, { "grouped", 10, 5 } };
	const char *names[2] = { "soc", "grouped" };
	struct outbox_item *it = NULL;
	struct outbox_attempt a;
	struct outbox_circuit circ = { 5, (const long[]){ 1000 }, 1, 86400000 };
	struct db_groups_flush gf;
	struct db_retention *r = NULL;
	struct alerts_row *rows = NULL;
	size_t n = 0;
	long held, back, count;
	int found;

	T_ASSERT(db != NULL);
	if (db == NULL) {
		printf("  %s\n", err);
		free(wurl);
		return;
	}
	T_INTEQ(db_check_schema(db, err, sizeof(err)), 0);
	memset(df, 0, sizeof(df));
	for (int i = 0; i < 2; i++) {
		df[i].finding = f[i];
		df[i].event_json = ev;
		df[i].event_len = sizeof(ev) - 1;
		df[i].webhooks = hooks;
		df[i].nwebhooks = 2;
		df[i].groups = groups;
	}
	df[1].dedup = "k|w";
	df[1].finding = finding("w-2", "r2");
	json_decref(f[1]);
	f[1] = (json_t *)df[1].finding;
	T_INTEQ(db_write(db, &in, &out, err, sizeof(err)), 0);
	T_INTEQ(out.inserted, 2);
	T_INTEQ(out.archived, 1);
	T_INTEQ(out.dead, 1);
	/* a month nobody made yet, made on demand through the owner's function */
	json_object_set_new(f[0], "time", json_string("2020-02-02T02:02:02Z"));
	json_object_set_new(f[0], "audit_id", json_string("w-3"));
	in.nf = 1;
	in.nev = 0;
	in.ne = 0;
	T_INTEQ(db_write(db, &in, &out, err, sizeof(err)), 0);
	T_INTEQ(out.inserted, 1);
	memset(&df[0], 0, sizeof(df[0]));
	in.nf = 0;
	in.extra = db_state_write;
	in.extra_arg = &w;
	T_INTEQ(db_write(db, &in, &out, err, sizeof(err)), 0);
	T_INTEQ(pgtest_long("SELECT repeats FROM kaudit.findings WHERE audit_id = 'w-2'"), 3);
	/* the alerter */
	T_INTEQ(db_outbox_sync(db, "me", names, 2, 1, &held, &back, err, sizeof(err)), 0);
	pgtest_exec(pgtest_conn, "UPDATE kaudit.alert_groups SET next_notify_at = now()");
	T_INTEQ(db_groups_flush(db, 10, &gf, err, sizeof(err)), 0);
	T_INTEQ(gf.notifications, 1);
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, dest, 2, &it, &n, err, sizeof(err)), 0);
	T_ASSERT(n >= 1);
	if (n >= 1) {
		memset(&a, 0, sizeof(a));
		a.id = it[0].id;
		a.res = OUTBOX_DEAD;
		a.health = OUTBOX_FAILURE;
		a.http_status = 500;
		a.error = "boom";
		T_INTEQ(db_outbox_record(db, "me", &a, 1, &circ, err, sizeof(err)), 0);
		T_INTEQ(a.recorded, 1);
	}
	db_outbox_items_free(it, n);
	T_INTEQ(db_outbox_release(db, "me", &held, err, sizeof(err)), 0);
	/* kaudit alerts */
	T_INTEQ(db_alerts_list(db, NULL, NULL, 10, &rows, &n, err, sizeof(err)), 0);
	db_alerts_rows_free(rows, n);
	T_INTEQ(db_alerts_retry(db, NULL, 0, NULL, &count, err, sizeof(err)), 0);
	T_INTEQ(count, 1);
	T_INTEQ(db_alerts_enable(db, "soc", &found, &count, err, sizeof(err)), 0);
	/* kaudit retention and the daemon's upkeep */
	T_INTEQ(db_partitions_ahead(db, 2, err, sizeof(err)), 0);
	T_INTEQ(db_retention(db, "findings", 400LL * 86400, 1, &r, &n, err, sizeof(err)), 0);
	db_retention_free(r, n);
	T_INTEQ(db_retention(db, "findings", 400LL * 86400, 0, &r, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	db_retention_free(r, n);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE audit_id = 'w-3'"), 0);
	printf("  last error: %s\n", err[0] ? err : "none");
	json_decref(f[0]);
	json_decref(f[1]);
	json_decref(groups[1].key);
	db_close(db);
	free(wurl);
}

static void
test_writer_no_ddl(void)
{
	char *wurl = url_as(writer);
	PGconn *c = PQconnectdb(wurl);

	T_ASSERT(PQstatus(c) == CONNECTION_OK);
	T_ASSERT(refused(c, "DROP TABLE kaudit.findings", "42501"));
	T_ASSERT(refused(c, "DROP TABLE kaudit.events", "42501"));
	T_ASSERT(refused(c, "ALTER TABLE kaudit.findings ADD COLUMN x integer", "42501"));
	T_ASSERT(refused(c, "ALTER TABLE kaudit.outbox DROP COLUMN payload", "42501"));
	T_ASSERT(refused(c, "TRUNCATE kaudit.events", "42501"));
	T_ASSERT(refused(c, "DELETE FROM kaudit.findings", "42501"));
	T_ASSERT(refused(c, "DELETE FROM kaudit.events", "42501"));
	T_ASSERT(refused(c, "CREATE TABLE kaudit.x (i integer)", "42501"));
	T_ASSERT(refused(c, "CREATE INDEX ON kaudit.findings (title)", "42501"));
	T_ASSERT(refused(c, "SELECT * FROM kaudit.delivery_attempts", "42501"));
	/* a partition directly, not through the parent's grants */
	T_ASSERT(refused(c, "DROP TABLE kaudit.findings_2026_01", "42501"));
	PQfinish(c);
	free(wurl);
}

static void
test_reader(void)
{
	char *rurl = url_as(reader);
	PGconn *c = PQconnectdb(rurl);

	T_ASSERT(PQstatus(c) == CONNECTION_OK);
	T_ASSERT(runs(c, "SELECT count(*) FROM kaudit.findings"));
	T_ASSERT(runs(c, "SELECT count(*) FROM kaudit.events"));
	T_ASSERT(runs(c, "SELECT count(*) FROM kaudit.findings_summary"));
	T_ASSERT(runs(c, "SELECT count(*) FROM kaudit.alert_failures"));
	T_ASSERT(runs(c, "SELECT count(*) FROM kaudit.partitions"));
	/* a finding's event, from the archive since 0012 */
	T_ASSERT(runs(c, "SELECT count(kaudit.finding_event(f)) FROM kaudit.findings f"));
	T_ASSERT(refused(c, "INSERT INTO kaudit.findings (audit_id, rule, severity,"
	    " severity_rank, finding) VALUES ('x', 'y', 'low', 1, '{}')", "42501"));
	T_ASSERT(refused(c, "INSERT INTO kaudit.events (audit_id, event) VALUES ('x', '{}')",
	    "42501"));
	T_ASSERT(refused(c, "UPDATE kaudit.findings SET title = 'x'", "42501"));
	T_ASSERT(refused(c, "DELETE FROM kaudit.events", "42501"));
	T_ASSERT(refused(c, "UPDATE kaudit.outbox SET state = 'done'", "42501"));
	T_ASSERT(refused(c, "SELECT * FROM kaudit.outbox", "42501"));
	T_ASSERT(refused(c, "SELECT kaudit.partition_drop('findings_2026_01')", "42501"));
	T_ASSERT(refused(c, "SELECT kaudit.partitions_ensure(ARRAY[now()])", "42501"));
	T_ASSERT(refused(c, "DROP TABLE kaudit.findings", "42501"));
	PQfinish(c);
	free(rurl);
}

int
main(void)
{
	char sql[256];

	if ((url = pgtest_setup("roles")) == NULL)
		return 1;
	log_set_level(LOG_WARN);
	T_RUN(test_setup);
	T_RUN(test_writer_grants);
	T_RUN(test_writer_runs_the_daemon);
	T_RUN(test_writer_no_ddl);
	T_RUN(test_reader);
	snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s; DROP ROLE IF EXISTS %s", writer,
	    reader);
	pgtest_exec(pgtest_admin, sql);
	pgtest_teardown();
	return t_done();
}
