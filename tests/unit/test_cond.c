/* test_cond.c — the condition language: every operator, missing fields,
 * numbers against strings, any/all over arrays, the computed ka.* fields,
 * and the condition parser's own errors. Events are built by tokenizing
 * small JSON strings, as the decoder does. */
#include "analyze/event.h"
#include "base/jtok.h"
#include "analyze/rules.h"
#include "analyze/rules_impl.h"
#include "base/buf.h"
#include "tests/unit/t.h"
#include "tests/unit/tev.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_BASE \
	"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"a-1\"," \
	"\"stage\":\"ResponseComplete\",\"verb\":\"create\"," \
	"\"requestURI\":\"/api/v1/namespaces/shop/pods/web-0/exec?command=%2Fbin%2Fsh&command=-c&command=echo+hi&container=web&container=other\"," \
	"\"user\":{\"username\":\"system:serviceaccount:ci:deployer\",\"groups\":[\"system:serviceaccounts\",\"system:authenticated\"]}," \
	"\"sourceIPs\":[\"10.0.0.1\",\"192.168.1.2\",\"203.0.113.50\"]," \
	"\"userAgent\":\"kubectl/v1.25.3 (linux/amd64) kubernetes/434bfd8\"," \
	"\"objectRef\":{\"resource\":\"deployments\",\"namespace\":\"shop\",\"name\":\"web-0\"}," \
	"\"responseStatus\":{\"code\":201},\"annotations\":{\"authorization.k8s.io/decision\":\"allow\"," \
	"\"authorization.k8s.io/reason\":\"RBAC: allowed by ClusterRoleBinding \\\"x\\\"\"}," \
	"\"requestObject\":{\"kind\":\"Deployment\",\"spec\":{\"replicas\":3,\"template\":{\"spec\":{" \
	"\"hostNetwork\":true,\"containers\":[{\"name\":\"a\",\"image\":\"nginx\"}," \
	"{\"name\":\"b\",\"image\":\"Evil/Miner:1\",\"securityContext\":{\"privileged\":true}}]," \
	"\"initContainers\":[{\"name\":\"i\",\"image\":\"busybox\"}]," \
	"\"volumes\":[{\"name\":\"v\",\"hostPath\":{\"path\":\"/etc\"}}]}}}}}"

/* Compiles `condition` into a one-rule set; NULL with errors in errs. */
static struct ruleset *
one_rule(const char *cond, struct buf *errs)
{
	struct buf y;
	struct rule_source src;
	struct ruleset *rs;

	buf_init(&y);
	buf_puts(&y, "- macro: m_sa\n  condition: ka.user.is_serviceaccount = true\n"
	    "- list: shells\n  items: [bash, sh, \"/bin/sh\"]\n"
	    "- {list: codes, items: [200, 201]}\n- {list: none, items: []}\n"
	    "- rule: r\n  title: t\n  severity: low\n  category: exec\n"
	    "  stages: [ResponseComplete]\n  condition: |\n    ");
	buf_puts(&y, cond);
	buf_putc(&y, '\n');
	src = (struct rule_source){ "c.yaml", y.data, y.len };
	rs = ruleset_compile(&src, 1, NULL, errs);
	buf_free(&y);
	return rs;
}

/* 1 when cond holds on json, 0 when not, -1 when it does not compile. */
static int
holds_on(const char *cond, const char *json)
{
	struct buf errs;
	struct ruleset *rs;
	struct eval_scratch *s;
	struct tev t;
	int r;

	buf_init(&errs);
	if ((rs = one_rule(cond, &errs)) == NULL) {
		printf("  compile: %s", buf_cstr(&errs));
		buf_free(&errs);
		return -1;
	}
	buf_free(&errs);
	tev_load(&t, json);
	s = eval_scratch_new(rs);
	r = (int)ruleset_eval(rs, &t.ev, s, NULL, NULL);
	eval_scratch_free(s);
	ruleset_free(rs);
	jdoc_free(&t.d);
	return r;
}

static int
holds(const char *cond)
{
	return holds_on(cond, EV_BASE);
}

/* The error text for cond (static buffer). */
static const char *
error_of(const char *cond)
{
	static char msg[512];
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = one_rule(cond, &errs);
	ruleset_free(rs);
	snprintf(msg, sizeof(msg), "%s", rs ? "(compiled)" : buf_cstr(&errs));
	msg[strcspn(msg, "\n")] = '\0';
	buf_free(&errs);
	return msg;
}

static void
test_comparisons(void)
{
	T_INTEQ(holds("verb = create"), 1);
	T_INTEQ(holds("verb = \"create\""), 1);
	T_INTEQ(holds("verb == create"), 1);
	T_INTEQ(holds("verb = get"), 0);
	T_INTEQ(holds("verb != get"), 1);
	T_INTEQ(holds("verb != create"), 0);
	T_INTEQ(holds("objectRef.name < web-1"), 1);
	T_INTEQ(holds("objectRef.name > web-1"), 0);
	T_INTEQ(holds("objectRef.name >= web-0 and objectRef.name <= web-0"), 1);
}

static void
test_numbers(void)
{
	T_INTEQ(holds("responseStatus.code = 201"), 1);
	T_INTEQ(holds("responseStatus.code >= 400"), 0);
	T_INTEQ(holds("responseStatus.code < 400"), 1);
	T_INTEQ(holds("responseStatus.code > 200.5"), 1);
	T_INTEQ(holds("responseStatus.code in (200, 201)"), 1);
	T_INTEQ(holds("responseStatus.code in (codes)"), 1);
	T_INTEQ(holds("requestObject.spec.replicas = 3"), 1);
	T_INTEQ(holds("requestObject.spec.replicas > 2"), 1);
	/* on an untyped field a quoted "3" is a string: no match with a number */
	T_INTEQ(holds("requestObject.spec.replicas = \"3\""), 0);
	T_INTEQ(holds("ka.useragent.major = 1 and ka.useragent.minor = 25"), 1);
	T_INTEQ(holds("ka.useragent.minor < 24"), 0);
	T_INTEQ(holds("ka.useragent.patch = 3"), 1);
	T_INTEQ(holds("ka.useragent.patch < 3"), 0);
	T_INTEQ(holds_on("ka.useragent.patch = 8 and ka.useragent.minor = 25",
	    "{\"userAgent\":\"kubelet/v1.25.8+27e744f (linux/amd64) kubernetes/df8a1b9\"}"), 1);
	/* no patch in the version: missing, not 0 */
	T_INTEQ(holds_on("ka.useragent.patch exists", "{\"userAgent\":\"kube-probe/1.28\"}"), 0);
	T_INTEQ(holds_on("ka.useragent.minor = 28", "{\"userAgent\":\"kube-probe/1.28\"}"), 1);
}

