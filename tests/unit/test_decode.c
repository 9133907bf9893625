/* test_decode.c — every accepted message shape, from the real corpus and
 * from small hand-made fixtures, and every way a message can be refused. */
#include "ingest/decode.h"
#include "base/xmalloc.h"
#include "tests/unit/t.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CORPUS		"tests/fixtures/corpus/"
#define FALCO		CORPUS "falcosecurity-falco-trace-files/test/trace_files/k8s_audit/"
#define OPENSHIFT	CORPUS "openshift-cluster-logging-operator/"
#define PANTHER		CORPUS "panther-labs-panther-analysis/"
#define FIX		"tests/fixtures/decode/"

static struct buf scratch;

/* NUL-terminated copy of a field for T_STREQ; "(absent)" when missing. */
static const char *
field(const struct audit_event *ev, enum event_field f)
{
	static char out[8][256];
	static int slot;
	const char *s;
	size_t n;
	char *o = out[slot++ & 7];

	s = event_str(ev, f, &scratch, &n);
	if (s == NULL)
		return "(absent)";
	if (n > 255)
		n = 255;
	memcpy(o, s, n);
	o[n] = '\0';
	return o;
}

static const char *
path_str(const struct audit_event *ev, const char *dotted)
{
	static char out[256];
	const char *s;
	size_t n;

	s = jtok_str(ev->doc, event_path(ev, dotted), &scratch, &n);
	if (s == NULL)
		return "(absent)";
	if (n > 255)
		n = 255;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/* The file text stays allocated until the next call: events point into it. */
static size_t
decode_file(struct decoded *out, const char *path, const struct decode_opts *o, char **text)
{
	static char *last;
	size_t len;

	free(last);
	last = NULL;
	if (path == NULL)
		return 0;
	last = t_slurp(path, &len);
	T_ASSERT(last != NULL);
	if (last == NULL)
		return 0;
	if (text)
		*text = last;
	return decode_message(out, last, len, o);
}

static const char *
err0(const struct decoded *out)
{
	return out->nerr ? out->err[0].msg : "(no error)";
}

static void
test_falco_files(void)
{
	static const char *files[] = {
		"anonymous_creates_namespace_foo.json", "attach_cluster_admin_role.json",
		"attach_pod.json", "create_cluster_role_pod_exec.json",
		"create_configmap_sensitive_values.json", "create_nginx_pod_privileged.json",
		"create_service_account_token_secret.json", "delete_clusterrolebinding.json",
		"exec_pod.json", "modify_cluster_role_node_problem_detector.json",
	};
	struct decoded out;
	char *data;
	size_t total = 0, errors = 0;

	decoded_init(&out);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), FALCO "%s", files[i]);
		total += decode_file(&out, path, NULL, NULL);
		errors += out.nerr;
	}
	/* create_configmap_sensitive_values.json holds 6 JSON lines */
	T_INTEQ(total, 15);
	T_INTEQ(errors, 0);
	T_INTEQ(decode_file(&out, FALCO "exec_pod.json", NULL, &data), 1);
	T_STREQ(field(&out.ev[0], EF_VERB), "create");
	T_STREQ(field(&out.ev[0], EF_RESOURCE), "pods");
	T_STREQ(field(&out.ev[0], EF_SUBRESOURCE), "exec");
	T_STREQ(field(&out.ev[0], EF_NAMESPACE), "default");
	T_STREQ(field(&out.ev[0], EF_USERNAME), "minikube-user");
	T_STREQ(field(&out.ev[0], EF_STAGE), "ResponseStarted");
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6");
	T_INTEQ(event_code(&out.ev[0]), 101);
	T_STREQ(out.ev[0].cluster, "default");
	T_INTEQ(out.ev[0].offset, 0);
	/* the FAL-01-003 regression document is refused, not crashed on */
	T_INTEQ(decode_file(&out, FALCO "fal_01_003.json", NULL, NULL), 0);
	T_INTEQ(out.nerr, 1);
	T_STREQ(err0(&out), "line 1: offset 0: not an audit event (no auditID/verb)");
	decoded_free(&out);
}

