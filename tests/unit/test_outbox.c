/* test_outbox.c — the alert outbox on a real PostgreSQL: claims under a
 * lease from two connections (disjoint, no transaction left open), recording
 * done / retry / dead, a lease that expires, a late record after another
 * alerter took the row, releasing leases, and the pending, due and leased
 * counts; what processes sharing the outbox agree on per destination in
 * kaudit.webhooks: concurrency caps, a disabled destination, the circuit
 * and its probes, rate-limit tokens taken by two connections at once,
 * rows ended by max_age after a failed probe; held rows and their return,
 * the look at what is ahead, what `kaudit alerts` reads and changes, and
 * the NOTIFY of a batch write. Needs KAUDIT_PG_URL. */
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

/* Stores n findings rule-<tag>-<i>, each with an outbox row for each of
 * hooks[0..nh). */
static void
add_to(struct db *db, const char *tag, int n, const char *const *to, size_t nh)
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
		df[i].webhooks = to;
		df[i].nwebhooks = nh;
	}
	T_INTEQ(db_write_batch(db, df, (size_t)n, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, n);
	for (int i = 0; i < n; i++)
		json_decref(df[i].finding);
	free(df);
}

/* Stores n findings rule-<tag>-<i>, each with one outbox row for "soc". */
static void
add_findings(struct db *db, const char *tag, int n)
{
	add_to(db, tag, n, hooks, 1);
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

static void
sync_names(struct db *db, const char *const *names, size_t n)
{
	long held, back;

	T_INTEQ(db_outbox_sync(db, "test", names, n, 0, &held, &back, err, sizeof(err)), 0);
}

static size_t
count_for(const struct outbox_item *it, size_t n, const char *hook)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += strcmp(it[i].webhook, hook) == 0;
	return k;
}

