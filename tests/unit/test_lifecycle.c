/* test_lifecycle.c — a finding's life after it is stored, against a real
 * PostgreSQL: the status history and its view, suppressions made, listed,
 * lifted and expired, the batch write of suppressed findings (stored, with
 * a history row naming the suppression, and no outbox row), the daemon's
 * suppression set (conditions, expiry, a condition that does not compile,
 * reloads on NOTIFY), and what `kaudit findings` reads (a --dry-run's
 * scan too). Needs
 * KAUDIT_PG_URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "alert/suppress.h"
#include "base/log.h"
#include "schema/db.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/t.h"

static char	*url;
static char	 err[512];
static const char *const hooks[] = { "soc", "pager" };

static json_t *
finding(const char *audit_id, const char *rule, const char *severity, const char *user,
    const char *ns)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s]}", "audit_id",
	    audit_id, "rule", rule, "severity", severity, "category", "exec", "user", user,
	    "namespace", ns, "time", "2026-11-30T10:00:00Z", "title", "Exec into pod",
	    "tags", "T1609");
}

static void
row(struct db_finding *df, json_t *f, int64_t sup, const char *dedup)
{
	memset(df, 0, sizeof(*df));
	df->finding = f;
	df->event_json = "{\"kind\":\"Event\"}";
	df->event_len = strlen(df->event_json);
	df->webhooks = hooks;
	df->nwebhooks = sup ? 0 : 2;	/* as the workers route a suppressed one */
	df->dedup = dedup;
	df->suppressed_by = sup;
}

static void
test_migrate(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	char *s;

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);
	T_INTEQ(db_check_schema(db, err, sizeof(err)), 0);
	/* every migration is applied, 0010 (the views) included */
	s = pgtest_str("SELECT string_agg(version::text, ',' ORDER BY version)"
	    " FROM kaudit.schema_migrations");
	T_STREQ(s, "1,2,3,4,5,6,7,8,9,10,11,12");
	free(s);
	T_INTEQ(pgtest_long("SELECT count(*) FROM pg_description d JOIN pg_class c"
	    " ON c.oid = d.objoid WHERE c.relname IN ('finding_history', 'suppressions',"
	    " 'finding_status', 'suppressions_live') AND d.objsubid = 0"), 4);
	/* Applied again from scratch (as after 0007 and 0008 when a database
	 * took 0009 first): the same schema. */
	T_INTEQ(pgtest_exec(pgtest_conn, "DROP VIEW kaudit.finding_status;"
	    " DROP VIEW kaudit.suppressions_live; DROP TABLE kaudit.finding_history;"
	    " DROP TABLE kaudit.suppressions; DROP FUNCTION kaudit.finding_history_frozen();"
	    " DELETE FROM kaudit.schema_migrations WHERE version = 9"), 0);
	T_INTEQ(db_check_schema(db, err, sizeof(err)), -1);
	T_INTEQ(db_migrate(db, err, sizeof(err)), 0);
	T_INTEQ(db_check_schema(db, err, sizeof(err)), 0);
	db_close(db);
}

/* A suppressed finding is stored with its history row and no outbox row;
 * the others of the batch are routed as before; a redelivery adds nothing. */