static void
test_openshift(void)
{
	static const char *pretty[] = {
		"hack/logsamples/raw_audit_kubernetes.json", "hack/logsamples/raw_audit_openshift.json",
		"hack/logsamples/raw_audit_oauth-apiserver.json",
		"test/functional/filters/apiaudit/vrl/log5607_sample.json",
	};
	struct decoded out;
	struct decode_opts o = { 0, NULL, "ocp-prod" };
	size_t exec = 0, forbidden = 0;
	char *data;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, OPENSHIFT "test/functional/filters/apiaudit/vrl/testdata/audit_in.log",
	    &o, &data), 100);
	T_INTEQ(out.nerr, 0);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "b6560098-0bbb-4593-ad6a-9c0022e9dc87");
	T_STREQ(field(&out.ev[0], EF_VERB), "get");
	T_STREQ(field(&out.ev[0], EF_RESOURCE), "namespaces");
	T_STREQ(field(&out.ev[0], EF_USERNAME), "system:apiserver");
	T_INTEQ(event_code(&out.ev[0]), 200);
	T_STREQ(out.ev[0].cluster, "ocp-prod");
	for (size_t i = 0; i < out.nev; i++) {
		size_t n;
		const char *j = event_json(&out.ev[i], &n);

		if (strcmp(field(&out.ev[i], EF_SUBRESOURCE), "exec") == 0)
			exec++;
		if (event_code(&out.ev[i]) == 403)
			forbidden++;
		/* each event is exactly one line of the file */
		T_ASSERT(j == data + out.ev[i].offset);
		T_ASSERT(j[n] == '\n');
	}
	T_INTEQ(exec, 1);
	T_INTEQ(forbidden, 4);
	for (size_t i = 0; i < sizeof(pretty) / sizeof(pretty[0]); i++) {
		char path[256];

		snprintf(path, sizeof(path), OPENSHIFT "%s", pretty[i]);
		T_INTEQ(decode_file(&out, path, NULL, NULL), 1);
		T_INTEQ(out.nerr, 0);
	}
	/* the last one decoded is the oauth-apiserver anonymous HEAD / */
	T_INTEQ(decode_file(&out, OPENSHIFT "hack/logsamples/raw_audit_oauth-apiserver.json", NULL, NULL), 1);
	T_STREQ(field(&out.ev[0], EF_USERNAME), "system:anonymous");
	T_STREQ(field(&out.ev[0], EF_REQUEST_URI), "/");
	T_INTEQ(decode_file(&out, OPENSHIFT "test/functional/filters/apiaudit/testdata/audit.log", NULL, NULL), 5);
	decoded_free(&out);
}

static void
test_testinfra_and_panther(void)
{
	struct decoded out;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, CORPUS "kubernetes-test-infra-logviewer/parsing_test_events.jsonl",
	    NULL, NULL), 3);
	T_INTEQ(out.nerr, 0);
	T_STREQ(field(&out.ev[2], EF_RESOURCE), "nodes");
	T_STREQ(field(&out.ev[2], EF_SUBRESOURCE), "status");
	T_STREQ(field(&out.ev[0], EF_VERB), "update");
	T_INTEQ(decode_file(&out, PANTHER "panther_k8s_audit_native.jsonl", NULL, NULL), 188);
	T_INTEQ(out.nerr, 0);
	decoded_free(&out);
}

static void
test_aks_corpus(void)
{
	struct decoded out;
	size_t named = 0;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, PANTHER "panther_aks_diagnostic_wrapped.jsonl", NULL, NULL), 34);
	T_INTEQ(out.nerr, 0);
	T_STREQ(field(&out.ev[0], EF_VERB), "create");
	T_STREQ(field(&out.ev[0], EF_RESOURCE), "validatingwebhookconfigurations");
	T_STREQ(field(&out.ev[0], EF_USERNAME), "policy-admin@example.com");
	T_STREQ(field(&out.ev[0], EF_API_GROUP), "admissionregistration.k8s.io");
	T_INTEQ(event_code(&out.ev[0]), 201);
	T_STREQ(out.ev[0].cluster, "default");
	T_STREQ(field(&out.ev[1], EF_AUDIT_ID), "abc-123");
	T_STREQ(out.ev[1].cluster, "cluster");
	for (size_t i = 0; i < out.nev; i++)
		named += strcmp(out.ev[i].cluster, "cluster") == 0;
	T_INTEQ(named, 2);
	decoded_free(&out);
}

