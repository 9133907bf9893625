/* test_when.c — conditions over a finding's fields (analyze/fcond.c) and
 * alert routing by them (alert_route() with `when:`): every operator on
 * finding fields, severity by rank, list membership written both ways,
 * nested correlation fields, any/all, missing and mistyped fields false
 * without a crash, hostile values that stay data, unknown fields and
 * syntax errors reported at file:line, and a finding routed to exactly the
 * webhooks whose conditions hold. Needs no services. */
#include "alert/alert.h"
#include "analyze/fcond.h"
#include "app/config.h"
#include "base/buf.h"
#include "tests/unit/t.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A finding as finding_build() makes it. */
#define FINDING \
	"{\"rule\":\"k8s.exec.pod\",\"title\":\"Shell in a pod\",\"severity\":\"high\"," \
	"\"category\":\"exec\",\"tags\":[\"T1609\",\"mitre_execution\"],\"audit_id\":\"a-1\"," \
	"\"stage\":\"ResponseComplete\",\"time\":\"2024-05-01T10:00:00.000000Z\"," \
	"\"cluster\":\"prod-eu\",\"user\":\"alice@example.com\"," \
	"\"groups\":[\"system:authenticated\",\"devs\"],\"impersonated_user\":null," \
	"\"source_ip\":\"10.1.2.3\",\"user_agent\":\"kubectl/v1.29.0 (linux/amd64) kubernetes/abc\"," \
	"\"verb\":\"create\",\"resource\":\"pods\",\"subresource\":\"exec\"," \
	"\"namespace\":\"payments\",\"name\":\"api-0\",\"code\":101," \
	"\"message\":\"alice opened sh in payments/api-0\"," \
	"\"evidence\":{\"objectRef.subresource\":\"exec\",\"ka.exec.command\":\"sh -c id\"}," \
	"\"repeats\":0}"

/* A value_count correlation's finding. */
#define CORR \
	"{\"rule\":\"k8s.corr.secret.sweep\",\"severity\":\"critical\",\"category\":\"secrets\"," \
	"\"tags\":[\"T1552.007\"],\"user\":\"bob\",\"namespace\":null,\"repeats\":0," \
	"\"correlation\":{\"kind\":\"value_count\",\"key\":{\"user.username\":\"bob\"," \
	"\"cluster\":\"prod-eu\"},\"count\":25,\"distinct\":21,\"first\":\"2024-05-01T10:00:00Z\"," \
	"\"last\":\"2024-05-01T10:04:00Z\",\"audit_ids\":[\"a-1\",\"a-2\",\"a-3\"]," \
	"\"tuple\":[\"bob\",[\"get\",\"list\"]]}," \
	"\"attributed_user\":\"carol\",\"last_repeat\":\"2024-05-01T10:05:00Z\"}"

static char errmsg[1024];

/* 1 when cond holds on the finding json, 0 when not, -1 when cond does not
 * compile or json does not parse (the message in errmsg). */
static int
holds(const char *cond, const char *json)
{
	struct buf errs;
	struct finding_cond *fc;
	json_t *f;
	int r;

	buf_init(&errs);
	errmsg[0] = '\0';
	fc = fcond_compile(cond, strlen(cond), "t.yaml", 7, "when", &errs);
	if (fc == NULL) {
		snprintf(errmsg, sizeof(errmsg), "%s", buf_cstr(&errs));
		buf_free(&errs);
		return -1;
	}
	buf_free(&errs);
	if ((f = json_loads(json, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL)) == NULL) {
		fcond_free(fc);
		return -1;
	}
	r = fcond_eval(fc, f);
	json_decref(f);
	fcond_free(fc);
	return r;
}

/* The compile error of cond (without the newline), or "" when it compiles. */
static const char *
error_of(const char *cond)
{
	size_t n;

	if (holds(cond, "{}") >= 0)
		return "";
	n = strlen(errmsg);
	if (n > 0 && errmsg[n - 1] == '\n')
		errmsg[n - 1] = '\0';
	return errmsg;
}

#define HOLDS(cond, json)	T_INTEQ(holds(cond, json), 1)
#define FAILS(cond, json)	T_INTEQ(holds(cond, json), 0)