/* Each destination gives at most its cap; 0 gives none. */
static void
test_claim_caps(void)
{
	static const char *const two[] = { "ca", "cb" };
	const struct outbox_dest d[] = { { "ca", 2, 0 }, { "cb", 0, 0 } };
	struct db *db = db_connect(url, err, sizeof(err));
	struct outbox_item *it = NULL;
	size_t n = 0;

	sync_names(db, two, 2);
	add_to(db, "caps", 5, two, 2);
	T_INTEQ(db_outbox_claim(db, "me", 100, 60000, d, 2, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 2);
	T_INTEQ(count_for(it, n, "ca"), 2);
	T_INTEQ(it[0].probe, 0);
	T_ASSERT(it[0].age_ms >= 0 && it[0].age_ms < 5000);
	db_outbox_items_free(it, n);
	/* A destination not named is never claimed. */
	T_INTEQ(db_outbox_claim(db, "me", 100, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 2);
	T_INTEQ(count_for(it, n, "cb"), 0);
	db_outbox_items_free(it, n);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
}

/* A 410 disables the destination: the row stays pending, nothing of it is
 * claimed, and `kaudit alerts enable` makes it claimable again. */
static void
test_gone_disables(void)
{
	static const char *const g[] = { "gone" };
	const struct outbox_dest d[] = { { "gone", 10, 0 } };
	struct db *db = db_connect(url, err, sizeof(err));
	struct outbox_item *it = NULL;
	struct outbox_attempt a;
	size_t n = 0;
	long rows = 0;
	int found = 0;
	char *s;

	sync_names(db, g, 1);
	add_to(db, "gone", 3, g, 1);
	T_INTEQ(db_outbox_claim(db, "me", 1, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	a = (struct outbox_attempt){ .id = it[0].id, .res = OUTBOX_GONE, .http_status = 410,
	    .error = "HTTP 410: deleted" };
	T_INTEQ(db_outbox_record(db, "me", &a, 1, &circuit, err, sizeof(err)), 0);
	T_INTEQ(a.recorded, 1);
	s = pgtest_strf("SELECT (disabled_at IS NOT NULL) || ' ' || disabled_reason FROM"
	    " kaudit.webhooks WHERE name = 'gone'");
	T_STREQ(s, "true HTTP 410: deleted");
	free(s);
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || last_status FROM kaudit.outbox"
	    " WHERE id = %lld", (long long)it[0].id);
	T_STREQ(s, "pending 1 410");
	free(s);
	db_outbox_items_free(it, n);
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 0);
	db_outbox_items_free(it, n);
	T_INTEQ(db_alerts_enable(db, "nope", &found, &rows, err, sizeof(err)), 0);
	T_INTEQ(found, 0);
	T_INTEQ(db_alerts_enable(db, "gone", &found, &rows, err, sizeof(err)), 0);
	T_INTEQ(found, 1);
	T_INTEQ(rows, 3);
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 3);
	db_outbox_items_free(it, n);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
}

static void
record_all(struct db *db, const char *owner, struct outbox_item *it, size_t n,
    enum outbox_result res, enum outbox_health h, long retry_ms)
{
	struct outbox_attempt *a = calloc(n + 1, sizeof(*a));

	for (size_t i = 0; i < n; i++)
		a[i] = (struct outbox_attempt){ .id = it[i].id, .res = res, .health = h,
		    .probe = it[i].probe, .http_status = h == OUTBOX_SUCCESS ? 200 : 503,
		    .error = h == OUTBOX_SUCCESS ? NULL : "HTTP 503", .retry_ms = retry_ms };
	T_INTEQ(db_outbox_record(db, owner, a, n, &circuit, err, sizeof(err)), 0);
	for (size_t i = 0; i < n; i++)
		T_INTEQ(a[i].recorded, 1);
	free(a);
}

/* Five failures in a row open the circuit: then one probe at a time, once
 * its time has come, the others neither claimed nor charged; a failed probe
 * waits the next step; a success closes it and makes the rows due. */
static void
test_circuit(void)
{
	static const char *const c[] = { "circ" };
	const struct outbox_dest d[] = { { "circ", 100, 0 } };
	struct db *db = db_connect(url, err, sizeof(err));
	struct outbox_item *it = NULL;
	size_t n = 0;
	char *s;

	sync_names(db, c, 1);
	add_to(db, "circ", 8, c, 1);
	T_INTEQ(db_outbox_claim(db, "me", 4, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 4);
	record_all(db, "me", it, n, OUTBOX_RETRY, OUTBOX_FAILURE, 0);
	db_outbox_items_free(it, n);
	T_INTEQ(pgtest_long("SELECT failures * 10 + (opened_at IS NOT NULL)::int FROM"
	    " kaudit.webhooks WHERE name = 'circ'"), 40);
	/* The fifth opens it; the next probe in probe_waits[0] (100 ms). */
	T_INTEQ(db_outbox_claim(db, "me", 1, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	record_all(db, "me", it, n, OUTBOX_RETRY, OUTBOX_FAILURE, 0);
	db_outbox_items_free(it, n);
	/* (measured from the attempt's record, not from now: a slow machine
	 * may take its time before this query) */
	s = pgtest_strf("SELECT failures || ' ' || (opened_at IS NOT NULL) || ' ' || probes || ' ' ||"
	    " (next_probe_at - (SELECT max(attempted_at) FROM kaudit.delivery_attempts)"
	    "  BETWEEN interval '60 ms' AND interval '111 ms')"
	    " FROM kaudit.webhooks WHERE name = 'circ'");
	T_STREQ(s, "5 true 0 true");
	free(s);
	/* Every row is due, none is claimed before the probe's time. */
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 0);
	db_outbox_items_free(it, n);
	pgtest_exec(pgtest_conn, "SELECT pg_sleep(0.15)");
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	T_INTEQ(n == 1 && it[0].probe, 1);
	/* The probe in flight holds the next one back for its lease. */
	T_INTEQ(pgtest_long("SELECT (next_probe_at > now() + interval '50 s')::int FROM"
	    " kaudit.webhooks WHERE name = 'circ'"), 1);
	{
		struct outbox_item *it2 = NULL;
		size_t n2 = 0;
		T_INTEQ(db_outbox_claim(db, "other", 10, 60000, d, 1, &it2, &n2, err,
		    sizeof(err)), 0);
		T_INTEQ(n2, 0);
		db_outbox_items_free(it2, n2);
	}
	/* A failed probe: the next after probe_waits[1] (1 s). */
	record_all(db, "me", it, n, OUTBOX_RETRY, OUTBOX_FAILURE, 0);
	db_outbox_items_free(it, n);
	s = pgtest_strf("SELECT failures || ' ' || probes || ' ' || (next_probe_at -"
	    " (SELECT max(attempted_at) FROM kaudit.delivery_attempts) BETWEEN"
	    " interval '850 ms' AND interval '1101 ms') FROM kaudit.webhooks"
	    " WHERE name = 'circ'");
	T_STREQ(s, "6 1 true");
	free(s);
	/* Rows of an open circuit were never charged: 6 attempts on 8 rows. */
	T_INTEQ(pgtest_long("SELECT sum(attempts) FROM kaudit.outbox WHERE webhook = 'circ'"), 6);
	/* A success closes it and makes every row due at once. */
	pgtest_exec(pgtest_conn, "UPDATE kaudit.webhooks SET next_probe_at = now() WHERE name = 'circ'");
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET next_attempt_at = now() + interval '1 hour'"
	    " WHERE webhook = 'circ'");
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 0);	/* the probe still needs a due row */
	db_outbox_items_free(it, n);
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET next_attempt_at = now()"
	    " WHERE id = (SELECT min(id) FROM kaudit.outbox WHERE webhook = 'circ')");
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	record_all(db, "me", it, n, OUTBOX_DONE, OUTBOX_SUCCESS, 0);
	db_outbox_items_free(it, n);
	s = pgtest_strf("SELECT failures || ' ' || (opened_at IS NULL) || ' ' || probes || ' ' ||"
	    " (next_probe_at IS NULL) FROM kaudit.webhooks WHERE name = 'circ'");
	T_STREQ(s, "0 true 0 true");
	free(s);
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 7);
	db_outbox_items_free(it, n);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
}

