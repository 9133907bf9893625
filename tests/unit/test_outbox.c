/* test_outbox.c — the alert outbox on a real PostgreSQL: claims under a
 * lease from two connections (disjoint, no transaction left open), recording
 * done / retry / dead, a lease that expires, a late record after another
 * alerter took the row, releasing leases, and the pending, due and leased
 * counts. Needs KAUDIT_PG_URL. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "schema/db.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/t.h"

static char	*url;
static char	 err[512];

static const char *const hooks[] = { "soc" };

/* Stores n findings rule-<tag>-<i>, each with one outbox row for "soc". */
static void
add_findings(struct db *db, const char *tag, int n)
{
	struct db_finding *df = calloc((size_t)n, sizeof(*df));
	char rule[64], id[64];
	size_t ins = 0;

	for (int i = 0; i < n; i++) {
		snprintf(rule, sizeof(rule), "rule-%s", tag);
		snprintf(id, sizeof(id), "audit-%d", i);
		df[i].finding = json_pack("{s:s, s:s, s:s, s:s, s:i}", "rule", rule,
		    "audit_id", id, "severity", "high", "category", "exec", "n", i);
		df[i].event_json = "{\"kind\":\"Event\"}";
		df[i].event_len = strlen(df[i].event_json);
		df[i].webhooks = hooks;
		df[i].nwebhooks = 1;
	}
	T_INTEQ(db_write_batch(db, df, (size_t)n, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, n);
	for (int i = 0; i < n; i++)
		json_decref(df[i].finding);
	free(df);
}

static int
has_id(const struct outbox_item *it, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (it[i].id == id)
			return 1;
	return 0;
}

/* The destinations a claim may take: "soc", with room for any number. */
static const struct outbox_dest soc_dest[] = { { "soc", 100000, 0 } };
static const long probe_waits[] = { 100, 1000 };
static const struct outbox_circuit circuit = { 5, probe_waits, 2, 86400000 };

static int
claim(struct db *db, const char *owner, int limit, long lease_ms, struct outbox_item **it,
    size_t *n)
{
	return db_outbox_claim(db, owner, limit, lease_ms, soc_dest, 1, it, n, err,
	    sizeof(err));
}

/* Records one attempt: 0 recorded, 1 lease lost, -1 error. */
static int
record1(struct db *db, const char *owner, int64_t id, enum outbox_result res,
    int status, const char *error, long dur, long retry_ms)
{
	struct outbox_attempt a = { .id = id, .res = res, .http_status = status,
	    .error = error, .duration_ms = dur, .retry_ms = retry_ms,
	    .health = res == OUTBOX_DONE ? OUTBOX_SUCCESS : OUTBOX_NEUTRAL };

	if (db_outbox_record(db, owner, &a, 1, &circuit, err, sizeof(err)) == -1)
		return -1;
	return a.recorded ? 0 : 1;
}

/* Connections of this test database inside a transaction. */
static long
open_transactions(void)
{
	return pgtest_long("SELECT count(*) FROM pg_stat_activity WHERE"
	    " datname = current_database() AND xact_start IS NOT NULL"
	    " AND pid <> pg_backend_pid()");
}

/* Two alerters get disjoint rows, each claim commits at once, and a lease
 * keeps other claims off the rows until it is released. */
static void
test_claim_lease(void)
{
	struct db *a = db_connect(url, err, sizeof(err));
	struct db *b = db_connect(url, err, sizeof(err));
	struct outbox_item *ia = NULL, *ib = NULL;
	size_t na = 0, nb = 0, overlap = 0;
	long pending = 0, due = 0, leased = 0, released = 0;

	add_findings(a, "claim", 10);
	T_INTEQ(db_outbox_pending(a, &pending, err, sizeof(err)), 0);
	T_INTEQ(pending, 10);
	T_INTEQ(claim(a, "a", 4, 60000, &ia, &na), 0);
	T_INTEQ(na, 4);
	T_INTEQ(open_transactions(), 0);
	T_INTEQ(claim(b, "b", 100, 60000, &ib, &nb), 0);
	T_INTEQ(nb, 6);
	for (size_t i = 0; i < nb; i++)
		overlap += has_id(ia, na, ib[i].id);
	T_INTEQ(overlap, 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE locked_by = 'a'"
	    " AND locked_until BETWEEN now() + interval '50 s' AND now() + interval '70 s'"), 4);
	/* Everything is leased: nothing due, nothing to claim, ten in flight. */
	T_INTEQ(db_outbox_due(a, &due, err, sizeof(err)), 0);
	T_INTEQ(due, 0);
	T_INTEQ(db_outbox_leased(a, &leased, err, sizeof(err)), 0);
	T_INTEQ(leased, 10);
	T_INTEQ(db_outbox_pending(a, &pending, err, sizeof(err)), 0);
	T_INTEQ(pending, 10);
	db_outbox_items_free(ib, nb);
	T_INTEQ(claim(b, "b", 100, 60000, &ib, &nb), 0);
	T_INTEQ(nb, 0);
	db_outbox_items_free(ib, nb);
	/* b's rows are free again; a's four are still leased. */
	T_INTEQ(db_outbox_release(b, "b", &released, err, sizeof(err)), 0);
	T_INTEQ(released, 6);
	T_INTEQ(db_outbox_due(a, &due, err, sizeof(err)), 0);
	T_INTEQ(due, 6);
	T_INTEQ(claim(b, "b", 100, 60000, &ib, &nb), 0);
	T_INTEQ(nb, 6);
	T_INTEQ(db_outbox_release(b, "b", &released, err, sizeof(err)), 0);
	T_INTEQ(db_outbox_release(a, "a", &released, err, sizeof(err)), 0);
	T_INTEQ(released, 4);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE locked_by IS NOT NULL"
	    " OR locked_until IS NOT NULL"), 0);
	db_outbox_items_free(ib, nb);
	db_outbox_items_free(ia, na);
	T_INTEQ(claim(b, "b", 100, 60000, &ib, &nb), 0);
	T_INTEQ(nb, 10);
	/* Oldest first, with the finding as payload and no attempts yet. */
	for (size_t i = 1; i < nb; i++)
		T_ASSERT(ib[i - 1].id < ib[i].id);
	if (nb == 10) {
		json_t *p = json_loads(ib[3].payload, 0, NULL);
		T_STREQ(ib[3].webhook, "soc");
		T_INTEQ(ib[3].attempts, 0);
		T_STREQ(json_string_value(json_object_get(p, "audit_id")), "audit-3");
		T_INTEQ(json_integer_value(json_object_get(p, "n")), 3);
		json_decref(p);
	}
	T_INTEQ(open_transactions(), 0);
	db_outbox_items_free(ib, nb);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(a);
	db_close(b);
}

