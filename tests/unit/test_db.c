/* test_db.c — schema/ against a real PostgreSQL: migrations, the batch write
 * of findings, outbox rows and ingest errors, bad input, an ambiguous event
 * stored as the rules read it, reconnects, and
 * the write throughput of a 1000-finding batch. Needs KAUDIT_PG_URL. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "analyze/rules.h"
#include "base/log.h"
#include "schema/db.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/t.h"
#include "tests/unit/tev.h"

#define EVENTS_FILE "tests/fixtures/corpus/kubernetes-test-infra-logviewer/parsing_test_events.jsonl"

static char	*url;
static char	 err[512];
static json_t	*events[3];	/* the three real events of the fixture */
static char	*event_text[3];

static int
load_events(void)
{
	FILE *fp = fopen(EVENTS_FILE, "r");
	char line[8192];
	int n = 0;

	if (fp == NULL)
		return -1;
	while (n < 3 && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		event_text[n] = strdup(line);
		events[n] = json_loads(line, 0, NULL);
		if (events[n] == NULL)
			break;
		n++;
	}
	fclose(fp);
	return n == 3 ? 0 : -1;
}

static json_t *
field(json_t *ev, const char *dotted)
{
	char key[64], *dot;
	const char *p = dotted;

	while ((dot = strchr(p, '.')) != NULL && ev != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
		ev = json_object_get(ev, key);
		p = dot + 1;
	}
	return ev ? json_object_get(ev, p) : NULL;
}

static void
set_copy(json_t *f, const char *key, json_t *v)
{
	json_object_set_new(f, key, v ? json_deep_copy(v) : json_null());
}

/* A finding with every field of the DESIGN.md contract, taken from ev. */
static json_t *
finding_for(json_t *ev, const char *rule, const char *severity)
{
	json_t *f = json_object();

	json_object_set_new(f, "rule", json_string(rule));
	json_object_set_new(f, "title", json_string("Node lease updated"));
	json_object_set_new(f, "severity", json_string(severity));
	json_object_set_new(f, "category", json_string("inventory"));
	json_object_set_new(f, "tags", json_pack("[s,s]", "T1609", "it's \"quoted\""));
	set_copy(f, "audit_id", field(ev, "auditID"));
	set_copy(f, "stage", field(ev, "stage"));
	set_copy(f, "time", field(ev, "stageTimestamp"));
	json_object_set_new(f, "cluster", json_string("gce-scale"));
	set_copy(f, "user", field(ev, "user.username"));
	set_copy(f, "groups", field(ev, "user.groups"));
	json_object_set_new(f, "impersonated_user", json_null());
	set_copy(f, "source_ip", json_array_get(field(ev, "sourceIPs"), 0));
	set_copy(f, "user_agent", field(ev, "userAgent"));
	set_copy(f, "verb", field(ev, "verb"));
	set_copy(f, "resource", field(ev, "objectRef.resource"));
	set_copy(f, "subresource", field(ev, "objectRef.subresource"));
	set_copy(f, "namespace", field(ev, "objectRef.namespace"));
	set_copy(f, "name", field(ev, "objectRef.name"));
	set_copy(f, "code", field(ev, "responseStatus.code"));
	json_object_set_new(f, "message", json_string("lease renewed"));
	json_object_set_new(f, "evidence", json_pack("{s:O}", "verb", field(ev, "verb")));
	return f;
}

/* finding_fn keeping the one finding expected (a new reference). */
static void
keep_finding(void *arg, json_t *f, const struct audit_event *ev)
{
	json_t **kept = arg;

	(void)ev;
	json_decref(*kept);
	*kept = f;
}

static const char *const hooks2[] = { "soc", "pager" };
static const char *const hooks1[] = { "soc" };

static void
test_migrate(void)
{
	struct db *db = db_connect(url, err, sizeof(err));

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	T_INTEQ(db_check_schema(db, err, sizeof(err)), -1);
	T_STREQ(err, "database schema is at version 0, kaudit needs 1: run "
	    "`kaudit migrate -c FILE`");
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);
	T_INTEQ(db_check_schema(db, err, sizeof(err)), 0);
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);	/* idempotent */
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.schema_migrations"), 1);
	T_INTEQ(pgtest_long("SELECT version FROM kaudit.schema_migrations"), 1);
	/* A newer binary migrated this database: say so. */
	pgtest_exec(pgtest_conn, "INSERT INTO kaudit.schema_migrations VALUES (7, '0007_x.sql')");
	T_INTEQ(db_check_schema(db, err, sizeof(err)), -1);
	T_STREQ(err, "database schema is at version 7, newer than this kaudit (1): "
	    "upgrade kaudit");
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.schema_migrations WHERE version = 7");
	T_INTEQ(db_check_schema(db, err, sizeof(err)), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM pg_description d JOIN pg_class c"
	    " ON c.oid = d.objoid WHERE c.relname = 'findings' AND d.objsubid = 0"), 1);
	db_close(db);
}