/* A failed probe ends, as dead, the rows older than max_age that were never
 * claimed; younger ones wait. */
static void
test_max_age_sweep(void)
{
	static const char *const c[] = { "aged" };
	const struct outbox_dest d[] = { { "aged", 100, 0 } };
	const struct outbox_circuit short_age = { 1, probe_waits, 2, 60000 };
	struct db *db = db_connect(url, err, sizeof(err));
	struct outbox_item *it = NULL;
	struct outbox_attempt a;
	size_t n = 0;
	char *s;

	sync_names(db, c, 1);
	add_to(db, "aged", 4, c, 1);
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET created_at = now() - interval '2 min'"
	    " WHERE webhook = 'aged' AND id < (SELECT max(id) FROM kaudit.outbox WHERE webhook = 'aged')");
	pgtest_exec(pgtest_conn, "UPDATE kaudit.webhooks SET opened_at = now(), failures = 9,"
	    " next_probe_at = now() WHERE name = 'aged'");
	T_INTEQ(db_outbox_claim(db, "me", 10, 60000, d, 1, &it, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	T_ASSERT(n == 1 && it[0].probe && it[0].age_ms >= 119000);
	a = (struct outbox_attempt){ .id = it[0].id, .res = OUTBOX_RETRY, .probe = 1,
	    .health = OUTBOX_FAILURE, .error = "timeout", .retry_ms = 1000 };
	T_INTEQ(db_outbox_record(db, "me", &a, 1, &short_age, err, sizeof(err)), 0);
	s = pgtest_strf("SELECT string_agg(state || ' ' || attempts, ',' ORDER BY id) FROM"
	    " kaudit.outbox WHERE webhook = 'aged'");
	/* The probe's own row is the alerter's to end; the two other old ones
	 * die, the young one waits. */
	T_STREQ(s, "pending 1,dead 0,dead 0,pending 0");
	free(s);
	s = pgtest_strf("SELECT min(last_error) FROM kaudit.outbox WHERE webhook = 'aged'"
	    " AND state = 'dead'");
	T_STREQ(s, "alert.max_age passed while the destination was failing");
	free(s);
	db_outbox_items_free(it, n);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
}

/* rate 0.5/s: a bucket of one token; two connections claiming one after
 * the other take it once, and the next comes 2 s later (the passage of time
 * is made by moving the bucket's time back, so a slow machine cannot make
 * this fail). */
static void
test_rate_tokens(void)
{
	static const char *const c[] = { "slack" };
	const struct outbox_dest d[] = { { "slack", 100, 0.5 } };
	struct db *a = db_connect(url, err, sizeof(err));
	struct db *b = db_connect(url, err, sizeof(err));
	struct outbox_item *ia = NULL, *ib = NULL;
	struct outbox_look l;
	size_t na = 0, nb = 0;

	sync_names(a, c, 1);
	add_to(a, "rate", 10, c, 1);
	T_INTEQ(db_outbox_claim(a, "a", 100, 60000, d, 1, &ia, &na, err, sizeof(err)), 0);
	T_INTEQ(db_outbox_claim(b, "b", 100, 60000, d, 1, &ib, &nb, err, sizeof(err)), 0);
	T_INTEQ(na + nb, 1);
	db_outbox_items_free(ia, na);
	db_outbox_items_free(ib, nb);
	/* The look says when the next token comes: within 2 s. */
	T_INTEQ(db_outbox_look(a, d, 1, &l, err, sizeof(err)), 0);
	T_ASSERT(l.next_ms > 0 && l.next_ms <= 2000);
	T_INTEQ(l.due, 1);
	T_INTEQ(l.leased, 1);
	pgtest_exec(pgtest_conn, "UPDATE kaudit.webhooks SET tokens_at = tokens_at -"
	    " interval '1 s' WHERE name = 'slack'");
	T_INTEQ(db_outbox_claim(b, "b", 100, 60000, d, 1, &ib, &nb, err, sizeof(err)), 0);
	T_INTEQ(nb, 0);
	db_outbox_items_free(ib, nb);
	pgtest_exec(pgtest_conn, "UPDATE kaudit.webhooks SET tokens_at = tokens_at -"
	    " interval '1 s' WHERE name = 'slack'");
	T_INTEQ(db_outbox_claim(b, "b", 100, 60000, d, 1, &ib, &nb, err, sizeof(err)), 0);
	T_INTEQ(nb, 1);
	db_outbox_items_free(ib, nb);
	/* The bucket never holds more than one: after a long quiet, one. */
	pgtest_exec(pgtest_conn, "UPDATE kaudit.webhooks SET tokens_at = tokens_at -"
	    " interval '100 s' WHERE name = 'slack'");
	T_INTEQ(db_outbox_claim(a, "a", 100, 60000, d, 1, &ia, &na, err, sizeof(err)), 0);
	T_INTEQ(na, 1);
	db_outbox_items_free(ia, na);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(a);
	db_close(b);
}

/* Held at an alerter's start when its webhook is not configured, with the
 * reason; pending again, max_age afresh, when one configured with it
 * starts, or by `kaudit alerts retry`. */
static void
test_hold_release(void)
{
	static const char *const both[] = { "stay", "leave" }, *const stay[] = { "stay" };
	struct db *db = db_connect(url, err, sizeof(err));
	long held = -1, back = -1, count = 0;
	int64_t id;
	char *s;

	sync_names(db, both, 2);
	add_to(db, "hold", 3, both, 2);
	T_INTEQ(db_outbox_sync(db, "host:1:abc", stay, 1, 1, &held, &back, err, sizeof(err)), 0);
	T_INTEQ(held, 3);
	T_INTEQ(back, 0);
	s = pgtest_str("SELECT held_reason FROM kaudit.outbox WHERE state = 'held' LIMIT 1");
	T_ASSERT(strncmp(s, "webhook leave is not in the configuration of alerter host:1:abc,"
	    " started 20", 75) == 0);
	free(s);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE webhook = 'stay'"
	    " AND state = 'pending'"), 3);
	/* One back by hand, the others by an alerter configured with it. */
	id = pgtest_long("SELECT min(id) FROM kaudit.outbox WHERE state = 'held'");
	T_INTEQ(db_alerts_retry(db, &id, 1, NULL, &count, err, sizeof(err)), 0);
	T_INTEQ(count, 1);
	T_INTEQ(db_outbox_sync(db, "host:2:def", both, 2, 1, &held, &back, err, sizeof(err)), 0);
	T_INTEQ(held, 0);
	T_INTEQ(back, 2);
	s = pgtest_str("SELECT count(*) || ' ' || count(*) FILTER (WHERE retried_at IS NOT NULL"
	    " AND held_reason IS NULL) FROM kaudit.outbox WHERE webhook = 'leave' AND state = 'pending'");
	T_STREQ(s, "3 3");
	free(s);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
}

