/* test_rules.c — the rule compiler and the engine: every kind of load
 * error with its `file:line: message`, overrides and appends across files,
 * exceptions, stages, the index (a rule that cannot match is never
 * evaluated), the finding's fields and evidence, and a throughput figure. */
#include "analyze/event.h"
#include "base/jtok.h"
#include "analyze/rules.h"
#include "analyze/rules_impl.h"
#include "base/buf.h"
#include "base/xmalloc.h"
#include "tests/unit/t.h"
#include "tests/unit/tev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RULE_HEAD "  title: t\n  severity: high\n  category: rbac\n"

#define EXEC_EVENT \
	"{\"kind\":\"Event\",\"auditID\":\"id-1\",\"stage\":\"ResponseComplete\",\"verb\":\"create\"," \
	"\"requestURI\":\"/api/v1/namespaces/ns1/pods/p1/exec?command=bash&container=c1\"," \
	"\"user\":{\"username\":\"alice\",\"groups\":[\"dev\"]},\"sourceIPs\":[\"198.51.100.1\"]," \
	"\"userAgent\":\"kubectl/v1.30.0 (linux/amd64) kubernetes/abc\"," \
	"\"objectRef\":{\"resource\":\"pods\",\"subresource\":\"exec\",\"namespace\":\"ns1\",\"name\":\"p1\"}," \
	"\"responseStatus\":{\"code\":101},\"stageTimestamp\":\"2026-01-01T00:00:01Z\"," \
	"\"requestReceivedTimestamp\":\"2026-01-01T00:00:00Z\"}"

#define GET_EVENT \
	"{\"auditID\":\"id-2\",\"stage\":\"ResponseComplete\",\"verb\":\"get\"," \
	"\"user\":{\"username\":\"bob\"},\"objectRef\":{\"resource\":\"secrets\",\"namespace\":\"ns1\",\"name\":\"s\"}," \
	"\"responseStatus\":{\"code\":200}}"

static struct ruleset *
compile2(const char *a, const char *b, const struct rules_options *o, struct buf *errs)
{
	struct rule_source src[2] = {
		{ "a.yaml", a, strlen(a) },
		{ "b.yaml", b ? b : "", b ? strlen(b) : 0 },
	};
	buf_reset(errs);
	return ruleset_compile(src, b ? 2 : 1, o, errs);
}

static const char *
first_error(const char *a, const char *b)
{
	static char msg[512];
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = compile2(a, b, NULL, &errs);
	snprintf(msg, sizeof(msg), "%s", rs ? "(compiled)" : buf_cstr(&errs));
	msg[strcspn(msg, "\n")] = '\0';
	ruleset_free(rs);
	buf_free(&errs);
	return msg;
}

struct fired {
	char	 ids[512];
	json_t	*last;
};

static void
on_finding(void *arg, json_t *f, const struct audit_event *ev)
{
	struct fired *fi = arg;

	(void)ev;
	if (fi->ids[0])
		strcat(fi->ids, ",");
	strncat(fi->ids, json_string_value(json_object_get(f, "rule")),
	    sizeof(fi->ids) - strlen(fi->ids) - 1);
	json_decref(fi->last);
	fi->last = f;
}

/* Comma-separated ids of the rules of rs that fire on json (static). */
static const char *
fire(const struct ruleset *rs, const char *json)
{
	static struct fired fi;
	struct eval_scratch *s = eval_scratch_new(rs);
	struct tev t;

	fi.ids[0] = '\0';
	json_decref(fi.last);
	fi.last = NULL;
	tev_load(&t, json);
	ruleset_eval(rs, &t.ev, s, on_finding, &fi);
	eval_scratch_free(s);
	jdoc_free(&t.d);
	return fi.ids;
}