static void
test_sets_and_strings(void)
{
	T_INTEQ(holds("verb in (get, list, create)"), 1);
	T_INTEQ(holds("verb in (get, list)"), 0);
	T_INTEQ(holds("verb in ()"), 0);
	T_INTEQ(holds("objectRef.name contains eb-"), 1);
	T_INTEQ(holds("objectRef.name contains xyz"), 0);
	T_INTEQ(holds("requestObject.spec.template.spec.containers[1].image icontains \"evil/miner\""), 1);
	T_INTEQ(holds("requestObject.spec.template.spec.containers[1].image contains \"evil/miner\""), 0);
	T_INTEQ(holds("objectRef.name startswith web"), 1);
	T_INTEQ(holds("objectRef.name startswith (db, we)"), 1);
	T_INTEQ(holds("objectRef.name endswith \"-0\""), 1);
	T_INTEQ(holds("objectRef.name endswith \"-1\""), 0);
	T_INTEQ(holds("objectRef.name glob \"w?b-*\""), 1);
	T_INTEQ(holds("objectRef.name glob \"w*x\""), 0);
	T_INTEQ(holds("objectRef.name regex \"^web-[0-9]+$\""), 1);
	T_INTEQ(holds("objectRef.name regex \"^db\""), 0);
	T_INTEQ(holds("annotations[\"authorization.k8s.io/reason\"] contains 'ClusterRoleBinding \"x\"'"), 1);
}

static void
test_arrays(void)
{
	T_INTEQ(holds("user.groups contains system:authenticated"), 1);
	T_INTEQ(holds("user.groups contains system:auth"), 0);	/* membership, not substring */
	T_INTEQ(holds("user.groups icontains SYSTEM:AUTHENTICATED"), 1);
	T_INTEQ(holds("user.groups in (system:masters, system:authenticated)"), 1);
	T_INTEQ(holds("user.groups startswith \"system:service\""), 1);
	T_INTEQ(holds("sourceIPs cidr 203.0.113.0/24"), 1);
	T_INTEQ(holds("sourceIPs cidr (172.16.0.0/12, 8.8.8.8)"), 0);
	T_INTEQ(holds("sourceIPs[1] cidr 192.168.0.0/16"), 1);
	T_INTEQ(holds("sourceIPs[0] = 10.0.0.1"), 1);
	T_INTEQ(holds("any user.groups (. = system:serviceaccounts)"), 1);
	T_INTEQ(holds("all user.groups (. startswith \"system:\")"), 1);
	T_INTEQ(holds("all user.groups (. = system:authenticated)"), 0);
	/* a quoted value before in: membership in an array field */
	T_INTEQ(holds("\"system:authenticated\" in user.groups"), 1);
	T_INTEQ(holds("\"system:auth\" in user.groups"), 0);
	T_INTEQ(holds("\"10.0.0.1\" in sourceIPs and not (\"10.0.0.2\" in sourceIPs)"), 1);
	T_STREQ(error_of("\"create\" in verb"), "c.yaml:13: condition: \"VALUE\" in FIELD "
	    "needs a list field, and verb is a string (use verb = \"create\") (column 13)");
}

static void
test_any_all(void)
{
	T_INTEQ(holds("any ka.containers (securityContext.privileged = true)"), 1);
	T_INTEQ(holds("all ka.containers (securityContext.privileged = true)"), 0);
	T_INTEQ(holds("any ka.containers (name = i)"), 1);	/* init containers too */
	T_INTEQ(holds("all ka.containers (image exists)"), 1);
	T_INTEQ(holds("any ka.volumes (hostPath.path = /etc)"), 1);
	T_INTEQ(holds("any requestObject.spec.template.spec.containers (image = nginx and name = a)"), 1);
	T_INTEQ(holds("any requestObject.spec.template.spec.containers (image = nginx and name = b)"), 0);
	/* ka.* fields stay absolute inside any/all */
	T_INTEQ(holds("any ka.containers (name = a and ka.exec.container = web)"), 1);
	/* nested any */
	T_INTEQ(holds("any ka.podspec.containers (any ka.volumes (hostPath.path = /etc))"), 1);
	/* a missing array: neither any nor all holds */
	T_INTEQ(holds("any requestObject.nothing (x = 1)"), 0);
	T_INTEQ(holds("all requestObject.nothing (x = 1)"), 0);
}

static void
test_missing_fields(void)
{
	/* every comparison on a missing field is false ... */
	T_INTEQ(holds("requestObject.nope = x"), 0);
	T_INTEQ(holds("requestObject.nope != x"), 0);
	T_INTEQ(holds("requestObject.nope < 3"), 0);
	T_INTEQ(holds("requestObject.nope in (a)"), 0);
	T_INTEQ(holds("impersonatedUser.username contains a"), 0);
	/* ... so its negation is true, unless the author writes exists */
	T_INTEQ(holds("not requestObject.nope = x"), 1);
	T_INTEQ(holds("requestObject.nope exists and not requestObject.nope = x"), 0);
	T_INTEQ(holds("requestObject.spec exists"), 1);
	T_INTEQ(holds("not impersonatedUser exists"), 1);
	/* a field through a non-object is missing, not an error */
	T_INTEQ(holds("verb.x = 1"), -1);	/* verb is known to be a string */
	T_INTEQ(holds("requestObject.kind.x = 1"), 0);
	T_INTEQ(holds_on("verb = create", "{\"auditID\":\"x\",\"stage\":\"ResponseComplete\"}"), 0);
	T_INTEQ(holds_on("any ka.containers (image exists)", "{\"verb\":\"create\"}"), 0);
	/* null reads as absent */
	T_INTEQ(holds_on("objectRef.name exists", "{\"objectRef\":{\"name\":null}}"), 0);
}