static void *
migrate_thread(void *arg)
{
	char e[256];
	struct db *db = db_connect(arg, e, sizeof(e));
	long rc = -1;

	if (db != NULL) {
		rc = db_migrate(db, e, sizeof(e));
		if (rc)
			printf("  migrate_thread: %s\n", e);
		db_close(db);
	}
	return (void *)rc;
}

/* Two processes migrating one empty database at once both succeed. */
static void
test_migrate_concurrent(void)
{
	pthread_t th[2];
	void *rc[2];
	char name[80], sql[160], *url2;

	snprintf(name, sizeof(name), "%s_race", pgtest_name);
	url2 = pgtest_url_for(getenv("KAUDIT_PG_URL"), name);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	T_INTEQ(pgtest_exec(pgtest_admin, sql), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, migrate_thread, url2);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], &rc[i]);
	T_INTEQ((long)rc[0], 0);
	T_INTEQ((long)rc[1], 0);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	pgtest_exec(pgtest_admin, sql);
	free(url2);
}

static void
make_batch(struct db_finding *df, json_t **f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		df[i].finding = f[i];
		df[i].event_json = event_text[i % 3];
		df[i].event_len = strlen(event_text[i % 3]);
		df[i].webhooks = i == 0 ? hooks2 : hooks1;
		df[i].nwebhooks = i == 0 ? 2 : 1;
	}
}

static void
test_write_idempotent(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	json_t *f[3];
	struct db_finding df[3];
	size_t ins = 99;

	for (int i = 0; i < 3; i++)
		f[i] = finding_for(events[i], "lease-update", "low");
	make_batch(df, f, 3);
	T_INTEQ(db_write_batch(db, df, 3, NULL, 0, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings"), 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox"), 4);
	/* Redelivered: nothing new, no new outbox rows. */
	T_INTEQ(db_write_batch(db, df, 3, NULL, 0, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings"), 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox"), 4);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE state = 'pending'"
	    " AND attempts = 0 AND webhook = 'pager'"), 1);
	/* The same finding twice in one batch is stored once. */
	json_decref(f[1]);
	f[1] = finding_for(events[1], "lease-twice", "high");
	df[1].finding = f[1];
	df[2].finding = f[1];
	T_INTEQ(db_write_batch(db, df + 1, 2, NULL, 0, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
	    " ON f.id = o.finding_id WHERE f.rule = 'lease-twice'"), 1);
	for (int i = 0; i < 3; i++)
		json_decref(f[i]);
	db_close(db);
}

static void
expect(const char *sql, const char *want)
{
	char *got = pgtest_str(sql);

	T_STREQ(got, want);
	if (strcmp(got, want) != 0)
		printf("    query: %s\n", sql);
	free(got);
}

/* Every column of a stored finding holds its field, typed. */
static void
test_columns(void)
{
#define COLUMN_SQL "SELECT %s FROM kaudit.findings WHERE rule = 'lease-update'" \
	    " AND audit_id = '0286b87c-b86c-443f-bb1e-807844b35307'"
	static const struct { const char *col, *want; } cols[] = {
		{ "title", "Node lease updated" },
		{ "severity || severity_rank", "low1" },
		{ "category", "inventory" },
		{ "tags[2]", "it's \"quoted\"" },
		{ "array_length(tags, 1)", "2" },
		{ "stage", "ResponseComplete" },
		{ "to_char(\"time\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
		  "2019-01-02 15:01:16.108038" },
		{ "cluster", "gce-scale" },
		{ "username", "system:node:gce-scale-cluster-minion-group-4-zr07" },
		{ "groups[1] || ',' || groups[2]", "system:nodes,system:authenticated" },
		{ "coalesce(impersonated_user, 'null')", "null" },
		{ "host(source_ip)", "35.227.76.61" },
		{ "source_ip_text", "35.227.76.61" },
		{ "user_agent", "kubelet/v1.14.0 (linux/amd64) kubernetes/aef1179" },
		{ "verb", "update" },
		{ "resource", "leases" },
		{ "coalesce(subresource, 'null')", "null" },
		{ "namespace", "kube-node-lease" },
		{ "name", "gce-scale-cluster-minion-group-4-zr07" },
		{ "code", "200" },
		{ "message", "lease renewed" },
		{ "evidence->>'verb'", "update" },
		{ "event->'objectRef'->>'resourceVersion'", "17652814" },
		{ "finding->>'rule'", "lease-update" },
		{ "created_at <= now()", "t" },
	};
	char sql[512];

	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		snprintf(sql, sizeof(sql), COLUMN_SQL, cols[i].col);
		expect(sql, cols[i].want);
	}
}