static void
test_examples(void)
{
	HOLDS("category = exec and namespace in (prod, payments)", FINDING);
	FAILS("category = exec and namespace in (prod, shop)", FINDING);
	HOLDS("\"T1609\" in tags", FINDING);
	FAILS("\"T1610\" in tags", FINDING);
	HOLDS("severity >= high", FINDING);
	HOLDS("rule startswith k8s.exec.", FINDING);
	FAILS("rule startswith k8s.rbac.", FINDING);
	HOLDS("user = \"alice@example.com\"", FINDING);
	HOLDS("user endswith \"@example.com\" and \"devs\" in groups", FINDING);
	HOLDS("correlation.kind = value_count and correlation.count >= 20", CORR);
	FAILS("correlation.kind = value_count and correlation.count >= 30", CORR);
}

static void
test_operators(void)
{
	HOLDS("verb = create", FINDING);
	HOLDS("verb != delete", FINDING);
	FAILS("verb != create", FINDING);
	HOLDS("code = 101 and code != 200", FINDING);
	HOLDS("code < 200 and code <= 101 and code > 100 and code >= 101", FINDING);
	FAILS("code < 101", FINDING);
	FAILS("code > 101", FINDING);
	HOLDS("repeats = 0", FINDING);
	HOLDS("time >= \"2024-05-01\" and time < \"2024-05-02\"", FINDING);	/* strings order bytewise */
	HOLDS("resource in (pods, deployments)", FINDING);
	FAILS("resource in (secrets)", FINDING);
	HOLDS("message contains \"opened sh\"", FINDING);
	HOLDS("user_agent icontains KUBECTL", FINDING);
	FAILS("user_agent contains KUBECTL", FINDING);
	HOLDS("name startswith api- and name endswith -0", FINDING);
	HOLDS("cluster glob \"prod-*\"", FINDING);
	FAILS("cluster glob \"stage-*\"", FINDING);
	HOLDS("user regex \"^[a-z]+@example\\\\.com$\"", FINDING);
	FAILS("user regex \"^bob\"", FINDING);
	HOLDS("source_ip cidr 10.0.0.0/8", FINDING);
	FAILS("source_ip cidr (192.168.0.0/16, 172.16.0.0/12)", FINDING);
	HOLDS("subresource exists and not (impersonated_user exists)", FINDING);
	HOLDS("evidence[\"ka.exec.command\"] startswith sh", FINDING);
	/* below evidence the rest of a dotted path is one key, as group_by and
	 * templates read it */
	HOLDS("evidence.ka.exec.command startswith sh", FINDING);
	FAILS("evidence.ka.exec startswith sh", FINDING);
	HOLDS("evidence exists and not (correlation exists)", FINDING);
	HOLDS("tags[0] = T1609 and groups[1] = devs", FINDING);
	HOLDS("true and not false", FINDING);
	HOLDS("category = rbac or (category = exec and severity = high)", FINDING);
}

static void
test_severity_rank(void)
{
	static const char *const sev[] = { "info", "low", "medium", "high", "critical" };
	char json[128];

	/* alphabetically critical < high < info < low < medium: by rank the
	 * answers below differ from a string comparison's */
	for (int i = 0; i < 5; i++) {
		snprintf(json, sizeof(json), "{\"severity\":\"%s\"}", sev[i]);
		T_INTEQ(holds("severity >= high", json), i >= 3);
		T_INTEQ(holds("severity > medium", json), i > 2);
		T_INTEQ(holds("severity < medium", json), i < 2);
		T_INTEQ(holds("severity <= low", json), i <= 1);
		T_INTEQ(holds("severity = \"high\"", json), i == 3);
		T_INTEQ(holds("severity != info", json), i != 0);
		T_INTEQ(holds("severity in (low, critical)", json), i == 1 || i == 4);
	}
	/* a severity that is not one of the names reads as missing */
	FAILS("severity >= info", "{\"severity\":\"urgent\"}");
	FAILS("severity != high", "{\"severity\":\"urgent\"}");
	FAILS("severity >= info", "{\"severity\":3}");
	FAILS("severity >= info", "{\"severity\":\"high\\u0000x\"}");
	FAILS("severity exists", "{\"severity\":null}");
	T_STREQ(error_of("severity >= hihg"), "t.yaml:7: when: \"hihg\" is not a severity "
	    "(info, low, medium, high, critical) (column 13)");
	T_STREQ(error_of("severity >= 3"), "t.yaml:7: when: \"3\" is not a severity "
	    "(info, low, medium, high, critical) (column 13)");
	T_STREQ(error_of("severity contains h"), "t.yaml:7: when: severity is ranked "
	    "(info < low < medium < high < critical): use =, !=, <, <=, >, >= or in, "
	    "not contains (column 19)");
}