/* A real PKCS#10 request (openssl req -subj /O=system:masters/CN=mallory),
 * base64 of its PEM text as spec.request holds it. */
static const char csr_masters[] =
	    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIbU1JR05BZ0VB"
	    "TUNzeEZ6QVZCZ05WQkFvTURuTjVjM1JsYlRwdFlYTjBaWEp6TVJBd0RnWURWUVFE"
	    "REFkdApZV3hzYjNKNU1Ga3dFd1lIS29aSXpqMENBUVlJS29aSXpqMERBUWNEUWdB"
	    "RW43TktFOGtzTVZXdkJSaEh0clJZCnVGZ3crU3N1N3lFcXA1cXExa210bXJLNGV4"
	    "MjBmMjBwWndnTFFIeUpmdUR2Tkk0aEI4cVN4bmIveW1kWFlvTisKamFBQU1Bb0dD"
	    "Q3FHU000OUJBTUNBMGdBTUVVQ0lIMWttamFuNTRTODNRcFVxZWplZFFLS0x4R2I4"
	    "RDQ4bWx0cApPWlFBT0RJY0FpRUE1YUxEVWZDTFlkRUNYekxEWXI1NjFFUGhUZGt1"
	    "OXBNeVZTSVdOMDg2bGdBPQotLS0tLUVORCBDRVJUSUZJQ0FURSBSRVFVRVNULS0t"
	    "LS0K";

/* The same subject with O written as a BMPString (UTF-16), which Go's
 * x509 reads as "system:masters", with CN=mallory; made with OpenSSL's
 * X509_NAME_add_entry_by_NID(..., V_ASN1_BMPSTRING, ...). */
static const char csr_bmp_masters[] =
	    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIME1JR2JBZ0VB"
	    "TURreEpUQWpCZ05WQkFvZUhBQnpBSGtBY3dCMEFHVUFiUUE2QUcwQVlRQnpBSFFB"
	    "WlFCeQpBSE14RURBT0JnTlZCQU1NQjIxaGJHeHZjbmt3V1RBVEJnY3Foa2pPUFFJ"
	    "QkJnZ3Foa2pPUFFNQkJ3TkNBQVJOCjgyZHlTZ0NvL0VCeEVSVkdXQlZSK0tWOXZ3"
	    "WW0yemRuMi9JQ2xVb2YyQlpnSmExNCtrY2w0RE0rWElLbGtCWDkKRWlYL2FyZHRW"
	    "UDNkVjFlWVR0UzlvQUF3Q2dZSUtvWkl6ajBFQXdJRFNBQXdSUUloQUkvbU03bVNv"
	    "S0thMmNDUQpXdk5EOC8rZy9IZXI0L0ZSM2VZUVZoZUN2MGNvQWlCL1E3dGtzb1hU"
	    "Z1FjR09kcEZpOFJZTFV1SWRRVStCT0I4CjMrVUxlS1JDL2c9PQotLS0tLUVORCBD"
	    "RVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K";

/* That request under the label "NEW CERTIFICATE REQUEST", and with two
 * zero bytes after its DER: the API server's CSR validation rejects both
 * (Go: the PEM type must be "CERTIFICATE REQUEST"; x509 refuses trailing
 * data). */
static const char csr_new_label[] =
	    "LS0tLS1CRUdJTiBORVcgQ0VSVElGSUNBVEUgUkVRVUVTVC0tLS0tCk1JSDBNSUdi"
	    "QWdFQU1Ea3hKVEFqQmdOVkJBb2VIQUJ6QUhrQWN3QjBBR1VBYlFBNkFHMEFZUUJ6"
	    "QUhRQVpRQnkKQUhNeEVEQU9CZ05WQkFNTUIyMWhiR3h2Y25rd1dUQVRCZ2NxaGtq"
	    "T1BRSUJCZ2dxaGtqT1BRTUJCd05DQUFSTgo4MmR5U2dDby9FQnhFUlZHV0JWUitL"
	    "Vjl2d1ltMnpkbjIvSUNsVW9mMkJaZ0phMTQra2NsNERNK1hJS2xrQlg5CkVpWC9h"
	    "cmR0VlAzZFYxZVlUdFM5b0FBd0NnWUlLb1pJemowRUF3SURTQUF3UlFJaEFJL21N"
	    "N21Tb0tLYTJjQ1EKV3ZORDgvK2cvSGVyNC9GUjNlWVFWaGVDdjBjb0FpQi9RN3Rr"
	    "c29YVGdRY0dPZHBGaThSWUxVdUlkUVUrQk9COAozK1VMZUtSQy9nPT0KLS0tLS1F"
	    "TkQgTkVXIENFUlRJRklDQVRFIFJFUVVFU1QtLS0tLQo=";
static const char csr_trailing[] =
	    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlIME1JR2JBZ0VB"
	    "TURreEpUQWpCZ05WQkFvZUhBQnpBSGtBY3dCMEFHVUFiUUE2QUcwQVlRQnpBSFFB"
	    "WlFCeQpBSE14RURBT0JnTlZCQU1NQjIxaGJHeHZjbmt3V1RBVEJnY3Foa2pPUFFJ"
	    "QkJnZ3Foa2pPUFFNQkJ3TkNBQVJOCjgyZHlTZ0NvL0VCeEVSVkdXQlZSK0tWOXZ3"
	    "WW0yemRuMi9JQ2xVb2YyQlpnSmExNCtrY2w0RE0rWElLbGtCWDkKRWlYL2FyZHRW"
	    "UDNkVjFlWVR0UzlvQUF3Q2dZSUtvWkl6ajBFQXdJRFNBQXdSUUloQUkvbU03bVNv"
	    "S0thMmNDUQpXdk5EOC8rZy9IZXI0L0ZSM2VZUVZoZUN2MGNvQWlCL1E3dGtzb1hU"
	    "Z1FjR09kcEZpOFJZTFV1SWRRVStCT0I4CjMrVUxlS1JDL2dBQQotLS0tLUVORCBD"
	    "RVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K";

/* A request whose subject is only C=DE: no CN, O or OU, so the subject
 * reads "" (present, empty). */
