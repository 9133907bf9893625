/* test_alert.c — routing, webhook POSTs and the alerter thread against a
 * real PostgreSQL and the real webhook receiver (tests/services/receiver.py):
 * delivery with its headers, retry with backoff, dead after max_attempts,
 * DROP on a 4xx, a webhook removed from the config, a stop that leaves
 * unsent rows pending with their leases released, and a claim's rows sent
 * concurrently (a slow or dead webhook does not hold up the others). Claims
 * are leases: no transaction is open during a POST, two alerters deliver
 * each row once, a crashed alerter's lease expires and its rows go out, and
 * a late record after a lost lease changes nothing. Needs KAUDIT_PG_URL,
 * KAUDIT_RECEIVER_URL and KAUDIT_RECEIVER_LOG. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alert/alert.h"
#include "alert/webhook.h"
#include "base/buf.h"
#include "base/log.h"
#include "app/config.h"
#include "base/version.h"
#include "base/xmalloc.h"
#include "schema/db.h"
#include "tests/unit/pgtest.h"
#include "tests/unit/t.h"

static char		*url;
static const char	*recv_url, *recv_log;
static char		 err[512];
static char		 tag[32];	/* makes receiver paths unique per run */
static struct config	 conf;
static struct db	*db;

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static long pgtest_longf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Polls until the query returns want or timeout_ms pass; returns the last value. */
static long
wait_long(long want, long timeout_ms, const char *sql)
{
	long end = now_ms() + timeout_ms, v;

	while ((v = pgtest_long(sql)) != want && now_ms() < end)
		sleep_ms(25);
	return v;
}

static int
load_config(struct config *c, const char *yaml)
{
	struct buf errs;
	int rc;

	buf_init(&errs);
	config_defaults(c);
	rc = config_load_text(c, "test_alert.yaml", yaml, strlen(yaml), &errs);
	if (rc != 0)
		printf("  config: %s\n", buf_cstr(&errs));
	buf_free(&errs);
	return rc;
}

static json_t *
finding(const char *rule, const char *severity, const char *category)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:{s:s}}", "rule", rule,
	    "audit_id", tag, "severity", severity, "category", category,
	    "title", "t\xc3\xa9st", "tags", "T1609", "evidence", "verb", "create");
}

static void
test_route(void)
{
	struct config c;
	const char *names[8];
	json_t *f;
	size_t n;

	T_INTEQ(load_config(&c,
	    "alert:\n"
	    "  webhooks:\n"
	    "    - { name: all, url: \"http://127.0.0.1:1/a\" }\n"
	    "    - { name: high, url: \"http://127.0.0.1:1/h\", min_severity: high }\n"
	    "    - { name: cats, url: \"http://127.0.0.1:1/c\", categories: [exec, rbac] }\n"
	    "    - { name: one, url: \"http://127.0.0.1:1/o\", rules: [r1],"
	    " min_severity: medium, categories: [exec] }\n"), 0);
	T_INTEQ(c.alert.nwebhooks, 4);
	f = finding("r1", "medium", "exec");
	n = alert_route(&c.alert, f, names, NULL);
	T_INTEQ(n, 3);
	if (n == 3) {
		T_STREQ(names[0], "all");
		T_STREQ(names[1], "cats");
		T_STREQ(names[2], "one");
	}
	json_decref(f);
	f = finding("r2", "critical", "secrets");
	n = alert_route(&c.alert, f, names, NULL);
	T_INTEQ(n, 2);
	if (n == 2) {
		T_STREQ(names[0], "all");
		T_STREQ(names[1], "high");
	}
	json_decref(f);
	f = finding("r1", "low", "exec");	/* below "one"'s medium */
	T_INTEQ(alert_route(&c.alert, f, names, NULL), 2);
	json_decref(f);
	f = finding("r1", "bogus", "rbac");	/* unknown severity ranks as info */
	T_INTEQ(alert_route(&c.alert, f, names, NULL), 2);
	json_decref(f);
	f = json_object();			/* no fields at all */
	n = alert_route(&c.alert, f, names, NULL);
	T_INTEQ(n, 1);
	if (n == 1)
		T_STREQ(names[0], "all");
	json_decref(f);
	config_free(&c);
}

static void
test_classify(void)
{
	static const struct { int status; enum webhook_result want; } cases[] = {
		{ 200, WEBHOOK_OK }, { 202, WEBHOOK_OK }, { 204, WEBHOOK_OK },
		{ 299, WEBHOOK_OK }, { 408, WEBHOOK_RETRY }, { 429, WEBHOOK_RETRY },
		{ 500, WEBHOOK_RETRY }, { 502, WEBHOOK_RETRY }, { 503, WEBHOOK_RETRY },
		{ 0, WEBHOOK_RETRY }, { 400, WEBHOOK_DROP }, { 401, WEBHOOK_DROP },
		{ 403, WEBHOOK_DROP }, { 404, WEBHOOK_DROP }, { 413, WEBHOOK_DROP },
		{ 301, WEBHOOK_DROP }, { 302, WEBHOOK_DROP }, { 410, WEBHOOK_GONE },
		{ 409, WEBHOOK_DROP }, { 422, WEBHOOK_DROP }, { 504, WEBHOOK_RETRY },
		{ 599, WEBHOOK_RETRY }, { 100, WEBHOOK_DROP },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (webhook_classify(cases[i].status) != cases[i].want)
			printf("    status %d\n", cases[i].status);
		T_INTEQ(webhook_classify(cases[i].status), cases[i].want);
	}
}

