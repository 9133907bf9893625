/* computed.c — the ka.* fields: values worked out from an event rather than
 * read at a path (the exec command and the list selectors from the request
 * URI's query, the path a proxy request is sent on with, the parsed user
 * agent, the first public source IP, what kind of user made the request,
 * the resulting object and its pod spec, the CSR subject, ...).
 *
 * Each group is parsed on first use per event and cached in the per-thread
 * eval_scratch; field_reset() forgets them for the next event. Every parser
 * here reads text an attacker wrote: none may read outside its input, and
 * each must decode exactly as the API server does, or a request can mean one
 * thing to the cluster and another to the rules. */
#include "analyze/proxypath.h"
#include "analyze/rules_impl.h"
#include "base/b64.h"
#include "base/url.h"
#include "base/xmalloc.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* Computed groups, one bit each in eval_scratch.have. */
#define G_EXEC	0x01
#define G_UA	0x02
#define G_SRCIP	0x04
#define G_USER	0x08
#define G_OBJ	0x10
#define G_CSR	0x20
#define G_PROXY	0x40
#define G_LIST	0x80
#define G_ACTOR	0x100
#define G_SUBJ	0x200

#define U_SA	0x01
#define U_NODE	0x02
#define U_ANON	0x04
#define U_KNOWN	0x10	/* username present */

/* One word of the command, already decoded: joined to the others by a
 * space; the first one's base name is argv0. buf_append allocates even for
 * an empty word, so the buffers' data is never NULL once a word is in. */
static void
exec_word(struct eval_scratch *s, const char *val, size_t vlen)
{
	const char *a, *slash;
	size_t start;

	if (s->exec_has_cmd)
		buf_putc(&s->exec_cmd, ' ');
	start = s->exec_cmd.len;
	buf_append(&s->exec_cmd, val, vlen);
	if (!s->exec_has_cmd) {
		a = s->exec_cmd.data + start;
		if ((slash = memrchr(a, '/', vlen)) != NULL)
			a = slash + 1;
		buf_append(&s->exec_argv0, a, (size_t)(s->exec_cmd.data + s->exec_cmd.len - a));
	}
	s->exec_has_cmd = 1;
}

/* The API server reads exec and attach options from the query alone
 * (url.Values converted into PodExecOptions): every `command` value in
 * order is argv, and `container`, a string, is its first value. The
 * kubelet behind nodes/proxy reads its exec query the same way. */
static void
exec_query(struct eval_scratch *s, const char *q, size_t n)
{
	struct url_query it;
	struct buf *name = &s->query_name, *val = &s->query_value;

	url_query_init(&it, q, n);
	while (url_query_next(&it, name, val)) {
		if (name->len == 7 && memcmp(name->data, "command", 7) == 0) {
			exec_word(s, val->data, val->len);
		} else if (name->len == 9 && memcmp(name->data, "container", 9) == 0 &&
		    !s->exec_has_container) {
			buf_append(&s->exec_container, val->data, val->len);
			s->exec_has_container = 1;
		}
	}
}

/* Some platforms log the exec options as a body (PodExecOptions in
 * requestObject) and the URI without a query string: take the command and
 * container from there when the query string had none. */
static void
exec_body(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const struct jdoc *d = c->ev->doc;
	int obj = c->ev->f[EF_REQUEST_OBJECT], arr, t;
	const char *w;
	size_t n;

	if (jtok_type(d, obj) != JT_OBJ)
		return;
	arr = jtok_getz(d, obj, "command");
	if (!s->exec_has_cmd && jtok_type(d, arr) == JT_ARR)
		for (t = jtok_first(d, arr); t >= 0; t = jtok_next(d, arr, t))
			if ((w = jtok_str(d, t, &s->tmp, &n)) != NULL)
				exec_word(s, w, n);
	t = jtok_getz(d, obj, "container");
	if (!s->exec_has_container && (w = jtok_str(d, t, &s->tmp, &n)) != NULL) {
		buf_append(&s->exec_container, w, n);
		s->exec_has_container = 1;
	}
}

static void
exec_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const char *uri, *q;
	size_t len;

	buf_reset(&s->exec_cmd);
	buf_reset(&s->exec_container);
	buf_reset(&s->exec_argv0);
	s->exec_has_cmd = s->exec_has_container = 0;
	/* the query starts after the first '?', as Go's url.Parse splits it */
	uri = event_str(c->ev, EF_REQUEST_URI, &s->tmp, &len);
	if (uri != NULL && (q = memchr(uri, '?', len)) != NULL)
		exec_query(s, q + 1, (size_t)(uri + len - q - 1));
	exec_body(c);
}