static void
test_aks_records(void)
{
	struct decoded out;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, FIX "aks_records.json", NULL, NULL), 4);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "aks-1");
	T_STREQ(field(&out.ev[0], EF_RESOURCE), "secrets");
	T_STREQ(field(&out.ev[0], EF_USERNAME), "masterclient");
	T_STREQ(out.ev[0].cluster, "PROD-AKS");
	T_STREQ(field(&out.ev[1], EF_AUDIT_ID), "aks-2");
	T_STREQ(field(&out.ev[1], EF_RESOURCE), "clusterrolebindings");
	T_STREQ(out.ev[1].cluster, "dev-aks");
	T_INTEQ(event_code(&out.ev[1]), 201);
	/* a string log holding an EventList */
	T_STREQ(field(&out.ev[2], EF_AUDIT_ID), "aks-3");
	T_STREQ(field(&out.ev[3], EF_VERB), "watch");
	T_STREQ(out.ev[3].cluster, "default");
	T_INTEQ(out.nerr, 2);
	if (out.nerr == 2) {
		T_ASSERT(strstr(out.err[0].msg, "properties.log: offset 23: unexpected end of input") != NULL);
		T_ASSERT(strstr(out.err[1].msg, "record without a properties.log") != NULL);
	}
	decoded_free(&out);
}

static void
test_gke(void)
{
	struct decoded out;
	const struct audit_event *ev;
	size_t exec = 0, forbid = 0, conflict = 0;
	double v;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, PANTHER "panther_gke_cloud_logging.jsonl", NULL, NULL), 41);
	T_INTEQ(out.nerr, 0);
	ev = &out.ev[0];
	T_STREQ(field(ev, EF_VERB), "create");
	T_STREQ(field(ev, EF_RESOURCE), "pods");
	T_STREQ(field(ev, EF_NAMESPACE), "default");
	T_STREQ(field(ev, EF_NAME), "test-privileged-pod");
	T_STREQ(field(ev, EF_USERNAME), "john.doe@company.com");
	T_STREQ(field(ev, EF_STAGE), "ResponseComplete");
	T_STREQ(field(ev, EF_RECEIVED_TS), "2024-02-13 12:45:06.073905000");
	T_STREQ(field(ev, EF_STAGE_TS), "2024-02-13 12:45:20.058795785");
	T_STREQ(path_str(ev, "objectRef.apiVersion"), "v1");
	T_STREQ(field(ev, EF_API_GROUP), "(absent)");
	T_STREQ(jtok_str(ev->doc, jtok_at(ev->doc, ev->f[EF_SOURCE_IPS], 0), &scratch, NULL) ?
	    "1.2.3.4" : "(absent)", "1.2.3.4");
	T_ASSERT(jtok_str_eq(ev->doc, jtok_getz(ev->doc, ev->f[EF_ANNOTATIONS],
	    "authorization.k8s.io/decision"), "allow", 5));
	T_ASSERT(jtok_num(ev->doc, jtok_path(ev->doc, ev->f[EF_REQUEST_OBJECT],
	    "spec.containers"), &v) == -1);
	T_INTEQ(jtok_type(ev->doc, jtok_path(ev->doc, ev->f[EF_REQUEST_OBJECT], "spec.containers")), JT_ARR);
	T_INTEQ(event_code(ev), 200);
	T_STREQ(ev->cluster, "some-project-cluster");
	for (size_t i = 0; i < out.nev; i++) {
		ev = &out.ev[i];
		if (strcmp(field(ev, EF_SUBRESOURCE), "exec") == 0) {
			exec++;
			T_STREQ(field(ev, EF_VERB), "create");
			T_STREQ(field(ev, EF_RESOURCE), "pods");
		}
		if (strcmp(field(ev, EF_NAME), "database") == 0)
			T_STREQ(field(ev, EF_NAMESPACE), "production");
		if (event_code(ev) == 403)
			forbid++;
		if (event_code(ev) == 409)
			conflict++;
		if (strcmp(field(ev, EF_RESOURCE), "clusterroles") == 0)
			T_STREQ(field(ev, EF_API_GROUP), "rbac.authorization.k8s.io");
		if (strcmp(field(ev, EF_RESOURCE), "secrets") == 0 && strcmp(field(ev, EF_VERB), "list") == 0)
			T_STREQ(field(ev, EF_NAMESPACE), "(absent)");
		if (strcmp(field(ev, EF_REQUEST_URI), "/readyz") == 0)
			T_STREQ(field(ev, EF_RESOURCE), "(absent)");
	}
	T_INTEQ(exec, 4);
	T_INTEQ(forbid, 2);
	T_INTEQ(conflict, 2);
	decoded_free(&out);
}

