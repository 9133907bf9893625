/* test_event.c — the event field index (analyze/event.c): every well-known
 * field found where it is, near-miss keys left alone, escaped keys, the last
 * of repeated keys, wrong shapes, and agreement with a plain path lookup over
 * every line of the real corpus. */
#include "analyze/event.h"
#include "base/xmalloc.h"
#include "tests/unit/t.h"

#include <stdlib.h>
#include <string.h>

#define CORPUS	"tests/fixtures/corpus/"

/* The dotted path of each field, as jtok_path() reads it. */
static const char *const paths[EF_COUNT] = {
	[EF_AUDIT_ID] = "auditID", [EF_STAGE] = "stage", [EF_VERB] = "verb",
	[EF_REQUEST_URI] = "requestURI", [EF_USER] = "user",
	[EF_USERNAME] = "user.username", [EF_GROUPS] = "user.groups",
	[EF_IMPERSONATED] = "impersonatedUser",
	[EF_IMPERSONATED_NAME] = "impersonatedUser.username",
	[EF_SOURCE_IPS] = "sourceIPs", [EF_USER_AGENT] = "userAgent",
	[EF_OBJECT_REF] = "objectRef", [EF_RESOURCE] = "objectRef.resource",
	[EF_SUBRESOURCE] = "objectRef.subresource",
	[EF_NAMESPACE] = "objectRef.namespace", [EF_NAME] = "objectRef.name",
	[EF_API_GROUP] = "objectRef.apiGroup",
	[EF_RESPONSE_STATUS] = "responseStatus", [EF_CODE] = "responseStatus.code",
	[EF_STAGE_TS] = "stageTimestamp",
	[EF_RECEIVED_TS] = "requestReceivedTimestamp",
	[EF_REQUEST_OBJECT] = "requestObject", [EF_RESPONSE_OBJECT] = "responseObject",
	[EF_ANNOTATIONS] = "annotations",
};

static struct jdoc doc;
static struct audit_event ev;
static struct buf scratch;

/* Tokenizes and indexes text; 0 or -1. */
static int
index_text(const char *text)
{
	char err[128];

	memset(&ev, 0, sizeof(ev));
	if (jtok_parse(&doc, text, strlen(text), err, sizeof(err)) < 0) {
		printf("  parse error: %s\n", err);
		return -1;
	}
	ev.doc = &doc;
	ev.root = 0;
	event_index(&ev);
	return 0;
}

/* NUL-terminated copy of a string field; "(absent)" when not a string. */
static const char *
str(enum event_field f)
{
	static char out[4][128];
	static int slot;
	char *o = out[slot++ & 3];
	size_t n;
	const char *s = event_str(&ev, f, &scratch, &n);

	if (s == NULL)
		return "(absent)";
	if (n > sizeof(out[0]) - 1)
		n = sizeof(out[0]) - 1;
	memcpy(o, s, n);
	o[n] = '\0';
	return o;
}

static void
test_every_field(void)
{
	T_INTEQ(index_text("{\"kind\":\"Event\",\"level\":\"Metadata\",\"auditID\":\"a-1\","
	    "\"stage\":\"ResponseComplete\",\"requestURI\":\"/api/v1/x\",\"verb\":\"create\","
	    "\"user\":{\"uid\":\"7\",\"username\":\"alice\",\"groups\":[\"g1\",\"g2\"],\"extra\":{}},"
	    "\"impersonatedUser\":{\"username\":\"bob\"},\"sourceIPs\":[\"10.0.0.1\"],"
	    "\"userAgent\":\"kubectl/v1.29.0\",\"objectRef\":{\"resource\":\"pods\","
	    "\"namespace\":\"ns\",\"name\":\"p\",\"uid\":\"u\",\"apiGroup\":\"\",\"apiVersion\":\"v1\","
	    "\"resourceVersion\":\"1\",\"subresource\":\"exec\"},"
	    "\"responseStatus\":{\"metadata\":{},\"status\":\"Success\",\"code\":201},"
	    "\"requestObject\":{\"a\":1},\"responseObject\":[1],"
	    "\"requestReceivedTimestamp\":\"2024-01-01T00:00:00Z\","
	    "\"stageTimestamp\":\"2024-01-01T00:00:01Z\",\"annotations\":{\"k\":\"v\"}}"), 0);
	for (int f = 0; f < EF_COUNT; f++)
		T_ASSERT(ev.f[f] >= 0);
	T_STREQ(str(EF_AUDIT_ID), "a-1");
	T_STREQ(str(EF_STAGE), "ResponseComplete");
	T_STREQ(str(EF_VERB), "create");
	T_STREQ(str(EF_REQUEST_URI), "/api/v1/x");
	T_INTEQ(jtok_type(&doc, ev.f[EF_USER]), JT_OBJ);
	T_STREQ(str(EF_USERNAME), "alice");
	T_INTEQ(jtok_type(&doc, ev.f[EF_GROUPS]), JT_ARR);
	T_INTEQ(doc.tok[ev.f[EF_GROUPS]].size, 2);
	T_STREQ(str(EF_IMPERSONATED_NAME), "bob");
	T_INTEQ(jtok_type(&doc, ev.f[EF_SOURCE_IPS]), JT_ARR);
	T_STREQ(str(EF_USER_AGENT), "kubectl/v1.29.0");
	T_STREQ(str(EF_RESOURCE), "pods");
	T_STREQ(str(EF_SUBRESOURCE), "exec");
	T_STREQ(str(EF_NAMESPACE), "ns");
	T_STREQ(str(EF_NAME), "p");
	T_STREQ(str(EF_API_GROUP), "");
	T_INTEQ(event_code(&ev), 201);
	T_STREQ(str(EF_STAGE_TS), "2024-01-01T00:00:01Z");
	T_STREQ(str(EF_RECEIVED_TS), "2024-01-01T00:00:00Z");
	T_INTEQ(jtok_type(&doc, ev.f[EF_REQUEST_OBJECT]), JT_OBJ);
	T_INTEQ(jtok_type(&doc, ev.f[EF_RESPONSE_OBJECT]), JT_ARR);
	T_INTEQ(jtok_type(&doc, ev.f[EF_ANNOTATIONS]), JT_OBJ);
}