/* Values PostgreSQL would refuse are nulled or cleaned, never fatal. */
static void
test_bad_values(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	json_t *f = finding_for(events[0], "bad-values", "bogus");
	struct db_finding df = { f, event_text[0], strlen(event_text[0]), hooks1, 1 };
	size_t ins = 0;

	json_object_set_new(f, "time", json_string("2019-02-30T10:00:00Z"));
	json_object_set_new(f, "source_ip", json_string("not-an-ip"));
	json_object_set_new(f, "code", json_string("abc"));
	json_object_set_new(f, "tags", json_string("not-an-array"));
	json_object_set_new(f, "message", json_stringn("nul\0byte", 8));
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	expect("SELECT severity || severity_rank FROM kaudit.findings WHERE rule = 'bad-values'", "info0");
	expect("SELECT finding->>'severity' FROM kaudit.findings WHERE rule = 'bad-values'", "bogus");
	expect("SELECT (\"time\" IS NULL AND source_ip IS NULL AND code IS NULL"
	    " AND tags IS NULL)::text FROM kaudit.findings WHERE rule = 'bad-values'", "true");
	expect("SELECT source_ip_text FROM kaudit.findings WHERE rule = 'bad-values'", "not-an-ip");
	expect("SELECT message FROM kaudit.findings WHERE rule = 'bad-values'", "nul\xef\xbf\xbd" "byte");
	/* An IPv6 source and a time with an offset. */
	json_decref(f);
	f = finding_for(events[1], "ipv6", "critical");
	json_object_set_new(f, "source_ip", json_string("2001:db8::1"));
	json_object_set_new(f, "time", json_string("2024-02-29T23:30:00.5+02:00"));
	df.finding = f;
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, err, sizeof(err)), 0);
	expect("SELECT host(source_ip) || ' ' || severity_rank || ' ' || to_char(\"time\""
	    " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') FROM kaudit.findings"
	    " WHERE rule = 'ipv6'", "2001:db8::1 4 2024-02-29 21:30:00.500");
	json_decref(f);
	db_close(db);
}

/* jsonb refuses \u0000; invalid UTF-8 is refused as text; text that is not
 * JSON at all is stored as a JSON string. None of them blocks the batch. */
static void
test_nul_event(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	const char *nul = "{\"auditID\":\"n1\",\"verb\":\"get\\u0000x\",\"ok\":\"a\\\\u0000b\"}";
	const char *badutf = "{\"auditID\":\"n2\",\"verb\":\"g\xff\xfe\"}";
	const char *surrogate = "{\"auditID\":\"n3\",\"verb\":\"\\ud800\"}";
	const char *notjson = "{\"auditID\":\"n4\",";
	const char *texts[] = { nul, badutf, surrogate, notjson };
	struct db_finding df[4];
	json_t *f[4];
	char rule[16];
	size_t ins = 0;

	for (int i = 0; i < 4; i++) {
		snprintf(rule, sizeof(rule), "nul-%d", i);
		f[i] = finding_for(events[0], rule, "medium");
		df[i] = (struct db_finding){ f[i], texts[i], strlen(texts[i]), hooks1, 1 };
	}
	T_INTEQ(db_write_batch(db, df, 4, NULL, 0, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 4);
	expect("SELECT event->>'verb' FROM kaudit.findings WHERE rule = 'nul-0'", "get\xef\xbf\xbdx");
	/* An escaped backslash followed by u0000 is text, not a NUL escape. */
	expect("SELECT event->>'ok' FROM kaudit.findings WHERE rule = 'nul-0'", "a\\u0000b");
	expect("SELECT event->>'verb' FROM kaudit.findings WHERE rule = 'nul-1'", "g\xef\xbf\xbd\xef\xbf\xbd");
	expect("SELECT event->>'verb' FROM kaudit.findings WHERE rule = 'nul-2'", "\xef\xbf\xbd");
	expect("SELECT jsonb_typeof(event) || ':' || (event #>> '{}') FROM kaudit.findings"
	    " WHERE rule = 'nul-3'", "string:{\"auditID\":\"n4\",");
	T_ASSERT(log_count("db.event_fallback") >= 1);
	expect("SELECT jsonb_typeof(event) FROM kaudit.findings WHERE rule = 'nul-0'", "object");
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
	    " ON f.id = o.finding_id WHERE f.rule LIKE 'nul-%'"), 4);
	for (int i = 0; i < 4; i++)
		json_decref(f[i]);
	db_close(db);
}