static const char csr_country[] =
	    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0KTUlISE1HOENBUUF3"
	    "RFRFTE1Ba0dBMVVFQmhNQ1JFVXdXVEFUQmdjcWhrak9QUUlCQmdncWhrak9QUU1C"
	    "QndOQwpBQVFpdDJkY2hGZ0lvWTZKd0JDdTZlSHRVVGJrRUMwTzRacXh2UlR6VXNJ"
	    "alNsTFIzZzNSbFdMOVdsODFXZlp0CjN0OUJvTElROU4rL2srV01LbjdEOVY1RW9B"
	    "QXdDZ1lJS29aSXpqMEVBd0lEU0FBd1JRSWdNck5NbkZESTRLaDAKajdlTTJJZlJ5"
	    "a09BMmxIa3JzTm1qNHZkYVUrTVlqZ0NJUURCQS9LU005WnlTTE14LytFNjBqbnZK"
	    "QWVMVmo0aAp4ZDFlMERhdm9pVEJMdz09Ci0tLS0tRU5EIENFUlRJRklDQVRFIFJF"
	    "UVVFU1QtLS0tLQo=";

/* An event whose requestObject.spec.request is b64 (static buffer). */
static const char *
csr_event(const char *b64)
{
	static char ev[2048];

	snprintf(ev, sizeof(ev), "{\"objectRef\":{\"resource\":\"certificatesigningrequests\"},"
	    "\"requestObject\":{\"spec\":{\"request\":\"%s\"}}}", b64);
	return ev;
}

static void
test_csr_subject(void)
{
	char ev[2048];
	size_t half = strlen(csr_masters) / 2;

	T_INTEQ(holds_on("ka.csr.subject = \"O=system:masters,CN=mallory\"",
	    csr_event(csr_masters)), 1);
	/* a BMPString value reads as the text it encodes, as Go reads it */
	T_INTEQ(holds_on("ka.csr.subject = \"O=system:masters,CN=mallory\"",
	    csr_event(csr_bmp_masters)), 1);
	/* what the API server would refuse has no subject */
	T_INTEQ(holds_on("ka.csr.subject exists", csr_event(csr_new_label)), 0);
	T_INTEQ(holds_on("ka.csr.subject exists", csr_event(csr_trailing)), 0);
	T_INTEQ(holds_on("ka.csr.subject = \"\"", csr_event(csr_country)), 1);
	/* cut in half: the DER lengths no longer fit, so no subject */
	snprintf(ev, sizeof(ev), "{\"requestObject\":{\"spec\":{\"request\":\"%.*s\"}}}",
	    (int)half, csr_masters);
	T_INTEQ(holds_on("ka.csr.subject exists", ev), 0);
	T_INTEQ(holds_on("ka.csr.subject exists",
	    "{\"requestObject\":{\"spec\":{\"request\":\"bm90IGEgY3Ny\"}}}"), 0);
	T_INTEQ(holds_on("ka.csr.subject exists", "{\"requestObject\":{\"spec\":{\"request\":7}}}"), 0);
}

static void
test_computed(void)
{
	T_INTEQ(holds("ka.exec.command = \"/bin/sh -c echo hi\""), 1);
	T_INTEQ(holds("ka.exec.argv0 = sh"), 1);
	T_INTEQ(holds("ka.exec.argv0 in (shells)"), 1);
	T_INTEQ(holds("ka.exec.container = web"), 1);
	T_INTEQ(holds("ka.useragent.client = kubectl and ka.useragent.version = v1.25.3"), 1);
	T_INTEQ(holds("ka.useragent.os = linux and ka.useragent.arch = amd64"), 1);
	T_INTEQ(holds("ka.source_ip = 203.0.113.50"), 1);
	T_INTEQ(holds("ka.decision = allow and ka.reason startswith RBAC"), 1);
	T_INTEQ(holds("ka.user.is_serviceaccount = true"), 1);
	T_INTEQ(holds("m_sa"), 1);
	T_INTEQ(holds("ka.user.is_node = false and ka.user.is_anonymous = false"), 1);
	T_INTEQ(holds("ka.user.serviceaccount_namespace = ci and ka.user.serviceaccount_name = deployer"), 1);
	T_INTEQ(holds("ka.object.kind = Deployment"), 1);
	T_INTEQ(holds("ka.podspec.hostNetwork = true"), 1);
	/* the forwarded path of a proxy request, after the event's JSON escapes */
	T_INTEQ(holds_on("ka.proxy.path = \"/exec/ns/p/c\"",
	    "{\"requestURI\":\"/api/v1/nodes/n1/proxy/metrics/\\u002e\\u002e/exec/ns/p/c?command=id\"}"), 1);
	T_INTEQ(holds_on("ka.proxy.path exists", "{\"requestURI\":\"/api/v1/nodes/n1/status\"}"), 0);
	T_INTEQ(holds_on("ka.user.is_node = true",
	    "{\"user\":{\"username\":\"system:node:w1\",\"groups\":[\"system:nodes\"]}}"), 1);
	T_INTEQ(holds_on("ka.user.is_anonymous = true",
	    "{\"user\":{\"username\":\"system:anonymous\"}}"), 1);
	/* all source IPs private: no ka.source_ip */
	T_INTEQ(holds_on("ka.source_ip exists", "{\"sourceIPs\":[\"10.1.1.1\",\"::1\",\"fd00::1\"]}"), 0);
	T_INTEQ(holds_on("ka.source_ip = \"2001:db8::1\"", "{\"sourceIPs\":[\"fe80::1\",\"2001:db8::1\"]}"), 1);
	/* a patch: ka.object is the response (the whole object), not the diff */
	T_INTEQ(holds_on("ka.object.spec.replicas = 5",
	    "{\"verb\":\"patch\",\"requestObject\":{\"spec\":{\"paused\":true}},"
	    "\"responseObject\":{\"kind\":\"Deployment\",\"spec\":{\"replicas\":5}}}"), 1);
	/* a ConfigMap's data as one text: keys and values, escapes kept */
	T_INTEQ(holds_on("ka.configmap.data contains \"aws_secret_access_key = K\\\\n\"",
	    "{\"requestObject\":{\"kind\":\"ConfigMap\",\"data\":"
	    "{\"a.ini\":\"x=1\\naws_secret_access_key = K\\n\"}}}"), 1);
	T_INTEQ(holds_on("ka.configmap.data regex \"\\\"password\\\":\"",
	    "{\"responseObject\":{\"kind\":\"ConfigMap\",\"data\":{\"password\":\"p\"}}}"), 1);
	T_INTEQ(holds_on("ka.configmap.data contains AKIA",
	    "{\"requestObject\":{\"kind\":\"ConfigMap\",\"data\":{\"k\":\"v\"}}}"), 0);
	T_INTEQ(holds_on("ka.configmap.data exists",
	    "{\"requestObject\":{\"kind\":\"ConfigMap\",\"data\":\"AKIA\"}}"), 0);
	/* a CronJob's pod template */
	T_INTEQ(holds_on("any ka.containers (name = j)",
	    "{\"objectRef\":{\"resource\":\"cronjobs\"},\"requestObject\":{\"spec\":{\"jobTemplate\":"
	    "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"j\"}]}}}}}}}"), 1);
	/* escaped strings compare by their content */
	T_INTEQ(holds_on("objectRef.name = \"a/b\"", "{\"objectRef\":{\"name\":\"a\\/b\"}}"), 1);
	/* exec options logged as a body: words as they are, no URL decoding */
	T_INTEQ(holds_on("ka.exec.command = \"cat /a+b%2F\" and ka.exec.argv0 = cat"
	    " and ka.exec.container = app",
	    "{\"requestURI\":\"/api/v1/namespaces/d/pods/p/exec\",\"requestObject\":"
	    "{\"command\":[\"/bin/cat\",\"/a+b%2F\"],\"container\":\"app\"}}"), 0);
	T_INTEQ(holds_on("ka.exec.command = \"/bin/cat /a+b%2F\" and ka.exec.argv0 = cat"
	    " and ka.exec.container = app",
	    "{\"requestURI\":\"/api/v1/namespaces/d/pods/p/exec\",\"requestObject\":"
	    "{\"command\":[\"/bin/cat\",\"/a+b%2F\"],\"container\":\"app\"}}"), 1);
	/* ... and the query string wins when both are there */
	T_INTEQ(holds_on("ka.exec.command = ls and ka.exec.container = web",
	    "{\"requestURI\":\"/x/exec?command=ls&container=web\",\"requestObject\":"
	    "{\"command\":[\"id\"],\"container\":\"app\"}}"), 1);
	T_INTEQ(holds_on("ka.exec.command exists", "{\"requestObject\":{\"command\":\"id\"}}"), 0);
	test_csr_subject();
}