static void
test_gke_mapping(void)
{
	static const char msg[] = "{\"insertId\":\"x1\",\"operation\":{\"id\":\"8f1c-audit\",\"producer\":\"k8s.io\"},"
	    "\"labels\":{\"authorization.k8s.io/decision\":\"forbid\",\"authorization.k8s.io/reason\":\"no RBAC\"},"
	    "\"protoPayload\":{\"methodName\":\"io.k8s.core.v1.pods.exec.create\","
	    "\"resourceName\":\"core/v1/namespaces/team-a/pods/api-7\\/exec\","
	    "\"authenticationInfo\":{\"principalEmail\":\"eve@example.com\"},"
	    "\"authorizationInfo\":[{\"granted\":true},{\"granted\":false}],"
	    "\"requestMetadata\":{\"callerIp\":\"203.0.113.9\",\"callerSuppliedUserAgent\":\"kubectl/v1.29.1\"},"
	    "\"status\":{\"code\":16,\"message\":\"Unauthorized\"},\"serviceName\":\"k8s.io\"},"
	    "\"resource\":{\"labels\":{\"cluster_name\":\"gke-\\u00e9\"}},\"timestamp\":\"2024-01-01T00:00:00Z\"}";
	struct decoded out;
	const struct audit_event *ev;

	decoded_init(&out);
	T_INTEQ(decode_message(&out, msg, sizeof(msg) - 1, NULL), 1);
	ev = &out.ev[0];
	T_STREQ(field(ev, EF_AUDIT_ID), "8f1c-audit");
	T_STREQ(field(ev, EF_VERB), "create");
	T_STREQ(field(ev, EF_SUBRESOURCE), "exec");
	T_STREQ(field(ev, EF_NAMESPACE), "team-a");
	T_STREQ(field(ev, EF_NAME), "api-7");
	T_STREQ(field(ev, EF_USER_AGENT), "kubectl/v1.29.1");
	T_STREQ(field(ev, EF_STAGE_TS), "2024-01-01T00:00:00Z");
	T_INTEQ(event_code(ev), 401);
	T_STREQ(path_str(ev, "responseStatus.message"), "Unauthorized");
	T_ASSERT(jtok_str_eq(ev->doc, jtok_getz(ev->doc, ev->f[EF_ANNOTATIONS],
	    "authorization.k8s.io/decision"), "forbid", 6));
	T_ASSERT(jtok_str_eq(ev->doc, jtok_getz(ev->doc, ev->f[EF_ANNOTATIONS],
	    "authorization.k8s.io/reason"), "no RBAC", 7));
	T_STREQ(ev->cluster, "gke-\xc3\xa9");
	T_INTEQ(ev->offset, 0);
	decoded_free(&out);
}

static void
test_eventlist_and_arrays(void)
{
	static const char arr[] = "[{\"auditID\":\"a\",\"verb\":\"get\"}, 7, {\"kind\":\"EventList\",\"items\":"
	    "[{\"auditID\":\"b\",\"verb\":\"list\"}]}, [1], {\"kind\":\"EventList\"}]";
	struct decoded out;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, FIX "eventlist.json", NULL, NULL), 2);
	T_INTEQ(out.nerr, 0);
	T_STREQ(field(&out.ev[0], EF_USERNAME), "dev@example.com");
	T_STREQ(field(&out.ev[0], EF_SUBRESOURCE), "exec");
	T_INTEQ(event_code(&out.ev[0]), 101);
	T_STREQ(field(&out.ev[1], EF_RESOURCE), "secrets");
	T_INTEQ(decode_message(&out, arr, sizeof(arr) - 1, NULL), 2);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "a");
	T_STREQ(field(&out.ev[1], EF_AUDIT_ID), "b");
	T_INTEQ(out.ev[1].offset, strstr(arr, "{\"auditID\":\"b\"") - arr);
	T_INTEQ(out.nerr, 3);
	if (out.nerr == 3) {
		T_STREQ(out.err[0].msg, "line 1: offset 31: element 1: expected an object, got a number");
		T_INTEQ(out.err[0].offset, 31);
		T_STREQ(out.err[1].msg, "line 1: offset 96: element 3: expected an object, got an array");
		T_STREQ(out.err[2].msg, "line 1: offset 101: EventList without an items array");
	}
	decoded_free(&out);
}