/* The receiver's record of this run's request carrying X-Kaudit-Delivery:
 * id (a new reference), or NULL. */
static json_t *
received(long long id)
{
	FILE *fp = fopen(recv_log, "r");
	char want[32], *line = NULL;
	size_t cap = 0;
	json_t *rec, *found = NULL;

	if (fp == NULL)
		return NULL;
	snprintf(want, sizeof(want), "%lld", id);
	while (getline(&line, &cap, fp) > 0) {
		/* The log is shared with other suites: parse only this run's lines. */
		if (strstr(line, tag) == NULL)
			continue;
		rec = json_loads(line, 0, NULL);
		const char *got = json_string_value(json_object_get(
		    json_object_get(rec, "headers"), "X-Kaudit-Delivery"));
		const char *path = json_string_value(json_object_get(rec, "path"));
		/* Ids restart with every test database: the tag tells this run. */
		if (got != NULL && strcmp(got, want) == 0 && path != NULL &&
		    strstr(path, tag) != NULL) {
			json_decref(found);
			found = rec;
		} else {
			json_decref(rec);
		}
	}
	free(line);
	fclose(fp);
	return found;
}

static const char *
header(json_t *rec, const char *name)
{
	return json_string_value(json_object_get(json_object_get(rec, "headers"), name));
}

/* Delivery ids of this run's requests whose path ends with suffix, in the
 * order received, repeats included; *n their count. The caller frees. */
static long long *
received_ids(const char *suffix, size_t *n)
{
	FILE *fp = fopen(recv_log, "r");
	char *line = NULL;
	size_t cap = 0, cap_ids = 16, slen = strlen(suffix), plen;
	long long *ids = calloc(cap_ids, sizeof(*ids));
	json_t *rec;

	*n = 0;
	if (fp == NULL)
		return ids;
	while (getline(&line, &cap, fp) > 0) {
		if (strstr(line, tag) == NULL)
			continue;
		rec = json_loads(line, 0, NULL);
		const char *got = header(rec, "X-Kaudit-Delivery");
		const char *path = json_string_value(json_object_get(rec, "path"));
		plen = path != NULL ? strlen(path) : 0;
		if (got != NULL && plen >= slen && strstr(path, tag) != NULL &&
		    strcmp(path + plen - slen, suffix) == 0) {
			if (*n == cap_ids)
				ids = realloc(ids, (cap_ids *= 2) * sizeof(*ids));
			ids[(*n)++] = strtoll(got, NULL, 10);
		}
		json_decref(rec);
	}
	free(line);
	fclose(fp);
	return ids;
}

static int
cmp_ll(const void *x, const void *y)
{
	long long a = *(const long long *)x, b = *(const long long *)y;

	return a < b ? -1 : a > b;
}

/* One POST each way a delivery can end, on one reused handle. */
static void
test_webhook_post(void)
{
	struct webhook *w = webhook_new();
	struct webhook_conf wc = { 0 };
	struct kv hdr = { "X-Token", "abc" };
	char u[512], why[256], *big;
	const char *payload = "{\"rule\":\"x\"}";
	int status = -1;
	long ms = -1;
	json_t *rec;

	wc.name = "t";
	wc.url = u;
	wc.timeout_ms = 2000;
	wc.headers.v = &hdr;
	wc.headers.n = 1;
	snprintf(u, sizeof(u), "%s/hook/%s", recv_url, tag);
	T_INTEQ(webhook_post(w, &wc, 900001, payload, strlen(payload), &status, why,
	    sizeof(why), &ms), WEBHOOK_OK);
	T_INTEQ(status, 200);
	T_STREQ(why, "");
	T_ASSERT(ms >= 0 && ms < 2000);
	rec = received(900001);
	T_ASSERT(rec != NULL);
	T_STREQ(json_string_value(json_object_get(rec, "body")), payload);
	T_STREQ(json_string_value(json_object_get(rec, "method")), "POST");
	T_STREQ(header(rec, "Content-Type"), "application/json");
	T_STREQ(header(rec, "User-Agent"), "kaudit/" KAUDIT_VERSION);
	T_STREQ(header(rec, "X-Token"), "abc");
	json_decref(rec);

	snprintf(u, sizeof(u), "%s/fail/%s", recv_url, tag);
	T_INTEQ(webhook_post(w, &wc, 900002, payload, strlen(payload), &status, why,
	    sizeof(why), &ms), WEBHOOK_RETRY);
	T_INTEQ(status, 500);
	T_STREQ(why, "HTTP 500: failing on purpose");

	/* A header line over the receiver's 64 KiB limit: it answers 431. */
	big = malloc(70000);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	hdr.value = big;
	snprintf(u, sizeof(u), "%s/hook/%s", recv_url, tag);
	T_INTEQ(webhook_post(w, &wc, 900003, payload, strlen(payload), &status, why,
	    sizeof(why), &ms), WEBHOOK_DROP);
	T_INTEQ(status, 431);
	T_ASSERT(strncmp(why, "HTTP 431", 8) == 0);
	hdr.value = "abc";
	free(big);

	snprintf(u, sizeof(u), "%s/slow/1500/%s", recv_url, tag);
	wc.timeout_ms = 300;
	T_INTEQ(webhook_post(w, &wc, 900004, payload, strlen(payload), &status, why,
	    sizeof(why), &ms), WEBHOOK_RETRY);
	T_INTEQ(status, 0);
	T_ASSERT(strncmp(why, "timeout after 300 ms", 20) == 0);
	T_ASSERT(ms >= 250 && ms < 1400);

	/* Nothing listens on port 1. */
	snprintf(u, sizeof(u), "http://127.0.0.1:1/x");
	T_INTEQ(webhook_post(w, &wc, 900005, payload, strlen(payload), &status, why,
	    sizeof(why), &ms), WEBHOOK_RETRY);
	T_INTEQ(status, 0);
	T_ASSERT(strlen(why) > 0);
	snprintf(u, sizeof(u), "ftp://127.0.0.1/x");
	T_INTEQ(webhook_post(w, &wc, 900006, payload, strlen(payload), &status, why,
	    sizeof(why), &ms), WEBHOOK_DROP);
	webhook_free(w);
}