static void
test_write_suppressed(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	struct db_finding df[3];
	json_t *f[3];
	int64_t sid = 0;
	size_t ins = 9;

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	T_INTEQ(db_suppression_add(db, "user = alice", "alice's runbook", "bob", 3600000,
	    &sid, NULL, err, sizeof(err)), 0);
	T_ASSERT(sid > 0);
	f[0] = finding("a-1", "k8s.exec.pod", "high", "alice", "prod");
	f[1] = finding("a-2", "k8s.exec.pod", "high", "mallory", "prod");
	f[2] = finding("a-3", "k8s.corr.x", "critical", "alice", "prod");
	row(&df[0], f[0], sid, NULL);
	row(&df[1], f[1], 0, NULL);
	row(&df[2], f[2], sid, "key-1");	/* a state owner's finding */
	for (int pass = 0; pass < 2; pass++) {
		T_INTEQ(db_write_batch(db, df, 3, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
		T_INTEQ(ins, pass == 0 ? 3 : 0);
		T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.findings"), 3);
		T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
		    " ON f.id = o.finding_id WHERE f.audit_id = 'a-2'"), 2);
		T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
		    " ON f.id = o.finding_id WHERE f.username = 'alice'"), 0);
		T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.finding_history"), 2);
	}
	/* the same suppressed finding twice in one batch: one row of each */
	json_decref(f[1]);
	f[1] = finding("a-4", "k8s.exec.pod", "high", "alice", "dev");
	row(&df[1], f[1], sid, NULL);
	df[2] = df[1];
	T_INTEQ(db_write_batch(db, df + 1, 2, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.finding_history h JOIN"
	    " kaudit.findings f ON f.id = h.finding_id WHERE f.audit_id = 'a-4'"), 1);
	json_decref(f[1]);
	f[1] = NULL;
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.finding_history WHERE finding_id ="
	    " (SELECT id FROM kaudit.findings WHERE audit_id = 'a-4');"
	    " DELETE FROM kaudit.findings WHERE audit_id = 'a-4'");
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.finding_history h JOIN"
	    " kaudit.findings f ON f.id = h.finding_id WHERE f.username = 'alice'"
	    " AND h.status = 'suppressed' AND h.actor = 'kaudit' AND h.suppression_id = %lld"
	    " AND h.reason = 'suppression %lld: alice''s runbook'", (long long)sid,
	    (long long)sid), 2);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.finding_status WHERE status ="
	    " 'suppressed'"), 2);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.finding_status s JOIN"
	    " kaudit.findings f ON f.id = s.finding_id WHERE s.status = 'open'"
	    " AND f.audit_id = 'a-2'"), 1);
	T_INTEQ(pgtest_longf("SELECT matched FROM kaudit.suppressions_live WHERE id = %lld",
	    (long long)sid), 2);
	/* history is never rewritten */
	T_INTEQ(pgtest_exec(pgtest_conn, "UPDATE kaudit.finding_history SET actor = 'x'"), -1);
	for (int i = 0; i < 3; i++)
		json_decref(f[i]);
	db_close(db);
}