static void
test_membership(void)
{
	/* a value in a list field, written either way */
	HOLDS("\"T1609\" in tags", FINDING);
	HOLDS("tags contains T1609", FINDING);
	HOLDS("tags contains \"T1609\"", FINDING);
	/* membership is exact, not a substring of an element */
	FAILS("\"T16\" in tags", FINDING);
	FAILS("tags contains T16", FINDING);
	/* any element in a set, or matching a string operator */
	HOLDS("tags in (T1610, T1609)", FINDING);
	FAILS("tags in (T1610, T1611)", FINDING);
	HOLDS("tags startswith mitre_", FINDING);
	HOLDS("groups icontains DEVS", FINDING);
	HOLDS("\"devs\" in groups and not (\"system:masters\" in groups)", FINDING);
	HOLDS("\"a-2\" in correlation.audit_ids", CORR);
	/* and on a field that is not a list, an error that says what to write */
	T_STREQ(error_of("\"prod\" in namespace"), "t.yaml:7: when: \"VALUE\" in FIELD needs a "
	    "list field, and namespace is a string (use namespace = \"prod\") (column 11)");
	T_STREQ(error_of("tags = T1609"), "t.yaml:7: when: tags is an array: use contains, "
	    "in, or any/all, not = (column 8)");
	T_STREQ(error_of("\"T1609\" in"), "t.yaml:7: when: expected a list field after in "
	    "(column 11)");
}

static void
test_correlation(void)
{
	HOLDS("correlation.kind = value_count", CORR);
	HOLDS("correlation.count >= 20 and correlation.distinct > 20", CORR);
	HOLDS("correlation.key[\"user.username\"] = bob", CORR);
	HOLDS("correlation.key.cluster = prod-eu", CORR);
	HOLDS("correlation.first < \"2024-05-01T10:01\"", CORR);
	HOLDS("correlation.audit_ids contains a-3", CORR);
	HOLDS("correlation.tuple[0] = bob", CORR);
	HOLDS("attributed_user = carol and last_repeat exists", CORR);
	HOLDS("severity = critical and not (namespace exists)", CORR);
	/* a single-event finding has no correlation: every comparison false */
	FAILS("correlation.count >= 0", FINDING);
	FAILS("correlation.kind != value_count", FINDING);
	FAILS("correlation exists", FINDING);
	HOLDS("not (correlation.count >= 20)", FINDING);
	/* the fields the table names, and no other */
	T_STREQ(error_of("correlation.size > 1"), "t.yaml:7: when: unknown finding field "
	    "\"correlation.size\" (column 1)");
}

static void
test_quantifiers(void)
{
	HOLDS("any tags (. startswith T16)", FINDING);
	HOLDS("all tags (. startswith T or . startswith mitre_)", FINDING);
	FAILS("all tags (. startswith T)", FINDING);
	HOLDS("any correlation.tuple (any . (. = list))", CORR);
	FAILS("any correlation.tuple (any . (. = delete))", CORR);
	FAILS("any tags (. = x)", "{\"tags\":[]}");
	HOLDS("all tags (. = x)", "{\"tags\":[]}");
	FAILS("all tags (. = x)", "{}");	/* missing: neither holds */
	FAILS("any tags (. = x)", "{\"tags\":\"x\"}");
}

