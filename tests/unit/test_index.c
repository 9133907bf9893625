/* test_index.c — which rules an event reaches through the rule index, with
 * the per-scratch cache of candidate lists and the keys read off ORs:
 * thousands of events over more (verb, resource, subresource) triples than
 * the cache holds, keys too long to cache, absent and escaped keys, each
 * checked against the conditions computed here in plain C and against a
 * fresh scratch per event; and a rule pinned by an OR is not even tried on
 * other resources. */
#include "analyze/event.h"
#include "base/jtok.h"
#include "analyze/rules.h"
#include "analyze/rules_impl.h"
#include "base/buf.h"
#include "tests/unit/t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NRULES	9

static const char rules_yaml[] =
	"- rule: r0\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: verb = get and objectRef.resource = pods\n"
	"- rule: r1\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: objectRef.subresource = exec\n"
	"- rule: r2\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: verb in (create, delete)\n"
	"- rule: r3\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: user.username = alice\n"
	"- rule: r4\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: objectRef.resource in (secrets, configmaps) and verb = list\n"
	"- rule: r5\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: objectRef.resource startswith long and objectRef.subresource exists\n"
	"- rule: r6\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: verb = delete and ((objectRef.resource = pods and objectRef.subresource = exec)"
	" or objectRef.resource in (secrets, configmaps))\n"
	"- rule: r7\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: objectRef.resource = pods or user.username = alice\n"
	"- macro: m_or\n  condition: objectRef.resource = deployments or objectRef.resource startswith long\n"
	"- rule: r8\n  title: t\n  severity: low\n  category: exec\n"
	"  condition: m_or and verb = get\n";

struct ev_spec {
	const char	*verb;		/* NULL = absent */
	char		 resource[300];	/* "" with has_resource 0 = absent */
	int		 has_resource;
	const char	*sub;		/* NULL = absent */
	const char	*user;
};

/* Bit per rule that should fire. */
static unsigned
expected(const struct ev_spec *e)
{
	const char *res = e->has_resource ? e->resource : NULL;
	unsigned m = 0;

	if (e->verb && strcmp(e->verb, "get") == 0 && res && strcmp(res, "pods") == 0)
		m |= 1u << 0;
	if (e->sub && strcmp(e->sub, "exec") == 0)
		m |= 1u << 1;
	if (e->verb && (strcmp(e->verb, "create") == 0 || strcmp(e->verb, "delete") == 0))
		m |= 1u << 2;
	if (strcmp(e->user, "alice") == 0)
		m |= 1u << 3;
	if (res && (strcmp(res, "secrets") == 0 || strcmp(res, "configmaps") == 0) &&
	    e->verb && strcmp(e->verb, "list") == 0)
		m |= 1u << 4;
	if (res && strncmp(res, "long", 4) == 0 && e->sub)
		m |= 1u << 5;
	if (e->verb && strcmp(e->verb, "delete") == 0 && res &&
	    ((strcmp(res, "pods") == 0 && e->sub && strcmp(e->sub, "exec") == 0) ||
	    strcmp(res, "secrets") == 0 || strcmp(res, "configmaps") == 0))
		m |= 1u << 6;
	if ((res && strcmp(res, "pods") == 0) || strcmp(e->user, "alice") == 0)
		m |= 1u << 7;
	if (res && (strcmp(res, "deployments") == 0 || strncmp(res, "long", 4) == 0) &&
	    e->verb && strcmp(e->verb, "get") == 0)
		m |= 1u << 8;
	return m;
}

static void
on_finding(void *arg, json_t *finding, const struct audit_event *ev)
{
	unsigned *m = arg;
	const char *id = json_string_value(json_object_get(finding, "rule"));

	(void)ev;
	if (id && id[0] == 'r' && id[1] >= '0' && id[1] < '0' + NRULES)
		*m |= 1u << (id[1] - '0');
	json_decref(finding);
}

/* JSON with the verb written with an escape half of the time: the index
 * must see the unescaped value. */