static void
test_bom_and_envelope(void)
{
	static const char bom[] = "\xef\xbb\xbf  {\"auditID\":\"bom\",\"verb\":\"get\"}\n";
	struct decoded out;
	struct decode_opts o = { 0, "log", NULL };

	decoded_init(&out);
	T_INTEQ(decode_message(&out, bom, sizeof(bom) - 1, NULL), 1);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "bom");
	T_INTEQ(out.ev[0].offset, 5);
	T_INTEQ(decode_file(&out, FIX "envelope.jsonl", &o, NULL), 2);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "env-1");
	T_STREQ(field(&out.ev[0], EF_SUBRESOURCE), "attach");
	T_STREQ(field(&out.ev[0], EF_USERNAME), "ops");
	T_STREQ(field(&out.ev[1], EF_AUDIT_ID), "env-2");
	T_STREQ(field(&out.ev[1], EF_RESOURCE), "roles");
	T_INTEQ(out.nerr, 1);
	T_ASSERT(strstr(err0(&out), "line 3: offset ") == err0(&out));
	T_ASSERT(strstr(err0(&out), "envelope field log holds a number, not a string or object") != NULL);
	/* without envelope_field the same lines are not events: explicit only */
	T_INTEQ(decode_file(&out, FIX "envelope.jsonl", NULL, NULL), 0);
	T_INTEQ(out.nerr, 3);
	T_STREQ(err0(&out), "line 1: offset 0: not an audit event (no auditID/verb)");
	decoded_free(&out);
}

static void
test_oversize_truncated(void)
{
	static const char ev[] = "{\"kind\":\"Event\",\"auditID\":\"t\",\"verb\":\"get\"}";
	struct decoded out;
	struct decode_opts o = { 16, NULL, NULL };

	decoded_init(&out);
	T_INTEQ(decode_message(&out, ev, sizeof(ev) - 1, &o), 0);
	T_INTEQ(out.nerr, 1);
	T_STREQ(err0(&out), "message of 43 bytes exceeds ingest.max_message_bytes (16)");
	o.max_bytes = 43;
	T_INTEQ(decode_message(&out, ev, sizeof(ev) - 1, &o), 1);
	T_INTEQ(out.nerr, 0);
	T_INTEQ(decode_message(&out, ev, 30, NULL), 0);
	T_INTEQ(out.nerr, 1);
	T_STREQ(err0(&out), "line 1: offset 30: unexpected end of input, expected an object key");
	T_INTEQ(out.err[0].offset, 30);
	decoded_free(&out);
}

static void
test_bad_line(void)
{
	struct decoded out;
	char *data;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, FIX "bad_line.jsonl", NULL, &data), 3);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "line-1");
	T_STREQ(field(&out.ev[1], EF_AUDIT_ID), "line-3");
	T_INTEQ(event_code(&out.ev[1]), 403);
	T_STREQ(field(&out.ev[2], EF_AUDIT_ID), "line-5");
	T_INTEQ(out.ev[1].offset, strstr(data, "{\"kind\":\"Event\",\"auditID\":\"line-3\"") - data);
	T_INTEQ(out.nerr, 2);
	if (out.nerr == 2) {
		T_ASSERT(strncmp(out.err[0].msg, "line 2: offset ", 15) == 0);
		T_ASSERT(strstr(out.err[0].msg, "expected ',' or '}'") != NULL);
		T_ASSERT(strncmp(out.err[1].msg, "line 4: offset ", 15) == 0);
		T_INTEQ(out.err[1].offset, strstr(data, "not json") - data);
		T_ASSERT(strstr(out.err[1].msg, ": expected a value") != NULL);
	}
	decoded_free(&out);
}

/* A pretty-printed event cut short fails at its end, and then every line
 * after the first is a value of its own that fails too: 168 errors from one
 * message. It keeps the first DECODE_MAX_ERRORS, the real cause first, and
 * the last one kept counts the rest. */