/* --- list options --------------------------------------------------------- */

/* Sets out to the first value of the query parameter `name`, as a string
 * field of ListOptions takes it (url.Values converted by the parameter
 * codec); 1 when there is one. */
int
query_first(struct eval_scratch *s, const char *q, size_t n, const char *name,
    struct buf *out)
{
	struct url_query it;
	size_t len = strlen(name);

	url_query_init(&it, q, n);
	while (url_query_next(&it, &s->query_name, &s->query_value))
		if (s->query_name.len == len && memcmp(s->query_name.data, name, len) == 0) {
			buf_reset(out);
			buf_append(out, s->query_value.data, s->query_value.len);
			return 1;
		}
	return 0;
}

/* ka.list.label_selector, ka.list.field_selector: the selectors of a list
 * or watch as the API server reads them. Matching requestURI text instead
 * can be led astray both ways: ?labelSelector=&labelSelector=owner%3Dhelm
 * selects every object (the first value wins), and so do a selector pair
 * Go drops (holding ';' or a bad escape) and owner=helm written anywhere
 * else in the query. */
static void
list_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const char *uri, *q;
	size_t len, n;

	s->has_label_selector = s->has_field_selector = 0;
	uri = event_str(c->ev, EF_REQUEST_URI, &s->tmp, &len);
	if (uri == NULL || (q = memchr(uri, '?', len)) == NULL)
		return;
	n = (size_t)(uri + len - q - 1);
	s->has_label_selector = query_first(s, q + 1, n, "labelSelector", &s->label_selector);
	s->has_field_selector = query_first(s, q + 1, n, "fieldSelector", &s->field_selector);
}

/* --- the user agent ------------------------------------------------------ */

/* A version number: the whole run of digits, so that "0000000025" reads
 * 25 and the next '.' is found after it. The value stops growing past
 * 1e15, beyond any release and still exact in a double. */
static double
ua_number(const char *s, size_t n, size_t *used)
{
	double v = 0;
	size_t i;

	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if (v < 1e15)
			v = v * 10 + (s[i] - '0');
	*used = i;
	return v;
}

/* "kubectl/v1.25.0 (linux/amd64) kubernetes/abc123": client, version,
 * os/arch from the parenthesis, major/minor/patch from the version. */
static void
ua_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const char *p, *end, *sp, *sl;
	size_t len, used;

	memset(&s->ua_client, 0, sizeof(s->ua_client));
	memset(&s->ua_version, 0, sizeof(s->ua_version));
	memset(&s->ua_os, 0, sizeof(s->ua_os));
	memset(&s->ua_arch, 0, sizeof(s->ua_arch));
	s->ua_has_major = s->ua_has_minor = s->ua_has_patch = 0;
	p = event_str(c->ev, EF_USER_AGENT, &s->tmp, &len);
	if (p == NULL)
		return;
	buf_reset(&s->ua);
	buf_append(&s->ua, p, len);
	p = s->ua.data;
	end = p + len;
	sp = memchr(p, ' ', len);
	if (sp == NULL)
		sp = end;
	sl = memchr(p, '/', (size_t)(sp - p));
	s->ua_client.s = p;
	s->ua_client.n = (size_t)((sl ? sl : sp) - p);
	if (sl && sl + 1 < sp) {
		const char *v = sl + 1;
		s->ua_version.s = v;
		s->ua_version.n = (size_t)(sp - v);
		if (*v == 'v')
			v++;
		s->ua_major = ua_number(v, (size_t)(sp - v), &used);
		s->ua_has_major = used > 0;
		if (used > 0 && v + used < sp && v[used] == '.') {
			v += used + 1;
			s->ua_minor = ua_number(v, (size_t)(sp - v), &used);
			s->ua_has_minor = used > 0;
		}
		if (s->ua_has_minor && v + used < sp && v[used] == '.') {
			v += used + 1;
			s->ua_patch = ua_number(v, (size_t)(sp - v), &used);
			s->ua_has_patch = used > 0;
		}
	}
	if (sp + 1 < end && sp[1] == '(') {
		const char *o = sp + 2;
		const char *cl = memchr(o, ')', (size_t)(end - o));
		const char *osl = cl ? memchr(o, '/', (size_t)(cl - o)) : NULL;
		if (osl) {
			s->ua_os.s = o;
			s->ua_os.n = (size_t)(osl - o);
			s->ua_arch.s = osl + 1;
			s->ua_arch.n = (size_t)(cl - osl - 1);
		}
	}
}

