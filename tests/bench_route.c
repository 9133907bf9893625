/* bench_route.c — what a `when:` condition costs alert_route(): 1M findings
 * (1,000 distinct ones, shaped like finding_build()'s, cycled) routed
 * through one webhook with a three-clause condition, then through one
 * without a condition and through one with only the old filters, each
 * timed on its own (the best of three runs); then what the daemon's
 * suppressions cost (suppress_match()) with none, one and ten live. `make bench-route` runs it; BENCH_ROUTE_N overrides
 * the count. */
#include "alert/alert.h"
#include "alert/suppress.h"
#include "app/config.h"
#include "base/log.h"
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DISTINCT	1000

static const char *const categories[] = { "exec", "rbac", "secrets", "workload" };
static const char *const namespaces[] = { "prod", "payments", "dev", "kube-system", "shop" };
static const char *const severities[] = { "info", "low", "medium", "high", "critical" };

static json_t *
finding(int i)
{
	char audit_id[64], name[64];

	snprintf(audit_id, sizeof(audit_id), "6c5ad5c8-0d3c-4f5e-9c1a-%012d", i);
	snprintf(name, sizeof(name), "api-%d", i);
	return json_pack("{s:s, s:s, s:s, s:s, s:[s,s], s:s, s:s, s:s, s:s, s:s, s:[s,s], s:n,"
	    " s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:{s:s}, s:i}",
	    "rule", "k8s.exec.pod", "title", "Shell in a pod",
	    "severity", severities[(i / 20) % 5], "category", categories[i % 4],
	    "tags", "T1609", "mitre_execution", "audit_id", audit_id,
	    "stage", "ResponseComplete", "time", "2024-05-01T10:00:00.000000Z",
	    "cluster", "prod-eu", "user", "alice@example.com",
	    "groups", "system:authenticated", "devs", "impersonated_user",
	    "source_ip", "10.1.2.3", "user_agent", "kubectl/v1.29.0 (linux/amd64) kubernetes/abc",
	    "verb", "create", "resource", "pods", "subresource", "exec",
	    "namespace", namespaces[(i / 4) % 5], "name", name, "code", 101,
	    "message", "alice opened sh in a pod", "evidence", "objectRef.subresource", "exec",
	    "repeats", 0);
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Routes n findings through the one webhook of yaml; ns per finding. */
static double
run(const char *label, const char *yaml, json_t **f, long n)
{
	struct config c;
	struct buf errs;
	const char *names[1];
	size_t routed = 0;
	double t0, ns = 0;

	buf_init(&errs);
	config_defaults(&c);
	if (config_load_text(&c, "bench.yaml", yaml, strlen(yaml), &errs) != 0) {
		fprintf(stderr, "%s", buf_cstr(&errs));
		exit(1);
	}
	/* the best of three runs: the machine may be shared */
	for (int r = 0; r < 3; r++) {
		double t;
		routed = 0;
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			routed += alert_route(&c.alert, f[i % DISTINCT], names, NULL);
		t = (now_ns() - t0) / (double)n;
		if (r == 0 || t < ns)
			ns = t;
	}
	printf("%-34s %7.1f ns/finding  (%zu of %ld routed)\n", label, ns, routed, n);
	config_free(&c);
	buf_free(&errs);
	return ns;
}

/* What asking the daemon's suppressions costs before routing: n findings
 * through suppress_match() with the conditions cond[0..ncond) live. */
static void
run_suppress(const char *label, const char *const *cond, size_t ncond, json_t **f, long n)
{
	struct suppress_set *s = suppress_new();
	struct db_suppression rows[16];
	int64_t now = suppress_now_ms();
	size_t held = 0;
	double t0, ns = 0;

	for (size_t i = 0; i < ncond; i++)
		rows[i] = (struct db_suppression){ (int64_t)i + 1, (char *)cond[i], 0 };
	suppress_replace(s, rows, ncond);
	for (int r = 0; r < 3; r++) {
		double t;
		held = 0;
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			held += suppress_match(s, f[i % DISTINCT], now) != 0;
		t = (now_ns() - t0) / (double)n;
		if (r == 0 || t < ns)
			ns = t;
	}
	printf("%-34s %7.1f ns/finding  (%zu of %ld suppressed)\n", label, ns, held, n);
	suppress_free(s);
}

int
main(void)
{
	const char *env = getenv("BENCH_ROUTE_N");
	long n = env ? atol(env) : 1000000;
	json_t *f[DISTINCT];
	double with, none;

	if (n <= 0)
		n = 1000000;
	for (int i = 0; i < DISTINCT; i++)
		f[i] = finding(i);
	printf("alert_route over %ld findings (%d distinct), one webhook:\n", n, DISTINCT);
	none = run("no filter", "alert:\n  webhooks:\n"
	    "    - { name: a, url: \"http://127.0.0.1:1/\" }\n", f, n);
	run("min_severity + categories", "alert:\n  webhooks:\n"
	    "    - { name: a, url: \"http://127.0.0.1:1/\", min_severity: high,"
	    " categories: [exec] }\n", f, n);
	with = run("when, 3 clauses", "alert:\n  webhooks:\n"
	    "    - name: a\n      url: \"http://127.0.0.1:1/\"\n"
	    "      when: category = exec and namespace in (prod, payments) and severity >= high\n",
	    f, n);
	run("when, regex + membership", "alert:\n  webhooks:\n"
	    "    - name: a\n      url: \"http://127.0.0.1:1/\"\n"
	    "      when: '\"T1609\" in tags and user regex \"@example\\\\.com$\" and code >= 100'\n",
	    f, n);
	run("when, 3 clauses, all evaluated", "alert:\n  webhooks:\n"
	    "    - name: a\n      url: \"http://127.0.0.1:1/\"\n"
	    "      when: rule startswith k8s. and namespace in (prod, payments, dev, kube-system, shop)"
	    " and severity >= info\n", f, n);
	printf("the 3-clause when adds %.1f ns per finding\n", with - none);

	static const char *const conds[] = {
		"category = exec and namespace in (prod, payments) and severity >= high",
		"user = bob and namespace = ci",
		"rule = k8s.rbac.change and cluster = staging",
		"source_ip cidr 192.168.0.0/16",
		"namespace = kube-system and severity <= low",
		"\"T1610\" in tags",
		"user_agent startswith \"Go-http-client\"",
		"name startswith tmp- and verb = delete",
		"category = secrets and user = ci-bot",
		"code >= 500",
	};
	log_set_level(LOG_WARN);
	printf("suppress_match over %ld findings, before routing:\n", n);
	run_suppress("no suppression", conds, 0, f, n);
	run_suppress("1 suppression, 3 clauses", conds, 1, f, n);
	run_suppress("10 suppressions", conds, 10, f, n);
	for (int i = 0; i < DISTINCT; i++)
		json_decref(f[i]);
	return 0;
}