/* Stores a finding for rule, routed to the given webhooks; returns the
 * outbox id of its first webhook. */
static long long
add(const char *rule, const char *const *hooks, size_t nhooks)
{
	json_t *f = finding(rule, "high", "exec");
	struct db_finding df = { f, "{\"kind\":\"Event\"}", 16, hooks, nhooks, NULL, 0, 0, NULL, NULL, NULL, 0 };
	size_t ins = 0;

	T_INTEQ(db_write_batch(db, &df, 1, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, 1);
	json_decref(f);
	return pgtest_longf("SELECT o.id FROM kaudit.outbox o JOIN kaudit.findings f ON"
	    " f.id = o.finding_id WHERE f.rule = '%s' AND o.webhook = '%s'", rule, hooks[0]);
}

/* Stores n findings named prefix-0..prefix-(n-1), routed to hooks, in one
 * write. */
static void
add_many(const char *prefix, const char *const *hooks, size_t nhooks, int n)
{
	struct db_finding *df = calloc((size_t)n, sizeof(*df));
	char rule[64];
	size_t ins = 0;

	for (int i = 0; i < n; i++) {
		snprintf(rule, sizeof(rule), "%s-%d", prefix, i);
		df[i] = (struct db_finding){ finding(rule, "high", "exec"),
		    "{\"kind\":\"Event\"}", 16, hooks, nhooks, NULL, 0, 0, NULL, NULL, NULL, 0 };
	}
	T_INTEQ(db_write_batch(db, df, (size_t)n, NULL, 0, &ins, NULL, err, sizeof(err)), 0);
	T_INTEQ(ins, n);
	for (int i = 0; i < n; i++)
		json_decref(df[i].finding);
	free(df);
}

/* Rows of findings named prefix-* for webhook hook in state; SQL. */
static void
count_sql(char *sql, size_t len, const char *prefix, const char *hook, const char *state)
{
	snprintf(sql, len, "SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
	    " ON f.id = o.finding_id WHERE f.rule LIKE '%s-%%' AND o.webhook = '%s'"
	    " AND o.state = '%s'", prefix, hook, state);
}

static char *
state_of(long long id)
{
	return pgtest_strf("SELECT state || ' ' || attempts || ' ' || coalesce(last_status, 0)"
	    " FROM kaudit.outbox WHERE id = %lld", id);
}

static long
wait_state(long long id, const char *state, long timeout_ms)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM kaudit.outbox WHERE id = %lld"
	    " AND state = '%s'", id, state);
	return wait_long(1, timeout_ms, sql);
}

/* Delivered once, body equal to the stored finding, headers present. */
static void
test_alerter_delivers(void)
{
	static const char *const hooks[] = { "ok" };
	struct alerter *a;
	long long id = add("deliver", hooks, 1);
	json_t *rec, *body, *stored;
	char *s;

	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL)
		return;
	T_INTEQ(wait_state(id, "done", 5000), 1);
	sleep_ms(200);
	T_INTEQ(alerter_idle(a), 1);
	alerter_stop(a);
	s = state_of(id);
	T_STREQ(s, "done 1 200");
	free(s);
	rec = received(id);
	T_ASSERT(rec != NULL);
	body = json_loads(json_string_value(json_object_get(rec, "body")), 0, NULL);
	s = pgtest_strf("SELECT finding::text FROM kaudit.findings WHERE rule = 'deliver'");
	stored = json_loads(s, 0, NULL);
	free(s);
	T_ASSERT(body != NULL && json_equal(body, stored));
	T_STREQ(json_string_value(json_object_get(body, "title")), "t\xc3\xa9st");
	T_STREQ(header(rec, "X-Token"), "secret");
	T_STREQ(header(rec, "User-Agent"), "kaudit/" KAUDIT_VERSION);
	T_STREQ(header(rec, "Content-Type"), "application/json");
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.delivery_attempts WHERE outbox_id = %lld"
	    " AND http_status = 200 AND error IS NULL", id), 1);
	json_decref(rec);
	json_decref(body);
	json_decref(stored);
}

/* flaky/2 fails twice then succeeds: three attempts, spaced by the
 * schedule: 100 ms (backoff_ms), then 400 ms (the 5 min step scaled by
 * 100/5000 is 6 s, capped by max_backoff_ms), each within 10%. */