static void
test_suppressions_crud(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	json_t *list = NULL, *o;
	int64_t a = 0, b = 0, c = 0, exp = 9;
	int found = 9;
	struct timespec ts = { 0, 50 * 1000000L };

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.suppressions");
	T_INTEQ(db_suppression_add(db, "namespace = dev", "dev noise", "bob", 0, &a, &exp,
	    err, sizeof(err)), 0);
	T_INTEQ(exp, 0);
	T_INTEQ(db_suppression_add(db, "rule = r1", "short", "bob", 1, &b, NULL, err,
	    sizeof(err)), 0);
	/* text from people is cleaned like event text */
	T_INTEQ(db_suppression_add(db, "rule = r2", "bad \xff utf-8", "eve", 60000, &c, &exp,
	    err, sizeof(err)), 0);
	T_ASSERT(exp > suppress_now_ms() + 50000 && exp < suppress_now_ms() + 70000);
	nanosleep(&ts, NULL);	/* b expires */
	T_INTEQ(db_suppressions_list(db, 0, &list, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(list), 2);
	o = json_array_get(list, 0);
	T_INTEQ(json_integer_value(json_object_get(o, "id")), a);
	T_STREQ(json_string_value(json_object_get(o, "condition")), "namespace = dev");
	T_ASSERT(json_is_null(json_object_get(o, "expires_at")));
	T_ASSERT(json_is_true(json_object_get(o, "live")));
	T_STREQ(json_string_value(json_object_get(json_array_get(list, 1), "reason")),
	    "bad \xef\xbf\xbd utf-8");
	T_ASSERT(json_string_length(json_object_get(json_array_get(list, 1), "expires_at"))
	    == 24);
	json_decref(list);
	T_INTEQ(db_suppression_lift(db, a, "carol", "fixed", &found, err, sizeof(err)), 0);
	T_INTEQ(found, 1);
	T_INTEQ(db_suppression_lift(db, a, "carol", "again", &found, err, sizeof(err)), 0);
	T_INTEQ(found, 0);
	T_INTEQ(db_suppression_lift(db, b, "carol", "expired", &found, err, sizeof(err)), 0);
	T_INTEQ(found, 0);
	T_INTEQ(db_suppressions_list(db, 0, &list, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(list), 1);
	json_decref(list);
	T_INTEQ(db_suppressions_list(db, 1, &list, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(list), 3);
	o = json_array_get(list, 0);
	T_STREQ(json_string_value(json_object_get(o, "lifted_by")), "carol");
	T_STREQ(json_string_value(json_object_get(o, "lift_reason")), "fixed");
	T_ASSERT(json_is_false(json_object_get(o, "live")));
	json_decref(list);
	db_close(db);
}

/* The daemon's set: the first suppression that holds, expiry against the
 * clock, a condition that does not compile left out. */
static void
test_set_match(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	struct suppress_set *s = suppress_new();
	json_t *alice = finding("m-1", "k8s.exec.pod", "high", "alice", "prod");
	json_t *bob = finding("m-2", "k8s.exec.pod", "low", "bob", "dev");
	json_t *carl = finding("m-3", "k8s.rbac.x", "critical", "carl", "kube-system");
	int64_t a = 0, b = 0, now = suppress_now_ms();

	T_ASSERT(db != NULL);
	if (db == NULL) {
		suppress_free(s);
		return;
	}
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.suppressions");
	json_object_set_new(carl, "tags", json_pack("[s]", "T1078"));
	T_INTEQ(suppress_match(s, alice, now), 0);	/* empty */
	T_INTEQ(db_suppression_add(db, "user = alice and severity >= high", "r", "t", 3600000,
	    &a, NULL, err, sizeof(err)), 0);
	T_INTEQ(db_suppression_add(db, "namespace in (dev, test) or \"T1609\" in tags",
	    "r", "t", 0, &b, NULL, err, sizeof(err)), 0);
	pgtest_exec(pgtest_conn, "INSERT INTO kaudit.suppressions (condition, reason,"
	    " created_by) VALUES ('user.name = x', 'hand-written', 'dba')");
	T_INTEQ(suppress_load(s, db, err, sizeof(err)), 2);
	T_INTEQ(suppress_match(s, alice, now), a);
	T_INTEQ(suppress_match(s, bob, now), b);
	T_INTEQ(suppress_match(s, carl, now), 0);
	/* two hours on, a has expired; b never does */
	T_INTEQ(suppress_match(s, alice, now + 7200000), b);
	json_object_set_new(alice, "tags", json_array());
	T_INTEQ(suppress_match(s, alice, now + 7200000), 0);
	json_decref(alice);
	json_decref(bob);
	json_decref(carl);
	suppress_free(s);
	db_close(db);
}

/* The watcher reloads at once on NOTIFY, long before its refresh period. */
static void
test_watch_notify(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	struct suppress_set *s = suppress_new();
	struct suppress_watch *w;
	json_t *f = finding("w-1", "k8s.exec.pod", "high", "dave", "prod");
	struct timespec ts = { 0, 50 * 1000000L };
	int64_t id = 0, got = 0;
	int found = 0;

	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.suppressions");
	w = suppress_watch_start(s, url, 3600000, err, sizeof(err));
	T_ASSERT(w != NULL && db != NULL);
	if (w == NULL || db == NULL)
		goto out;
	T_INTEQ(suppress_match(s, f, suppress_now_ms()), 0);
	T_INTEQ(db_suppression_add(db, "user = dave", "r", "t", 0, &id, NULL, err,
	    sizeof(err)), 0);
	for (int i = 0; i < 100 && got == 0; i++) {
		nanosleep(&ts, NULL);
		got = suppress_match(s, f, suppress_now_ms());
	}
	T_INTEQ(got, id);
	T_INTEQ(db_suppression_lift(db, id, "t", "r", &found, err, sizeof(err)), 0);
	for (int i = 0; i < 100 && got != 0; i++) {
		nanosleep(&ts, NULL);
		got = suppress_match(s, f, suppress_now_ms());
	}
	T_INTEQ(got, 0);
out:
	suppress_watch_stop(w);
	suppress_free(s);
	json_decref(f);
	if (db)
		db_close(db);
}

/* A change made without NOTIFY (by hand, in SQL) is read at the next
 * refresh. */
static void
test_watch_refresh(void)
{
	struct suppress_set *s = suppress_new();
	struct suppress_watch *w;
	json_t *f = finding("w-2", "k8s.exec.pod", "high", "erin", "prod");
	struct timespec ts = { 0, 100 * 1000000L };
	int64_t got = 0;

	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.suppressions");
	w = suppress_watch_start(s, url, 1000, err, sizeof(err));
	T_ASSERT(w != NULL);
	if (w == NULL)
		goto out;
	pgtest_exec(pgtest_conn, "INSERT INTO kaudit.suppressions (condition, reason,"
	    " created_by) VALUES ('user = erin', 'by hand', 'dba')");
	for (int i = 0; i < 40 && got == 0; i++) {
		nanosleep(&ts, NULL);
		got = suppress_match(s, f, suppress_now_ms());
	}
	T_ASSERT(got > 0);	/* only the refresh can have read it */
out:
	suppress_watch_stop(w);
	suppress_free(s);
	json_decref(f);
}

static const char *
result_of(json_t *a, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(a, i), key));
}

static void
test_status(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	json_t *r = NULL;
	int64_t ids[3];

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	ids[0] = pgtest_long("SELECT id FROM kaudit.findings WHERE audit_id = 'a-2'");
	ids[1] = pgtest_long("SELECT id FROM kaudit.findings WHERE audit_id = 'a-1'");
	ids[2] = 987654321;
	T_INTEQ(db_findings_set_status(db, ids, 3, "acknowledged", "erin", "looking",
	    &r, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(r), 3);
	/* by id: a-2 was stored after a-1 */
	T_STREQ(result_of(r, 0, "result"), "changed");
	T_STREQ(result_of(r, 0, "from"), "suppressed");
	T_STREQ(result_of(r, 1, "result"), "changed");
	T_STREQ(result_of(r, 1, "from"), "open");
	T_STREQ(result_of(r, 2, "result"), "missing");
	T_ASSERT(json_is_null(json_object_get(json_array_get(r, 2), "from")));
	json_decref(r);
	T_INTEQ(db_findings_set_status(db, ids, 1, "acknowledged", "erin", NULL, &r, err,
	    sizeof(err)), 0);
	T_STREQ(result_of(r, 0, "result"), "unchanged");
	json_decref(r);
	T_INTEQ(db_findings_set_status(db, ids, 1, "resolved", "frank", "done", &r, err,
	    sizeof(err)), 0);
	T_STREQ(result_of(r, 0, "from"), "acknowledged");
	json_decref(r);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.finding_history WHERE"
	    " finding_id = %lld", (long long)ids[0]), 2);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.finding_status WHERE finding_id ="
	    " %lld AND status = 'resolved' AND changed_by = 'frank' AND reason = 'done'",
	    (long long)ids[0]), 1);
	db_close(db);
}