/* `kaudit alerts retry`: by id (dead or held only), or every dead row of
 * one webhook; attempts kept, due now, max_age afresh. */
static void
test_alerts_retry(void)
{
	static const char *const two[] = { "r1", "r2" };
	struct db *db = db_connect(url, err, sizeof(err));
	int64_t ids[2];
	long count = -1;
	char *s;

	sync_names(db, two, 2);
	add_to(db, "retry", 2, two, 2);
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET state = 'dead', attempts = 3,"
	    " next_attempt_at = now() - interval '1 day'");
	ids[0] = pgtest_long("SELECT min(id) FROM kaudit.outbox");
	ids[1] = pgtest_long("SELECT max(id) FROM kaudit.outbox");
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET state = 'done' WHERE id ="
	    " (SELECT max(id) FROM kaudit.outbox)");
	T_INTEQ(db_alerts_retry(db, ids, 2, NULL, &count, err, sizeof(err)), 0);
	T_INTEQ(count, 1);	/* the done one stays done */
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || (retried_at > now() - interval"
	    " '5 s') || ' ' || (next_attempt_at > now() - interval '5 s') FROM kaudit.outbox"
	    " WHERE id = %lld", (long long)ids[0]);
	T_STREQ(s, "pending 3 true true");
	free(s);
	T_INTEQ(db_alerts_retry(db, NULL, 0, "r2", &count, err, sizeof(err)), 0);
	T_INTEQ(count, pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE webhook = 'r2'"
	    " AND state = 'pending' AND retried_at IS NOT NULL"));
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE state = 'dead'"
	    " AND webhook = 'r1'"), 1);
	T_INTEQ(db_alerts_retry(db, NULL, 0, NULL, &count, err, sizeof(err)), 0);
	T_INTEQ(count, 1);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE state = 'dead'"), 0);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
}