static long pgtest_longf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
test_record(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	struct outbox_item *it = NULL;
	size_t n = 0;
	long due = 0, pending = 0;
	char *s;

	add_findings(db, "record", 3);
	T_INTEQ(claim(db, "me", 10, 60000, &it, &n), 0);
	T_INTEQ(n, 3);
	if (n != 3)
		return;
	T_INTEQ(record1(db, "me", it[0].id, OUTBOX_DONE, 204, NULL, 12, 0), 0);
	T_INTEQ(record1(db, "me", it[1].id, OUTBOX_RETRY, 503, "HTTP 503: busy", 30, 60000), 0);
	T_INTEQ(record1(db, "me", it[2].id, OUTBOX_DEAD, 400, "HTTP 400: bad \xff", 5, 0), 0);
	/* A row already recorded cannot be recorded again: its lease ended. */
	T_INTEQ(record1(db, "me", it[0].id, OUTBOX_DONE, 200, NULL, 1, 0), 1);
	T_INTEQ(open_transactions(), 0);

	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || last_status ||"
	    " ' ' || (delivered_at IS NOT NULL) FROM kaudit.outbox WHERE id = %lld", (long long)it[0].id);
	T_STREQ(s, "done 1 204 true");
	free(s);
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || last_error || ' ' ||"
	    " (next_attempt_at > now() + interval '50 seconds') FROM kaudit.outbox"
	    " WHERE id = %lld", (long long)it[1].id);
	T_STREQ(s, "pending 1 HTTP 503: busy true");
	free(s);
	s = pgtest_strf("SELECT webhook || ' ' || last_status || ' ' || last_error"
	    " FROM kaudit.alert_failures WHERE outbox_id = %lld", (long long)it[2].id);
	T_STREQ(s, "soc 400 HTTP 400: bad \xef\xbf\xbd");
	free(s);
	/* Recording ends the lease. */
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE locked_by IS NOT NULL"
	    " OR locked_until IS NOT NULL"), 0);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.delivery_attempts WHERE"
	    " outbox_id = %lld AND http_status = 204 AND error IS NULL AND duration_ms = 12",
	    (long long)it[0].id), 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.delivery_attempts"), 3);
	/* The retry is pending but not due, so nothing is claimable. */
	T_INTEQ(db_outbox_pending(db, &pending, err, sizeof(err)), 0);
	T_INTEQ(pending, 1);
	T_INTEQ(db_outbox_due(db, &due, err, sizeof(err)), 0);
	T_INTEQ(due, 0);
	T_INTEQ(pgtest_long("SELECT pending * 10 + due FROM kaudit.alert_backlog"
	    " WHERE webhook = 'soc'"), 10);
	db_outbox_items_free(it, n);
	T_INTEQ(claim(db, "me", 10, 60000, &it, &n), 0);
	T_INTEQ(n, 0);
	db_outbox_items_free(it, n);
	/* Once due, it is claimed again with its attempt count. */
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET next_attempt_at = now()"
	    " WHERE state = 'pending'");
	T_INTEQ(db_outbox_due(db, &due, err, sizeof(err)), 0);
	T_INTEQ(due, 1);
	T_INTEQ(claim(db, "me", 10, 60000, &it, &n), 0);
	T_INTEQ(n, 1);
	if (n == 1)
		T_INTEQ(it[0].attempts, 1);
	db_outbox_items_free(it, n);
	/* Deleting a finding takes its outbox rows and attempts with it. */
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox"), 0);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.delivery_attempts"), 0);
	db_close(db);
}