static void
test_error_flood(void)
{
	struct decoded out;
	const char *last;

	decoded_init(&out);
	T_INTEQ(decode_file(&out, FIX "truncated_pretty.json", NULL, NULL), 0);
	T_INTEQ(out.nerr, DECODE_MAX_ERRORS);
	T_INTEQ(out.nerr + out.nerr_more, 168);
	T_STREQ(err0(&out), "line 1: offset 4000: unexpected end of input, expected an object key");
	last = out.nerr ? out.err[out.nerr - 1].msg : "";
	T_STREQ(last, "line 5: offset 81: not an audit event: a string"
	    " (and 160 more errors in this message)");
	/* The next message starts counting afresh. */
	T_INTEQ(decode_message(&out, "[1, 2]", 6, NULL), 0);
	T_INTEQ(out.nerr, 2);
	T_INTEQ(out.nerr_more, 0);
	T_STREQ(out.err[1].msg, "line 1: offset 4: element 1: expected an object, got a number");
	decoded_free(&out);
}

static void
test_wrong_shapes(void)
{
	static const struct {
		const char	*in;
		size_t		 nerr;
		const char	*err;
	} cases[] = {
		{ "42", 1, "line 1: offset 0: not an audit event: a number" },
		{ "\"x\"", 1, "line 1: offset 0: not an audit event: a string" },
		{ "null", 1, "line 1: offset 0: not an audit event: null" },
		{ "[1, 2]", 2, "line 1: offset 1: element 0: expected an object, got a number" },
		{ "{\"a\": 1}", 1, "line 1: offset 0: not an audit event (no auditID/verb)" },
		{ "{\"kind\": 0}", 1, "line 1: offset 0: not an audit event (no auditID/verb)" },
		{ "{\"auditID\": \"x\"}", 1, "line 1: offset 0: not an audit event (no auditID/verb)" },
		{ "{\"records\": [1]}", 1, "line 1: offset 13: record: expected an object, got a number" },
		{ "{\"protoPayload\": {\"serviceName\": \"storage.googleapis.com\"}}", 1,
		    "line 1: offset 0: not an audit event (no auditID/verb)" },
		{ "", 0, "(no error)" },
		{ " \n\n ", 0, "(no error)" },
	};
	struct decoded out;

	decoded_init(&out);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		T_INTEQ(decode_message(&out, cases[i].in, strlen(cases[i].in), NULL), 0);
		T_INTEQ(out.nerr, cases[i].nerr);
		T_STREQ(err0(&out), cases[i].err);
	}
	decoded_free(&out);
}

static void
test_nesting_cap(void)
{
	struct decoded out;
	struct decode_opts o = { 0, "e", NULL };
	struct buf m;

	decoded_init(&out);
	buf_init(&m);
	/* four envelopes around an event decode; five do not */
	buf_puts(&m, "{\"e\":{\"e\":{\"e\":{\"e\":{\"auditID\":\"deep\",\"verb\":\"get\"}}}}}");
	T_INTEQ(decode_message(&out, m.data, m.len, &o), 1);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "deep");
	buf_reset(&m);
	buf_puts(&m, "{\"e\":{\"e\":{\"e\":{\"e\":{\"e\":{\"auditID\":\"deep\",\"verb\":\"get\"}}}}}}");
	T_INTEQ(decode_message(&out, m.data, m.len, &o), 0);
	T_STREQ(err0(&out), "line 1: offset 25: wrappers nested deeper than 4 levels");
	/* strings inside strings: each level is unescaped once */
	buf_reset(&m);
	buf_puts(&m, "{\"e\":\"{\\\"e\\\":\\\"{\\\\\\\"auditID\\\\\\\":\\\\\\\"s\\\\\\\",\\\\\\\"verb\\\\\\\":\\\\\\\"get\\\\\\\"}\\\"}\"}");
	T_INTEQ(decode_message(&out, m.data, m.len, &o), 1);
	T_STREQ(field(&out.ev[0], EF_AUDIT_ID), "s");
	T_INTEQ(out.ev[0].offset, 5);
	buf_free(&m);
	decoded_free(&out);
}

struct stream_count {
	size_t	calls, events, errors;
	size_t	first_err_off;
	char	last_id[64];
};

static void
stream_cb(void *arg, const struct decoded *part)
{
	struct stream_count *s = arg;

	s->calls++;
	s->events += part->nev;
	if (part->nerr && s->errors == 0)
		s->first_err_off = part->err[0].offset;
	s->errors += part->nerr;
	if (part->nev)
		snprintf(s->last_id, sizeof(s->last_id), "%s", field(&part->ev[part->nev - 1], EF_AUDIT_ID));
}