/* Missing, null and mistyped fields make comparisons false, never a crash. */
static void
test_missing(void)
{
	static const char *const conds[] = {
		"category = exec and namespace in (prod, payments)",
		"\"T1609\" in tags", "tags contains T1609", "severity >= info",
		"rule startswith k8s.", "user = alice", "code >= 0", "code != 1",
		"correlation.kind = value_count", "correlation.count >= 20",
		"evidence[\"ka.exec.command\"] exists", "user_agent icontains kubectl",
		"source_ip cidr 0.0.0.0/0", "name glob \"*\"", "name regex \".*\"",
		"groups in (devs)", "tags[0] = T1609", "any tags (. = T1609)",
		"correlation.key.user = x",
	};
	static const char *const findings[] = {
		"{}",
		"{\"category\":null,\"namespace\":null,\"tags\":null,\"severity\":null,"
		"\"rule\":null,\"user\":null,\"code\":null,\"correlation\":null,"
		"\"evidence\":null,\"user_agent\":null,\"source_ip\":null,\"name\":null,"
		"\"groups\":null}",
		/* every field of another type than the contract's */
		"{\"category\":[\"exec\"],\"namespace\":{\"a\":1},\"tags\":\"T1609\","
		"\"severity\":{},\"rule\":7,\"user\":true,\"code\":\"101\",\"correlation\":[1],"
		"\"evidence\":\"x\",\"user_agent\":[\"kubectl\"],\"source_ip\":[\"10.0.0.1\"],"
		"\"name\":{},\"groups\":\"devs\"}",
		"[1,2,3]", "\"a string\"", "null",
	};

	for (size_t i = 0; i < sizeof(findings) / sizeof(findings[0]); i++)
		for (size_t k = 0; k < sizeof(conds) / sizeof(conds[0]); k++)
			if (holds(conds[k], findings[i]) != 0) {
				printf("  %s on %s: not false\n", conds[k], findings[i]);
				T_ASSERT(0);
			}
	T_INTEQ(fcond_eval(NULL, NULL), 0);
}

/* Values are data: nothing in them is parsed as the condition's syntax. */
static void
test_hostile_values(void)
{
	const char *evil =
	    "{\"category\":\"rbac\",\"severity\":\"low\","
	    "\"namespace\":\"prod) or (category = rbac\",\"user\":\"\\\" or true or \\\"\","
	    "\"name\":\"%{rule} ${HOME} \\\\\",\"tags\":[\"T1609\\\") or (\\\"x\"],"
	    "\"user_agent\":\"a\\u0000b\",\"groups\":[\"prod\\nor true\"]}";
	const char *slow = "user_agent icontains Y or user_agent regex \"x{5}y\" or "
	    "tags contains x or severity > critical";
	char *big = malloc(80000);
	json_t *f;
	char *before, *after;
	struct finding_cond *fc;
	struct buf errs;

	FAILS("namespace in (prod, payments)", evil);
	FAILS("namespace = prod", evil);
	FAILS("category = exec and namespace in (prod, payments)", evil);
	FAILS("user = alice or severity >= high", evil);
	FAILS("\"T1609\" in tags", evil);
	FAILS("groups contains prod", evil);
	/* they match as the bytes they are */
	HOLDS("namespace = \"prod) or (category = rbac\"", evil);
	HOLDS("user = \"\\\" or true or \\\"\"", evil);
	HOLDS("name startswith \"%{rule}\"", evil);
	HOLDS("user_agent startswith a and user_agent endswith b and not (user_agent = a)", evil);
	HOLDS("\"T1609\\\") or (\\\"x\" in tags", evil);
	/* a long value, and the finding unchanged by evaluating it */
	memset(big, 'x', 79999);
	big[79999] = '\0';
	f = json_pack("{s:s, s:s, s:[s]}", "user_agent", big, "severity", "high", "tags", big);
	before = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	buf_init(&errs);
	fc = fcond_compile(slow, strlen(slow), "t", 1, "when", &errs);
	T_ASSERT(fc != NULL);
	if (fc)
		T_INTEQ(fcond_eval(fc, f), 0);
	after = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	T_STREQ(before, after);
	fcond_free(fc);
	buf_free(&errs);
	free(before);
	free(after);
	json_decref(f);
	free(big);
}