static void
test_alerter_retries(void)
{
	static const char *const hooks[] = { "flaky" };
	struct alerter *a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	long long id = add("retry", hooks, 1);
	long gap1, gap2;
	char *s;

	T_INTEQ(wait_state(id, "done", 8000), 1);
	alerter_stop(a);
	s = state_of(id);
	T_STREQ(s, "done 3 200");
	free(s);
	s = pgtest_strf("SELECT string_agg(coalesce(http_status, 0)::text, ',' ORDER BY id)"
	    " FROM kaudit.delivery_attempts WHERE outbox_id = %lld", id);
	T_STREQ(s, "500,500,200");
	free(s);
	/* Gap from the end of one attempt to the end of the next, in ms. */
	gap1 = pgtest_longf("SELECT extract(epoch FROM (b.attempted_at - a.attempted_at)) * 1000"
	    " FROM kaudit.delivery_attempts a, kaudit.delivery_attempts b WHERE"
	    " a.outbox_id = %lld AND b.outbox_id = a.outbox_id AND b.id = a.id + 1"
	    " ORDER BY a.id LIMIT 1", id);
	gap2 = pgtest_longf("SELECT extract(epoch FROM (b.attempted_at - a.attempted_at)) * 1000"
	    " FROM kaudit.delivery_attempts a, kaudit.delivery_attempts b WHERE"
	    " a.outbox_id = %lld AND b.outbox_id = a.outbox_id AND b.id = a.id + 1"
	    " ORDER BY a.id DESC LIMIT 1", id);
	printf("  retry gaps: %ld ms, %ld ms\n", gap1, gap2);
	T_ASSERT(gap1 >= 90 && gap1 < 300);
	T_ASSERT(gap2 >= 360 && gap2 < 1000);
}

/* /fail always answers 500: dead after max_attempts (3), queryable. A row
 * of a webhook no longer in the configuration is held when an alerter
 * starts, never posted, and pending again when one configured with it
 * starts. */
static void
test_alerter_dead(void)
{
	static const char *const hooks[] = { "fail" };
	static const char *const gone[] = { "gone" };
	long long gid = add("gone", gone, 1);
	struct alerter *a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	long long id = add("dead", hooks, 1);
	struct config c2;
	char *s, *yaml;

	T_INTEQ(wait_state(id, "dead", 8000), 1);
	T_INTEQ(wait_state(gid, "held", 2000), 1);
	alerter_stop(a);
	s = state_of(id);
	T_STREQ(s, "dead 3 500");
	free(s);
	s = pgtest_strf("SELECT last_error FROM kaudit.alert_failures WHERE outbox_id = %lld", id);
	T_STREQ(s, "gave up after 3 attempts (alert.max_attempts): HTTP 500: failing on purpose");
	free(s);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.delivery_attempts WHERE outbox_id = %lld", id), 3);
	s = pgtest_strf("SELECT state || ' ' || attempts || ': ' || held_reason FROM kaudit.outbox"
	    " WHERE id = %lld", gid);
	{
		static const char want[] = "held 0: webhook gone is not in the configuration of alerter ";
		if (strncmp(s, want, sizeof(want) - 1) != 0)
			printf("    held: %s\n", s);
		T_ASSERT(strncmp(s, want, sizeof(want) - 1) == 0);
	}
	free(s);
	T_ASSERT(received(gid) == NULL);
	/* Back in a configuration: pending again, and delivered. */
	yaml = xasprintf("postgres:\n  url: \"%s\"\nalert:\n  webhooks:\n"
	    "    - { name: gone, url: \"%s/hook/%s\" }\n", url, recv_url, tag);
	T_INTEQ(load_config(&c2, yaml), 0);
	a = alerter_start(c2.pg_url, &c2.alert, err, sizeof(err));
	T_INTEQ(wait_state(gid, "done", 5000), 1);
	alerter_stop(a);
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || (held_reason IS NULL) || ' ' ||"
	    " (retried_at IS NOT NULL) FROM kaudit.outbox WHERE id = %lld", gid);
	T_STREQ(s, "done 1 true true");
	free(s);
	free(yaml);
	config_free(&c2);
}

/* A 4xx answer ends the delivery at the first attempt. */
static void
test_alerter_drop(void)
{
	static const char *const hooks[] = { "reject" };
	struct alerter *a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	long long id = add("drop", hooks, 1);
	char *s;

	T_INTEQ(wait_state(id, "dead", 5000), 1);
	alerter_stop(a);
	s = state_of(id);
	T_STREQ(s, "dead 1 431");
	free(s);
}

/* Stopping mid-round lets the POSTs in flight end and record, starts no
 * more, and leaves the rest pending with no attempt counted. A batch of 2
 * makes 4 rows take two rounds. */
static void
test_alerter_stop(void)
{
	static const char *const hooks[] = { "slow" };
	struct config c2 = conf;
	struct alerter *a;
	long long first = 0;
	long t0, took;
	char rule[32];

	c2.alert.batch = 2;
	for (int i = 0; i < 4; i++) {
		snprintf(rule, sizeof(rule), "stop-%d", i);
		long long id = add(rule, hooks, 1);
		if (i == 0)
			first = id;
	}
	a = alerter_start(c2.pg_url, &c2.alert, err, sizeof(err));
	/* Wait until the first slow request reached the receiver. */
	for (long end = now_ms() + 5000; now_ms() < end; sleep_ms(20)) {
		json_t *rec = received(first);
		if (rec != NULL) {
			json_decref(rec);
			break;
		}
	}
	t0 = now_ms();
	alerter_stop(a);
	took = now_ms() - t0;
	printf("  alerter_stop took %ld ms with two 1000 ms deliveries in flight\n", took);
	T_ASSERT(took < 2500);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f ON"
	    " f.id = o.finding_id WHERE f.rule LIKE 'stop-%%' AND o.state = 'done'"), 2);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f ON"
	    " f.id = o.finding_id WHERE f.rule LIKE 'stop-%%' AND o.state = 'pending'"
	    " AND o.attempts = 0"), 2);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE locked_by IS NOT NULL"), 0);
	/* The next alerter delivers them. */
	a = alerter_start(c2.pg_url, &c2.alert, err, sizeof(err));
	T_INTEQ(wait_long(4, 10000, "SELECT count(*) FROM kaudit.outbox o JOIN kaudit.findings f"
	    " ON f.id = o.finding_id WHERE f.rule LIKE 'stop-%' AND o.state = 'done'"), 4);
	alerter_stop(a);
}