static int
ip_private4(const uint8_t *a)
{
	return a[0] == 10 || a[0] == 127 || a[0] == 0 ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 169 && a[1] == 254) ||
	    (a[0] == 100 && (a[1] & 0xc0) == 64);
}

/* Loopback, RFC 1918, link-local, CGNAT, ULA: not where an attacker sits. */
static int
ip_private(const char *s, size_t n)
{
	char tmp[64];
	uint8_t a[16];

	if (n >= sizeof(tmp))
		return 1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, a) == 1)
		return ip_private4(a);
	if (inet_pton(AF_INET6, tmp, a) != 1)
		return 1;
	if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return 1;
	static const uint8_t loop[16] = { [15] = 1 }, mapped[12] = { [10] = 0xff, [11] = 0xff };
	if (memcmp(a, loop, 16) == 0)
		return 1;
	if (memcmp(a, mapped, 12) == 0)
		return ip_private4(a + 12);
	return 0;
}

static int
source_ip_find(struct evctx *c)
{
	const struct jdoc *d = c->ev->doc;
	int arr = c->ev->f[EF_SOURCE_IPS];

	if (jtok_type(d, arr) != JT_ARR)
		return -1;
	for (int t = jtok_first(d, arr); t >= 0; t = jtok_next(d, arr, t)) {
		size_t n;
		const char *ip = jtok_str(d, t, &c->s->tmp, &n);
		if (ip && !ip_private(ip, n))
			return t;
	}
	return -1;
}

static int
has_prefix(const char *s, size_t n, const char *pre)
{
	size_t l = strlen(pre);
	return n >= l && memcmp(s, pre, l) == 0;
}

static int
group_member(struct evctx *c, const char *g)
{
	const struct jdoc *d = c->ev->doc;
	int arr = c->ev->f[EF_GROUPS];

	if (jtok_type(d, arr) != JT_ARR)
		return 0;
	for (int t = jtok_first(d, arr); t >= 0; t = jtok_next(d, arr, t))
		if (jtok_str_eq(d, t, g, strlen(g)))
			return 1;
	return 0;
}

static void
user_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const char *u;
	size_t n;

	s->user_flags = 0;
	memset(&s->sa_ns, 0, sizeof(s->sa_ns));
	memset(&s->sa_name, 0, sizeof(s->sa_name));
	if ((u = event_str(c->ev, EF_USERNAME, &s->tmp, &n)) == NULL)
		return;
	buf_reset(&s->user);
	buf_append(&s->user, u, n);
	u = s->user.data;
	s->user_flags = U_KNOWN;
	if (has_prefix(u, n, "system:serviceaccount:")) {
		const char *ns = u + 22, *colon = memchr(ns, ':', n - 22);
		s->user_flags |= U_SA;
		if (colon) {
			s->sa_ns.s = ns;
			s->sa_ns.n = (size_t)(colon - ns);
			s->sa_name.s = colon + 1;
			s->sa_name.n = n - (size_t)(colon + 1 - u);
		}
	}
	if (has_prefix(u, n, "system:node:") || group_member(c, "system:nodes"))
		s->user_flags |= U_NODE;
	if ((n == 16 && memcmp(u, "system:anonymous", 16) == 0) ||
	    group_member(c, "system:unauthenticated"))
		s->user_flags |= U_ANON;
}

static int
obj_kind_is(const struct jdoc *d, int obj, const char *kind)
{
	return jtok_str_eq(d, jtok_getz(d, obj, "kind"), kind, strlen(kind));
}

/* responseObject when it holds the object (not a Status), else
 * requestObject (not DeleteOptions): after a patch, the response is the
 * whole resulting object while the request is only the diff. */
static int
object_find(const struct audit_event *ev)
{
	const struct jdoc *d = ev->doc;
	int t = ev->f[EF_RESPONSE_OBJECT];

	if (jtok_type(d, t) == JT_OBJ && !obj_kind_is(d, t, "Status"))
		return t;
	t = ev->f[EF_REQUEST_OBJECT];
	if (jtok_type(d, t) == JT_OBJ && !obj_kind_is(d, t, "DeleteOptions"))
		return t;
	return -1;
}