static void
event_json_of(const struct ev_spec *e, int n, struct buf *b)
{
	buf_reset(b);
	buf_printf(b, "{\"kind\":\"Event\",\"auditID\":\"id-%d\",\"stage\":\"ResponseComplete\",", n);
	if (e->verb) {
		buf_puts(b, "\"verb\":");
		if (n % 2 && e->verb[0] >= 'a' && e->verb[0] <= 'z')
			buf_printf(b, "\"\\u00%02x%s\",", e->verb[0], e->verb + 1);
		else
			buf_printf(b, "\"%s\",", e->verb);
	}
	buf_printf(b, "\"user\":{\"username\":\"%s\"},\"objectRef\":{", e->user);
	if (e->has_resource)
		buf_printf(b, "\"resource\":\"%s\"%s", e->resource, e->sub ? "," : "");
	if (e->sub)
		buf_printf(b, "\"subresource\":\"%s\"", e->sub);
	buf_puts(b, "}}");
}

static unsigned
fired(const struct ruleset *rs, struct eval_scratch *s, struct jdoc *d, const struct buf *json)
{
	struct audit_event ev;
	unsigned m = 0;
	char err[128];

	if (jtok_parse(d, json->data, json->len, err, sizeof(err)) < 0) {
		printf("  bad event: %s: %s\n", err, json->data);
		return ~0u;
	}
	memset(&ev, 0, sizeof(ev));
	ev.doc = d;
	ev.cluster = "test";
	event_index(&ev);
	ruleset_eval(rs, &ev, s, on_finding, &m);
	return m;
}

static void
spec_random(struct ev_spec *e)
{
	static const char *const verbs[] = { "get", "list", "create", "delete", "patch", NULL };
	static const char *const named[] = { "pods", "secrets", "configmaps", "deployments" };
	static const char *const subs[] = { NULL, NULL, "exec", "log", "" };
	static const char *const users[] = { "alice", "bob" };
	int r = rand() % 10;

	e->verb = verbs[rand() % 6];
	e->has_resource = r != 0;
	if (r <= 4)
		snprintf(e->resource, sizeof(e->resource), "%s", named[rand() % 4]);
	else if (r <= 8)	/* 400 names: more triples than the cache holds */
		snprintf(e->resource, sizeof(e->resource), "res%03d", rand() % 400);
	else {			/* past the cached key length, some starting "long" */
		size_t n = 150 + (size_t)(rand() % 120);
		memset(e->resource, 'x', n);
		e->resource[n] = '\0';
		if (rand() % 2)
			memcpy(e->resource, "long", 4);
	}
	if (r == 0)
		e->resource[0] = '\0';
	e->sub = subs[rand() % 5];
	e->user = users[rand() % 2];
}

static void
test_index_cache(void)
{
	struct rule_source src = { "index.yaml", rules_yaml, sizeof(rules_yaml) - 1 };
	struct buf errs, json;
	struct ruleset *rs;
	struct eval_scratch *s;
	struct jdoc d;
	struct ev_spec e;
	size_t bad = 0, fresh_bad = 0, hits = 0;

	buf_init(&errs);
	buf_init(&json);
	rs = ruleset_compile(&src, 1, NULL, &errs);
	if (rs == NULL) {
		printf("  compile: %s", buf_cstr(&errs));
		T_ASSERT(0);
		return;
	}
	s = eval_scratch_new(rs);
	jdoc_init(&d);
	srand(11);
	for (int n = 0; n < 20000; n++) {
		unsigned want, got, fresh;
		struct eval_scratch *f;

		spec_random(&e);
		event_json_of(&e, n, &json);
		want = expected(&e);
		got = fired(rs, s, &d, &json);
		hits += want != 0;
		if (got != want && bad++ < 5)
			printf("  event %d: fired %#x, want %#x: %.200s\n", n, got, want, json.data);
		if (n % 20 == 0) {	/* the same event through an empty cache */
			f = eval_scratch_new(rs);
			fresh = fired(rs, f, &d, &json);
			eval_scratch_free(f);
			if (fresh != got && fresh_bad++ < 5)
				printf("  event %d: fresh scratch fired %#x, cached %#x\n", n, fresh, got);
		}
	}
	T_INTEQ(bad, 0);
	T_INTEQ(fresh_bad, 0);
	T_ASSERT(hits > 5000);
	eval_scratch_free(s);
	ruleset_free(rs);
	jdoc_free(&d);
	buf_free(&errs);
	buf_free(&json);
}