/* url with application_name=name added, so pg_stat_activity tells the
 * alerter's connection from the test's own. */
static char *
url_named(const char *name)
{
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
		return xasprintf("%s%capplication_name=%s", url,
		    strchr(url, '?') != NULL ? '&' : '?', name);
	return xasprintf("%s application_name=%s", url, name);
}

/* While a POST is in flight the alerter's connection holds no transaction:
 * it is "idle", not "idle in transaction", with no xact_start. The row is
 * still pending when pg_stat_activity is read, so the look is mid-POST. */
static void
test_alerter_no_open_transaction(void)
{
	static const char *const hooks[] = { "slower" };
	struct config c2 = conf;
	struct alerter *a;
	long long id = add("notx", hooks, 1);
	char app[64], *s;
	json_t *rec = NULL;

	snprintf(app, sizeof(app), "alerter_%s", tag);
	for (char *p = app; *p; p++)
		if (*p == '-')
			*p = '_';
	c2.pg_url = url_named(app);
	a = alerter_start(c2.pg_url, &c2.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL) {
		free(c2.pg_url);
		return;
	}
	for (long end = now_ms() + 5000; now_ms() < end && rec == NULL; sleep_ms(20))
		rec = received(id);
	T_ASSERT(rec != NULL);
	json_decref(rec);
	s = pgtest_strf("SELECT string_agg(state || ' ' || (xact_start IS NULL), ',')"
	    " FROM pg_stat_activity WHERE application_name = '%s'", app);
	printf("  alerter connection during a POST: %s\n", s);
	T_STREQ(s, "idle true");
	free(s);
	/* The row is held by the alerter's lease instead, for the longest
	 * timeout (5 s) plus the margin. */
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || (locked_by LIKE"
	    " '%%:%ld:%%') || ' ' || (locked_until > now() + interval '4 s')"
	    " FROM kaudit.outbox WHERE id = %lld", (long)getpid(), id);
	T_STREQ(s, "pending 0 true true");
	free(s);
	T_INTEQ(alerter_idle(a), 0);
	T_INTEQ(wait_state(id, "done", 5000), 1);
	alerter_stop(a);
	free(c2.pg_url);
}

/* The alerter wakes on NOTIFY, not on its poll (10 s here): a finding is
 * delivered at once, and still is after the alerter's connection was
 * killed, since it LISTENs again when it reconnects. */
static void
test_alerter_notify(void)
{
	static const char *const hooks[] = { "ok" };
	struct config c2 = conf;
	struct alerter *a;
	long long id;
	long t0, took;
	char app[64];

	snprintf(app, sizeof(app), "notify_%s", tag);
	for (char *p = app; *p; p++)
		if (*p == '-')
			*p = '_';
	c2.pg_url = url_named(app);
	c2.alert.poll_ms = 10000;
	a = alerter_start(c2.pg_url, &c2.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL) {
		free(c2.pg_url);
		return;
	}
	sleep_ms(300);		/* its first look is over */
	t0 = now_ms();
	id = add("notify-1", hooks, 1);
	T_INTEQ(wait_state(id, "done", 3000), 1);
	took = now_ms() - t0;
	printf("  delivered %ld ms after the commit (poll_ms 10000)\n", took);
	T_ASSERT(took < 1000);
	T_INTEQ(pgtest_longf("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
	    " WHERE application_name = '%s'", app), 1);
	sleep_ms(1000);		/* it sees the connection gone, and comes back */
	T_INTEQ(pgtest_longf("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'",
	    app), 1);
	t0 = now_ms();
	id = add("notify-2", hooks, 1);
	T_INTEQ(wait_state(id, "done", 3000), 1);
	took = now_ms() - t0;
	printf("  after a reconnect: delivered %ld ms after the commit\n", took);
	T_ASSERT(took < 1000);
	alerter_stop(a);
	free(c2.pg_url);
}

/* Rows an alerter holds leases on but never sent are released when it
 * stops, so another alerter sends them at once rather than after the lease.
 * "one" takes one POST at a time and queues one more: while the first
 * row's POST runs, the second waits in the alerter's queue and the third
 * cannot be claimed; leasing that one to the alerter by hand stands for a
 * claim whose answer was lost. */