static void
test_errors(void)
{
	T_STREQ(error_of("foo = 1"), "t.yaml:7: when: unknown finding field \"foo\" (column 1)");
	T_STREQ(error_of("user.name = alice"), "t.yaml:7: when: unknown finding field "
	    "\"user.name\" (column 1)");
	T_STREQ(error_of("objectRef.namespace = prod"), "t.yaml:7: when: unknown finding field "
	    "\"objectRef.namespace\" (column 1)");
	T_STREQ(error_of("ka.user.is_node = true"), "t.yaml:7: when: unknown finding field "
	    "\"ka.user.is_node\" (column 1)");
	T_STREQ(error_of("category = exec and\nuser.username = x"), "t.yaml:8: when: unknown "
	    "finding field \"user.username\" (column 1)");
	T_STREQ(error_of("category = exec and ("), "t.yaml:7: when: unexpected end of condition "
	    "(column 22)");
	T_STREQ(error_of("category = exec or"), "t.yaml:7: when: unexpected end of condition "
	    "(column 19)");
	T_STREQ(error_of("category exec"), "t.yaml:7: when: expected an operator after "
	    "\"category\" (macros do not apply to findings) (column 1)");
	T_STREQ(error_of("category = (exec"), "t.yaml:7: when: expected a value (column 12)");
	T_STREQ(error_of(""), "t.yaml:7: when: empty condition (column 1)");
	T_STREQ(error_of("code > high"), "t.yaml:7: when: type mismatch: code is a number, "
	    "high is a string (column 8)");
	T_STREQ(error_of("code startswith 1"), "t.yaml:7: when: type mismatch: startswith needs "
	    "a string, code is a number (column 17)");
	T_STREQ(error_of("correlation = x"), "t.yaml:7: when: correlation is an object: only "
	    "exists applies (or any/all over an array in it) (column 15)");
	T_STREQ(error_of("is_prod"), "t.yaml:7: when: expected an operator after \"is_prod\" "
	    "(macros do not apply to findings) (column 1)");
	T_STREQ(error_of("namespace in prod_namespaces"), "t.yaml:7: when: unknown list "
	    "\"prod_namespaces\" (the lists of rule files do not apply to findings: write the "
	    "values, in (a, b)) (column 14)");
	T_STREQ(error_of("user regex \"(\""), "t.yaml:7: when: bad regex \"(\": missing closing "
	    "parenthesis at offset 1 (column 12)");
	T_STREQ(error_of("source_ip cidr 10.0.0.0/33"), "t.yaml:7: when: bad CIDR "
	    "\"10.0.0.0/33\" (column 16)");
	T_STREQ(error_of("\"x\" = category"), "t.yaml:7: when: expected a field, a macro or '(' "
	    "(a quoted value comes after its operator, or before in and a list field) (column 1)");
}

static int
load(struct config *c, const char *yaml, struct buf *errs)
{
	config_defaults(c);
	return config_load_text(c, "w.yaml", yaml, strlen(yaml), errs);
}

static size_t
route(const struct config *c, const char *json, const char **names)
{
	json_t *f = json_loads(json, 0, NULL);
	size_t n;

	n = alert_route(&c->alert, f, names, NULL);
	json_decref(f);
	return n;
}

/* A finding goes to exactly the webhooks whose conditions (and other
 * filters) hold. */
static void
test_route(void)
{
	struct config c;
	struct buf errs, got;
	const char *names[8];
	size_t n;
	static const struct {
		const char *finding, *want;
	} cases[] = {
		{ FINDING, "all,prod-exec,mitre,high,exec-high" },
		{ CORR, "all,high,sweeps" },
		{ "{\"category\":\"exec\",\"namespace\":\"prod\",\"severity\":\"low\"}",
		  "all,prod-exec" },
		{ "{\"category\":\"exec\",\"namespace\":\"prod\",\"severity\":\"medium\","
		  "\"rule\":\"k8s.exec.pod\"}", "all,prod-exec,exec-high" },
		{ "{\"category\":\"rbac\",\"tags\":[\"T1609\"],\"severity\":\"info\"}", "all,mitre" },
		{ "{}", "all" },
	};

	buf_init(&errs);
	T_INTEQ(load(&c,
	    "alert:\n"
	    "  webhooks:\n"
	    "    - { name: all, url: \"http://127.0.0.1:1/a\" }\n"
	    "    - name: prod-exec\n"
	    "      url: \"http://127.0.0.1:1/p\"\n"
	    "      when: category = exec and namespace in (prod, payments)\n"
	    "    - name: mitre\n"
	    "      url: \"http://127.0.0.1:1/m\"\n"
	    "      when: '\"T1609\" in tags'\n"
	    "    - { name: high, url: \"http://127.0.0.1:1/h\", when: severity >= high }\n"
	    "    - name: sweeps\n"
	    "      url: \"http://127.0.0.1:1/s\"\n"
	    "      when: |\n"
	    "        correlation.kind = value_count\n"
	    "        and correlation.count >= 20\n"
	    /* min_severity and when must both pass */
	    "    - name: exec-high\n"
	    "      url: \"http://127.0.0.1:1/e\"\n"
	    "      min_severity: medium\n"
	    "      when: rule startswith k8s.exec.\n", &errs), 0);
	T_STREQ(buf_cstr(&errs), "");
	T_INTEQ(c.alert.nwebhooks, 6);
	T_ASSERT(c.alert.nwebhooks == 6 && c.alert.webhooks[0].when_cond == NULL &&
	    c.alert.webhooks[1].when_cond != NULL);
	buf_init(&got);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&got);
		n = route(&c, cases[i].finding, names);
		for (size_t k = 0; k < n; k++)
			buf_printf(&got, "%s%s", k ? "," : "", names[k]);
		T_STREQ(buf_cstr(&got), cases[i].want);
	}
	buf_free(&got);
	buf_free(&errs);
	config_free(&c);
}