static const struct {
	const char	*resource;
	const char	*kind;
	const char	*path;
} podspec_paths[] = {
	{ "pods",			"Pod",			"spec" },
	{ "deployments",		"Deployment",		"spec.template.spec" },
	{ "daemonsets",			"DaemonSet",		"spec.template.spec" },
	{ "statefulsets",		"StatefulSet",		"spec.template.spec" },
	{ "replicasets",		"ReplicaSet",		"spec.template.spec" },
	{ "replicationcontrollers",	"ReplicationController", "spec.template.spec" },
	{ "jobs",			"Job",			"spec.template.spec" },
	{ "cronjobs",			"CronJob",		"spec.jobTemplate.spec.template.spec" },
	{ "podtemplates",		"PodTemplate",		"template.spec" },
};

/* The pod spec of a Pod or of a controller's pod template. Status and other
 * subresource writes are left out, so kubelet status updates do not re-fire
 * workload rules; pods/ephemeralcontainers is kept (it adds containers). */
static int
podspec_find(const struct audit_event *ev, int obj)
{
	const struct jdoc *d = ev->doc;
	int res = ev->f[EF_RESOURCE], sub = ev->f[EF_SUBRESOURCE];

	if (obj < 0)
		return -1;
	if (sub >= 0 && !jtok_str_eq(d, sub, "ephemeralcontainers", 19))
		return -1;
	for (size_t i = 0; i < sizeof(podspec_paths) / sizeof(podspec_paths[0]); i++) {
		const char *r = podspec_paths[i].resource;
		if (res >= 0 ? jtok_str_eq(d, res, r, strlen(r)) :
		    obj_kind_is(d, obj, podspec_paths[i].kind)) {
			int t = jtok_path(d, obj, podspec_paths[i].path);
			return jtok_type(d, t) == JT_OBJ ? t : -1;
		}
	}
	return -1;
}

static void
object_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const struct jdoc *d = c->ev->doc;
	static const char *const arrs[] = { "containers", "initContainers", "ephemeralContainers" };

	s->object = object_find(c->ev);
	s->podspec = podspec_find(c->ev, s->object);
	s->ncontainers = 0;
	for (int i = 0; i < 3 && s->podspec >= 0; i++) {
		int t = jtok_getz(d, s->podspec, arrs[i]);
		if (jtok_type(d, t) == JT_ARR)
			s->containers[s->ncontainers++] = t;
	}
}

/* --- certificate signing requests ------------------------------------------ */

/* Appends one attribute value, converted to UTF-8 as Go's x509 parser
 * converts it (a BMPString "system:masters" is that group to the API
 * server); bytes outside printable ASCII become '?'. A value OpenSSL cannot
 * convert is shown as its raw bytes. */
static void
csr_value(const ASN1_STRING *v, struct buf *out)
{
	unsigned char *utf8 = NULL;
	const unsigned char *p;
	int n;

	if ((n = ASN1_STRING_to_UTF8(&utf8, v)) >= 0) {
		p = utf8;
	} else {
		p = ASN1_STRING_get0_data(v);
		n = ASN1_STRING_length(v);
	}
	for (int i = 0; i < n; i++)
		buf_putc(out, p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?');
	OPENSSL_free(utf8);
}

/* The CN, O and OU attributes of a subject, comma-separated in the order
 * the request lists them. */
static void
csr_name(const X509_NAME *name, struct buf *out)
{
	buf_append(out, "", 0);		/* an empty subject is "", not absent */
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
		const char *key;

		switch (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))) {
		case NID_commonName: key = "CN="; break;
		case NID_organizationName: key = "O="; break;
		case NID_organizationalUnitName: key = "OU="; break;
		default: continue;
		}
		if (out->len > 0)
			buf_putc(out, ',');
		buf_puts(out, key);
		csr_value(X509_NAME_ENTRY_get_data(e), out);
	}
}

/* The subject of the PEM request in pem[0..n), as the API server's CSR
 * validation reads it (Go: pem.Decode takes the first block, whose type
 * must be "CERTIFICATE REQUEST"; x509.ParseCertificateRequest takes the
 * DER whole, trailing bytes included). 0, or -1 when it would reject it. */