static void
test_errors(void)
{
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verbb = x\n", NULL),
	    "a.yaml:5: condition: unknown field \"verbb\" (column 1)");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb in (l1)\n  output: \"%{user.nme}\"\n", NULL),
	    "a.yaml:6: output: unknown field \"user.nme\"");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb in nolist\n", NULL),
	    "a.yaml:5: condition: unknown list \"nolist\" (column 9)");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: nomacro\n", NULL),
	    "a.yaml:5: condition: unknown macro \"nomacro\" (column 1)");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: responseStatus.code = \"403\"\n", NULL),
	    "a.yaml:5: condition: type mismatch: responseStatus.code is a number, \"403\" is a string (column 23)");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb regex \"a(\"\n", NULL),
	    "a.yaml:5: condition: bad regex \"a(\": missing closing parenthesis at offset 2 (column 12)");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb = x\n",
	    "- rule: r\n" RULE_HEAD "  condition: verb = y\n"),
	    "b.yaml:1: duplicate rule id \"r\" (first defined at a.yaml:1)");
	T_STREQ(first_error("- macro: m1\n  condition: verb = x or m2\n"
	    "- macro: m2\n  condition: m1\n"
	    "- rule: r\n" RULE_HEAD "  condition: m1\n", NULL),
	    "a.yaml:2: macro cycle: m1 -> m2 -> m1");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb = x\n  severity: urgent\n", NULL),
	    "a.yaml:6: duplicate key \"severity\" in rule");
	T_STREQ(first_error("- rule: r\n  title: t\n  severity: urgent\n  category: rbac\n  condition: verb = x\n", NULL),
	    "a.yaml:3: unknown severity \"urgent\" (info, low, medium, high or critical)");
	T_STREQ(first_error("- rule: r\n  title: t\n  severity: low\n  category: misc\n  condition: verb = x\n", NULL),
	    "a.yaml:4: unknown category \"misc\"");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb = x\n  colour: red\n", NULL),
	    "a.yaml:6: unknown key \"colour\" in rule");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD, NULL), "a.yaml:1: rule: missing condition");
	T_STREQ(first_error("- rule: R.1\n" RULE_HEAD "  condition: verb = x\n", NULL),
	    "a.yaml:1: rule id \"R.1\": use lowercase letters, digits, dots, '-' and '_'");
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb = x\n  stages: [Done]\n", NULL),
	    "a.yaml:6: unknown stage \"Done\" (RequestReceived, ResponseStarted, ResponseComplete or Panic)");
	T_STREQ(first_error("- rule: r\n  title: [\n", NULL),
	    "a.yaml:3: yaml: did not find expected node content while parsing a flow node");
	T_STREQ(first_error("- list: l\n  items: [a]\n- list: l2\n  items: [l2]\n", NULL),
	    "a.yaml:3: list \"l2\" includes itself");
	T_STREQ(first_error("- rule: nosuch\n  append: true\n  exceptions: []\n", NULL),
	    "a.yaml:1: override of unknown rule \"nosuch\"");
	T_STREQ(first_error("- list: nosuch\n  append: true\n  items: [a]\n", NULL),
	    "a.yaml:1: append to unknown list \"nosuch\"");
	T_STREQ(first_error("- widget: w\n", NULL), "a.yaml:1: expected a mapping with rule, correlation, list or macro");
	/* an unused macro still gets a syntax check */
	T_STREQ(first_error("- macro: m\n  condition: verb = (\n", NULL),
	    "a.yaml:2: condition: expected a value (column 8)");
	/* every problem is reported, not just the first */
	{
		struct buf errs;
		struct ruleset *rs;
		int lines = 0;
		buf_init(&errs);
		rs = compile2("- rule: r1\n" RULE_HEAD "  condition: a = 1\n"
		    "- rule: r2\n" RULE_HEAD "  condition: b = 1\n", NULL, NULL, &errs);
		T_ASSERT(rs == NULL);
		for (const char *p = buf_cstr(&errs); *p; p++)
			lines += *p == '\n';
		T_INTEQ(lines, 2);
		buf_free(&errs);
	}
}

