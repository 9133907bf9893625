/* test_db.c — schema/ against a real PostgreSQL: migrations, the batch write
 * of findings, outbox rows and ingest errors, bad input, an ambiguous event
 * stored as the rules read it, reconnects, and
 * the write throughput of a 1000-finding batch. Needs KAUDIT_PG_URL. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "analyze/rules.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/utf8.h"
#include "schema/db.h"
#include "schema/db_int.h"
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
	char *s;

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	T_INTEQ(db_check_schema(db, err, sizeof(err)), -1);
	T_STREQ(err, "database schema is at version 0, kaudit needs 12: run "
	    "`kaudit migrate -c FILE`");
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);
	T_INTEQ(db_check_schema(db, err, sizeof(err)), 0);
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);	/* idempotent */
	s = pgtest_str("SELECT string_agg(version::text, ',' ORDER BY version)"
	    " FROM kaudit.schema_migrations");
	T_STREQ(s, "1,2,3,4,5,6,7,8,9,10,11,12");
	free(s);
	/* A migration missing below the newest (two branches applied apart):
	 * the schema is not what this binary expects. */
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.schema_migrations WHERE version = 2");
	T_INTEQ(db_check_schema(db, err, sizeof(err)), -1);
	T_STREQ(err, "database schema lacks migration 0002_row_faults.sql: run "
	    "`kaudit migrate -c FILE`");
	pgtest_exec(pgtest_conn, "INSERT INTO kaudit.schema_migrations VALUES (2, '0002_row_faults.sql')");
	/* A newer binary migrated this database: say so. */
	pgtest_exec(pgtest_conn, "INSERT INTO kaudit.schema_migrations VALUES (99, '0099_x.sql')");
	T_INTEQ(db_check_schema(db, err, sizeof(err)), -1);
	T_STREQ(err, "database schema is at version 99, newer than this kaudit (12): "
	    "upgrade kaudit");
	/* and `kaudit migrate` leaves it alone */
	T_INTEQ(db_migrate(db, err, sizeof(err)), -1);
	T_STREQ(err, "database schema is at version 99, newer than this kaudit (12): "
	    "refusing to migrate; upgrade kaudit");
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.schema_migrations WHERE version = 99");
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

/* A finding of one stage of a request: audit ID, rule, stage and times. */
static json_t *
stage_finding(const char *audit_id, const char *rule, const char *stage, const char *t)
{
	json_t *f = finding_for(events[0], rule, "high");

	json_object_set_new(f, "audit_id", json_string(audit_id));
	json_object_set_new(f, "stage", json_string(stage));
	json_object_set_new(f, "time", t ? json_string(t) : json_null());
	return f;
}

static size_t
write_one(struct db *db, json_t *f, const char *received, const char *dedup)
{
	struct db_finding df = { f, event_text[0], strlen(event_text[0]), hooks1, 1,
	    NULL, 0, 0, dedup, NULL, received, 0 };
	size_t ins = 99;

	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	json_decref(f);
	return ins;
}

/* Findings partitioned by month: the identity holds across stages whose
 * times fall in different months, redeliveries and stateful keys; old,
 * far-future and missing times are stored; retention drops whole months
 * with their outbox rows. */
static void
test_partitions(void)
{
	struct db *db = db_connect(url, err, sizeof(err)), *db2;
	struct db_retention *r = NULL;
	size_t n = 0;
	char *s;

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	/* the months ahead, made by the migration */
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.partitions WHERE table_name ="
	    " 'findings' AND to_time > now() AND from_time <= now() + interval '2 months'"), 3);
	/* Both stages of one exec, their stageTimestamps either side of a month
	 * boundary, in two batches: one finding, in the month the request was
	 * received. */
	T_INTEQ(write_one(db, stage_finding("px-1", "p-exec", "ResponseStarted",
	    "2026-01-31T23:59:59.900Z"), "2026-01-31T23:59:59.500Z", NULL), 1);
	T_INTEQ(write_one(db, stage_finding("px-1", "p-exec", "ResponseComplete",
	    "2026-02-01T00:00:00.100Z"), "2026-01-31T23:59:59.500Z", NULL), 0);
	/* without requestReceivedTimestamp: each stage would go by its own
	 * time, and the identity still holds */
	T_INTEQ(write_one(db, stage_finding("px-2", "p-exec", "ResponseStarted",
	    "2026-01-31T23:59:59.900Z"), NULL, NULL), 1);
	T_INTEQ(write_one(db, stage_finding("px-2", "p-exec", "ResponseComplete",
	    "2026-02-01T00:00:00.100Z"), NULL, NULL), 0);
	/* redelivered: nothing */
	T_INTEQ(write_one(db, stage_finding("px-1", "p-exec", "ResponseStarted",
	    "2026-01-31T23:59:59.900Z"), "2026-01-31T23:59:59.500Z", NULL), 0);
	s = pgtest_str("SELECT string_agg(audit_id || ' ' || stage || ' ' ||"
	    " (SELECT relname FROM pg_class c WHERE c.oid = f.tableoid), ', '"
	    " ORDER BY audit_id) FROM kaudit.findings f WHERE rule = 'p-exec'");
	T_STREQ(s, "px-1 ResponseStarted findings_2026_01, "
	    "px-2 ResponseStarted findings_2026_01");
	free(s);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
	    " ON f.id = o.finding_id WHERE f.rule = 'p-exec'"), 2);
	/* a stateful finding: one per (rule, dedup), whatever its time */
	T_INTEQ(write_one(db, stage_finding("ps-1", "p-corr", "ResponseComplete",
	    "2026-03-01T10:00:00Z"), NULL, "w1|alice"), 1);
	T_INTEQ(write_one(db, stage_finding("ps-2", "p-corr", "ResponseComplete",
	    "2026-04-01T10:00:00Z"), NULL, "w1|alice"), 0);
	T_INTEQ(write_one(db, stage_finding("ps-3", "p-corr", "ResponseComplete",
	    "2026-04-01T10:00:00Z"), NULL, "w2|alice"), 1);
	/* an old event gets its month made on demand; a far-future or missing
	 * time is stored in the month it was stored in */
	T_INTEQ(write_one(db, stage_finding("po-1", "p-old", "ResponseComplete",
	    "2019-03-05T10:00:00+02:00"), NULL, NULL), 1);
	T_INTEQ(write_one(db, stage_finding("po-2", "p-old", "ResponseComplete",
	    "9999-12-31T23:59:59Z"), NULL, NULL), 1);
	T_INTEQ(write_one(db, stage_finding("po-3", "p-old", "ResponseComplete", NULL),
	    NULL, NULL), 1);
	s = pgtest_str("SELECT string_agg(audit_id || ' ' || ((SELECT relname FROM pg_class c"
	    " WHERE c.oid = f.tableoid) = kaudit.partition_name('findings', now()))::text, ', '"
	    " ORDER BY audit_id) FROM kaudit.findings f WHERE rule = 'p-old'");
	T_STREQ(s, "po-1 false, po-2 true, po-3 true");
	free(s);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings_2019_03"), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.partitions WHERE partition_name"
	    " LIKE 'findings_9999%'"), 0);
	/* Retention, dry run: what would go, nothing gone. The findings'
	 * event (a lease renewal of 2019-01-02) is archived in its own month,
	 * which is made for every partitioned table: findings_2019_01 is empty. */
	T_INTEQ(db_retention(db, "findings", 400LL * 86400, 1, &r, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 2);
	if (n == 2) {
		T_STREQ(r[0].partition, "findings_2019_01");
		T_INTEQ(r[0].rows, 0);
		T_STREQ(r[1].partition, "findings_2019_03");
		T_STREQ(r[1].from, "2019-03-01T00:00:00Z");
		T_STREQ(r[1].to, "2019-04-01T00:00:00Z");
		T_INTEQ(r[1].rows, 1);
	}
	db_retention_free(r, n);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE rule = 'p-old'"), 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings_2019_03 f"
	    " ON f.id = o.finding_id"), 1);
	pgtest_exec(pgtest_conn, "INSERT INTO kaudit.delivery_attempts (outbox_id, http_status)"
	    " SELECT o.id, 500 FROM kaudit.outbox o JOIN kaudit.findings_2019_03 f"
	    " ON f.id = o.finding_id");
	pgtest_exec(pgtest_conn, "INSERT INTO kaudit.finding_history (finding_id, status, actor,"
	    " reason) SELECT id, 'acknowledged', 'test', 'old' FROM kaudit.findings"
	    " WHERE rule = 'p-old'");
	/* For real, from another connection (the daemon's upkeep): the month
	 * goes with its outbox rows, attempts, history and keys. */
	db2 = db_connect(url, err, sizeof(err));
	T_ASSERT(db2 != NULL);
	if (db2 != NULL) {
		T_INTEQ(db_retention(db2, "findings", 400LL * 86400, 0, &r, &n, err,
		    sizeof(err)), 0);
		T_INTEQ(n, 2);
		db_retention_free(r, n);
		db_close(db2);
	}
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.partitions WHERE partition_name ="
	    " 'findings_2019_03'"), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE rule = 'p-old'"), 2);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o WHERE finding_id IS NOT NULL"
	    " AND NOT EXISTS (SELECT 1 FROM kaudit.findings f WHERE f.id = o.finding_id)"), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.delivery_attempts"), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.finding_history h WHERE NOT EXISTS"
	    " (SELECT 1 FROM kaudit.findings f WHERE f.id = h.finding_id)"), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.finding_history"), 2);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.finding_keys k WHERE NOT EXISTS"
	    " (SELECT 1 FROM kaudit.findings f WHERE f.id = k.finding_id)"), 0);
	/* The month comes back for an event of it written after the drop (this
	 * connection remembered it: the write fails for want of a partition,
	 * forgets and makes it, and nothing is dead-lettered). */
	T_INTEQ(write_one(db, stage_finding("po-1", "p-old", "ResponseComplete",
	    "2019-03-05T10:00:00+02:00"), NULL, NULL), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings_2019_03"), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.dead_letters"), 0);
	/* Deleting findings by hand takes their outbox rows and keys along. */
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings WHERE rule = 'p-old'");
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o WHERE finding_id IS NOT NULL"
	    " AND NOT EXISTS (SELECT 1 FROM kaudit.findings f WHERE f.id = o.finding_id)"), 0);
	T_INTEQ(write_one(db, stage_finding("po-3", "p-old", "ResponseComplete", NULL),
	    NULL, NULL), 1);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings WHERE rule LIKE 'p-%'");
	db_close(db);
}