static int
csr_subject(const char *pem, size_t n, struct buf *out)
{
	BIO *bio = NULL;
	char *type = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	long len = 0;
	int rc = -1;

	if (n > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)n)) == NULL ||
	    PEM_read_bio(bio, &type, &header, &der, &len) != 1 ||
	    strcmp(type, "CERTIFICATE REQUEST") != 0)
		goto out;
	p = der;
	if ((req = d2i_X509_REQ(NULL, &p, len)) == NULL || p != der + len)
		goto out;
	csr_name(X509_REQ_get_subject_name(req), out);
	rc = 0;
out:
	X509_REQ_free(req);
	OPENSSL_free(type);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	ERR_clear_error();	/* failures queue errors on this thread */
	return rc;
}

/* ka.csr.subject: ka.object.spec.request is a PEM CertificationRequest,
 * itself base64-encoded (a []byte in JSON). */
static void
csr_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const struct jdoc *d = c->ev->doc;
	const char *b64;
	size_t n;

	buf_reset(&s->csr_subject);
	s->csr_has_subject = 0;
	if (s->object < 0 ||
	    (b64 = jtok_str(d, jtok_path(d, s->object, "spec.request"), &s->tmp, &n)) == NULL)
		return;
	b64_decode_lenient(b64, n, &s->csr_pem);
	if (s->csr_pem.len > 0 && csr_subject(s->csr_pem.data, s->csr_pem.len, &s->csr_subject) == 0)
		s->csr_has_subject = 1;
	else
		buf_reset(&s->csr_subject);
}

static void need(struct evctx *c, uint32_t g);

int
computed_object(struct evctx *c)
{
	need(c, G_OBJ);
	return c->s->object;
}

/* --- identity ------------------------------------------------------------------ */

static void
strvec_reset(struct strvec *v)
{
	buf_reset(&v->b);
	v->n = 0;
}

void
strvec_add(struct strvec *v, const char *prefix, const char *s, size_t n)
{
	size_t start = v->b.len;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->off = xrealloc(v->off, v->cap * sizeof(*v->off));
		v->len = xrealloc(v->len, v->cap * sizeof(*v->len));
	}
	buf_puts(&v->b, prefix);
	buf_append(&v->b, s, n);
	v->off[v->n] = start;
	v->len[v->n++] = v->b.len - start;
}

void
strvec_free(struct strvec *v)
{
	buf_free(&v->b);
	free(v->off);
	free(v->len);
	memset(v, 0, sizeof(*v));
}

/* ka.actor: who the request acted as (the impersonated user, when there
 * is one); ka.actor.identities: that user and its groups, as a binding
 * names them ("user:NAME", "group:NAME"). */
static void
actor_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const struct jdoc *d = c->ev->doc;
	int imp = c->ev->f[EF_IMPERSONATED_NAME] >= 0;
	int who = imp ? c->ev->f[EF_IMPERSONATED_NAME] : c->ev->f[EF_USERNAME];
	int groups = imp ? jtok_getz(d, c->ev->f[EF_IMPERSONATED], "groups") : c->ev->f[EF_GROUPS];
	const char *u;
	size_t n;

	buf_reset(&s->actor);
	strvec_reset(&s->identities);
	s->has_actor = 0;
	if ((u = jtok_str(d, who, &s->tmp, &n)) == NULL)
		return;
	buf_append(&s->actor, u, n);
	s->has_actor = 1;
	strvec_add(&s->identities, "user:", u, n);
	if (jtok_type(d, groups) != JT_ARR)
		return;
	for (int t = jtok_first(d, groups); t >= 0 && s->identities.n < KEY_VALUES_MAX;
	    t = jtok_next(d, groups, t))
		if ((u = jtok_str(d, t, &s->tmp, &n)) != NULL)
			strvec_add(&s->identities, "group:", u, n);
}

/* ka.binding.subjects: the subjects of a RoleBinding or ClusterRoleBinding
 * (ka.object) as identities: "user:NAME", "group:NAME", and
 * "user:system:serviceaccount:NS:NAME" for a service account (NS defaulting
 * to the binding's own namespace), so a binding and a later request by its
 * subject meet on one key. */