/* Keys one letter, one case or one level away from a known name. */
static void
test_near_misses(void)
{
	T_INTEQ(index_text("{\"Verb\":\"get\",\"verbs\":\"get\",\"usr\":{},\"auditId\":\"x\","
	    "\"stageTimestampZ\":\"t\",\"responseStatuz\":{\"code\":200},"
	    "\"responseObjec\":{},\"requestObjects\":{},\"username\":\"root-level\","
	    "\"resource\":\"pods\",\"code\":500,\"name\":\"n\","
	    "\"user\":{\"userName\":\"u\",\"group\":[],\"name\":\"n\"},"
	    "\"objectRef\":{\"Resource\":\"pods\",\"names\":\"n\",\"namespac\":\"ns\","
	    "\"subResource\":\"exec\",\"apigroup\":\"g\",\"username\":\"x\",\"code\":1},"
	    "\"impersonatedUser\":{\"groups\":[\"g\"]},"
	    "\"responseStatus\":{\"Code\":403,\"resource\":\"r\"},"
	    "\"sourceIPz\":[],\"userAgenT\":\"a\",\"objectReF\":{}}"), 0);
	for (int f = 0; f < EF_COUNT; f++) {
		int want = f == EF_USER || f == EF_OBJECT_REF || f == EF_IMPERSONATED ||
		    f == EF_RESPONSE_STATUS;
		if ((ev.f[f] >= 0) != want)
			printf("  field %s: token %d\n", paths[f], ev.f[f]);
		T_INTEQ(ev.f[f] >= 0, want);
	}
	T_INTEQ(event_code(&ev), 0);
}

/* Escapes are the same key to JSON; the slow path must agree. */
static void
test_escaped_keys(void)
{
	T_INTEQ(index_text("{\"audit\\u0049D\":\"e-1\",\"v\\u0065rb\":\"delete\","
	    "\"user\":{\"user\\u006eame\":\"carol\",\"gr\\u006fups\":[]},"
	    "\"\\u006fbjectRef\":{\"n\\u0061me\":\"x\",\"subresource\":\"log\","
	    "\"us\\u0065rname\":\"not-here\"},\"us\\u0065rname\":\"nor-here\","
	    "\"impersonatedUse\\u0072\":{\"usern\\u0061me\":\"dave\"}}"), 0);
	T_STREQ(str(EF_AUDIT_ID), "e-1");
	T_STREQ(str(EF_VERB), "delete");
	T_STREQ(str(EF_USERNAME), "carol");
	T_INTEQ(jtok_type(&doc, ev.f[EF_GROUPS]), JT_ARR);
	T_STREQ(str(EF_NAME), "x");
	T_STREQ(str(EF_SUBRESOURCE), "log");
	T_STREQ(str(EF_IMPERSONATED_NAME), "dave");
	T_STREQ(str(EF_RESOURCE), "(absent)");
	T_STREQ(str(EF_STAGE), "(absent)");
}

/* A repeated key: the last one counts, as with jtok_get(), the API
 * server's decoder and jsonb; an escaped spelling is the same key. */