/* An event with only this requestURI (static buffer). */
static const char *
uri_event(const char *uri)
{
	static struct buf json;

	buf_reset(&json);
	buf_puts(&json, "{\"requestURI\":");
	buf_json_str(&json, uri, strlen(uri));
	buf_putc(&json, '}');
	return json.data;
}

/* 1 when field f reads want on an event with only this requestURI; want
 * NULL: when f is absent. */
static int
uri_field(const char *f, const char *uri, const char *want)
{
	char cond[512];

	if (want)
		snprintf(cond, sizeof(cond), "%s = \"%s\"", f, want);
	else
		snprintf(cond, sizeof(cond), "not %s exists", f);
	return holds_on(cond, uri_event(uri));
}

/* The exec options as the API server reads them: the query through Go's
 * url.ParseQuery, converted into PodExecOptions (every `command` value in
 * order is argv; `container`, a string field, takes the first value). */
static void
test_exec_query(void)
{
	/* names are unescaped too: %63ommand is command */
	T_INTEQ(uri_field("ka.exec.command",
	    "/api/v1/namespaces/ns/pods/p/exec?%63ommand=sh&%63ommand=-c&%63ommand=id"
	    "&container=c&stdin=true", "sh -c id"), 1);
	T_INTEQ(uri_field("ka.exec.argv0",
	    "/api/v1/namespaces/ns/pods/p/exec?%63ommand=%2Fbin%2Fsh&container=c", "sh"), 1);
	T_INTEQ(uri_field("ka.exec.container", "/x/exec?command=id&c%6Fntainer=z&container=y", "z"), 1);
	/* a pair with ';' and a pair with a bad escape are dropped by Go */
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?command=sh;x&command=id", "id"), 1);
	T_INTEQ(uri_field("ka.exec.argv0", "/x/exec?command=sh;x&command=id", "id"), 1);
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?command=%zz&command=id", "id"), 1);
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?command=%4", NULL), 1);
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?command=sh%", NULL), 1);
	/* case matters in names */
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?Command=sh", NULL), 1);
	/* a name without '=' is an empty word; so is an empty value, even
	 * first in a fresh scratch (no buffer allocated yet) */
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?command&command=sh", " sh"), 1);
	T_INTEQ(uri_field("ka.exec.argv0", "/x/exec?command&command=sh", ""), 1);
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?command=", ""), 1);
	T_INTEQ(uri_field("ka.exec.argv0", "/x/exec?command=", ""), 1);
	T_INTEQ(uri_field("ka.exec.argv0", "/x/exec?command=&command=%2Fbin%2Fsh", ""), 1);
	/* the first container wins, even when empty */
	T_INTEQ(uri_field("ka.exec.container", "/x/exec?container=&container=w", ""), 1);
	/* '+' is a space, %2B a plus; a '#' is data */
	T_INTEQ(uri_field("ka.exec.command", "/x/exec?command=a+b%2Bc#d", "a b+c#d"), 1);
}

/* Hostile requests: PEM text base64-encoded into an event's
 * spec.request. None may crash, leak or yield a subject. */