static void
test_list_show(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	struct db_findings_filter fl = { NULL, NULL, -1, NULL, NULL, 100 };
	json_t *r = NULL, *h;
	int64_t id;

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	T_INTEQ(db_findings_list(db, &fl, &r, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(r), 3);
	T_STREQ(result_of(r, 0, "time"), "2026-11-30T10:00:00.000Z");
	json_decref(r);
	fl.status = "suppressed";
	T_INTEQ(db_findings_list(db, &fl, &r, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(r), 1);
	T_STREQ(result_of(r, 0, "audit_id"), "a-3");
	json_decref(r);
	fl.status = NULL;
	fl.min_rank = 4;
	T_INTEQ(db_findings_list(db, &fl, &r, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(r), 1);
	json_decref(r);
	fl.min_rank = -1;
	fl.user = "alice";
	fl.rule = "k8s.exec.pod";
	T_INTEQ(db_findings_list(db, &fl, &r, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(r), 1);
	T_STREQ(result_of(r, 0, "status"), "acknowledged");
	json_decref(r);
	fl.user = fl.rule = NULL;
	fl.since = "2026-12-01T00:00:00Z";
	T_INTEQ(db_findings_list(db, &fl, &r, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(r), 0);
	json_decref(r);
	fl.since = NULL;
	fl.limit = 2;
	T_INTEQ(db_findings_list(db, &fl, &r, err, sizeof(err)), 0);
	T_INTEQ(json_array_size(r), 2);
	json_decref(r);

	id = pgtest_long("SELECT id FROM kaudit.findings WHERE audit_id = 'a-2'");
	T_INTEQ(db_finding_show(db, id, &r, err, sizeof(err)), 0);
	T_ASSERT(r != NULL);
	if (r != NULL) {
		T_STREQ(json_string_value(json_object_get(r, "status")), "resolved");
		T_STREQ(json_string_value(json_object_get(json_object_get(r, "finding"),
		    "user")), "mallory");
		h = json_object_get(r, "history");
		T_INTEQ(json_array_size(h), 2);
		T_STREQ(result_of(h, 0, "status"), "acknowledged");
		T_STREQ(result_of(h, 1, "by"), "frank");
		T_INTEQ(json_array_size(json_object_get(r, "deliveries")), 2);
		T_STREQ(result_of(json_object_get(r, "deliveries"), 0, "state"), "pending");
		T_INTEQ(json_array_size(json_object_get(r, "groups")), 0);
	}
	json_decref(r);
	T_INTEQ(db_finding_show(db, 987654321, &r, err, sizeof(err)), 0);
	T_ASSERT(r == NULL);
	db_close(db);
}

static void
count_seen(void *arg, int64_t id, const char *json, size_t len)
{
	json_t *f = json_loadb(json, len, 0, NULL);
	int64_t *v = arg;

	T_ASSERT(f != NULL && json_is_string(json_object_get(f, "rule")));
	T_ASSERT(v[1] == 0 || id < v[1]);	/* newest first */
	v[0]++;
	v[1] = id;
	json_decref(f);
}

/* What a --dry-run reads: stored findings, newest first, bounded. */
static void
test_scan(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	int64_t v[2] = { 0, 0 };

	T_ASSERT(db != NULL);
	if (db == NULL)
		return;
	T_INTEQ(db_findings_scan(db, NULL, 100, count_seen, v, err, sizeof(err)), 0);
	T_INTEQ(v[0], 3);
	v[0] = v[1] = 0;
	T_INTEQ(db_findings_scan(db, NULL, 2, count_seen, v, err, sizeof(err)), 0);
	T_INTEQ(v[0], 2);
	v[0] = v[1] = 0;
	T_INTEQ(db_findings_scan(db, "2026-11-30T10:00:00Z", 100, count_seen, v, err,
	    sizeof(err)), 0);
	T_INTEQ(v[0], 3);
	v[0] = v[1] = 0;
	T_INTEQ(db_findings_scan(db, "2026-11-30T10:00:00.001Z", 100, count_seen, v, err,
	    sizeof(err)), 0);
	T_INTEQ(v[0], 0);
	db_close(db);
}

int
main(void)
{
	log_set_level(LOG_ERROR);
	if ((url = pgtest_setup("lifecycle")) == NULL)
		return 1;
	T_RUN(test_migrate);
	T_RUN(test_write_suppressed);
	T_RUN(test_suppressions_crud);
	T_RUN(test_set_match);
	T_RUN(test_watch_notify);
	T_RUN(test_watch_refresh);
	T_RUN(test_status);
	T_RUN(test_list_show);
	T_RUN(test_scan);
	pgtest_teardown();
	return t_done();
}