static void
test_last_wins(void)
{
	T_INTEQ(index_text("{\"verb\":\"get\",\"objectRef\":{\"name\":\"a\",\"name\":\"b\"},"
	    "\"verb\":\"delete\",\"objectRef\":{\"name\":\"c\"},\"v\\u0065rb\":\"patch\"}"), 0);
	T_STREQ(str(EF_VERB), "patch");
	T_STREQ(str(EF_NAME), "c");
	T_ASSERT(ev.f[EF_VERB] == jtok_path(&doc, 0, "verb"));
	T_ASSERT(ev.f[EF_NAME] == jtok_path(&doc, 0, "objectRef.name"));
	T_INTEQ(index_text("{\"objectRef\":{\"name\":\"a\",\"namespace\":\"x\",\"name\":\"b\"},"
	    "\"user\":{\"username\":\"alice\",\"us\\u0065rname\":\"system:admin\"}}"), 0);
	T_STREQ(str(EF_NAME), "b");
	T_STREQ(str(EF_USERNAME), "system:admin");
	T_ASSERT(ev.f[EF_USERNAME] == jtok_path(&doc, 0, "user.username"));
}

/* Known names holding the wrong kind of value: the token is kept, and
 * nothing is looked for below a value that is not an object. */
static void
test_wrong_shapes(void)
{
	T_INTEQ(index_text("{\"user\":\"alice\",\"objectRef\":[{\"name\":\"x\"}],"
	    "\"responseStatus\":{\"code\":\"403\"},\"verb\":7,\"impersonatedUser\":null}"), 0);
	T_INTEQ(jtok_type(&doc, ev.f[EF_USER]), JT_STR);
	T_INTEQ(ev.f[EF_USERNAME], -1);
	T_INTEQ(jtok_type(&doc, ev.f[EF_OBJECT_REF]), JT_ARR);
	T_INTEQ(ev.f[EF_NAME], -1);
	T_INTEQ(jtok_type(&doc, ev.f[EF_CODE]), JT_STR);
	T_INTEQ(event_code(&ev), 0);
	T_INTEQ(jtok_type(&doc, ev.f[EF_VERB]), JT_NUM);
	T_STREQ(str(EF_VERB), "(absent)");
	T_INTEQ(jtok_type(&doc, ev.f[EF_IMPERSONATED]), JT_NULL);
	T_INTEQ(ev.f[EF_IMPERSONATED_NAME], -1);

	T_INTEQ(index_text("[{\"verb\":\"get\"}]"), 0);
	for (int f = 0; f < EF_COUNT; f++)
		T_INTEQ(ev.f[f], -1);
	T_INTEQ(index_text("{}"), 0);
	for (int f = 0; f < EF_COUNT; f++)
		T_INTEQ(ev.f[f], -1);
}

/* Each line of the real JSON-lines files: every field's token is the one a
 * plain path lookup finds. Returns the number of lines that were events. */
static size_t
agree_file(const char *path, size_t *mismatches)
{
	size_t len, events = 0;
	char *data = t_slurp(path, &len), *p, *nl;
	char err[128];

	if (data == NULL)
		return 0;
	for (p = data; p < data + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(data + len - p));
		if (nl == NULL)
			nl = data + len;
		if (jtok_parse(&doc, p, (size_t)(nl - p), err, sizeof(err)) < 0)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.doc = &doc;
		event_index(&ev);
		events += ev.f[EF_VERB] >= 0;
		for (int f = 0; f < EF_COUNT; f++) {
			if (ev.f[f] == jtok_path(&doc, 0, paths[f]))
				continue;
			if ((*mismatches)++ < 5)
				printf("  %s: %s: token %d, path lookup %d\n", path, paths[f],
				    ev.f[f], jtok_path(&doc, 0, paths[f]));
		}
	}
	free(data);
	return events;
}

static void
test_corpus_agrees(void)
{
	size_t bad = 0, events = 0;

	events += agree_file(CORPUS "openshift-cluster-logging-operator/test/functional/"
	    "filters/apiaudit/vrl/testdata/audit_in.log", &bad);
	events += agree_file(CORPUS "kubernetes-test-infra-logviewer/parsing_test_events.jsonl", &bad);
	events += agree_file(CORPUS "panther-labs-panther-analysis/panther_k8s_audit_native.jsonl", &bad);
	T_ASSERT(events >= 150);
	T_INTEQ(bad, 0);
}

int
main(void)
{
	jdoc_init(&doc);
	buf_init(&scratch);
	T_RUN(test_every_field);
	T_RUN(test_near_misses);
	T_RUN(test_escaped_keys);
	T_RUN(test_last_wins);
	T_RUN(test_wrong_shapes);
	T_RUN(test_corpus_agrees);
	jdoc_free(&doc);
	buf_free(&scratch);
	return t_done();
}