static void
test_alerter_stop_releases(void)
{
	static const char *const one[] = { "one" };
	struct alerter *a;
	long long id = add("release", one, 1);
	json_t *rec = NULL;
	char *owner, sql[512];

	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL)
		return;
	for (long end = now_ms() + 5000; now_ms() < end && rec == NULL; sleep_ms(20))
		rec = received(id);
	T_ASSERT(rec != NULL);
	json_decref(rec);
	owner = pgtest_strf("SELECT locked_by FROM kaudit.outbox WHERE id = %lld", id);
	add_many("unsent", one, 1, 2);
	sleep_ms(100);
	count_sql(sql, sizeof(sql), "unsent", "one", "pending");
	strcat(sql, " AND o.locked_by IS NULL");
	T_INTEQ(pgtest_long(sql), 1);
	pgtest_exec(pgtest_conn, "BEGIN");
	T_INTEQ(pgtest_longf("WITH u AS (UPDATE kaudit.outbox o SET locked_by = '%s',"
	    " locked_until = now() + interval '1 hour' FROM kaudit.findings f WHERE"
	    " f.id = o.finding_id AND f.rule LIKE 'unsent-%%' AND o.locked_by IS NULL"
	    " RETURNING 1) SELECT count(*) FROM u", owner), 1);
	pgtest_exec(pgtest_conn, "COMMIT");
	alerter_stop(a);
	T_INTEQ(wait_state(id, "done", 100), 1);
	count_sql(sql, sizeof(sql), "unsent", "one", "pending");
	strcat(sql, " AND o.attempts = 0 AND o.locked_by IS NULL AND o.locked_until IS NULL");
	T_INTEQ(pgtest_long(sql), 2);
	/* Due at once for the next alerter: two POSTs of 500 ms, one at a time. */
	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	count_sql(sql, sizeof(sql), "unsent", "one", "done");
	T_INTEQ(wait_long(2, 2500, sql), 2);
	alerter_stop(a);
	free(owner);
}

/* Two alerters on one outbox: every row delivered exactly once, by the
 * receiver's count of X-Kaudit-Delivery ids. Small batches to a webhook
 * that answers in 50 ms make their claims interleave with each other's
 * deliveries in flight. */
static void
test_alerter_two(void)
{
	static const char *const hooks[] = { "two" };
	struct config c2 = conf;
	struct alerter *a, *b;
	long long *ids, want[120];
	size_t n = 0, dups = 0;
	char sql[512];
	int nwant = 0, same;

	c2.alert.batch = 4;
	add_many("two", hooks, 1, 120);
	count_sql(sql, sizeof(sql), "two", "two", "done");
	a = alerter_start(c2.pg_url, &c2.alert, err, sizeof(err));
	b = alerter_start(c2.pg_url, &c2.alert, err, sizeof(err));
	T_ASSERT(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	T_INTEQ(wait_long(120, 20000, sql), 120);
	alerter_stop(a);
	alerter_stop(b);
	ids = received_ids("/two", &n);
	qsort(ids, n, sizeof(*ids), cmp_ll);
	for (size_t i = 1; i < n; i++)
		dups += ids[i] == ids[i - 1];
	printf("  two alerters: %zu requests for 120 rows, %zu repeated\n", n, dups);
	T_INTEQ(n, 120);
	T_INTEQ(dups, 0);
	for (int i = 0; i < 120; i++) {
		char rule[32];

		snprintf(rule, sizeof(rule), "two-%d", i);
		want[nwant++] = pgtest_longf("SELECT o.id FROM kaudit.outbox o JOIN"
		    " kaudit.findings f ON f.id = o.finding_id WHERE f.rule = '%s'", rule);
	}
	qsort(want, (size_t)nwant, sizeof(*want), cmp_ll);
	same = n == (size_t)nwant;
	for (size_t i = 0; same && i < n; i++)
		same = ids[i] == want[i];
	T_ASSERT(same);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.delivery_attempts d JOIN"
	    " kaudit.outbox o ON o.id = d.outbox_id WHERE o.webhook = 'two'"), 120);
	free(ids);
}

/* Rows leased by an alerter that crashed: untouched while the lease runs
 * (and the alerter is not idle, so --idle-exit waits), then claimed and
 * delivered once. */
static void
test_alerter_expired_lease(void)
{
	static const char *const hooks[] = { "ok" };
	struct alerter *a;
	long long *ids;
	size_t n = 0;
	char sql[512];
	long t0, took;

	add_many("expire", hooks, 1, 3);
	T_INTEQ(pgtest_long("WITH u AS (UPDATE kaudit.outbox o SET locked_by ="
	    " 'crashed:1:00000000', locked_until = clock_timestamp() + interval '2500 ms'"
	    " FROM kaudit.findings f WHERE f.id = o.finding_id AND f.rule LIKE 'expire-%'"
	    " RETURNING 1) SELECT count(*) FROM u"), 3);
	t0 = now_ms();
	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL)
		return;
	sleep_ms(500);
	count_sql(sql, sizeof(sql), "expire", "ok", "pending");
	strcat(sql, " AND o.attempts = 0 AND o.locked_by = 'crashed:1:00000000'");
	T_INTEQ(pgtest_long(sql), 3);
	T_INTEQ(alerter_idle(a), 0);
	count_sql(sql, sizeof(sql), "expire", "ok", "done");
	T_INTEQ(wait_long(3, 5000, sql), 3);
	took = now_ms() - t0;
	printf("  rows under a crashed alerter's 2500 ms lease delivered after %ld ms\n", took);
	T_ASSERT(took >= 2000);
	sleep_ms(200);
	T_INTEQ(alerter_idle(a), 1);
	alerter_stop(a);
	/* Each sent once: the crashed alerter never sent them in this test. */
	ids = received_ids(tag, &n);
	for (int i = 0; i < 3; i++) {
		long long id = pgtest_longf("SELECT o.id FROM kaudit.outbox o JOIN"
		    " kaudit.findings f ON f.id = o.finding_id WHERE f.rule = 'expire-%d'", i);
		size_t seen = 0;

		for (size_t k = 0; k < n; k++)
			seen += ids[k] == id;
		T_INTEQ(seen, 1);
	}
	free(ids);
	count_sql(sql, sizeof(sql), "expire", "ok", "done");
	strcat(sql, " AND o.attempts = 1 AND o.locked_by IS NULL");
	T_INTEQ(pgtest_long(sql), 3);
}