/* A crashed alerter's lease keeps the rows from everyone until it expires,
 * then they are due and claimed again. */
static void
test_lease_expires(void)
{
	struct db *db = db_connect(url, err, sizeof(err));
	struct outbox_item *it = NULL;
	size_t n = 0;
	long due = -1, leased = -1;

	add_findings(db, "expire", 3);
	T_INTEQ(claim(db, "crashed", 10, 400, &it, &n), 0);
	T_INTEQ(n, 3);
	db_outbox_items_free(it, n);
	T_INTEQ(claim(db, "live", 10, 60000, &it, &n), 0);
	T_INTEQ(n, 0);
	db_outbox_items_free(it, n);
	T_INTEQ(db_outbox_due(db, &due, err, sizeof(err)), 0);
	T_INTEQ(due, 0);
	T_INTEQ(db_outbox_leased(db, &leased, err, sizeof(err)), 0);
	T_INTEQ(leased, 3);
	pgtest_exec(pgtest_conn, "SELECT pg_sleep(0.5)");
	T_INTEQ(db_outbox_due(db, &due, err, sizeof(err)), 0);
	T_INTEQ(due, 3);
	T_INTEQ(db_outbox_leased(db, &leased, err, sizeof(err)), 0);
	T_INTEQ(leased, 0);
	T_INTEQ(claim(db, "live", 10, 60000, &it, &n), 0);
	T_INTEQ(n, 3);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE locked_by = 'live'"), 3);
	db_outbox_items_free(it, n);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
}

/* Alerter a's lease expired and b took the row: a's late record changes
 * nothing, neither while b delivers nor after b recorded. */
static void
test_lease_lost(void)
{
	struct db *a = db_connect(url, err, sizeof(err));
	struct db *b = db_connect(url, err, sizeof(err));
	struct outbox_item *ia = NULL, *ib = NULL;
	size_t na = 0, nb = 0;
	long long id;
	char *s;

	add_findings(a, "lost", 1);
	T_INTEQ(claim(a, "a", 10, 60000, &ia, &na), 0);
	T_INTEQ(na, 1);
	if (na != 1)
		return;
	id = ia[0].id;
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET locked_until ="
	    " clock_timestamp() - interval '1 second'");
	T_INTEQ(claim(b, "b", 10, 60000, &ib, &nb), 0);
	T_INTEQ(nb, 1);
	T_INTEQ(record1(a, "a", id, OUTBOX_DONE, 200, NULL, 7, 0), 1);
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || locked_by ||"
	    " ' ' || (locked_until > now()) FROM kaudit.outbox WHERE id = %lld", id);
	T_STREQ(s, "pending 0 b true");
	free(s);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.delivery_attempts"), 0);
	T_INTEQ(record1(b, "b", id, OUTBOX_RETRY, 503, "busy", 9, 60000), 0);
	T_INTEQ(record1(a, "a", id, OUTBOX_DEAD, 400, "late", 7, 0), 1);
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || last_status || ' ' ||"
	    " last_error || ' ' || (locked_by IS NULL) FROM kaudit.outbox WHERE id = %lld", id);
	T_STREQ(s, "pending 1 503 busy true");
	free(s);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.delivery_attempts"), 1);
	db_outbox_items_free(ia, na);
	db_outbox_items_free(ib, nb);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(a);
	db_close(b);
}

int
main(void)
{
	struct db *db;

	if ((url = pgtest_setup("outbox")) == NULL)
		return 1;
	db = db_connect(url, err, sizeof(err));
	if (db == NULL || db_migrate(db, err, sizeof(err)) == -1) {
		printf("FAIL migrate: %s\n", err);
		pgtest_teardown();
		return 1;
	}
	{
		static const char *const names[] = { "soc" };
		long held, back;
		if (db_outbox_sync(db, "test", names, 1, 0, &held, &back, err, sizeof(err)) == -1)
			printf("FAIL sync: %s\n", err);
	}
	db_close(db);
	T_RUN(test_claim_lease);
	T_RUN(test_record);
	T_RUN(test_lease_expires);
	T_RUN(test_lease_lost);
	pgtest_teardown();
	return t_done();
}