/* The batch write wakes a listening connection when it adds outbox rows,
 * and only then. */
static void
test_notify(void)
{
	struct db *listener = db_connect(url, err, sizeof(err));
	struct db *db = db_connect(url, err, sizeof(err));
	struct db_finding df;
	size_t ins = 0;
	json_t *f;

	T_INTEQ(db_listen(listener, DB_OUTBOX_CHANNEL, err, sizeof(err)), 0);
	T_ASSERT(db_socket(listener) >= 0);
	T_INTEQ(db_notifications(listener), 0);
	add_findings(db, "notify", 3);
	pgtest_exec(pgtest_conn, "SELECT pg_sleep(0.1)");
	/* One notification per transaction, however many rows. */
	T_INTEQ(db_notifications(listener), 1);
	/* A new finding without a webhook: none; redelivered, nothing new:
	 * none. */
	f = json_pack("{s:s, s:s, s:s}", "rule", "quiet", "audit_id", "q", "severity", "low");
	df = (struct db_finding){ f, "{}", 2, hooks, 0, NULL, 0, 0, NULL, NULL, NULL, 0 };
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	pgtest_exec(pgtest_conn, "SELECT pg_sleep(0.1)");
	T_INTEQ(db_notifications(listener), 0);
	json_decref(f);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
	db_close(listener);
}

/* What `kaudit alerts list` reads: disabled rows by their own state, a
 * held row's reason, destinations with their counts. */
static void
test_alerts_list(void)
{
	static const char *const two[] = { "l1", "l2" };
	struct db *db = db_connect(url, err, sizeof(err));
	struct alerts_row *r = NULL;
	struct alerts_dest *d = NULL;
	size_t n = 0, nd = 0;

	sync_names(db, two, 2);
	add_to(db, "list", 2, two, 2);
	pgtest_exec(pgtest_conn, "UPDATE kaudit.webhooks SET disabled_at = now(),"
	    " disabled_reason = 'HTTP 410' WHERE name = 'l1'");
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET state = 'held', held_reason = 'why'"
	    " WHERE id = (SELECT max(id) FROM kaudit.outbox)");
	T_INTEQ(db_alerts_list(db, "disabled", NULL, 10, &r, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 2);
	T_ASSERT(n == 2 && strcmp(r[0].webhook, "l1") == 0 && strcmp(r[0].state, "disabled") == 0);
	db_alerts_rows_free(r, n);
	T_INTEQ(db_alerts_list(db, "pending", NULL, 10, &r, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	db_alerts_rows_free(r, n);
	T_INTEQ(db_alerts_list(db, "held", "l2", 10, &r, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 1);
	T_ASSERT(n == 1 && strcmp(r[0].last_error, "why") == 0 && r[0].created_ms > 0 &&
	    r[0].next_ms == 0);
	db_alerts_rows_free(r, n);
	T_INTEQ(db_alerts_list(db, NULL, NULL, 3, &r, &n, err, sizeof(err)), 0);
	T_INTEQ(n, 3);	/* the limit */
	T_ASSERT(n == 3 && r[0].id > r[1].id);	/* newest first */
	db_alerts_rows_free(r, n);
	T_INTEQ(db_alerts_dests(db, "l1", &d, &nd, err, sizeof(err)), 0);
	T_INTEQ(nd, 1);
	T_ASSERT(nd == 1 && d[0].disabled_ms > 0 && strcmp(d[0].disabled_reason, "HTTP 410") == 0 &&
	    d[0].pending == 2 && d[0].held == 0 && d[0].opened_ms == 0);
	db_alerts_dests_free(d, nd);
	pgtest_exec(pgtest_conn, "DELETE FROM kaudit.findings");
	db_close(db);
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
	T_RUN(test_claim_caps);
	T_RUN(test_gone_disables);
	T_RUN(test_circuit);
	T_RUN(test_max_age_sweep);
	T_RUN(test_rate_tokens);
	T_RUN(test_hold_release);
	T_RUN(test_alerts_retry);
	T_RUN(test_notify);
	T_RUN(test_alerts_list);
	pgtest_teardown();
	return t_done();
}
