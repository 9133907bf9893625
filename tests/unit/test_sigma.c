/* test_sigma.c — Sigma rule documents in the compiler: base64 encoding as
 * the base64 modifiers need it, the id in lower case, warnings for what
 * loads but cannot fire (an unknown field, a logsource that is not
 * Kubernetes audit), the errors of combinations of modifiers, what a
 * warned rule then does on an event, and the index: a Sigma rule's plain
 * verb and resource place it in the (case-folded) index, and a kaudit rule
 * that compares case still sees the events it matches. */
#include "analyze/rules.h"
#include "analyze/rules_impl.h"
#include "base/b64.h"
#include "base/buf.h"
#include "tests/unit/t.h"
#include "tests/unit/tev.h"

#include <stdio.h>
#include <string.h>

#define HEAD "title: t\nid: %s\nlogsource: {product: kubernetes, service: audit}\nlevel: low\n"

#define SECRET_EVENT \
	"{\"auditID\":\"id-1\",\"stage\":\"ResponseComplete\",\"verb\":\"GET\"," \
	"\"user\":{\"username\":\"bob\"},\"objectRef\":{\"resource\":\"secrets\"," \
	"\"namespace\":\"ns1\",\"name\":\"s\"},\"responseStatus\":{\"code\":200}}"

static struct ruleset *
load(const char *text, struct buf *errs)
{
	struct rule_source src = { "s.yml", text, strlen(text) };

	buf_reset(errs);
	return ruleset_compile(&src, 1, NULL, errs);
}

/* A rule of id with the detection given (YAML under `detection:`). */
static struct ruleset *
load_sigma(const char *id, const char *detection, struct buf *errs)
{
	char text[1024];

	snprintf(text, sizeof(text), HEAD "detection:\n%s", id, detection);
	return load(text, errs);
}

static void
on_finding(void *arg, json_t *f, const struct audit_event *ev)
{
	(void)ev;
	(*(int *)arg)++;
	json_decref(f);
}

static unsigned long evaluated;	/* conditions the last fires() evaluated */

static int
fires(const struct ruleset *rs, const char *json)
{
	struct eval_scratch *s = eval_scratch_new(rs);
	struct tev t;
	int n = 0;

	tev_load(&t, json);
	ruleset_eval(rs, &t.ev, s, on_finding, &n);
	evaluated = eval_scratch_evaluated(s);
	eval_scratch_free(s);
	jdoc_free(&t.d);
	return n;
}

static void
test_b64_encode(void)
{
	static const char *const vec[][2] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
	    { "foo", "Zm9v" }, { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	    { "foobar", "Zm9vYmFy" } };
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_reset(&b);
		b64_encode((const unsigned char *)vec[i][0], strlen(vec[i][0]), &b);
		T_STREQ(buf_cstr(&b), vec[i][1]);
	}
	buf_free(&b);
}

static void
test_case_and_id(void)
{
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = load_sigma("AB12CD34-0000-4000-8000-00000000000F", "  s:\n    verb: get\n"
	    "    objectRef.resource: SECRETS\n  condition: s\n", &errs);
	T_ASSERT(rs != NULL);
	if (rs) {
		T_STREQ(rule_id(ruleset_rule(rs, 0)), "ab12cd34-0000-4000-8000-00000000000f");
		T_ASSERT(fires(rs, SECRET_EVENT) == 1);	/* GET and secrets, any case */
		ruleset_free(rs);
	}
	buf_free(&errs);
}

static void
test_unknown_field_warns(void)
{
	struct buf errs;
	struct ruleset *rs;
	size_t nw = 0;
	const char *w;

	buf_init(&errs);
	rs = load_sigma("u1", "  s:\n    verb: get\n    secretName: s\n"
	    "  gone:\n    secretName: null\n  condition: s or (gone and verb)\n", &errs);
	T_ASSERT(rs == NULL);	/* a field is no search identifier */
	T_ASSERT(strstr(buf_cstr(&errs), "s.yml:11: sigma condition: unknown search identifier "
	    "\"verb\"") != NULL);
	ruleset_free(rs);
	rs = load_sigma("u1", "  s:\n    verb: get\n    secretName: s\n"
	    "  gone:\n    secretName: null\n  condition: s or gone\n", &errs);
	T_ASSERT(rs != NULL);
	if (rs) {
		w = ruleset_warnings(rs, &nw);
		T_ASSERT(nw == 2);
		T_ASSERT(strstr(w, "s.yml:8: warning: sigma rule u1: field \"secretName\" is no path") != NULL);
		/* s never holds; gone (the field missing) always does */
		T_ASSERT(fires(rs, SECRET_EVENT) == 1);
		ruleset_free(rs);
	}
	buf_free(&errs);
}