static int
csr_pem_has_subject(const char *label, const unsigned char *der, size_t n)
{
	struct buf pem, json;
	unsigned char *b64;
	int r, len;

	buf_init(&pem);
	buf_init(&json);
	b64 = malloc(4 * (n / 3 + 1) + 1);
	len = EVP_EncodeBlock(b64, der, (int)n);
	buf_printf(&pem, "-----BEGIN %s-----\n", label);
	for (int i = 0; i < len; i += 64) {
		buf_append(&pem, b64 + i, (size_t)(len - i < 64 ? len - i : 64));
		buf_putc(&pem, '\n');
	}
	buf_printf(&pem, "-----END %s-----\n", label);
	free(b64);
	b64 = malloc(4 * (pem.len / 3 + 1) + 1);
	len = EVP_EncodeBlock(b64, (const unsigned char *)pem.data, (int)pem.len);
	buf_puts(&json, "{\"objectRef\":{\"resource\":\"certificatesigningrequests\"},"
	    "\"requestObject\":{\"spec\":{\"request\":\"");
	buf_append(&json, b64, (size_t)len);
	buf_puts(&json, "\"}}}");
	r = holds_on("ka.csr.subject exists", json.data);
	free(b64);
	buf_free(&pem);
	buf_free(&json);
	return r;
}

static void
test_csr_hostile(void)
{
	size_t big = (size_t)4 << 20, depth = 100000;
	unsigned char *der = calloc(1, big + 16);

	/* garbage and a bare header */
	T_INTEQ(csr_pem_has_subject("CERTIFICATE REQUEST", (const unsigned char *)"\x30\x03" "abc", 5), 0);
	T_INTEQ(csr_pem_has_subject("CERTIFICATE REQUEST", (const unsigned char *)"", 0), 0);
	/* a SEQUENCE claiming 4 MiB of zeros */
	der[0] = 0x30;
	der[1] = 0x84;
	der[2] = (unsigned char)(big >> 24);
	der[3] = (unsigned char)(big >> 16);
	der[4] = (unsigned char)(big >> 8);
	der[5] = (unsigned char)big;
	T_INTEQ(csr_pem_has_subject("CERTIFICATE REQUEST", der, big + 6), 0);
	/* 100000 nested SEQUENCEs of indefinite length */
	for (size_t i = 0; i < depth; i++) {
		der[2 * i] = 0x30;
		der[2 * i + 1] = 0x80;
	}
	T_INTEQ(csr_pem_has_subject("CERTIFICATE REQUEST", der, 2 * depth), 0);
	free(der);
}

/* ka.proxy.path: the path the API server sends a proxy request on with.
 * Expected values from a model of the API server built on Go's own
 * url.ParseRequestURI, strings.Split and path.Join. */