static void
subjects_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const struct jdoc *d = c->ev->doc;
	int subj, ns;
	struct buf name;

	strvec_reset(&s->subjects);
	need(c, G_OBJ);
	subj = jtok_getz(d, s->object, "subjects");
	if (jtok_type(d, subj) != JT_ARR)
		return;
	ns = jtok_path(d, s->object, "metadata.namespace");
	if (ns < 0)
		ns = c->ev->f[EF_NAMESPACE];
	buf_init(&name);
	for (int t = jtok_first(d, subj); t >= 0 && s->subjects.n < KEY_VALUES_MAX;
	    t = jtok_next(d, subj, t)) {
		const char *kind, *n, *sns;
		size_t kl, nl, sl;
		if ((kind = jtok_str(d, jtok_getz(d, t, "kind"), &s->tmp, &kl)) == NULL)
			continue;
		if (kl == 14 && memcmp(kind, "ServiceAccount", 14) == 0) {
			buf_reset(&name);
			sns = jtok_str(d, jtok_getz(d, t, "namespace"), &s->tmp, &sl);
			if (sns == NULL)
				sns = jtok_str(d, ns, &s->tmp, &sl);
			buf_puts(&name, "system:serviceaccount:");
			if (sns)
				buf_append(&name, sns, sl);
			buf_putc(&name, ':');
			if ((n = jtok_str(d, jtok_getz(d, t, "name"), &s->tmp, &nl)) == NULL)
				continue;
			buf_append(&name, n, nl);
			strvec_add(&s->subjects, "user:", name.data, name.len);
		} else if ((kl == 4 && memcmp(kind, "User", 4) == 0) ||
		    (kl == 5 && memcmp(kind, "Group", 5) == 0)) {
			int group = kl == 5;
			if ((n = jtok_str(d, jtok_getz(d, t, "name"), &s->tmp, &nl)) == NULL)
				continue;
			strvec_add(&s->subjects, group ? "group:" : "user:", n, nl);
		}
	}
	buf_free(&name);
}

static void
val_list(struct val *v, const struct strvec *l)
{
	if (l->n) {
		v->kind = VAL_LIST;
		v->list = l;
	}
}

/* ka.proxy.path: where a proxy subresource request is forwarded to. */
static void
proxy_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const char *uri;
	size_t len;

	uri = event_str(c->ev, EF_REQUEST_URI, &s->tmp, &len);
	s->proxy_has_path = uri != NULL &&
	    proxy_path(uri, len, &s->proxy_tmp, &s->proxy_path) == 0;
}

static void
need(struct evctx *c, uint32_t g)
{
	struct eval_scratch *s = c->s;

	if (s->have & g)
		return;
	s->have |= g;
	switch (g) {
	case G_EXEC: exec_parse(c); break;
	case G_UA: ua_parse(c); break;
	case G_SRCIP: s->source_ip = source_ip_find(c); break;
	case G_USER: user_parse(c); break;
	case G_OBJ: object_parse(c); break;
	case G_CSR: need(c, G_OBJ); csr_parse(c); break;
	case G_PROXY: proxy_parse(c); break;
	case G_LIST: list_parse(c); break;
	case G_ACTOR: actor_parse(c); break;
	case G_SUBJ: subjects_parse(c); break;
	}
}

void
field_reset(struct eval_scratch *s)
{
	s->have = 0;
}

static void
val_str(struct val *v, const char *s, size_t n, int present)
{
	if (present && s) {
		v->kind = VAL_STR;
		v->s = s;
		v->n = n;
	}
}

static void
val_part(struct val *v, const struct ua_part *p)
{
	val_str(v, p->s, p->n, p->s != NULL);
}

static void
val_userflag(struct evctx *c, struct val *v, int flag)
{
	need(c, G_USER);
	if (c->s->user_flags & U_KNOWN) {
		v->kind = VAL_BOOL;
		v->b = (c->s->user_flags & flag) != 0;
	}
}

static void
val_num(struct val *v, double x, int present)
{
	if (present) {
		v->kind = VAL_NUM;
		v->num = x;
	}
}

/* Whether the tokenizer marked some token of the event: a key repeated in
 * one object, a string that is not UTF-8 (see jtok.h). Free for the events
 * of a document with no mark at all. */
static void
val_docflag(struct evctx *c, struct val *v, unsigned flag)
{
	v->kind = VAL_BOOL;
	v->b = jtok_flags(c->ev->doc, c->ev->root, flag) != 0;
}

/* The raw JSON text of ka.object's data map: one string, so that contains
 * and regex see every key and value of a ConfigMap at once. */
static void
cm_data(struct evctx *c, struct val *v)
{
	const struct jdoc *d = c->ev->doc;
	int t = jtok_getz(d, c->s->object, "data");
	const char *p;
	size_t n;

	if (jtok_type(d, t) != JT_OBJ)
		return;
	p = jtok_raw(d, t, &n);
	val_str(v, p, n, p != NULL);
}