/* The alerter's lease ran out mid-POST and another alerter took the row:
 * the late result is not recorded over the other's, and is counted. */
static void
test_alerter_lease_lost(void)
{
	static const char *const hooks[] = { "slower" };
	struct alerter *a;
	long long id = add("lost", hooks, 1);
	unsigned long lost0 = log_count("alert.lease_lost");
	json_t *rec = NULL;
	char *s;

	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL)
		return;
	for (long end = now_ms() + 5000; now_ms() < end && rec == NULL; sleep_ms(20))
		rec = received(id);
	T_ASSERT(rec != NULL);
	json_decref(rec);
	T_INTEQ(pgtest_longf("WITH u AS (UPDATE kaudit.outbox SET locked_by = 'other:1:x',"
	    " locked_until = now() + interval '1 hour' WHERE id = %lld AND state = 'pending'"
	    " RETURNING 1) SELECT count(*) FROM u", id), 1);
	for (long end = now_ms() + 5000; now_ms() < end &&
	    log_count("alert.lease_lost") == lost0; sleep_ms(20))
		;
	T_INTEQ(log_count("alert.lease_lost") - lost0, 1);
	s = pgtest_strf("SELECT state || ' ' || attempts || ' ' || locked_by FROM"
	    " kaudit.outbox WHERE id = %lld", id);
	T_STREQ(s, "pending 0 other:1:x");
	free(s);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.delivery_attempts WHERE"
	    " outbox_id = %lld", id), 0);
	alerter_stop(a);
	/* Out of the way of the next tests' idle checks. */
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET state = 'dead', locked_by = NULL,"
	    " locked_until = NULL WHERE locked_by = 'other:1:x'");
}

/* 20 rows to a webhook that takes 1 s each: one round sends them all at
 * once, so they are done in about 1 s, not 20. */
static void
test_alerter_concurrent(void)
{
	static const char *const hooks[] = { "slow" };
	struct alerter *a;
	char sql[512];
	long t0, took;

	add_many("conc", hooks, 1, 20);
	count_sql(sql, sizeof(sql), "conc", "slow", "done");
	t0 = now_ms();
	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL)
		return;
	T_INTEQ(wait_long(20, 20000, sql), 20);
	took = now_ms() - t0;
	alerter_stop(a);
	printf("  20 deliveries of 1000 ms each took %ld ms\n", took);
	T_ASSERT(took >= 1000 && took < 6000);
	T_INTEQ(pgtest_longf("SELECT count(*) FROM kaudit.delivery_attempts d JOIN"
	    " kaudit.outbox o ON o.id = d.outbox_id JOIN kaudit.findings f ON"
	    " f.id = o.finding_id WHERE f.rule LIKE 'conc-%%' AND d.http_status = 200"
	    " AND d.duration_ms >= 1000"), 20);
}

/* A webhook that times out (3 s answers, 500 ms timeout) does not hold up
 * another webhook's rows: they are done while its POSTs hang. After 5
 * failures in a row its circuit opens: from then on only one probe at a
 * time goes (at the backoff pace, 100 then 400 ms here), the other rows are
 * neither claimed nor charged an attempt, and none is dead (max_age). */
static void
test_alerter_circuit(void)
{
	static const char *const hooks[] = { "ok", "deadslow" };
	struct alerter *a;
	char sql[512];
	long t0, took, attempts, charged;
	char *s;

	add_many("iso", hooks, 2, 12);
	count_sql(sql, sizeof(sql), "iso", "ok", "done");
	t0 = now_ms();
	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL)
		return;
	T_INTEQ(wait_long(12, 10000, sql), 12);
	took = now_ms() - t0;
	printf("  12 deliveries next to 12 timing out took %ld ms\n", took);
	T_ASSERT(took < 1200);
	T_INTEQ(wait_long(1, 5000, "SELECT count(*) FROM kaudit.webhooks WHERE name = 'deadslow'"
	    " AND opened_at IS NOT NULL AND failures >= 5"), 1);
	sleep_ms(3000);
	alerter_stop(a);
	attempts = pgtest_long("SELECT count(*) FROM kaudit.delivery_attempts d JOIN"
	    " kaudit.outbox o ON o.id = d.outbox_id WHERE o.webhook = 'deadslow'");
	charged = pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE webhook = 'deadslow'"
	    " AND attempts > 0");
	s = pgtest_strf("SELECT failures || ' ' || probes || ' ' || (next_probe_at > now())"
	    " FROM kaudit.webhooks WHERE name = 'deadslow'");
	printf("  circuit: %ld attempts on %ld of 12 rows in about 4 s; failures, probes, "
	    "next probe ahead: %s\n", attempts, charged, s);
	free(s);
	/* Without the circuit, 4 at a time every 0.6 s or so: over 25
	 * attempts. With it: the 8 that opened it (two rounds of 4 in flight)
	 * and then a probe every 0.9 s (500 ms timeout, 400 ms wait). */
	T_ASSERT(attempts >= 8 && attempts <= 16);
	T_ASSERT(charged <= attempts);
	T_INTEQ(pgtest_long("SELECT count(*) FROM kaudit.outbox WHERE webhook = 'deadslow'"
	    " AND state <> 'pending'"), 0);
	s = pgtest_strf("SELECT min(last_error) FROM kaudit.outbox WHERE webhook = 'deadslow'"
	    " AND attempts > 0");
	T_ASSERT(strncmp(s, "timeout after 500 ms", 20) == 0);
	free(s);
	/* Out of the way of the later tests. */
	pgtest_exec(pgtest_conn, "UPDATE kaudit.outbox SET state = 'dead' WHERE webhook = 'deadslow'");
}