static struct db_event
archived(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	static char t[8][64], rt[8][64], ip[8][64];
	static int k;
	const char *s;
	struct db_event v = { text, strlen(text), NULL, NULL, NULL, "c1", NULL, 0, 0 };

	k = (k + 1) % 8;
	if ((s = json_string_value(json_object_get(j, "stageTimestamp"))) != NULL)
		v.time = strcpy(t[k], s);
	if ((s = json_string_value(json_object_get(j, "requestReceivedTimestamp"))) != NULL)
		v.received = strcpy(rt[k], s);
	if ((s = json_string_value(json_array_get(json_object_get(j, "sourceIPs"), 0))) != NULL)
		v.source_ip = strcpy(ip[k], s);
	json_decref(j);
	return v;
}

static void	expect(const char *sql, const char *want);

/* The event archive: written in the findings' transaction, one row per
 * (audit_id, stage), both stages of an exec two rows, a redelivery nothing,
 * columns extracted, a refused event kept as a dead letter. */
static void
test_archive(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	const char *ev[] = {
		"{\"kind\":\"Event\",\"auditID\":\"ar-1\",\"stage\":\"ResponseStarted\","
		"\"verb\":\"create\",\"user\":{\"username\":\"alice\",\"groups\":[\"dev\",\"x\"]},"
		"\"sourceIPs\":[\"10.0.0.7\"],\"userAgent\":\"kubectl/v1.30.1\","
		"\"objectRef\":{\"resource\":\"pods\",\"subresource\":\"exec\",\"namespace\":\"prod\","
		"\"name\":\"web-0\"},\"responseStatus\":{\"code\":101},"
		"\"requestReceivedTimestamp\":\"2026-01-31T23:59:59.500000Z\","
		"\"stageTimestamp\":\"2026-01-31T23:59:59.900000Z\","
		"\"annotations\":{\"authorization.k8s.io/decision\":\"allow\"}}",
		"{\"kind\":\"Event\",\"auditID\":\"ar-1\",\"stage\":\"ResponseComplete\","
		"\"verb\":\"create\",\"user\":{\"username\":\"alice\"},"
		"\"objectRef\":{\"resource\":\"pods\",\"subresource\":\"exec\",\"namespace\":\"prod\","
		"\"name\":\"web-0\"},\"responseStatus\":{\"code\":101},"
		"\"requestReceivedTimestamp\":\"2026-01-31T23:59:59.500000Z\","
		"\"stageTimestamp\":\"2026-02-01T00:00:03.000000Z\"}",
		/* no time at all: placed by the clock, still once */
		"{\"kind\":\"Event\",\"auditID\":\"ar-2\",\"stage\":\"ResponseComplete\","
		"\"verb\":\"delete\",\"user\":{\"username\":\"bob\"},\"sourceIPs\":[\"not-an-ip\"],"
		"\"responseStatus\":{\"code\":\"403\"},\"stageTimestamp\":\"yesterday\"}",
	};
	static const char ev5[] = "{\"kind\":\"Event\",\"auditID\":\"ar-5\","
	    "\"stage\":\"ResponseComplete\",\"verb\":\"patch\","
	    "\"stageTimestamp\":\"2026-01-15T10:00:00Z\",\"sourceIPs\":[\"10.0.0.9\"]}";
	struct db_event v[4];
	struct db_finding fs[2];
	json_t *f2 = NULL, *f = stage_finding("ar-1", "ar-exec", "ResponseStarted",
	    "2026-01-31T23:59:59.900000Z");
	struct db_finding df = { f, ev[0], strlen(ev[0]), hooks1, 1, NULL, 0, 0, NULL, NULL,
	    "2026-01-31T23:59:59.500000Z", 0 };
	struct db_batch_in in = { &df, 1, v, 3, NULL, 0, NULL, NULL };
	struct db_batch_out out;
	char *s;

	T_ASSERT(db != NULL);
	if (db == NULL) {
		json_decref(f);
		return;
	}
	for (int i = 0; i < 3; i++)
		v[i] = archived(ev[i]);
	T_INTEQ(db_write(db, &in, &out, err, sizeof(err)), 0);
	T_INTEQ(out.inserted, 1);
	T_INTEQ(out.archived, 3);
	s = pgtest_str("SELECT string_agg(concat_ws(' ', audit_id, stage, verb, username,"
	    " array_to_string(groups, '+'), source_ip, user_agent, resource, subresource,"
	    " namespace, name, code, decision, cluster, (SELECT relname FROM pg_class c"
	    " WHERE c.oid = e.tableoid)), ' | ' ORDER BY audit_id, stage) FROM kaudit.events e"
	    " WHERE audit_id LIKE 'ar-%'");
	T_STREQ(s, "ar-1 ResponseComplete create alice pods exec prod web-0 101 c1 events_2026_01 | "
	    "ar-1 ResponseStarted create alice dev+x 10.0.0.7 kubectl/v1.30.1 pods exec prod"
	    " web-0 101 allow c1 events_2026_01 | "
	    "ar-2 ResponseComplete delete bob c1 "
	    "events_2026_12");
	free(s);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.events WHERE \"time\" IS NULL"
	    " AND partition_time > now() - interval '1 hour'"), 1);
	/* redelivered, even the undated event: nothing */
	T_INTEQ(db_write(db, &in, &out, err, sizeof(err)), 0);
	T_INTEQ(out.inserted, 0);
	T_INTEQ(out.archived, 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.events WHERE audit_id LIKE 'ar-%'"), 3);
	/* the finding's row holds no event: its readers take the archived one,
	 * found through the archive's identity index */
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings f WHERE rule = 'ar-exec'"
	    " AND event IS NULL AND kaudit.finding_event(f)->>'stage' = 'ResponseStarted'"
	    " AND kaudit.finding_event(f)->'user'->>'username' = 'alice'"), 1);
	/* an event PostgreSQL refuses (text that is not JSON): kept as a dead
	 * letter, the rest of the batch stored */
	v[0] = archived(ev[0]);
	v[0].json = "{\"kind\":\"Event\",\"auditID\":\"ar-4\",\"stage\":\"ResponseComplete\"}";
	v[0].len = strlen(v[0].json);
	v[1] = (struct db_event){ "{\"auditID\":\"ar-3\",", 17, NULL, NULL, NULL, "c1",
	    "k8s-audit", 3, 9 };
	in.nf = 0;
	in.nev = 2;
	T_INTEQ(db_write(db, &in, &out, err, sizeof(err)), 0);
	T_INTEQ(out.archived, 1);
	T_INTEQ(out.dead, 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.dead_letters WHERE kind = 'event'"
	    " AND topic = 'k8s-audit' AND \"offset\" = 9"), 1);
	/* a finding whose event archive.when passed over: archived all the
	 * same, once for its two findings, with the event's own time and
	 * address (a correlation's finding has a time of its own) */
	json_decref(f);
	f = stage_finding("ar-5", "ar-exec", "ResponseComplete", "2026-01-15T11:00:00Z");
	json_object_set_new(f, "source_ip", json_string("10.0.0.1"));
	fs[0] = (struct db_finding){ f, ev5, strlen(ev5), hooks1, 1, NULL, 0, 0, NULL, NULL,
	    NULL, 0 };
	fs[1] = fs[0];
	fs[1].finding = f2 = json_deep_copy(f);
	json_object_set_new(f2, "rule", json_string("ar-exec-2"));
	in.f = fs;
	in.nf = 2;
	in.nev = 0;
	T_INTEQ(db_write(db, &in, &out, err, sizeof(err)), 0);
	T_INTEQ(out.inserted, 2);
	T_INTEQ(out.archived, 1);
	expect("SELECT concat_ws(' ', stage, \"time\" AT TIME ZONE 'UTC', host(source_ip), verb)"
	    " FROM kaudit.events WHERE audit_id = 'ar-5'",
	    "ResponseComplete 2026-01-15 10:00:00 10.0.0.9 patch");
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings f WHERE audit_id = 'ar-5'"
	    " AND event IS NULL AND kaudit.finding_event(f)->>'verb' = 'patch'"), 2);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.events; DELETE FROM kaudit.dead_letters;"
	    " DELETE FROM kaudit.findings WHERE rule LIKE 'ar-exec%'");
	json_decref(f);
	json_decref(f2);
	db_close(db);
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
		df[i].topic = NULL;
		df[i].partition = 0;
		df[i].offset = 0;
		df[i].dedup = NULL;
		df[i].groups = NULL;
		df[i].received = NULL;
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
	T_INTEQ(db_write_batch(db, df, 3, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings"), 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox"), 4);
	/* Redelivered: nothing new, no new outbox rows. */
	T_INTEQ(db_write_batch(db, df, 3, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
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
	T_INTEQ(db_write_batch(db, df + 1, 2, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
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
#define COLUMN_SQL "SELECT %s FROM kaudit.findings f WHERE rule = 'lease-update'" \
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
		/* the event is in the archive, not in the finding row */
		{ "coalesce(event::text, 'null')", "null" },
		{ "kaudit.finding_event(f)->'objectRef'->>'resourceVersion'", "17652814" },
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
	struct db_finding df = { f, event_text[0], strlen(event_text[0]), hooks1, 1,
	    NULL, 0, 0, NULL, NULL, NULL, 0 };
	size_t ins = 0;

	json_object_set_new(f, "time", json_string("2019-02-30T10:00:00Z"));
	json_object_set_new(f, "source_ip", json_string("not-an-ip"));
	json_object_set_new(f, "code", json_string("abc"));
	json_object_set_new(f, "tags", json_string("not-an-array"));
	json_object_set_new(f, "message", json_stringn("nul\0byte", 8));
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
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
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	expect("SELECT host(source_ip) || ' ' || severity_rank || ' ' || to_char(\"time\""
	    " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') FROM kaudit.findings"
	    " WHERE rule = 'ipv6'", "2001:db8::1 4 2024-02-29 21:30:00.500");
	json_decref(f);
	db_close(db);
}

/* jsonb refuses \u0000 and invalid UTF-8 is refused as text: both are
 * cleaned. Text that jsonb still refuses puts the archive row of its event
 * in dead_letters; its finding, which no longer parses the event, and the
 * batch-mates are stored. None of them blocks the batch. */
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
	size_t ins = 0, dead = 0;

	for (int i = 0; i < 4; i++) {
		snprintf(rule, sizeof(rule), "nul-%d", i);
		f[i] = finding_for(events[0], rule, "medium");
		df[i] = (struct db_finding){ f[i], texts[i], strlen(texts[i]), hooks1, 1,
		    NULL, 0, 0, NULL, NULL, NULL, 0 };
	}
	T_INTEQ(db_write_batch(db, df, 4, NULL, 0, &ins, &dead, err, sizeof(err)), 0);
	T_INTEQ(ins, 4);
	T_INTEQ(dead, 1);
	expect("SELECT event->>'verb' FROM kaudit.events WHERE audit_id = 'n1'", "get\xef\xbf\xbdx");
	/* An escaped backslash followed by u0000 is text, not a NUL escape. */
	expect("SELECT event->>'ok' FROM kaudit.events WHERE audit_id = 'n1'", "a\\u0000b");
	expect("SELECT event->>'verb' FROM kaudit.events WHERE audit_id = 'n2'", "g\xef\xbf\xbd\xef\xbf\xbd");
	expect("SELECT event->>'verb' FROM kaudit.events WHERE audit_id = 'n3'", "\xef\xbf\xbd");
	expect("SELECT sqlstate || ' ' || convert_from(event, 'UTF8') FROM kaudit.dead_letters"
	    " WHERE kind = 'event' AND convert_from(event, 'UTF8') LIKE '%n4%'",
	    "22P02 {\"auditID\":\"n4\",");
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE rule = 'nul-3'"), 1);
	T_ASSERT(log_count("db.isolate") >= 1);
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
	df = (struct db_finding){ found, text, strlen(text), hooks1, 1, NULL, 0, 0, NULL, NULL, NULL, 0 };
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	/* the finding's columns, the finding's JSON and the stored event agree
	 * with what the rules saw */
	snprintf(sql, sizeof(sql), "SELECT verb || '|' || (kaudit.finding_event(f)->>'verb')"
	    " || '|' || (finding->>'verb') FROM kaudit.findings f WHERE audit_id = 'amb-1'");
	expect(sql, "delete|delete|delete");
	snprintf(sql, sizeof(sql), "SELECT name FROM kaudit.findings f WHERE audit_id = 'amb-1'"
	    " AND name = kaudit.finding_event(f)->'objectRef'->>'name' AND name = finding->>'name'");
	expect(sql, seen_name);
	expect("SELECT (kaudit.finding_event(f)->'requestObject'->'spec'->>'replicas') || '|' ||"
	    " message FROM kaudit.findings f WHERE audit_id = 'amb-1'",
	    "0|delete web\xef\xbf\xbd-\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd 0");
	expect("SELECT jsonb_typeof(kaudit.finding_event(f)) FROM kaudit.findings f"
	    " WHERE audit_id = 'amb-1'", "object");
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

/* An event without an auditID: the finding's audit ID is made from the
 * event's text (analyze/finding.c) and the archive row of the event gets the
 * same, so the finding reads its event; two such events stay two rows. */
static void
test_event_without_audit_id(void)
{
	static const char rule[] =
	    "- rule: t.noid\n"
	    "  title: t\n"
	    "  description: t\n"
	    "  condition: verb = \"delete\" and objectRef.resource = \"secrets\"\n"
	    "  output: \"%{objectRef.name}\"\n"
	    "  severity: medium\n"
	    "  category: evasion\n";
	static const char *const text[2] = {
	    "{\"kind\":\"Event\",\"stage\":\"ResponseComplete\",\"verb\":\"delete\","
	    "\"objectRef\":{\"resource\":\"secrets\",\"name\":\"noid-1\"}}",
	    "{\"kind\":\"Event\",\"stage\":\"ResponseComplete\",\"verb\":\"delete\","
	    "\"auditID\":\"\",\"objectRef\":{\"resource\":\"secrets\",\"name\":\"noid-2\"}}" };
	struct rule_source src = { "t.yaml", rule, sizeof(rule) - 1 };
	struct db *db = db_connect(url, err, sizeof(err));
	struct ruleset *rs;
	struct eval_scratch *sc;
	struct db_finding df[2];
	json_t *found[2] = { NULL, NULL };
	struct tev t[2];
	struct buf errs;
	size_t ins = 0;

	buf_init(&errs);
	rs = ruleset_compile(&src, 1, NULL, &errs);
	T_ASSERT(rs != NULL && db != NULL);
	if (rs == NULL || db == NULL)
		goto out;
	sc = eval_scratch_new(rs);
	for (int i = 0; i < 2; i++) {
		tev_load(&t[i], text[i]);
		T_INTEQ(ruleset_eval(rs, &t[i].ev, sc, keep_finding, &found[i]), 1);
		df[i] = (struct db_finding){ found[i], text[i], strlen(text[i]), hooks1, 1,
		    NULL, 0, 0, NULL, NULL, NULL, 0 };
	}
	eval_scratch_free(sc);
	if (found[0] != NULL && found[1] != NULL) {
		T_INTEQ(db_write_batch(db, df, 2, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
		T_INTEQ(ins, 2);
		expect("SELECT string_agg(e.name || ' ' || (e.audit_id = f.audit_id) || ' ' ||"
		    " (kaudit.finding_event(f)->'objectRef'->>'name'), ', ' ORDER BY e.name)"
		    " FROM kaudit.findings f JOIN kaudit.events e ON e.audit_id = f.audit_id"
		    " WHERE f.rule = 't.noid' AND f.audit_id LIKE 'kaudit-%'",
		    "noid-1 true noid-1, noid-2 true noid-2");
	}
	for (int i = 0; i < 2; i++) {
		json_decref(found[i]);
		jdoc_free(&t[i].d);
	}
out:
	ruleset_free(rs);
	db_close(db);
	buf_free(&errs);
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
	T_INTEQ(db_write_batch(db, NULL, 0, e, 2, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 0);
	T_INTEQ(db_write_batch(db, NULL, 0, e, 2, &ins, NULL, err, sizeof(err)), 0);
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
	struct db_finding df = { f, event_text[2], strlen(event_text[2]), hooks1, 1,
	    NULL, 0, 0, NULL, NULL, NULL, 0 };
	char sql[256];
	size_t ins = 0;

	T_INTEQ(db_write_batch(db, NULL, 0, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE datname = '%s' AND application_name = 'kaudit'", pgtest_name);
	pgtest_exec(pgtest_admin, sql);
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), -1);
	T_ASSERT(strlen(err) > 0);
	T_INTEQ(db_ok(db), 1);
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	json_decref(f);
	db_close(db);
}

/* A scratch database of its own, migrated, that a test may break; while it
 * is open pgtest_str() and friends query it. */
struct scratch {
	char		 name[96];
	char		*url;
	PGconn		*conn, *saved;
	struct db	*db;
};

static int
scratch_open(struct scratch *sc, const char *tag)
{
	char sql[200];

	memset(sc, 0, sizeof(*sc));
	snprintf(sc->name, sizeof(sc->name), "%s_%s", pgtest_name, tag);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", sc->name);
	pgtest_exec(pgtest_admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", sc->name);
	if (pgtest_exec(pgtest_admin, sql) == -1)
		return -1;
	sc->url = pgtest_url_for(getenv("KAUDIT_PG_URL"), sc->name);
	sc->conn = PQconnectdb(sc->url);
	PQsetNoticeProcessor(sc->conn, pgtest_quiet, NULL);
	sc->saved = pgtest_conn;
	pgtest_conn = sc->conn;
	if ((sc->db = db_connect(sc->url, err, sizeof(err))) == NULL ||
	    db_migrate(sc->db, err, sizeof(err)) != 0) {
		printf("  scratch %s: %s\n", sc->name, err);
		return -1;
	}
	return 0;
}

static void
scratch_close(struct scratch *sc)
{
	char sql[200];

	db_close(sc->db);
	PQfinish(sc->conn);
	if (sc->saved != NULL)
		pgtest_conn = sc->saved;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", sc->name);
	pgtest_exec(pgtest_admin, sql);
	free(sc->url);
}

/* n characters of base64 over pseudo-random bytes: text that does not
 * compress, unlike a run of one letter. */
static char *
random_text(size_t n, uint32_t seed)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *s = malloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		s[i] = b64[seed & 63];
	}
	s[n] = '\0';
	return s;
}

static char *
repeated(size_t n, char c)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* An event holding a number jsonb refuses (more digits than numeric has)
 * while JSON, and kaudit's tokenizer, accept it. */
static char *
event_with_huge_number(void)
{
	size_t n = strlen(event_text[0]) + 32;
	char *s = malloc(n);

	snprintf(s, n, "{\"x\":1e1000000,%s", event_text[0] + 1);
	return s;
}

/* A hostile value in one field of a finding (or, for "event", the event
 * text, which goes to the archive: a refusal dead-letters the archive row
 * and the finding is stored). dead_shipped / dead_strict: whether
 * PostgreSQL refuses the row with
 * the schema as shipped, and with the operator's strict additions that
 * test_hostile_strict makes; state is the SQLSTATE of the refusal. */
struct hostile {
	const char	*field;
	char		*value;
	int		 dead_shipped, dead_strict;
	const char	*state;
};

static struct hostile *
hostile_cases(size_t *n)
{
	static const char *times[] = {
		"2024-+1-01T00:00:00Z", "2024-01-+1T00:00:00Z", "+024-01-01T00:00:00Z",
		"2024-01- 1T00:00:00Z", "0000-01-01T00:00:00Z", "2024-01-01T00:00:00+16:00",
	};
	static const char *states[] = { "22007", "22007", "22009", "22007", "22008", "22009" };
	struct hostile *h = calloc(32, sizeof(*h));
	size_t k = 0;
	char frac[256];

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		h[k++] = (struct hostile){ "time", strdup(times[i]), 0, 1, states[i] };
	/* PostgreSQL accepts a leading space; RFC 3339 does not: NULL time. */
	h[k++] = (struct hostile){ "time", strdup(" 2024-01-01T00:00:00Z"), 0, 0, NULL };
	/* Over 128 characters PostgreSQL refuses any time. */
	snprintf(frac, sizeof(frac), "2024-01-01T00:00:00.%0200dZ", 1);
	h[k++] = (struct hostile){ "time", strdup(frac), 0, 1, "22007" };
	h[k++] = (struct hostile){ "audit_id", random_text(3000, 1), 0, 1, "54000" };
	h[k++] = (struct hostile){ "audit_id", random_text(8000, 2), 0, 1, "54000" };
	h[k++] = (struct hostile){ "user", random_text(5000, 3), 0, 1, "54000" };
	h[k++] = (struct hostile){ "namespace", random_text(4000, 4), 0, 1, "54000" };
	h[k++] = (struct hostile){ "rule", random_text(6000, 5), 0, 1, "54000" };
	/* 8 KB of one letter compresses under the index limit: stored. */
	h[k++] = (struct hostile){ "user", repeated(8192, 'a'), 0, 0, NULL };
	h[k++] = (struct hostile){ "event", event_with_huge_number(), 1, 1, "22003" };
	*n = k;
	return h;
}

static void
hostile_free(struct hostile *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].value);
	free(h);
}

/* The finding of case i, marked by its message; the hostile one is high. */
static json_t *
case_finding(int ev, size_t i, const char *role, const char *severity)
{
	char rule[64], msg[32];
	json_t *f;

	snprintf(rule, sizeof(rule), "hostile-%zu-%s", i, role);
	snprintf(msg, sizeof(msg), "case-%zu", i);
	f = finding_for(events[ev], rule, severity);
	json_object_set_new(f, "message", json_string(msg));
	return f;
}

/* Case i between two good findings: the good ones are stored, the hostile
 * one is stored or dead-lettered as the case says, and writing the batch
 * again adds nothing. */
static void
hostile_batch(struct db *db, const struct hostile *h, size_t i, int strict)
{
	int dead = strict ? h->dead_strict : h->dead_shipped;
	int event = strcmp(h->field, "event") == 0, fdead = dead && !event;
	json_t *f[3] = { case_finding(0, i, "a", "low"), case_finding(2, i, "bad", "high"),
	    case_finding(1, i, "b", "low") };
	struct db_finding df[3];
	size_t ins = 99, nd = 99;
	long before = pgtest_long("SELECT count(*) FROM kaudit.dead_letters");
	int failed = t_failed_checks;
	char *got, want[96];

	if (strcmp(h->field, "event") != 0)
		json_object_set_new(f[1], h->field, json_string(h->value));
	make_batch(df, f, 3);
	if (strcmp(h->field, "event") == 0) {
		df[1].event_json = h->value;
		df[1].event_len = strlen(h->value);
	}
	df[1].topic = "k8s-audit";
	df[1].partition = 7;
	df[1].offset = (int64_t)i;
	T_INTEQ(db_write_batch(db, df, 3, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	T_INTEQ(ins, fdead ? 2 : 3);
	T_INTEQ(nd, dead);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.findings WHERE message = 'case-%zu'"
	    " AND severity = 'low'", i), 2);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.findings WHERE message = 'case-%zu'"
	    " AND severity = 'high'", i), !fdead);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.dead_letters") - before, dead);
	if (dead) {
		got = pgtest_strf("SELECT sqlstate || ' ' || (error <> '') || ' ' || topic"
		    " || ' ' || partition || ' ' || \"offset\" || ' ' || kind FROM"
		    " kaudit.dead_letters ORDER BY id DESC LIMIT 1");
		snprintf(want, sizeof(want), "%s true k8s-audit 7 %zu %s", h->state, i,
		    event ? "event" : "finding");
		T_STREQ(got, want);
		free(got);
		/* The row is kept whole: the hostile value is in it. */
		if (strcmp(h->field, "event") == 0)
			T_INTEQ(pgtest_long("SELECT length(event) FROM kaudit.dead_letters"
			    " ORDER BY id DESC LIMIT 1"), strlen(h->value));
		else
			T_INTEQ(pgtest_longf("SELECT length(convert_from(item, 'UTF8')::jsonb->>'%s')"
			    " FROM kaudit.dead_letters ORDER BY id DESC LIMIT 1", h->field),
			    strlen(h->value));
	} else if (strcmp(h->field, "time") == 0) {
		T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.findings WHERE message ="
		    " 'case-%zu' AND severity = 'high' AND \"time\" IS NULL", i), 1);
	} else if (strcmp(h->field, "event") != 0) {
		T_INTEQ(pgtest_longf("SELECT length(%s) FROM kaudit.findings WHERE message ="
		    " 'case-%zu' AND severity = 'high'", strcmp(h->field, "user") == 0 ?
		    "username" : h->field, i), strlen(h->value));
	}
	/* Redelivered: no new finding, no new dead letter. */
	T_INTEQ(db_write_batch(db, df, 3, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	T_INTEQ(ins, 0);
	T_INTEQ(nd, 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.dead_letters") - before, dead);
	if (t_failed_checks > failed)
		printf("    case %zu: %s = %.40s... (%zu bytes)%s\n", i, h->field, h->value,
		    strlen(h->value), strict ? ", strict schema" : "");
	for (int k = 0; k < 3; k++)
		json_decref(f[k]);
}

/* The schema as shipped stores every hostile value (long text is indexed
 * by digest or prefix, a time PostgreSQL would refuse is NULL) except an
 * event jsonb refuses, whose archive row is dead-lettered. */
static void
test_hostile_values(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	size_t n;
	struct hostile *h = hostile_cases(&n);

	for (size_t i = 0; i < n; i++)
		hostile_batch(db, &h[i], i, 0);
	/* The finding of the 3000-character audit ID has one identity. */
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE length(audit_id) = 3000"), 1);
	hostile_free(h, n);
	db_close(db);
}

/* An operator's own additions make PostgreSQL refuse what kaudit's checks
 * let through: a CHECK that casts the raw time of the finding, and plain
 * btree indexes on free text. Each refused row lands in dead_letters alone
 * (even in a batch of its own, or a batch of only refused rows) while its
 * batch-mates are stored. */
static void
test_hostile_strict(void)
{
	struct scratch sc;
	struct hostile *h;
	size_t n, ins = 0, nd = 0;
	json_t *f[2];
	struct db_finding df[2];

	if (scratch_open(&sc, "strict") == -1) {
		T_ASSERT(0);
		scratch_close(&sc);
		return;
	}
	T_INTEQ(pgtest_exec(sc.conn, "ALTER TABLE kaudit.findings ADD CONSTRAINT strict_time"
	    " CHECK (finding->>'time' IS NULL OR (finding->>'time')::timestamptz IS NOT NULL);"
	    "CREATE INDEX raw_audit_id ON kaudit.findings (audit_id);"
	    "CREATE INDEX raw_username ON kaudit.findings (username);"
	    "CREATE INDEX raw_namespace ON kaudit.findings (namespace);"
	    "CREATE INDEX raw_rule ON kaudit.findings (rule)"), 0);
	h = hostile_cases(&n);
	for (size_t i = 0; i < n; i++)
		hostile_batch(sc.db, &h[i], i, 1);
	/* Alone in its batch: the probe row shows the database takes rows. */
	f[0] = finding_for(events[0], "alone", "high");
	json_object_set_new(f[0], "time", json_string(h[0].value));
	f[1] = finding_for(events[1], "alone-too", "high");
	json_object_set_new(f[1], "audit_id", json_string(h[9].value));
	make_batch(df, f, 2);
	T_INTEQ(db_write_batch(sc.db, df, 1, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	T_INTEQ(ins, 0);
	T_INTEQ(nd, 1);
	T_INTEQ(db_write_batch(sc.db, df, 2, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	T_INTEQ(ins, 0);
	T_INTEQ(nd, 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.dead_letters WHERE rule LIKE 'alone%'"), 2);
	json_decref(f[0]);
	json_decref(f[1]);
	hostile_free(h, n);
	scratch_close(&sc);
}

static long
count_dead(void)
{
	return pgtest_long("SELECT count(*) FROM kaudit.dead_letters");
}

/* Database trouble is retried (-1), never dead-lettered: a trigger that
 * refuses every row with a data error (the probe is refused too, and a
 * batch-mate skipped as a duplicate is no proof that rows get in), a refusal
 * like a missing partition's (23514 without a constraint), a dropped table. */
static void
test_trouble(void)
{
	struct scratch sc;
	json_t *f[2];
	struct db_finding df[2];
	size_t ins = 0, nd = 0;

	if (scratch_open(&sc, "trouble") == -1) {
		T_ASSERT(0);
		scratch_close(&sc);
		return;
	}
	/* Stored before the trouble: a duplicate later, which proves nothing. */
	f[0] = finding_for(events[2], "stored-before", "low");
	make_batch(df, f, 1);
	T_INTEQ(db_write_batch(sc.db, df, 1, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	f[1] = finding_for(events[0], "trouble-a", "low");
	make_batch(df, f, 2);
	pgtest_exec(sc.conn, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
	    " $$BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END$$;"
	    "CREATE TRIGGER refuse BEFORE INSERT ON kaudit.findings FOR EACH ROW"
	    " EXECUTE FUNCTION refuse()");
	T_INTEQ(db_write_batch(sc.db, df, 2, NULL, 0, &ins, &nd, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "refuses every row") != NULL);
	T_INTEQ(db_write_batch(sc.db, df + 1, 1, NULL, 0, &ins, &nd, err, sizeof(err)), -1);
	T_INTEQ(count_dead(), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings"), 1);
	json_decref(f[0]);
	f[0] = f[1];
	f[1] = finding_for(events[1], "future", "low");
	make_batch(df, f, 2);
	pgtest_exec(sc.conn, "DROP TRIGGER refuse ON kaudit.findings;"
	    "CREATE FUNCTION no_partition() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
	    " IF NEW.rule = 'future' THEN RAISE EXCEPTION 'no partition of relation"
	    " \"findings\" found for row' USING ERRCODE = 'check_violation'; END IF;"
	    " RETURN NEW; END$$;"
	    "CREATE TRIGGER no_partition BEFORE INSERT ON kaudit.findings FOR EACH ROW"
	    " EXECUTE FUNCTION no_partition()");
	T_INTEQ(db_write_batch(sc.db, df, 2, NULL, 0, &ins, &nd, err, sizeof(err)), -1);
	T_INTEQ(count_dead(), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings"), 1);
	/* The partition is there now: the same batch goes through whole. */
	pgtest_exec(sc.conn, "DROP TRIGGER no_partition ON kaudit.findings");
	T_INTEQ(db_write_batch(sc.db, df, 2, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	T_INTEQ(ins, 2);
	T_INTEQ(nd, 0);
	json_object_set_new(f[0], "rule", json_string("trouble-b"));
	pgtest_exec(sc.conn, "DROP TABLE kaudit.findings CASCADE");
	T_INTEQ(db_write_batch(sc.db, df, 2, NULL, 0, &ins, &nd, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "does not exist") != NULL);
	T_INTEQ(count_dead(), 0);
	json_decref(f[0]);
	json_decref(f[1]);
	scratch_close(&sc);
}

/* The connection dies while refused rows are being isolated: -1 and nothing
 * written; after a reconnect the same batch commits, the refused row in
 * dead_letters. The trigger kills its own backend on the second insert of
 * the row "kill-me" (a sequence survives the rollback). */
static void
test_kill_isolating(void)
{
	struct scratch sc;
	json_t *f[3];
	struct db_finding df[3];
	size_t ins = 0, nd = 0;

	if (scratch_open(&sc, "kill") == -1) {
		T_ASSERT(0);
		scratch_close(&sc);
		return;
	}
	pgtest_exec(sc.conn, "ALTER TABLE kaudit.findings ADD CONSTRAINT strict_time"
	    " CHECK (finding->>'time' IS NULL OR (finding->>'time')::timestamptz IS NOT NULL);"
	    "CREATE SEQUENCE kill_seq;"
	    "CREATE FUNCTION kill() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN"
	    " IF NEW.rule = 'kill-me' AND nextval('kill_seq') = 2 THEN"
	    "  PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF;"
	    " RETURN NEW; END$$;"
	    "CREATE TRIGGER kill BEFORE INSERT ON kaudit.findings FOR EACH ROW"
	    " EXECUTE FUNCTION kill()");
	f[0] = finding_for(events[0], "kill-me", "low");
	f[1] = finding_for(events[1], "refused", "low");
	json_object_set_new(f[1], "time", json_string("2024-+1-01T00:00:00Z"));
	f[2] = finding_for(events[2], "good", "low");
	make_batch(df, f, 3);
	T_INTEQ(db_write_batch(sc.db, df, 3, NULL, 0, &ins, &nd, err, sizeof(err)), -1);
	T_INTEQ(pgtest_long("SELECT last_value FROM kill_seq"), 2);
	T_INTEQ(count_dead(), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings"), 0);
	T_INTEQ(db_ok(sc.db), 1);
	T_INTEQ(db_write_batch(sc.db, df, 3, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	T_INTEQ(ins, 2);
	T_INTEQ(nd, 1);
	expect("SELECT string_agg(rule, ',' ORDER BY rule) FROM kaudit.findings", "good,kill-me");
	expect("SELECT rule || ' ' || sqlstate FROM kaudit.dead_letters", "refused 22007");
	for (int i = 0; i < 3; i++)
		json_decref(f[i]);
	scratch_close(&sc);
}

/* A database made by the first migration, with a finding in it, moves to
 * the second: the finding keeps its identity, and the forensic query and
 * the views of the README still run. */
static void
test_upgrade(void)
{
	struct scratch sc;
	size_t len, ins = 9;
	char *v1 = t_slurp("schema/migrations/0001_init.sql", &len);
	json_t *f = finding_for(events[0], "upgraded", "high");
	struct db_finding df = { f, event_text[0], strlen(event_text[0]), hooks1, 1,
	    NULL, 0, 0, NULL, NULL, NULL, 0 };

	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "%s_v1", pgtest_name);
	T_ASSERT(v1 != NULL);
	if (v1 == NULL || scratch_open(&sc, "v1") == -1) {
		free(v1);
		json_decref(f);
		scratch_close(&sc);
		return;
	}
	/* Back to version 1: only the first migration, and one finding. */
	T_INTEQ(pgtest_exec(sc.conn, "DROP SCHEMA kaudit CASCADE"), 0);
	T_INTEQ(pgtest_exec(sc.conn, v1), 0);
	T_INTEQ(pgtest_exec(sc.conn, "CREATE TABLE kaudit.schema_migrations (version"
	    " integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL"
	    " DEFAULT now()); INSERT INTO kaudit.schema_migrations VALUES (1, '0001_init.sql');"
	    "INSERT INTO kaudit.findings (audit_id, rule, severity, severity_rank, category,"
	    " \"time\", finding) VALUES ('0286b87c-b86c-443f-bb1e-807844b35307', 'upgraded',"
	    " 'high', 3, 'exec', now(), '{}');"
	    "INSERT INTO kaudit.outbox (finding_id, webhook) SELECT id, 'soc' FROM kaudit.findings"), 0);
	T_INTEQ(db_check_schema(sc.db, err, sizeof(err)), -1);
	T_INTEQ(db_migrate(sc.db, err, sizeof(err)), 0);
	T_INTEQ(db_check_schema(sc.db, err, sizeof(err)), 0);
	T_INTEQ(db_write_batch(sc.db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE category = 'exec'"
	    " AND \"time\" > now() - interval '7 days'"), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings WHERE"
	    " kaudit.text_digest(audit_id) ="
	    " kaudit.text_digest('0286b87c-b86c-443f-bb1e-807844b35307')"), 1);
	T_INTEQ(pgtest_long("SELECT sum(findings) FROM kaudit.findings_summary"), 1);
	/* converted to the partitioned table: its id, its outbox row and key kept */
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
	    " ON f.id = o.finding_id JOIN kaudit.finding_keys k ON k.finding_id = f.id"
	    " WHERE f.rule = 'upgraded'"), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c"
	    " ON c.oid = p.partrelid WHERE c.relname = 'findings'"), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.alert_failures"), 0);
	T_INTEQ(pgtest_long("SELECT sum(pending) FROM kaudit.alert_backlog"), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.dead_letters_readable"), 0);
	free(v1);
	json_decref(f);
	scratch_close(&sc);
}

/* Version 11 with rows moves to 12: a finding stored with its event keeps
 * it, a new one leaves it to the archive, both read through
 * kaudit.finding_event(); dropping the archive's month puts the event of
 * the kept new finding into its row first (retention). */
static void
test_upgrade_event_once(void)
{
	static const char *const files[] = { "0001_init.sql", "0002_row_faults.sql",
	    "0003_outbox_lease.sql", "0004_state.sql", "0005_delivery.sql",
	    "0006_alert_groups.sql", "0007_partitions.sql", "0008_events.sql",
	    "0009_lifecycle.sql", "0010_views.sql", "0011_roles.sql" };
	struct scratch sc;
	char path[96], sql[160], *text;
	size_t len, ins = 0;
	json_t *f = stage_finding("up-new", "upgraded", "ResponseComplete",
	    "2026-01-20T08:00:00Z");
	const char *ev = "{\"kind\":\"Event\",\"auditID\":\"up-new\","
	    "\"stage\":\"ResponseComplete\",\"verb\":\"delete\","
	    "\"requestReceivedTimestamp\":\"2026-01-20T08:00:00Z\","
	    "\"stageTimestamp\":\"2026-01-20T08:00:00Z\"}";
	struct db_finding df = { f, ev, strlen(ev), hooks1, 1, NULL, 0, 0, NULL, NULL,
	    "2026-01-20T08:00:00Z", 0 };

	if (scratch_open(&sc, "v11") == -1) {
		T_ASSERT(0);
		goto out;
	}
	T_INTEQ(pgtest_exec(sc.conn, "DROP SCHEMA kaudit CASCADE"), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "schema/migrations/%s", files[i]);
		text = t_slurp(path, &len);
		T_ASSERT(text != NULL);
		T_INTEQ(text ? pgtest_exec(sc.conn, text) : -1, 0);
		free(text);
		if (i == 0)
			T_INTEQ(pgtest_exec(sc.conn, "CREATE TABLE kaudit.schema_migrations"
			    " (version integer PRIMARY KEY, name text NOT NULL, applied_at"
			    " timestamptz NOT NULL DEFAULT now())"), 0);
		snprintf(sql, sizeof(sql), "INSERT INTO kaudit.schema_migrations (version,"
		    " name) VALUES (%zu, '%s')", i + 1, files[i]);
		T_INTEQ(pgtest_exec(sc.conn, sql), 0);
	}
	/* a finding of version 11, its event in its row */
	T_INTEQ(pgtest_exec(sc.conn, "SELECT kaudit.partitions_ensure(ARRAY['2026-01-10'::timestamptz]);"
	    "INSERT INTO kaudit.findings (audit_id, rule, severity, severity_rank, stage,"
	    " \"time\", finding, event, partition_time) VALUES ('up-old', 'upgraded',"
	    " 'high', 3, 'ResponseComplete', '2026-01-10', '{}',"
	    " '{\"auditID\":\"up-old\",\"verb\":\"get\"}', '2026-01-10')"), 0);
	T_INTEQ(db_check_schema(sc.db, err, sizeof(err)), -1);
	T_INTEQ(db_migrate(sc.db, err, sizeof(err)), 0);
	T_INTEQ(db_check_schema(sc.db, err, sizeof(err)), 0);
	T_INTEQ(db_write_batch(sc.db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	expect("SELECT string_agg(audit_id || ' ' || (event IS NULL) || ' ' ||"
	    " (kaudit.finding_event(f)->>'verb'), ', ' ORDER BY audit_id)"
	    " FROM kaudit.findings f", "up-new true delete, up-old false get");
	/* the audit_events view of 0010 shows each once */
	expect("SELECT string_agg(audit_id || ' ' || origin, ', ' ORDER BY audit_id)"
	    " FROM kaudit.audit_events", "up-new archive, up-old finding");
	/* retention drops the archive's month: the kept finding takes its event */
	T_INTEQ(pgtest_long("SELECT kaudit.partition_drop('events_2026_01')"), 1);
	expect("SELECT string_agg(audit_id || ' ' || (event->>'verb') || ' ' ||"
	    " (kaudit.finding_event(f)->>'verb'), ', ' ORDER BY audit_id)"
	    " FROM kaudit.findings f", "up-new delete delete, up-old get get");
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.audit_events"), 2);
out:
	json_decref(f);
	scratch_close(&sc);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A batch's ingest errors go in as one statement, not one per error: a
 * statement-level trigger counts the INSERTs of 5000 errors. */
static void
test_ingest_errors_one_statement(void)
{
	enum { N = 5000 };
	struct db *db = db_connect(url, err, sizeof(err));
	struct db_ingest_error *e = calloc(N, sizeof(*e));
	static const char head[] = "{\"kind\":\"Event\",";
	double t0;
	size_t ins = 0;

	T_INTEQ(pgtest_exec(pgtest_conn, "CREATE TABLE stmt_count (n integer);"
	    "INSERT INTO stmt_count VALUES (0);"
	    "CREATE FUNCTION count_stmt() RETURNS trigger LANGUAGE plpgsql AS"
	    " $$BEGIN UPDATE stmt_count SET n = n + 1; RETURN NULL; END$$;"
	    "CREATE TRIGGER count_stmt AFTER INSERT ON kaudit.ingest_errors"
	    " FOR EACH STATEMENT EXECUTE FUNCTION count_stmt()"), 0);
	for (int i = 0; i < N; i++)
		e[i] = (struct db_ingest_error){ "flood", 1, i / 8, i % 8, "line 2: expected a value",
		    head, sizeof(head) - 1, 4000 };
	t0 = now_s();
	T_INTEQ(db_write_batch(db, NULL, 0, e, N, &ins, NULL, err, sizeof(err)), 0);
	printf("  %d ingest errors in one batch: %.1f ms\n", N, (now_s() - t0) * 1e3);
	T_INTEQ(pgtest_long("SELECT n FROM stmt_count"), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.ingest_errors WHERE topic = 'flood'"), N);
	T_INTEQ(pgtest_long("SELECT count(DISTINCT (\"offset\", seq)) FROM kaudit.ingest_errors"
	    " WHERE topic = 'flood' AND head = convert_to('{\"kind\":\"Event\",', 'UTF8')"
	    " AND size = 4000 AND partition = 1"), N);
	/* Redelivered: the same single statement, nothing new. */
	T_INTEQ(db_write_batch(db, NULL, 0, e, N, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(pgtest_long("SELECT n FROM stmt_count"), 2);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.ingest_errors WHERE topic = 'flood'"), N);
	pgtest_exec(pgtest_conn, "DROP TRIGGER count_stmt ON kaudit.ingest_errors");
	free(e);
	db_close(db);
}

/* What isolating one refused row costs in a batch of 1000, against the
 * same batch without it (printed; one run on loopback). */
static void
test_isolation_cost(void)
{
	enum { N = 1000 };
	struct db *db = db_connect(url, err, sizeof(err));
	struct db_finding *df = calloc(N, sizeof(*df));
	json_t **f = calloc(N, sizeof(*f));
	char id[64], *bad = event_with_huge_number();
	size_t ins = 0, nd = 0;
	double t0, whole, isolated;

	for (int i = 0; i < N; i++) {
		f[i] = finding_for(events[i % 3], "isolation", "medium");
		snprintf(id, sizeof(id), "iso-a-%d", i);
		json_object_set_new(f[i], "audit_id", json_string(id));
	}
	make_batch(df, f, N);
	/* The first batch on a connection also prepares and plans. */
	T_INTEQ(db_write_batch(db, df, 1, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	t0 = now_s();
	T_INTEQ(db_write_batch(db, df, N, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	whole = now_s() - t0;
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "iso-b-%d", i);
		json_object_set_new(f[i], "audit_id", json_string(id));
	}
	bad[2] = 'i';	/* not the text test_hostile_values dead-lettered already */
	df[N / 3].event_json = bad;
	df[N / 3].event_len = strlen(bad);
	t0 = now_s();
	T_INTEQ(db_write_batch(db, df, N, NULL, 0, &ins, &nd, err, sizeof(err)), 0);
	isolated = now_s() - t0;
	/* the finding is stored; its event's archive row is the refused one */
	T_INTEQ(ins, N);
	T_INTEQ(nd, 1);
	printf("  a batch of %d: %.1f ms; with one refused row isolated: %.1f ms\n", N,
	    whole * 1e3, isolated * 1e3);
	for (int i = 0; i < N; i++)
		json_decref(f[i]);
	free(f);
	free(df);
	free(bad);
	db_close(db);
}

/* Batches of 1000 findings on one connection (the first run also prepares
 * and plans the statement): prints findings/s of new and of duplicate
 * findings, one run on loopback. */
/* db_clean_text() copies runs of good bytes at once: the bytes around a bad
 * one, at either end or between two, come out whole and in order. */
static void
test_clean_text(void)
{
	static const struct { const char *in; size_t n; int json; const char *out; } c[] = {
		{ "plain text", 10, 0, "plain text" },
		{ "", 0, 1, "" },
		{ "\xff" "ab", 3, 0, "\xef\xbf\xbd" "ab" },
		{ "ab\xff", 3, 0, "ab\xef\xbf\xbd" },
		{ "a\0b\xe2\x82" "c", 6, 0, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c" },
		{ "caf\xc3\xa9 \xe2\x82\xac", 9, 1, "caf\xc3\xa9 \xe2\x82\xac" },
		{ "x\\u0000y\\ud800z\\n", 17, 1, "x\\ufffdy\\ufffdz\\n" },
		{ "x\\u0000y", 8, 0, "x\\u0000y" },
		{ "\\ud83d\\ude00!\\", 14, 1, "\\ud83d\\ude00!\\" },
		{ "\xed\xa0\x80-\xf0\x9f\x98\x80", 8, 0,
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-\xf0\x9f\x98\x80" },
	};
	struct buf b;
	unsigned seed = 12;

	buf_init(&b);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		buf_reset(&b);
		buf_puts(&b, "<");
		T_INTEQ(db_clean_text(&b, c[i].in, c[i].n, c[i].json),
		    strcmp(c[i].in, c[i].out) != 0 || strlen(c[i].in) != c[i].n);
		T_INTEQ(b.len, strlen(c[i].out) + 1);
		T_ASSERT(memcmp(b.data + 1, c[i].out, b.len - 1) == 0);
	}
	/* random bytes: the result is valid UTF-8 without NUL, and equal to
	 * the input exactly when nothing was replaced */
	for (int r = 0; r < 20000; r++) {
		static const unsigned char pick[] = { 'a', '\\', 'u', '0', 'd', '8', 0,
		    0xff, 0xe2, 0x82, 0xac, 0xc3, 0xa9, 0xed, 0xa0, 0xf0, 0x9f };
		char in[48];
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof(in));
		int rep;
		for (size_t k = 0; k < n; k++)
			in[k] = (char)pick[rand_r(&seed) % (int)sizeof(pick)];
		buf_reset(&b);
		rep = db_clean_text(&b, in, n, 0);
		T_ASSERT(utf8_valid(b.data, b.len) && memchr(b.data, 0, b.len) == NULL);
		T_INTEQ(rep, !(b.len == n && memcmp(b.data, in, n) == 0));
	}
	buf_free(&b);
}

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
		T_INTEQ(db_write_batch(db, df, N, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
		T_INTEQ(ins, N);
		if (r > 0)
			t_new += now_s() - t0;
		else
			printf("  first batch (prepare + plan): %.1f ms\n", (now_s() - t0) * 1e3);
		t0 = now_s();
		T_INTEQ(db_write_batch(db, df, N, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
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
	T_RUN(test_clean_text);
	T_RUN(test_migrate);
	T_RUN(test_migrate_concurrent);
	T_RUN(test_partitions);
	T_RUN(test_archive);
	T_RUN(test_write_idempotent);
	T_RUN(test_columns);
	T_RUN(test_bad_values);
	T_RUN(test_nul_event);
	T_RUN(test_ambiguous_event);
	T_RUN(test_ingest_errors);
	T_RUN(test_reconnect);
	T_RUN(test_hostile_values);
	T_RUN(test_hostile_strict);
	T_RUN(test_trouble);
	T_RUN(test_kill_isolating);
	T_RUN(test_upgrade);
	T_RUN(test_event_without_audit_id);
	T_RUN(test_upgrade_event_once);
	T_RUN(test_ingest_errors_one_statement);
	T_RUN(test_isolation_cost);
	T_RUN(test_throughput);
	pgtest_teardown();
	for (int i = 0; i < 3; i++) {
		json_decref(events[i]);
		free(event_text[i]);
	}
	return t_done();
}