static void
test_overrides(void)
{
	const char *base =
	    "- list: users\n  items: [alice]\n"
	    "- macro: watched\n  condition: user.username in (users)\n"
	    "- rule: r\n" RULE_HEAD "  condition: watched and verb = create\n";
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = compile2(base, NULL, NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r");
	ruleset_free(rs);
	/* a later list replaces */
	rs = compile2(base, "- list: users\n  items: [carol]\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	/* or appends */
	rs = compile2(base, "- list: users\n  append: true\n  items: [carol]\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r");
	ruleset_free(rs);
	/* a later macro replaces */
	rs = compile2(base, "- macro: watched\n  condition: user.username = bob\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	/* or is OR'ed in */
	rs = compile2(base, "- list: users\n  items: []\n"
	    "- macro: watched\n  append: true\n  condition: user.groups contains dev\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r");
	ruleset_free(rs);
	/* a rule switched off by a later file, and back on */
	rs = compile2(base, "- rule: r\n  enabled: false\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	/* lists can include lists */
	rs = compile2("- list: a\n  items: [alice]\n- list: b\n  items: [a, bob]\n"
	    "- rule: r\n" RULE_HEAD "  condition: user.username in (b)\n", NULL, NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r");
	ruleset_free(rs);
	T_STREQ(buf_cstr(&errs), "");
	buf_free(&errs);
}

static void
test_options(void)
{
	const char *src = "- rule: r1\n" RULE_HEAD "  tags: [T1609, noisy]\n  condition: verb = create\n"
	    "- rule: r2\n" RULE_HEAD "  tags: [T1609]\n  condition: verb = create\n";
	const char *ids[] = { "r2" }, *tags[] = { "noisy" }, *bad[] = { "r9" };
	const char *badtag[] = { "noisy", "n0isy" };
	struct rules_options o = { .disabled_ids = ids, .ndisabled_ids = 1 };
	struct buf errs;
	struct ruleset *rs;
	json_t *d;

	buf_init(&errs);
	rs = compile2(src, NULL, NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r1,r2");
	ruleset_free(rs);
	rs = compile2(src, NULL, &o, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r1");
	d = rule_describe(ruleset_rule(rs, 1));
	T_ASSERT(json_is_false(json_object_get(d, "enabled")));
	json_decref(d);
	ruleset_free(rs);
	o = (struct rules_options){ .disabled_tags = tags, .ndisabled_tags = 1 };
	rs = compile2(src, NULL, &o, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r2");
	ruleset_free(rs);
	o = (struct rules_options){ .disabled_ids = bad, .ndisabled_ids = 1,
	    .origin = "k.yaml", .ids_line = 7 };
	T_ASSERT(compile2(src, NULL, &o, &errs) == NULL);
	T_STREQ(buf_cstr(&errs), "k.yaml:7: disabled_rules: rule \"r9\" is not defined\n");
	/* A tag that switches nothing off is a typo, not a no-op. */
	buf_reset(&errs);
	o = (struct rules_options){ .disabled_tags = badtag, .ndisabled_tags = 2,
	    .origin = "k.yaml", .tags_line = 8 };
	T_ASSERT(compile2(src, NULL, &o, &errs) == NULL);
	T_STREQ(buf_cstr(&errs), "k.yaml:8: disabled_tags: no rule has the tag \"n0isy\"\n");
	buf_free(&errs);
}

/* `platform:` items count only when their platform is enabled; the rest
 * are still checked, and an enabled name no item uses is an error. */
static void
test_platforms(void)
{
	const char *src =
	    "- list: cp\n  items: [system:apiserver]\n"
	    "- list: cp\n  append: true\n  platform: gke\n  items: [alice]\n"
	    "- macro: m\n  condition: user.username = bob\n"
	    "- macro: m\n  append: true\n  platform: aks\n  condition: user.username = alice\n"
	    "- rule: r1\n" RULE_HEAD "  condition: verb = create and not user.username in (cp)\n"
	    "- rule: r2\n" RULE_HEAD "  condition: verb = create and m\n";
	const char *gke[] = { "gke" }, *aks[] = { "aks" }, *both[] = { "aks", "gke" };
	const char *typo[] = { "gke", "eks" };
	struct rules_options o = { .platforms = gke, .nplatforms = 1 };
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = compile2(src, NULL, NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r1");
	ruleset_free(rs);
	rs = compile2(src, NULL, &o, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	o = (struct rules_options){ .platforms = aks, .nplatforms = 1 };
	rs = compile2(src, NULL, &o, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r1,r2");
	ruleset_free(rs);
	o = (struct rules_options){ .platforms = both, .nplatforms = 2 };
	rs = compile2(src, NULL, &o, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "r2");
	ruleset_free(rs);
	/* a platform named in a later file applies there too */
	rs = compile2(src, "- list: cp\n  append: true\n  platform: eks\n  items: [alice]\n",
	    &(struct rules_options){ .platforms = typo + 1, .nplatforms = 1 }, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	T_STREQ(buf_cstr(&errs), "");
	o = (struct rules_options){ .platforms = typo, .nplatforms = 2, .origin = "k.yaml",
	    .platforms_line = 9 };
	T_ASSERT(compile2(src, NULL, &o, &errs) == NULL);
	T_STREQ(buf_cstr(&errs), "k.yaml:9: platforms: unknown platform \"eks\" (the rules know: aks, gke)\n");
	T_ASSERT(compile2("- rule: r\n" RULE_HEAD "  condition: verb = x\n", NULL, &o, &errs) == NULL);
	T_STREQ(buf_cstr(&errs), "k.yaml:9: platforms: unknown platform \"gke\" (the rules know: none)\n"
	    "k.yaml:9: platforms: unknown platform \"eks\" (the rules know: none)\n");
	buf_free(&errs);
	/* items of platforms not enabled are checked all the same */
	T_STREQ(first_error("- macro: m\n  platform: aks\n  condition: verb = (\n", NULL),
	    "a.yaml:3: condition: expected a value (column 8)");
	T_STREQ(first_error("- list: l\n  platform: aks\n  items: nope\n", NULL),
	    "a.yaml:3: list items must be a list");
	T_STREQ(first_error("- list: l\n  platform: GKE\n  items: []\n", NULL),
	    "a.yaml:2: list: platform \"GKE\": use lowercase letters, digits and '-'");
	T_STREQ(first_error("- list: l\n  platform: [gke]\n  items: []\n", NULL),
	    "a.yaml:2: list: platform must be a string");
	/* rules have no platform: switch a rule off with disabled_rules */
	T_STREQ(first_error("- rule: r\n" RULE_HEAD "  condition: verb = x\n  platform: gke\n", NULL),
	    "a.yaml:6: unknown key \"platform\" in rule");
}

static void
test_exceptions(void)
{
	const char *src = "- rule: r\n" RULE_HEAD "  condition: verb = create\n"
	    "  exceptions:\n"
	    "    - name: pairs\n      fields: [user.username, objectRef.namespace]\n"
	    "      values: [[alice, ns2], [carol, ns1]]\n"
	    "    - name: groups\n      fields: [user.groups]\n      comps: [contains]\n"
	    "      values: [ops]\n";
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = compile2(src, NULL, NULL, &errs);
	T_STREQ(buf_cstr(&errs), "");
	T_STREQ(fire(rs, EXEC_EVENT), "r");	/* alice in ns1: no tuple matches */
	ruleset_free(rs);
	rs = compile2(src, "- rule: r\n  append: true\n  exceptions:\n"
	    "    - name: pairs\n      values: [[alice, ns1]]\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	rs = compile2(src, "- rule: r\n  append: true\n  exceptions:\n"
	    "    - name: groups\n      values: [dev]\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	rs = compile2(src, "- rule: r\n  append: true\n  exceptions:\n"
	    "    - name: by_ns\n      fields: objectRef.namespace\n      comps: in\n"
	    "      values: [[ns1, ns3]]\n", NULL, &errs);
	T_STREQ(fire(rs, EXEC_EVENT), "");
	ruleset_free(rs);
	T_STREQ(first_error(src, "- rule: r\n  append: true\n  exceptions:\n"
	    "    - name: bad\n      fields: [user.username]\n      comps: [like]\n      values: [x]\n"),
	    "b.yaml:4: exception bad: unknown comparison \"like\"");
	T_STREQ(first_error(src, "- rule: r\n  append: true\n  exceptions:\n"
	    "    - name: bad\n      fields: [user.nosuch]\n      values: [x]\n"),
	    "b.yaml:4: exception bad: unknown field \"user.nosuch\"");
	T_STREQ(first_error(src, "- rule: r\n  append: true\n  exceptions:\n"
	    "    - name: pairs\n      values: [[x]]\n"),
	    "b.yaml:5: exception pairs: each value needs 2 items, one per field");
	buf_free(&errs);
}

/* Exception values are compared as written: built into the tree, never
 * read again as condition text, so quotes, parentheses and keywords in a
 * value cannot change what the exception means. */
static void
test_exception_values_literal(void)
{
	const char *src = "- list: admins\n  items: [Alice, bob]\n"
	    "- rule: r\n" RULE_HEAD "  condition: verb = create\n";
	const char *evil = "- rule: r\n  append: true\n  exceptions:\n"
	    "    - name: e\n      fields: [user.username]\n"
	    "      values: ['x\" or verb = \"create', 'y) or (verb = create']\n";
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = compile2(src, evil, NULL, &errs);
	T_STREQ(buf_cstr(&errs), "");
	T_STREQ(fire(rs, EXEC_EVENT), "r");	/* alice is neither value */
	ruleset_free(rs);
	/* icontains over a list lowers its own copy: `in admins` still
	 * compares with the items as written */
	rs = compile2(src, "- rule: r2\n" RULE_HEAD "  condition: user.username icontains admins\n"
	    "- rule: r3\n" RULE_HEAD "  condition: user.username in (admins)\n", NULL, &errs);
	T_STREQ(buf_cstr(&errs), "");
	T_STREQ(fire(rs, EXEC_EVENT), "r,r2");	/* "alice" is not "Alice" */
	ruleset_free(rs);
	buf_free(&errs);
}

static void
test_stages(void)
{
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = compile2("- rule: done\n" RULE_HEAD "  condition: verb = create\n"
	    "- rule: started\n" RULE_HEAD "  condition: verb = create\n  stages: [ResponseStarted]\n",
	    NULL, NULL, &errs);
	T_STREQ(fire(rs, "{\"verb\":\"create\",\"stage\":\"ResponseStarted\"}"), "started");
	T_STREQ(fire(rs, EXEC_EVENT), "done");
	T_STREQ(fire(rs, "{\"verb\":\"create\",\"stage\":\"RequestReceived\"}"), "");
	T_STREQ(fire(rs, "{\"verb\":\"create\",\"stage\":\"Bogus\"}"), "");
	/* no stage at all: treated as ResponseComplete */
	T_STREQ(fire(rs, "{\"verb\":\"create\"}"), "done");
	ruleset_free(rs);
	buf_free(&errs);
}

/* The archive's condition (archive.when): compiled with the rules' lists
 * and macros, evaluated after the rules on the same scratch; an error in it
 * is reported at the configuration's line. */
static int
archived(const struct ruleset *rs, const char *json)
{
	struct eval_scratch *s = eval_scratch_new(rs);
	struct fired fi = { .ids = "" };
	struct tev t;
	int r;

	tev_load(&t, json);
	ruleset_eval(rs, &t.ev, s, on_finding, &fi);
	json_decref(fi.last);
	r = ruleset_archive(rs, &t.ev, s);
	eval_scratch_free(s);
	jdoc_free(&t.d);
	return r;
}

static void
test_archive_when(void)
{
	static const char rules[] =
	    "- list: people\n  items: [alice]\n"
	    "- macro: person\n  condition: user.username in (people)\n"
	    "- rule: exec\n" RULE_HEAD "  condition: objectRef.subresource = exec and person\n";
	struct rules_options o = { .origin = "kaudit.yaml", .archive_line = 7,
	    .archive_when = "person or responseStatus.code = 403" };
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = compile2(rules, NULL, &o, &errs);
	T_ASSERT(rs != NULL);
	if (rs != NULL) {
		T_INTEQ(archived(rs, EXEC_EVENT), 1);		/* alice, via the macro */
		T_INTEQ(archived(rs, GET_EVENT), 0);		/* bob */
		T_INTEQ(archived(rs, "{\"stage\":\"ResponseComplete\",\"user\":{\"username\":"
		    "\"bob\"},\"responseStatus\":{\"code\":403}}"), 1);
		/* no stage an event can have: never archived */
		T_INTEQ(archived(rs, "{\"stage\":\"Bogus\",\"user\":{\"username\":\"alice\"}}"), 0);
	}
	ruleset_free(rs);
	/* without a condition nothing is archived */
	rs = compile2(rules, NULL, NULL, &errs);
	T_INTEQ(rs ? archived(rs, EXEC_EVENT) : -1, 0);
	ruleset_free(rs);
	o.archive_when = "person and nosuch.field = 1";
	rs = compile2(rules, NULL, &o, &errs);
	T_ASSERT(rs == NULL);
	T_ASSERT(strstr(buf_cstr(&errs), "kaudit.yaml:7: archive.when: unknown field") != NULL);
	ruleset_free(rs);
	buf_free(&errs);
}

static void
test_index(void)
{
	struct buf src, errs;
	struct ruleset *rs;
	struct eval_scratch *s;
	struct tev t;
	int i;

	buf_init(&src);
	buf_init(&errs);
	buf_puts(&src, "- macro: is_create\n  condition: verb = create\n");
	buf_puts(&src, "- rule: create_only\n" RULE_HEAD "  condition: is_create and user.username = alice\n"
	    "  stages: [ResponseStarted, ResponseComplete]\n");
	buf_puts(&src, "- rule: any_verb\n" RULE_HEAD "  condition: user.username exists\n"
	    "  stages: [ResponseStarted, ResponseComplete]\n");
	for (i = 0; i < 200; i++)
		buf_printf(&src, "- rule: res%d\n" RULE_HEAD "  condition: objectRef.resource in (r%d, q%d) and verb = get\n",
		    i, i, i);
	buf_puts(&src, "- rule: exec_sub\n" RULE_HEAD "  condition: objectRef.subresource = exec\n");
	rs = compile2(src.data, NULL, NULL, &errs);
	T_STREQ(buf_cstr(&errs), "");
	s = eval_scratch_new(rs);
	/* a get of secrets: none of the 200 resource rules, nor create_only */
	tev_load(&t, GET_EVENT);
	T_INTEQ(ruleset_eval(rs, &t.ev, s, NULL, NULL), 1);
	T_INTEQ(eval_scratch_evaluated(s), 1);	/* any_verb only */
	jdoc_free(&t.d);
	/* an exec create: create_only, any_verb, exec_sub */
	tev_load(&t, EXEC_EVENT);
	T_INTEQ(ruleset_eval(rs, &t.ev, s, NULL, NULL), 3);
	T_INTEQ(eval_scratch_evaluated(s), 1 + 3);
	jdoc_free(&t.d);
	/* a get of r7: one resource rule from the index */
	tev_load(&t, "{\"verb\":\"get\",\"objectRef\":{\"resource\":\"q7\"}}");
	T_INTEQ(ruleset_eval(rs, &t.ev, s, NULL, NULL), 1);
	T_INTEQ(eval_scratch_evaluated(s), 4 + 2);	/* res7 and any_verb (not fired) */
	jdoc_free(&t.d);
	/* a create of r7: the resource rule's verb constraint skips it */
	tev_load(&t, "{\"verb\":\"list\",\"objectRef\":{\"resource\":\"r7\"}}");
	T_INTEQ(ruleset_eval(rs, &t.ev, s, NULL, NULL), 0);
	T_INTEQ(eval_scratch_evaluated(s), 6 + 1);
	jdoc_free(&t.d);
	eval_scratch_free(s);
	ruleset_free(rs);
	buf_free(&src);
	buf_free(&errs);
}

/* A macro shared by several rules is computed once per event, and never
 * carried over to the next event. */
static void
test_macro_memo(void)
{
	struct buf errs;
	struct ruleset *rs;
	struct eval_scratch *s;
	struct tev a, b;

	buf_init(&errs);
	rs = compile2("- macro: alice_creates\n  condition: user.username = alice and verb = create\n"
	    "- rule: r1\n" RULE_HEAD "  condition: alice_creates and objectRef.name = p1\n"
	    "- rule: r2\n" RULE_HEAD "  condition: alice_creates or verb = get\n"
	    "- rule: r3\n" RULE_HEAD "  condition: not alice_creates\n", NULL, NULL, &errs);
	T_STREQ(buf_cstr(&errs), "");
	T_ASSERT(rs && rs->nmemo == 1);
	s = eval_scratch_new(rs);
	tev_load(&a, EXEC_EVENT);
	tev_load(&b, GET_EVENT);
	for (int i = 0; i < 3; i++) {
		T_INTEQ(ruleset_eval(rs, &a.ev, s, NULL, NULL), 2);	/* r1, r2 */
		T_INTEQ(ruleset_eval(rs, &b.ev, s, NULL, NULL), 2);	/* r2, r3 */
	}
	jdoc_free(&a.d);
	jdoc_free(&b.d);
	eval_scratch_free(s);
	ruleset_free(rs);
	buf_free(&errs);
}

static void
test_finding(void)
{
	struct buf errs;
	struct ruleset *rs;
	json_t *f, *ev;
	char *s;
	static const char *const keys[] = { "rule", "title", "severity", "category", "tags",
	    "audit_id", "stage", "time", "cluster", "user", "groups", "impersonated_user",
	    "source_ip", "user_agent", "verb", "resource", "subresource", "namespace", "name",
	    "code", "message", "evidence", "repeats" };
	const char *k;
	size_t i = 0;
	json_t *v;

	buf_init(&errs);
	rs = compile2("- rule: k8s.exec.test\n  title: Exec\n  severity: medium\n  category: exec\n"
	    "  tags: [T1609]\n"
	    "  condition: objectRef.subresource = exec and (verb = get or verb = create)"
	    " and ka.exec.argv0 = bash and not user.groups contains admins\n"
	    "  output: \"%{user.username} ran %{ka.exec.command} in %{objectRef.name} as %{impersonatedUser.username}\"\n",
	    NULL, NULL, &errs);
	{
		struct fired fi = { "", NULL };
		struct eval_scratch *sc = eval_scratch_new(rs);
		struct tev t;
		tev_load(&t, EXEC_EVENT);
		ruleset_eval(rs, &t.ev, sc, on_finding, &fi);
		f = fi.last;
		eval_scratch_free(sc);
		T_ASSERT(f != NULL);
		if (f == NULL) {
			jdoc_free(&t.d);
			ruleset_free(rs);
			buf_free(&errs);
			return;
		}
		json_object_foreach(f, k, v) {
			T_STREQ(k, i < sizeof(keys) / sizeof(keys[0]) ? keys[i] : "(extra)");
			i++;
		}
		T_INTEQ(i, sizeof(keys) / sizeof(keys[0]));
		T_STREQ(json_string_value(json_object_get(f, "message")), "alice ran bash in p1 as <none>");
		T_STREQ(json_string_value(json_object_get(f, "time")), "2026-01-01T00:00:01Z");
		T_STREQ(json_string_value(json_object_get(f, "cluster")), TEV_CLUSTER);
		T_STREQ(json_string_value(json_object_get(f, "source_ip")), "198.51.100.1");
		T_INTEQ(json_integer_value(json_object_get(f, "code")), 101);
		T_ASSERT(json_is_null(json_object_get(f, "impersonated_user")));
		ev = json_object_get(f, "evidence");
		s = json_dumps(ev, JSON_COMPACT);
		/* only the OR branch that held (verb = create) */
		T_STREQ(s, "{\"objectRef.subresource\":\"exec\",\"verb\":\"create\","
		    "\"ka.exec.argv0\":\"bash\",\"user.groups\":[\"dev\"]}");
		free(s);
		json_decref(f);
		jdoc_free(&t.d);
	}
	ruleset_free(rs);
	buf_free(&errs);
}

static void
test_evidence_caps(void)
{
	struct buf src, errs, ev;
	struct ruleset *rs;
	struct fired fi = { "", NULL };
	struct eval_scratch *s;
	struct tev t;
	const char *v;

	buf_init(&src);
	buf_init(&errs);
	buf_init(&ev);
	buf_puts(&src, "- rule: r\n" RULE_HEAD "  condition: objectRef.name startswith aaa and requestObject exists\n");
	rs = compile2(src.data, NULL, NULL, &errs);
	buf_puts(&ev, "{\"verb\":\"create\",\"objectRef\":{\"name\":\"");
	for (int i = 0; i < 5000; i++)
		buf_putc(&ev, 'a');
	buf_puts(&ev, "\"},\"requestObject\":{\"data\":\"");
	for (int i = 0; i < 5000; i++)
		buf_putc(&ev, 'b');
	buf_puts(&ev, "\\u00e9x\"}}");
	s = eval_scratch_new(rs);
	tev_load(&t, ev.data);
	ruleset_eval(rs, &t.ev, s, on_finding, &fi);
	T_ASSERT(fi.last != NULL);
	if (fi.last) {
		v = json_string_value(json_object_get(json_object_get(fi.last, "evidence"), "objectRef.name"));
		T_ASSERT(v && strlen(v) == EVIDENCE_STR_MAX + 3);
		v = json_string_value(json_object_get(json_object_get(fi.last, "evidence"), "requestObject"));
		T_ASSERT(v && strlen(v) <= EVIDENCE_RAW_MAX + 3);
		json_decref(fi.last);
	}
	eval_scratch_free(s);
	jdoc_free(&t.d);
	ruleset_free(rs);
	buf_free(&src);
	buf_free(&errs);
	buf_free(&ev);
}

/* Not a pass/fail check: a figure for the report. */
/* rule_describe tells plain rules from correlations, and shows alert and
 * suppress: `rules list` and docs/rules.md print them. */
static void
test_describe_kind(void)
{
	const char *src =
	    "- rule: r1\n" RULE_HEAD "  condition: verb = get\n  alert: false\n"
	    "- rule: r2\n" RULE_HEAD "  condition: verb = list\n"
	    "  suppress: {by: [user.username], for: 24h}\n"
	    "- correlation: c1\n  title: t\n  type: event_count\n  rules: [r1]\n"
	    "  group_by: [user.username]\n  timespan: 10m\n  condition: {gte: 3}\n"
	    "  severity: low\n  category: authn\n";
	struct buf errs;
	struct ruleset *rs;
	json_t *d;

	buf_init(&errs);
	rs = compile2(src, NULL, NULL, &errs);
	T_STREQ(buf_cstr(&errs), "");
	T_ASSERT(rs != NULL);
	if (rs == NULL)
		goto out;
	d = rule_describe(ruleset_rule(rs, 0));
	T_STREQ(json_string_value(json_object_get(d, "kind")), "rule");
	T_ASSERT(json_is_false(json_object_get(d, "alert")));
	T_ASSERT(json_object_get(d, "suppress") == NULL);
	json_decref(d);
	d = rule_describe(ruleset_rule(rs, 1));
	T_ASSERT(json_is_true(json_object_get(d, "alert")));
	T_STREQ(json_string_value(json_object_get(d, "suppress")), "1d");
	json_decref(d);
	d = rule_describe(ruleset_rule(rs, 2));
	T_STREQ(json_string_value(json_object_get(d, "kind")), "event_count");
	json_decref(d);
	ruleset_free(rs);
out:
	buf_free(&errs);
}

static void
test_throughput(void)
{
	struct buf src, errs;
	struct ruleset *rs;
	struct eval_scratch *s;
	struct tev t[2];
	struct timespec a, b;
	double secs;
	int i, n = 200000;

	buf_init(&src);
	buf_init(&errs);
	for (i = 0; i < 500; i++)
		buf_printf(&src, "- rule: res%d\n" RULE_HEAD "  condition: objectRef.resource = r%d and verb in (create, update)"
		    " and any ka.containers (securityContext.privileged = true)\n", i, i);
	buf_puts(&src, "- rule: exec\n" RULE_HEAD "  condition: objectRef.subresource = exec and ka.exec.argv0 in (sh, bash)\n");
	rs = compile2(src.data, NULL, NULL, &errs);
	T_STREQ(buf_cstr(&errs), "");
	s = eval_scratch_new(rs);
	tev_load(&t[0], EXEC_EVENT);
	tev_load(&t[1], GET_EVENT);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		ruleset_eval(rs, &t[i & 1].ev, s, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("  figure: %d evaluations against 501 rules in %.3f s: %.0f events/s, %.2f conditions/event\n",
	    n, secs, n / (secs > 0 ? secs : 1e-9), (double)eval_scratch_evaluated(s) / n);
	T_ASSERT(eval_scratch_evaluated(s) <= (unsigned long)n);
	eval_scratch_free(s);
	jdoc_free(&t[0].d);
	jdoc_free(&t[1].d);
	ruleset_free(rs);
	buf_free(&src);
	buf_free(&errs);
}

int
main(void)
{
	T_RUN(test_errors);
	T_RUN(test_overrides);
	T_RUN(test_options);
	T_RUN(test_platforms);
	T_RUN(test_exceptions);
	T_RUN(test_exception_values_literal);
	T_RUN(test_stages);
	T_RUN(test_archive_when);
	T_RUN(test_index);
	T_RUN(test_macro_memo);
	T_RUN(test_finding);
	T_RUN(test_evidence_caps);
	T_RUN(test_describe_kind);
	T_RUN(test_throughput);
	return t_done();
}