/* Delivery rate to a webhook that answers at once (a printed figure). */
static void
test_alerter_rate(void)
{
	static const char *const hooks[] = { "ok" };
	struct alerter *a;
	char sql[512];
	long t0, took;

	add_many("rate", hooks, 1, 500);
	count_sql(sql, sizeof(sql), "rate", "ok", "done");
	t0 = now_ms();
	a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	T_ASSERT(a != NULL);
	if (a == NULL)
		return;
	T_INTEQ(wait_long(500, 30000, sql), 500);
	took = now_ms() - t0;
	alerter_stop(a);
	printf("  500 deliveries in %ld ms: %.0f deliveries/s\n", took,
	    500.0 * 1000.0 / (double)(took > 0 ? took : 1));
}

/* An idle alerter stops at once. */
static void
test_alerter_stop_idle(void)
{
	struct alerter *a = alerter_start(conf.pg_url, &conf.alert, err, sizeof(err));
	long t0;

	T_ASSERT(a != NULL);
	sleep_ms(100);
	t0 = now_ms();
	alerter_stop(a);
	T_ASSERT(now_ms() - t0 < 300);
	T_ASSERT(alerter_start("postgresql://127.0.0.1:1/x", &conf.alert,
	    err, sizeof(err)) == NULL);
	T_ASSERT(strlen(err) > 0);
}

static int
setup_alerter(void)
{
	struct buf yaml;
	int rc;

	buf_init(&yaml);
	buf_printf(&yaml,
	    "postgres:\n  url: \"%s\"\n"
	    "alert:\n"
	    "  max_attempts: 3\n  backoff_ms: 100\n  max_backoff_ms: 400\n"
	    "  poll_ms: 50\n  batch: 32\n"
	    "  webhooks:\n"
	    "    - { name: ok, url: \"%s/hook/%s\", headers: { X-Token: secret } }\n"
	    "    - { name: flaky, url: \"%s/flaky/2/%s\" }\n"
	    "    - { name: fail, url: \"%s/fail/%s\" }\n"
	    "    - { name: slow, url: \"%s/slow/1000/%s\", timeout_ms: 5000, concurrency: 20 }\n"
	    "    - { name: deadslow, url: \"%s/slow/3000/%s\", timeout_ms: 500 }\n"
	    "    - { name: slower, url: \"%s/slow/2500/%s\", timeout_ms: 5000 }\n"
	    "    - { name: two, url: \"%s/slow/50/%s/two\" }\n"
	    "    - { name: one, url: \"%s/slow/500/%s/one\", concurrency: 1 }\n",
	    url, recv_url, tag, recv_url, tag, recv_url, tag, recv_url, tag, recv_url, tag,
	    recv_url, tag, recv_url, tag, recv_url, tag);
	/* The receiver refuses header lines over 64 KiB with a 431. */
	buf_printf(&yaml, "    - { name: reject, url: \"%s/hook/%s\", headers: { X-Big: ",
	    recv_url, tag);
	for (int i = 0; i < 70000; i++)
		buf_putc(&yaml, 'x');
	buf_puts(&yaml, " } }\n");
	rc = load_config(&conf, buf_cstr(&yaml));
	buf_free(&yaml);
	return rc;
}

int
main(void)
{
	alert_global_init();
	snprintf(tag, sizeof(tag), "t%ld-%ld", (long)getpid(), (long)time(NULL));
	recv_url = getenv("KAUDIT_RECEIVER_URL");
	recv_log = getenv("KAUDIT_RECEIVER_LOG");
	T_RUN(test_route);
	T_RUN(test_classify);
	if (recv_url == NULL || recv_log == NULL) {
		printf("FAIL receiver: KAUDIT_RECEIVER_URL and KAUDIT_RECEIVER_LOG must be "
		    "set (tests/services/up.sh exports them)\n");
		return 1;
	}
	T_RUN(test_webhook_post);
	if ((url = pgtest_setup("alert")) == NULL)
		return 1;
	db = db_connect(url, err, sizeof(err));
	if (db == NULL || db_migrate(db, err, sizeof(err)) == -1 || setup_alerter() == -1) {
		printf("FAIL setup: %s\n", err);
		pgtest_teardown();
		return 1;
	}
	T_RUN(test_alerter_delivers);
	T_RUN(test_alerter_retries);
	T_RUN(test_alerter_dead);
	T_RUN(test_alerter_drop);
	T_RUN(test_alerter_stop);
	T_RUN(test_alerter_no_open_transaction);
	T_RUN(test_alerter_notify);
	T_RUN(test_alerter_stop_releases);
	T_RUN(test_alerter_two);
	T_RUN(test_alerter_expired_lease);
	T_RUN(test_alerter_lease_lost);
	T_RUN(test_alerter_concurrent);
	T_RUN(test_alerter_circuit);
	T_RUN(test_alerter_rate);
	T_RUN(test_alerter_stop_idle);
	db_close(db);
	config_free(&conf);
	pgtest_teardown();
	alert_global_cleanup();
	return t_done();
}