static void
test_logsource_skipped(void)
{
	const char *text = "title: w\nid: w1\nlogsource: {product: windows}\n"
	    "detection: {s: {EventID: 1}, condition: s}\nlevel: low\n";
	struct buf errs;
	struct ruleset *rs;
	size_t nw = 0;

	buf_init(&errs);
	rs = load(text, &errs);
	T_ASSERT(rs != NULL);
	if (rs) {
		T_ASSERT(ruleset_count(rs) == 0);
		T_ASSERT(strstr(ruleset_warnings(rs, &nw), "not Kubernetes audit") != NULL);
		ruleset_free(rs);
	}
	buf_free(&errs);
}

static void
test_modifier_errors(void)
{
	static const char *const bad[][2] = {
		{ "requestURI|re|contains: x", "re, cidr, exists and lt/lte/gt/gte stand alone" },
		{ "requestURI|base64offset: x", "base64offset needs contains" },
		{ "requestURI|i: x", "unknown modifier \"i\"" },
		{ "requestURI|exists: maybe", "expected true or false" },
		{ "requestURI|contains: null", "null takes no modifier" },
		{ "requestURI: {a: b}", "expected a value or a list of values" },
		{ "requestURI: []", "expected 1 to" },
	};
	char det[256];
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(det, sizeof(det), "  s:\n    %s\n  condition: s\n", bad[i][0]);
		rs = load_sigma("m1", det, &errs);
		T_ASSERT(rs == NULL);
		if (strstr(buf_cstr(&errs), bad[i][1]) == NULL || strncmp(buf_cstr(&errs), "s.yml:7: ", 9))
			printf("  %s: got %s", bad[i][0], buf_cstr(&errs));
		T_ASSERT(strstr(buf_cstr(&errs), bad[i][1]) != NULL);
		T_ASSERT(strncmp(buf_cstr(&errs), "s.yml:7: ", 9) == 0);
		ruleset_free(rs);
	}
	buf_free(&errs);
}

#define EV(verb, res) "{\"auditID\":\"i\",\"stage\":\"ResponseComplete\",\"verb\":\"" verb \
	"\",\"user\":{\"username\":\"u\"},\"objectRef\":{\"resource\":\"" res "\"}}"

static void
test_index(void)
{
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = load_sigma("x1", "  s:\n    verb: [delete, patch]\n"
	    "    objectRef.resource: secrets\n  condition: s\n", &errs);
	T_ASSERT(rs != NULL && ruleset_rule(rs, 0)->ik[IK_RESOURCE] != NULL);
	if (rs) {
		T_ASSERT(fires(rs, EV("get", "pods")) == 0 && evaluated == 0);
		T_ASSERT(fires(rs, EV("get", "secrets")) == 0 && evaluated == 0);
		T_ASSERT(fires(rs, EV("DELETE", "Secrets")) == 1 && evaluated == 1);
		ruleset_free(rs);
	}
	/* wildcards: no whole value, so no index */
	rs = load_sigma("x2", "  s:\n    verb: 'del*'\n  condition: s\n", &errs);
	T_ASSERT(rs != NULL && ruleset_rule(rs, 0)->ik[IK_VERB] == NULL);
	ruleset_free(rs);
	/* a kaudit rule that compares case, in the lower-case bucket */
	rs = load("- rule: t.upper\n  title: t\n  severity: low\n  category: rbac\n"
	    "  condition: verb = GET\n", &errs);
	T_ASSERT(rs != NULL);
	if (rs) {
		T_ASSERT(fires(rs, EV("GET", "pods")) == 1);
		T_ASSERT(fires(rs, EV("get", "pods")) == 0);
		ruleset_free(rs);
	}
	buf_free(&errs);
}

int
main(void)
{
	T_RUN(test_b64_encode);
	T_RUN(test_case_and_id);
	T_RUN(test_unknown_field_warns);
	T_RUN(test_logsource_skipped);
	T_RUN(test_modifier_errors);
	T_RUN(test_index);
	return t_done();
}