/* r6 waits in the buckets of pods, secrets and configmaps only. */
/* A rule set compiled from text, a scratch, a document and a JSON buffer
 * for one test; rs NULL (errors printed) when it does not compile. */
struct fixture {
	struct ruleset		*rs;
	struct eval_scratch	*s;
	struct jdoc		 d;
	struct buf		 json;
};

static int
fixture_open(struct fixture *f, const char *name, const char *text, size_t len)
{
	struct rule_source src = { name, text, len };
	struct buf errs;

	buf_init(&errs);
	if ((f->rs = ruleset_compile(&src, 1, NULL, &errs)) == NULL)
		printf("  compile: %s", buf_cstr(&errs));
	buf_free(&errs);
	if (f->rs == NULL)
		return -1;
	f->s = eval_scratch_new(f->rs);
	jdoc_init(&f->d);
	buf_init(&f->json);
	return 0;
}

static void
fixture_close(struct fixture *f)
{
	eval_scratch_free(f->s);
	ruleset_free(f->rs);
	jdoc_free(&f->d);
	buf_free(&f->json);
}

/* Checks what e (written as event_json_of() does for n) fires, and how
 * many rules it is tried on. */
static void
expect_tried(struct fixture *f, const struct ev_spec *e, int n, unsigned want,
    unsigned long tried)
{
	unsigned long before = eval_scratch_evaluated(f->s);

	event_json_of(e, n, &f->json);
	T_INTEQ(fired(f->rs, f->s, &f->d, &f->json), want);
	T_INTEQ(eval_scratch_evaluated(f->s) - before, tried);
}

static void
test_or_pinned(void)
{
	struct fixture f;
	struct ev_spec e = { "delete", "nodes", 1, NULL, "bob" };

	if (fixture_open(&f, "index.yaml", rules_yaml, sizeof(rules_yaml) - 1) < 0) {
		T_ASSERT(0);
		return;
	}
	/* tried: r2 (delete) and the catch-alls r3, r5 and r7 (one branch of
	 * its OR is not about the resource); not r6 */
	expect_tried(&f, &e, 0, 1u << 2, 4);
	snprintf(e.resource, sizeof(e.resource), "configmaps");
	expect_tried(&f, &e, 0, (1u << 2) | (1u << 6), 5);
	fixture_close(&f);
}

/* Falco rules: a condition is one N_FALCO node, whose `and` chain pins the
 * keys as a native one does (index.c, falco_constraints); a value that
 * Falco could read off a non-string (null) does not pin. */
static const char falco_yaml[] =
	"- rule: r0\n  desc: d\n  output: o\n  priority: WARNING\n  source: k8s_audit\n"
	"  condition: ka.verb=create and ka.target.resource in (pods, deployments)\n"
	"- rule: r1\n  desc: d\n  output: o\n  priority: WARNING\n  source: k8s_audit\n"
	"  condition: ka.verb=null\n"
	"- rule: r2\n  desc: d\n  output: o\n  priority: WARNING\n  source: k8s_audit\n"
	"  condition: ka.target.subresource=exec or ka.verb=get\n";

static void
test_falco_pinned(void)
{
	struct fixture f;
	struct ev_spec e = { "create", "pods", 1, NULL, "bob" };

	if (fixture_open(&f, "falco.yaml", falco_yaml, sizeof(falco_yaml) - 1) < 0) {
		T_ASSERT(0);
		return;
	}
	T_INTEQ(f.rs->ncatchall, 2);
	expect_tried(&f, &e, 0, 1u << 0, 3);
	expect_tried(&f, &e, 1, 1u << 0, 3);	/* the verb escaped */
	/* r0 not even tried on another resource */
	snprintf(e.resource, sizeof(e.resource), "nodes");
	expect_tried(&f, &e, 0, 0, 2);
	buf_reset(&f.json);
	buf_puts(&f.json, "{\"auditID\":\"n\",\"verb\":null,\"objectRef\":{\"resource\":\"pods\"}}");
	T_INTEQ(fired(f.rs, f.s, &f.d, &f.json), 1u << 1);
	fixture_close(&f);
}

int
main(void)
{
	T_RUN(test_index_cache);
	T_RUN(test_or_pinned);
	T_RUN(test_falco_pinned);
	return t_done();
}