/* An event whose JSON reads two ways (verb twice, a name that is not UTF-8
 * and holds a lone surrogate escape, a repeated key in the body): what the
 * rules saw, what the finding says and what jsonb stored must be one value.
 * jsonb keeps the last key and db_clean_text() writes U+FFFD per bad byte
 * or escape; the tokenizer reads them the same way (base/jtok.h). */
static void
test_ambiguous_event(void)
{
	static const char rule[] =
	    "- rule: t.ambiguous\n"
	    "  title: t\n"
	    "  description: t\n"
	    "  condition: ka.event.duplicate_keys = true and ka.event.invalid_utf8 = true\n"
	    "  output: \"%{verb} %{objectRef.name} %{requestObject.spec.replicas}\"\n"
	    "  severity: medium\n"
	    "  category: evasion\n"
	    "  tags: [T1027]\n";
	static const char text[] =
	    "{\"kind\":\"Event\",\"auditID\":\"amb-1\",\"stage\":\"ResponseComplete\","
	    "\"verb\":\"get\",\"user\":{\"username\":\"mallory\"},"
	    "\"objectRef\":{\"resource\":\"deployments\",\"namespace\":\"shop\","
	    "\"name\":\"web\xff-\\ud800-\xe2\x82\"},"
	    "\"requestObject\":{\"spec\":{\"replicas\":3,\"replicas\":0}},"
	    "\"responseStatus\":{\"code\":200},\"v\\u0065rb\":\"delete\"}";
	const char *seen_verb, *seen_name;
	struct rule_source src = { "t.yaml", rule, sizeof(rule) - 1 };
	struct db *db = db_connect(url, err, sizeof(err));
	struct ruleset *rs;
	struct eval_scratch *s;
	struct db_finding df;
	struct buf errs, b1, b2;
	json_t *found = NULL;
	struct tev t;
	size_t ins = 0, n;
	char sql[256];

	buf_init(&errs);
	buf_init(&b1);
	buf_init(&b2);
	rs = ruleset_compile(&src, 1, NULL, &errs);
	T_ASSERT(rs != NULL);
	if (rs == NULL || db == NULL) {
		printf("  %s\n", buf_cstr(&errs));
		goto out;
	}
	tev_load(&t, text);
	seen_verb = event_str(&t.ev, EF_VERB, &b1, &n);
	T_ASSERT(seen_verb != NULL && n == 6 && memcmp(seen_verb, "delete", 6) == 0);
	seen_name = event_str(&t.ev, EF_NAME, &b2, &n);
	T_STREQ(seen_name, "web\xef\xbf\xbd-\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd");
	s = eval_scratch_new(rs);
	T_INTEQ(ruleset_eval(rs, &t.ev, s, keep_finding, &found), 1);
	eval_scratch_free(s);
	T_ASSERT(found != NULL);
	if (found == NULL)
		goto done;
	df = (struct db_finding){ found, text, strlen(text), hooks1, 1 };
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	/* the finding's columns, the finding's JSON and the stored event agree
	 * with what the rules saw */
	snprintf(sql, sizeof(sql), "SELECT verb || '|' || (event->>'verb') || '|' ||"
	    " (finding->>'verb') FROM kaudit.findings WHERE audit_id = 'amb-1'");
	expect(sql, "delete|delete|delete");
	snprintf(sql, sizeof(sql), "SELECT name FROM kaudit.findings WHERE audit_id = 'amb-1'"
	    " AND name = event->'objectRef'->>'name' AND name = finding->>'name'");
	expect(sql, seen_name);
	expect("SELECT (event->'requestObject'->'spec'->>'replicas') || '|' || message"
	    " FROM kaudit.findings WHERE audit_id = 'amb-1'",
	    "0|delete web\xef\xbf\xbd-\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd 0");
	expect("SELECT jsonb_typeof(event) FROM kaudit.findings WHERE audit_id = 'amb-1'", "object");
	json_decref(found);
done:
	jdoc_free(&t.d);
out:
	ruleset_free(rs);
	db_close(db);
	buf_free(&errs);
	buf_free(&b1);
	buf_free(&b2);
}