static void
test_stream(void)
{
	struct decoded work;
	struct stream_count s;
	struct buf all;
	char *a, *b;
	size_t alen, blen, bad;

	decoded_init(&work);
	buf_init(&all);
	a = t_slurp(FIX "eventlist.json", &alen);
	b = t_slurp(OPENSHIFT "test/functional/filters/apiaudit/vrl/testdata/audit_in.log", &blen);
	T_ASSERT(a && b);
	if (a == NULL || b == NULL)
		return;
	buf_append(&all, a, alen);
	buf_append(&all, b, blen);
	bad = all.len;
	buf_puts(&all, "{oops}\n{\"auditID\":\"tail\",\"verb\":\"get\"}");
	memset(&s, 0, sizeof(s));
	T_INTEQ(decode_stream(&work, all.data, all.len, NULL, stream_cb, &s), 103);
	T_INTEQ(s.calls, 1 + 100 + 1 + 1);
	T_INTEQ(s.events, 103);
	T_INTEQ(s.errors, 1);
	T_INTEQ(s.first_err_off, bad + 1);
	T_STREQ(s.last_id, "tail");
	free(a);
	free(b);
	buf_free(&all);
	decoded_free(&work);
}

static void
test_event_access(void)
{
	static const char msg[] = "{\"auditID\":\"x\",\"verb\":\"get\",\"user\":{\"username\":\"a\\u00e9\\\"b\","
	    "\"groups\":[\"g\"]},\"impersonatedUser\":{\"username\":\"root\"},\"objectRef\":{\"resource\":\"pods\"},"
	    "\"responseStatus\":{\"code\":\"oops\"}}  ";
	struct decoded out;
	size_t n;
	const char *j;

	decoded_init(&out);
	T_INTEQ(decode_message(&out, msg, sizeof(msg) - 1, NULL), 1);
	T_STREQ(field(&out.ev[0], EF_USERNAME), "a\xc3\xa9\"b");
	T_STREQ(field(&out.ev[0], EF_IMPERSONATED_NAME), "root");
	T_INTEQ(jtok_type(out.ev[0].doc, out.ev[0].f[EF_GROUPS]), JT_ARR);
	T_INTEQ(out.ev[0].f[EF_NAMESPACE], -1);
	T_INTEQ(out.ev[0].f[EF_STAGE_TS], -1);
	T_INTEQ(event_code(&out.ev[0]), 0);
	T_ASSERT(event_str(&out.ev[0], EF_USER, &scratch, &n) == NULL);
	j = event_json(&out.ev[0], &n);
	T_INTEQ(n, sizeof(msg) - 3);
	T_ASSERT(j == msg);
	decoded_free(&out);
}

static void
bench_cb(void *arg, const struct decoded *part)
{
	*(size_t *)arg += part->nev;
}

/* A printed figure, not an assertion: decode_stream() (tokenize, classify,
 * index the event fields) over the real OpenShift log. */
static void
test_bench(void)
{
	struct decoded work;
	struct timespec t0, t1;
	size_t len, nev = 0, rounds = 20;
	char *data = t_slurp(OPENSHIFT "test/functional/filters/apiaudit/vrl/testdata/audit_in.log", &len);
	double us;

	T_ASSERT(data != NULL);
	if (data == NULL)
		return;
	decoded_init(&work);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t r = 0; r < rounds; r++)
		decode_stream(&work, data, len, NULL, bench_cb, &nev);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
	T_INTEQ(nev, 100 * rounds);
	printf("bench: decode_stream %zu events (openshift audit_in.log), %.2f us/event, %.0f MB/s\n",
	    nev, us / nev, (double)len * rounds / us);
	decoded_free(&work);
	free(data);
}

int
main(void)
{
	buf_init(&scratch);
	T_RUN(test_falco_files);
	T_RUN(test_openshift);
	T_RUN(test_testinfra_and_panther);
	T_RUN(test_aks_corpus);
	T_RUN(test_aks_records);
	T_RUN(test_gke);
	T_RUN(test_gke_mapping);
	T_RUN(test_eventlist_and_arrays);
	T_RUN(test_bom_and_envelope);
	T_RUN(test_oversize_truncated);
	T_RUN(test_bad_line);
	T_RUN(test_error_flood);
	T_RUN(test_wrong_shapes);
	T_RUN(test_nesting_cap);
	T_RUN(test_stream);
	T_RUN(test_event_access);
	T_RUN(test_bench);
	decode_file(NULL, NULL, NULL, NULL);
	buf_free(&scratch);
	return t_done();
}