static void
test_proxy_path(void)
{
	static const struct { const char *uri, *want; } cases[] = {
		{ "/api/v1/nodes/w/proxy/exec/ns/p/c?command=id", "/exec/ns/p/c" },
		{ "/api/v1/nodes/w/proxy/%65xec/ns/p/c", "/exec/ns/p/c" },
		{ "/api/v1/nodes/w/proxy/exec%2Fns%2Fp%2Fc", "/exec/ns/p/c" },
		{ "/api/v1/nodes/w/proxy//exec/ns/p/c", "/exec/ns/p/c" },
		{ "/api/v1/nodes/w/proxy/x/../exec/ns/p/c", "/exec/ns/p/c" },
		{ "/api/v1/nodes/w/proxy/../../exec/ns", "/exec/ns" },
		{ "/api/v1/nodes/w/proxy/./exec/ns", "/exec/ns" },
		{ "/api/v1/nodes/w/proxy/%2e%2e/%2e%2e/exec/a", "/exec/a" },
		{ "/api/v1/nodes/w/proxy/metrics/", "/metrics/" },
		{ "/api/v1/nodes/w/proxy", "/" },
		{ "/api/v1/nodes/w/proxy/", "/" },
		{ "/api/v1/nodes/w/proxy/Exec/a", "/Exec/a" },
		{ "/api/v1/namespaces/ns/pods/p:8080/proxy/a+b/", "/a+b/" },
		{ "/api/v1/namespaces/ns/services/https:s:443/proxy/x", "/x" },
		{ "/api/v1/namespaces/proxy/pods/p/proxy/z", "/z" },
		{ "/api/v1/nodes/proxy/proxy/exec/x", "/exec/x" },
		{ "/api/v1/nodes/w%2Fproxy%2Fexec/x", "/exec/x" },
		{ "/apis/g/v1/namespaces/ns/things/t/proxy/a", "/a" },
		{ "/api/v1/nodes/w", NULL },
		{ "/api/v1/namespaces/ns/pods/p/exec?x=/proxy/exec/", NULL },
		{ "/api/v1/nodes/w/proxy/ex%zzec", NULL },
		{ "/api/v1/nodes/w/Proxy/exec/a", NULL },
		{ "/api/v1/namespaces/ns/status/proxy/q", NULL },
		{ "//api//v1//nodes//w//proxy//exec//x//", NULL },
		{ "/healthz", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ok = uri_field("ka.proxy.path", cases[i].uri, cases[i].want) == 1;
		if (!ok)
			printf("  ka.proxy.path of \"%s\" is not %s\n", cases[i].uri,
			    cases[i].want ? cases[i].want : "absent");
		T_ASSERT(ok);
	}
	T_INTEQ(holds_on("ka.proxy.path exists", "{\"verb\":\"get\"}"), 0);
}

/* The list selectors as the API server reads them: decoded, the first
 * value of each (ListOptions' string fields). */
static void
test_list_selectors(void)
{
	T_INTEQ(uri_field("ka.list.label_selector", "/api/v1/secrets?labelSelector=name%3dweb%2Cowner%3Dhelm",
	    "name=web,owner=helm"), 1);
	T_INTEQ(uri_field("ka.list.label_selector", "/api/v1/secrets?labelSelector=&labelSelector=owner%3Dhelm",
	    ""), 1);
	T_INTEQ(uri_field("ka.list.label_selector", "/api/v1/secrets?labelSelector=owner%3Dhelm;x", NULL), 1);
	T_INTEQ(uri_field("ka.list.label_selector", "/api/v1/secrets?labelSelector=owner%3Dhelm%zz", NULL), 1);
	T_INTEQ(uri_field("ka.list.label_selector", "/api/v1/secrets?%6cabelSelector=a+in+(b)", "a in (b)"), 1);
	T_INTEQ(uri_field("ka.list.field_selector",
	    "/api/v1/secrets?x=fieldSelector=metadata.name%3Dy&fieldSelector=type%3DOpaque", "type=Opaque"), 1);
	T_INTEQ(uri_field("ka.list.field_selector", "/api/v1/secrets", NULL), 1);
}

/* Version numbers are whole runs of digits. */
static void
test_useragent_numbers(void)
{
	char ua[600], ev[700];

	T_INTEQ(holds_on("ka.useragent.minor = 25 and ka.useragent.patch = 3",
	    "{\"userAgent\":\"kubectl/v1.0000000025.3 (linux/amd64) kubernetes/x\"}"), 1);
	T_INTEQ(holds_on("ka.useragent.minor = 12345678901 and ka.useragent.patch = 2",
	    "{\"userAgent\":\"kubectl/v1.12345678901.2\"}"), 1);
	T_INTEQ(holds_on("ka.useragent.minor = 2 and not ka.useragent.patch exists",
	    "{\"userAgent\":\"kubectl/v1.2x.3\"}"), 1);
	/* 500 digits: a large finite number, never infinity */
	memcpy(ua, "kubectl/v1.", 11);
	memset(ua + 11, '9', 500);
	strcpy(ua + 511, ".0");
	snprintf(ev, sizeof(ev), "{\"userAgent\":\"%s\"}", ua);
	T_INTEQ(holds_on("ka.useragent.minor > 1000000000000 and ka.useragent.minor < 1e300"
	    " and ka.useragent.patch = 0", ev), 1);
}

static void
test_precedence(void)
{
	T_INTEQ(holds("verb = get or verb = create and objectRef.name = web-0"), 1);
	T_INTEQ(holds("(verb = get or verb = create) and objectRef.name = nope"), 0);
	T_INTEQ(holds("not verb = get and not verb = list"), 1);
	T_INTEQ(holds("not (verb = create or verb = get)"), 0);
	T_INTEQ(holds("true and not false"), 1);
}

static void
test_type_errors(void)
{
	T_STREQ(error_of("responseStatus.code = \"403\""),
	    "c.yaml:13: condition: type mismatch: responseStatus.code is a number, \"403\" is a string (column 23)");
	T_STREQ(error_of("responseStatus.code contains 4"),
	    "c.yaml:13: condition: type mismatch: contains needs a string, responseStatus.code is a number (column 30)");
	T_STREQ(error_of("ka.user.is_node = yes"),
	    "c.yaml:13: condition: type mismatch: ka.user.is_node is a boolean, yes is a string (column 19)");
	T_STREQ(error_of("user.groups = admins"),
	    "c.yaml:13: condition: user.groups is an array: use contains, in, or any/all, not = (column 15)");
	T_STREQ(error_of("objectRef exists and objectRef = x"),
	    "c.yaml:13: condition: objectRef is an object: only exists applies (or any/all over an array in it) (column 34)");
	T_STREQ(error_of("any verb (x = 1)"),
	    "c.yaml:13: condition: verb is a string, not an array (column 5)");
	T_STREQ(error_of("verb in (1, get)"), "(compiled)");	/* bare words are text for strings */
}

/* An empty list is an empty set: it matches nothing, whatever the operator
 * (a site that empties a list of prefixes must not make every value match
 * them), and it goes with any field type. */
static void
test_empty_list(void)
{
	T_INTEQ(holds("verb in (none)"), 0);
	T_INTEQ(holds("verb in none"), 0);
	T_INTEQ(holds("verb startswith (none)"), 0);
	T_INTEQ(holds("verb endswith (none)"), 0);
	T_INTEQ(holds("verb contains (none)"), 0);
	T_INTEQ(holds("verb icontains (none)"), 0);
	T_INTEQ(holds("verb glob (none)"), 0);
	T_INTEQ(holds("verb startswith none"), 0);
	T_INTEQ(holds("sourceIPs cidr (none)"), 0);
	T_INTEQ(holds("user.groups contains (none)"), 0);
	T_INTEQ(holds("responseStatus.code in (none)"), 0);
	T_INTEQ(holds("not verb startswith (none)"), 1);
	/* beside other values, it adds nothing */
	T_INTEQ(holds("verb startswith (none, cre)"), 1);
	T_INTEQ(holds("verb endswith (none, zzz)"), 0);
	T_INTEQ(holds("verb in (none, create)"), 1);
}

static void
test_syntax_errors(void)
{
	T_STREQ(error_of("verbb = create"),
	    "c.yaml:13: condition: unknown field \"verbb\" (column 1)");
	T_STREQ(error_of("ka.exec.cmd = x"),
	    "c.yaml:13: condition: unknown field \"ka.exec.cmd\" (column 1)");
	/* which users are the control plane is rule data now (00-macros.yaml) */
	T_STREQ(error_of("ka.user.is_system = true"),
	    "c.yaml:13: condition: unknown field \"ka.user.is_system\" (column 1)");
	T_STREQ(error_of("verb in nosuchlist"),
	    "c.yaml:13: condition: unknown list \"nosuchlist\" (column 9)");
	T_STREQ(error_of("verb = create and nosuchmacro"),
	    "c.yaml:13: condition: unknown macro \"nosuchmacro\" (column 19)");
	T_STREQ(error_of("objectRef.name regex \"([a-z\""),
	    "c.yaml:13: condition: bad regex \"([a-z\": missing terminating ] for character class at offset 5 (column 22)");
	T_STREQ(error_of("sourceIPs cidr 10.0.0.0/33"),
	    "c.yaml:13: condition: bad CIDR \"10.0.0.0/33\" (column 16)");
	T_STREQ(error_of("(verb = create"), "c.yaml:13: condition: expected ')' (column 15)");
	T_STREQ(error_of("verb = create verb"),
	    "c.yaml:13: condition: expected and, or, or the end of the condition (column 15)");
	T_STREQ(error_of("verb = \"create"), "c.yaml:13: condition: unterminated string (column 8)");
	T_STREQ(error_of("verb !~ x"), "c.yaml:13: condition: '!' must be followed by '=' (column 6)");
	T_STREQ(error_of("objectRef.name x"),
	    "c.yaml:13: condition: expected an operator after field \"objectRef.name\" (column 1)");
}

static void
test_bounds(void)
{
	struct buf b, errs;
	int i;

	/* deep nesting is an error, not a stack overflow */
	buf_init(&b);
	for (i = 0; i < 200; i++)
		buf_putc(&b, '(');
	buf_puts(&b, "verb = x");
	for (i = 0; i < 200; i++)
		buf_putc(&b, ')');
	buf_init(&errs);
	T_INTEQ(cond_check(b.data, b.len, &errs), -1);
	T_ASSERT(strstr(buf_cstr(&errs), "nested too deeply") != NULL);
	buf_free(&errs);
	buf_free(&b);
	/* a long flat chain is fine */
	buf_init(&b);
	for (i = 0; i < 500; i++)
		buf_printf(&b, "%sverb = v%d", i ? " or " : "", i);
	buf_init(&errs);
	T_INTEQ(cond_check(b.data, b.len, &errs), 0);
	buf_free(&errs);
	buf_free(&b);
	buf_init(&errs);
	T_INTEQ(cond_check("", 0, &errs), -1);
	T_STREQ(buf_cstr(&errs), "(condition):1: condition: empty condition (column 1)\n");
	buf_free(&errs);
}

/* An OR whose branches start with comparisons of one field is evaluated
 * through a switch (cond.c, struct orsw): the same results as the plain OR
 * for every kind of value, a value unescaped into the scratch included. */
#define ORSW_COND \
	"(objectRef.name = web-1 and verb = get) or (objectRef.name = web-0 and verb = create)" \
	" or objectRef.name > zz or (objectRef.name = \"w\u00e9\" and user.username = \"\u00e9\")" \
	" or verb = patch"

static void
test_or_switch(void)
{
	struct buf errs;
	struct ruleset *rs;

	buf_init(&errs);
	rs = one_rule(ORSW_COND, &errs);
	T_ASSERT(rs != NULL && rs->rule[0]->cond->kind == N_OR && rs->rule[0]->cond->sw != NULL);
	ruleset_free(rs);
	/* two branches on the field: not worth a switch */
	rs = one_rule("objectRef.name = a or objectRef.name = b or verb = x", &errs);
	T_ASSERT(rs != NULL && rs->rule[0]->cond->sw == NULL);
	ruleset_free(rs);
	buf_free(&errs);
	T_INTEQ(holds(ORSW_COND), 1);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"get\",\"objectRef\":{\"name\":\"web-1\"}}"), 1);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"list\",\"objectRef\":{\"name\":\"web-1\"}}"), 0);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"get\",\"objectRef\":{\"name\":\"zzz\"}}"), 1);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"get\",\"objectRef\":{\"name\":\"z\"}}"), 0);
	/* the value sits in the scratch, and so does the username read after it */
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"get\",\"user\":{\"username\":\"\\u00e9\"},"
	    "\"objectRef\":{\"name\":\"w\\u00e9\"}}"), 1);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"get\",\"user\":{\"username\":\"e\"},"
	    "\"objectRef\":{\"name\":\"w\\u00e9\"}}"), 0);
	/* missing, null, a number, an array, an object: only the last branch */
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"create\"}"), 0);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"patch\"}"), 1);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"create\",\"objectRef\":{\"name\":null}}"), 0);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"create\",\"objectRef\":{\"name\":7}}"), 0);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"create\",\"objectRef\":{\"name\":[\"web-0\"]}}"), 0);
	T_INTEQ(holds_on(ORSW_COND, "{\"verb\":\"patch\",\"objectRef\":{\"name\":{\"a\":1}}}"), 1);
	/* numbers, as the client rules' release tables compare them */
	T_INTEQ(holds_on("(ka.useragent.minor <= 19 and verb = get) or (ka.useragent.minor = 26"
	    " and ka.useragent.patch < 2) or (ka.useragent.minor = 27 and verb = get)",
	    "{\"verb\":\"list\",\"userAgent\":\"kubectl/v1.26.1 (linux/amd64) kubernetes/x\"}"), 1);
	T_INTEQ(holds_on("(ka.useragent.minor <= 19 and verb = get) or (ka.useragent.minor = 26"
	    " and ka.useragent.patch < 1) or (ka.useragent.minor = 27 and verb = get)",
	    "{\"verb\":\"list\",\"userAgent\":\"kubectl/v1.26.1 (linux/amd64) kubernetes/x\"}"), 0);
}