static void
test_ingest_errors(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	static char big[3000];
	const char head[] = { '{', '\0', '\xff', 'x' };
	struct db_ingest_error e[2] = {
		{ "k8s-audit", 3, 12345, 0, "offset 1: invalid \xff byte", head, sizeof(head), 4 },
		{ "k8s-audit", 3, 12345, 1, "message too large", big, sizeof(big), 9000000 },
	};
	size_t ins = 9;

	memset(big, 'a', sizeof(big));
	T_INTEQ(db_write_batch(db, NULL, 0, e, 2, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 0);
	T_INTEQ(db_write_batch(db, NULL, 0, e, 2, &ins, err, sizeof(err)), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.ingest_errors"), 2);
	expect("SELECT encode(head, 'hex') FROM kaudit.ingest_errors WHERE seq = 0", "7b00ff78");
	expect("SELECT error FROM kaudit.ingest_errors WHERE seq = 0", "offset 1: invalid \xef\xbf\xbd byte");
	expect("SELECT length(head) || ' ' || size FROM kaudit.ingest_errors WHERE seq = 1", "1024 9000000");
	expect("SELECT head_text FROM kaudit.ingest_errors_readable WHERE seq = 0", "{\\000\\377x");
	db_close(db);
}

/* A killed server connection fails the batch; db_ok() reconnects and the
 * retried batch goes through. */
static void
test_reconnect(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	json_t *f = finding_for(events[2], "reconnect", "high");
	struct db_finding df = { f, event_text[2], strlen(event_text[2]), hooks1, 1 };
	char sql[256];
	size_t ins = 0;

	T_INTEQ(db_write_batch(db, NULL, 0, NULL, 0, &ins, err, sizeof(err)), 0);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE datname = '%s' AND application_name = 'kaudit'", pgtest_name);
	pgtest_exec(pgtest_admin, sql);
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, err, sizeof(err)), -1);
	T_ASSERT(strlen(err) > 0);
	T_INTEQ(db_ok(db), 1);
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	json_decref(f);
	db_close(db);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Batches of 1000 findings on one connection (the first run also prepares
 * and plans the statement): prints findings/s of new and of duplicate
 * findings, one run on loopback. */
static void
test_throughput(void)
{
	enum { N = 1000, ROUNDS = 5 };
	struct db *db = db_connect(url, err, sizeof(err));
	struct db_finding *df = calloc(N, sizeof(*df));
	json_t **f = calloc(N, sizeof(*f));
	char id[64];
	size_t ins = 0;
	double t0, t_new = 0, t_dup = 0;

	for (int i = 0; i < N; i++)
		f[i] = finding_for(events[i % 3], "bench", "medium");
	make_batch(df, f, N);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < N; i++) {
			snprintf(id, sizeof(id), "bench-%d-%d", r, i);
			json_object_set_new(f[i], "audit_id", json_string(id));
		}
		t0 = now_s();
		T_INTEQ(db_write_batch(db, df, N, NULL, 0, &ins, err, sizeof(err)), 0);
		T_INTEQ(ins, N);
		if (r > 0)
			t_new += now_s() - t0;
		else
			printf("  first batch (prepare + plan): %.1f ms\n", (now_s() - t0) * 1e3);
		t0 = now_s();
		T_INTEQ(db_write_batch(db, df, N, NULL, 0, &ins, err, sizeof(err)), 0);
		T_INTEQ(ins, 0);
		if (r > 0)
			t_dup += now_s() - t0;
	}
	printf("  db_write_batch, %d batches of %d: new %.0f findings/s, "
	    "duplicate %.0f findings/s\n", ROUNDS - 1, N,
	    (ROUNDS - 1) * N / t_new, (ROUNDS - 1) * N / t_dup);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE rule = 'bench'"),
	    ROUNDS * N);
	for (int i = 0; i < N; i++)
		json_decref(f[i]);
	free(f);
	free(df);
	db_close(db);
}

int
main(void)
{
	if ((url = pgtest_setup("db")) == NULL)
		return 1;
	if (load_events() == -1) {
		printf("FAIL load_events: %s\n", EVENTS_FILE);
		pgtest_teardown();
		return 1;
	}
	T_RUN(test_migrate);
	T_RUN(test_migrate_concurrent);
	T_RUN(test_write_idempotent);
	T_RUN(test_columns);
	T_RUN(test_bad_values);
	T_RUN(test_nul_event);
	T_RUN(test_ambiguous_event);
	T_RUN(test_ingest_errors);
	T_RUN(test_reconnect);
	T_RUN(test_throughput);
	pgtest_teardown();
	for (int i = 0; i < 3; i++) {
		json_decref(events[i]);
		free(event_text[i]);
	}
	return t_done();
}