static int
annotation(struct evctx *c, const char *key)
{
	return jtok_getz(c->ev->doc, c->ev->f[EF_ANNOTATIONS], key);
}

/* Scalar computed fields set v; prefix fields return their start token. */
int
computed_eval(const struct field *f, struct evctx *c, struct val *v)
{
	struct eval_scratch *s = c->s;

	switch (f->comp) {
	case KA_EXEC_COMMAND: need(c, G_EXEC);
		val_str(v, s->exec_cmd.data, s->exec_cmd.len, s->exec_has_cmd); break;
	case KA_EXEC_CONTAINER: need(c, G_EXEC);
		val_str(v, s->exec_container.data, s->exec_container.len, s->exec_has_container); break;
	case KA_EXEC_ARGV0: need(c, G_EXEC);
		val_str(v, s->exec_argv0.data, s->exec_argv0.len, s->exec_has_cmd); break;
	case KA_UA_CLIENT: need(c, G_UA); val_part(v, &s->ua_client); break;
	case KA_UA_VERSION: need(c, G_UA); val_part(v, &s->ua_version); break;
	case KA_UA_OS: need(c, G_UA); val_part(v, &s->ua_os); break;
	case KA_UA_ARCH: need(c, G_UA); val_part(v, &s->ua_arch); break;
	case KA_UA_MAJOR: need(c, G_UA); val_num(v, s->ua_major, s->ua_has_major); break;
	case KA_UA_MINOR: need(c, G_UA); val_num(v, s->ua_minor, s->ua_has_minor); break;
	case KA_UA_PATCH: need(c, G_UA); val_num(v, s->ua_patch, s->ua_has_patch); break;
	case KA_SOURCE_IP: need(c, G_SRCIP); return s->source_ip;
	case KA_DECISION: return annotation(c, "authorization.k8s.io/decision");
	case KA_REASON: return annotation(c, "authorization.k8s.io/reason");
	case KA_IS_SA: val_userflag(c, v, U_SA); break;
	case KA_IS_NODE: val_userflag(c, v, U_NODE); break;
	case KA_IS_ANON: val_userflag(c, v, U_ANON); break;
	case KA_SA_NAMESPACE: need(c, G_USER); val_part(v, &s->sa_ns); break;
	case KA_SA_NAME: need(c, G_USER); val_part(v, &s->sa_name); break;
	case KA_OBJECT: need(c, G_OBJ); return s->object;
	case KA_PODSPEC: need(c, G_OBJ); return s->podspec;
	case KA_VOLUMES: need(c, G_OBJ);
		return jtok_getz(c->ev->doc, s->podspec, "volumes");
	case KA_CONTAINERS: need(c, G_OBJ);
		if (s->podspec >= 0) {
			v->kind = VAL_ARRS;
			v->narr = s->ncontainers;
			memcpy(v->arr, s->containers, sizeof(v->arr));
		}
		break;
	case KA_CM_DATA: need(c, G_OBJ); cm_data(c, v); break;
	case KA_CSR_SUBJECT: need(c, G_CSR);
		val_str(v, s->csr_subject.data, s->csr_subject.len, s->csr_has_subject); break;
	case KA_PROXY_PATH: need(c, G_PROXY);
		val_str(v, s->proxy_path.data, s->proxy_path.len, s->proxy_has_path); break;
	case KA_LABEL_SELECTOR: need(c, G_LIST);
		val_str(v, s->label_selector.data, s->label_selector.len, s->has_label_selector); break;
	case KA_FIELD_SELECTOR: need(c, G_LIST);
		val_str(v, s->field_selector.data, s->field_selector.len, s->has_field_selector); break;
	case KA_DUP_KEYS: val_docflag(c, v, JTOK_DUPKEYS); break;
	case KA_BAD_UTF8: val_docflag(c, v, JTOK_BADUTF8); break;
	case KA_ACTOR: need(c, G_ACTOR);
		val_str(v, s->actor.data, s->actor.len, s->has_actor); break;
	case KA_ACTOR_IDENTITIES: need(c, G_ACTOR); val_list(v, &s->identities); break;
	case KA_BINDING_SUBJECTS: need(c, G_SUBJ); val_list(v, &s->subjects); break;
	case KA_COUNT: break;
	}
	return -1;
}