/* icontains results are kept per scratch by (set, value): values that share
 * their length and both ends, met one after the other through one scratch,
 * must each get their own answer. */
static void
test_icontains_memo(void)
{
	static const char *const ua[] = {
		"kube-hunter/1.0 (linux) client", "kube-huntxr/1.0 (linux) client",
		"kube-hunter/1.0 (linux) client", "KUBE-HUNTER/1.0 (linux) client",
		"kube-hxnter/1.0 (linux) client",
	};
	static const int want[] = { 1, 0, 1, 1, 0 };
	struct buf errs;
	struct ruleset *rs;
	struct eval_scratch *s;
	char json[256];

	buf_init(&errs);
	rs = one_rule("userAgent icontains (hunter, peirates)", &errs);
	T_ASSERT(rs != NULL);
	s = eval_scratch_new(rs);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(ua) / sizeof(ua[0]); i++) {
			struct tev t;
			snprintf(json, sizeof(json), "{\"userAgent\":\"%s\"}", ua[i]);
			tev_load(&t, json);
			T_INTEQ((int)ruleset_eval(rs, &t.ev, s, NULL, NULL), want[i]);
			jdoc_free(&t.d);
		}
	}
	eval_scratch_free(s);
	ruleset_free(rs);
	buf_free(&errs);
}

int
main(void)
{
	T_RUN(test_comparisons);
	T_RUN(test_numbers);
	T_RUN(test_sets_and_strings);
	T_RUN(test_arrays);
	T_RUN(test_any_all);
	T_RUN(test_missing_fields);
	T_RUN(test_computed);
	T_RUN(test_csr_hostile);
	T_RUN(test_exec_query);
	T_RUN(test_proxy_path);
	T_RUN(test_list_selectors);
	T_RUN(test_useragent_numbers);
	T_RUN(test_precedence);
	T_RUN(test_type_errors);
	T_RUN(test_empty_list);
	T_RUN(test_syntax_errors);
	T_RUN(test_bounds);
	T_RUN(test_or_switch);
	T_RUN(test_icontains_memo);
	return t_done();
}