/* `kaudit check` errors: file:line of the when value (a block scalar's
 * text starts a line below its key), the webhook named even when its name
 * comes after the condition; an empty or null when is no condition. */
static void
test_config_errors(void)
{
	struct config c;
	struct buf errs;

	buf_init(&errs);
	T_INTEQ(load(&c,
	    "alert:\n"
	    "  webhooks:\n"
	    "    - name: soc\n"
	    "      url: \"http://127.0.0.1:1/a\"\n"
	    "      when: foo = 1\n"
	    "    - url: \"http://127.0.0.1:1/b\"\n"
	    "      when: |\n"
	    "        category = exec\n"
	    "        and severity >= hgh\n"
	    "      name: late\n"
	    "    - { name: empty, url: \"http://127.0.0.1:1/c\", when: \"\" }\n"
	    "    - { name: fine, url: \"http://127.0.0.1:1/d\", when: 'verb = get' }\n"
	    "    - { name: none, url: \"http://127.0.0.1:1/e\", when: ~ }\n", &errs), -1);
	T_STREQ(buf_cstr(&errs),
	    "w.yaml:5: alert.webhooks[soc].when: unknown finding field \"foo\" (column 1)\n"
	    "w.yaml:9: alert.webhooks[late].when: \"hgh\" is not a severity (info, low, medium, "
	    "high, critical) (column 17)\n");
	T_INTEQ(c.alert.nwebhooks, 5);
	if (c.alert.nwebhooks == 5) {
		T_ASSERT(c.alert.webhooks[0].when_cond == NULL);
		T_ASSERT(c.alert.webhooks[2].when_cond == NULL);
		T_ASSERT(c.alert.webhooks[3].when_cond != NULL);
		T_ASSERT(c.alert.webhooks[4].when_cond == NULL);
	}
	config_free(&c);
	buf_free(&errs);
}

struct threadarg {
	const struct finding_cond *fc;
	json_t	*yes, *no;
	long	 held;
};

static void *
thread_eval(void *p)
{
	struct threadarg *a = p;

	for (int i = 0; i < 20000; i++)
		a->held += fcond_eval(a->fc, a->yes) + fcond_eval(a->fc, a->no);
	return NULL;
}

/* One compiled condition evaluated by several threads at once, a regex in
 * it (each thread has its own match data, freed when it ends: a leak or a
 * race would show under the sanitizers). */
static void
test_threads(void)
{
	const char *cond = "user regex \"^[a-z]+@example\\\\.com$\" and severity >= high";
	struct buf errs;
	struct finding_cond *fc;
	struct threadarg a[4];
	pthread_t th[4];

	buf_init(&errs);
	fc = fcond_compile(cond, strlen(cond), "t", 1, "when", &errs);
	T_STREQ(buf_cstr(&errs), "");
	if (fc == NULL) {
		buf_free(&errs);
		return;
	}
	for (int i = 0; i < 4; i++) {
		a[i] = (struct threadarg){ fc, json_loads(FINDING, 0, NULL),
		    json_pack("{s:s, s:s}", "user", "mallory@example.org", "severity", "critical"), 0 };
		T_INTEQ(pthread_create(&th[i], NULL, thread_eval, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		T_INTEQ(a[i].held, 20000);
		json_decref(a[i].yes);
		json_decref(a[i].no);
	}
	fcond_free(fc);
	buf_free(&errs);
}

int
main(void)
{
	T_RUN(test_examples);
	T_RUN(test_operators);
	T_RUN(test_severity_rank);
	T_RUN(test_membership);
	T_RUN(test_correlation);
	T_RUN(test_quantifiers);
	T_RUN(test_missing);
	T_RUN(test_hostile_values);
	T_RUN(test_errors);
	T_RUN(test_route);
	T_RUN(test_config_errors);
	T_RUN(test_threads);
	return t_done();
}
