/* computed.c — the ka.* fields: values worked out from an event rather than
 * read at a path (the exec command from the request URI, the parsed user
 * agent, the first public source IP, what kind of user made the request, the
 * resulting object and its pod spec, the CSR subject, ...).
 *
 * Each group is parsed on first use per event and cached in the per-thread
 * eval_scratch; field_reset() forgets them for the next event. Every parser
 * here reads text an attacker wrote: none may read outside its input, and
 * each must decode exactly as the API server does, or a request can mean one
 * thing to the cluster and another to the rules. */
#include "analyze/rules_impl.h"
#include "base/xmalloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Computed groups, one bit each in eval_scratch.have. */
#define G_EXEC	0x01
#define G_UA	0x02
#define G_SRCIP	0x04
#define G_USER	0x08
#define G_OBJ	0x10
#define G_CSR	0x20

#define U_SA	0x01
#define U_NODE	0x02
#define U_ANON	0x04
#define U_SYSTEM 0x08
#define U_KNOWN	0x10	/* username present */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Query-string decoding: %XX and '+' for space, as Go's url.ParseQuery. */
static void
url_decode(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			buf_putc(out, ' ');
		} else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			buf_putc(out, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			buf_putc(out, s[i]);
		}
	}
}

/* One word of the command: joined to the others by a space; the first
 * one's base name is argv0. Query-string words come URL-encoded. */
static void
exec_word(struct eval_scratch *s, const char *val, size_t vlen, int urlenc)
{
	size_t start;

	if (s->exec_has_cmd)
		buf_putc(&s->exec_cmd, ' ');
	start = s->exec_cmd.len;
	if (urlenc)
		url_decode(val, vlen, &s->exec_cmd);
	else
		buf_append(&s->exec_cmd, val, vlen);
	if (!s->exec_has_cmd) {
		const char *a = s->exec_cmd.data + start, *slash;
		slash = memrchr(a, '/', s->exec_cmd.len - start);
		if (slash)
			a = slash + 1;
		buf_append(&s->exec_argv0, a, s->exec_cmd.len - (size_t)(a - s->exec_cmd.data));
	}
	s->exec_has_cmd = 1;
}

static void
exec_param(struct eval_scratch *s, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	if (nlen == 7 && memcmp(name, "command", 7) == 0) {
		exec_word(s, val, vlen, 1);
	} else if (nlen == 9 && memcmp(name, "container", 9) == 0 &&
	    !s->exec_has_container) {
		url_decode(val, vlen, &s->exec_container);
		s->exec_has_container = 1;
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
				exec_word(s, w, n, 0);
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
	const char *uri, *q, *end;
	size_t len;

	buf_reset(&s->exec_cmd);
	buf_reset(&s->exec_container);
	buf_reset(&s->exec_argv0);
	s->exec_has_cmd = s->exec_has_container = 0;
	uri = event_str(c->ev, EF_REQUEST_URI, &s->tmp, &len);
	if (uri != NULL && (q = memchr(uri, '?', len)) != NULL) {
		end = uri + len;
		for (q++; q < end; ) {
			const char *amp = memchr(q, '&', (size_t)(end - q));
			const char *pend = amp ? amp : end;
			const char *eq = memchr(q, '=', (size_t)(pend - q));
			if (eq)
				exec_param(s, q, (size_t)(eq - q), eq + 1, (size_t)(pend - eq - 1));
			q = pend + 1;
		}
	}
	exec_body(c);
}

static double
ua_number(const char *s, size_t n, size_t *used)
{
	double v = 0;
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9' && i < 9)
		v = v * 10 + (s[i++] - '0');
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

static int
user_is_system(const char *u, size_t n)
{
	static const char *const names[] = {
		"system:apiserver", "system:kube-controller-manager",
		"system:kube-scheduler", "system:kube-proxy",
		"system:cloud-controller-manager", "system:addon-manager",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == strlen(names[i]) && memcmp(u, names[i], n) == 0)
			return 1;
	return has_prefix(u, n, "system:serviceaccount:kube-system:");
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
	if (user_is_system(u, n))
		s->user_flags |= U_SYSTEM;
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

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Base64 into out, skipping line breaks; stops at padding or anything else. */
static void
b64_decode(const char *s, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	int bits = 0;

	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		int v = b64val(s[i]);
		if (v < 0) {
			if (s[i] == '\n' || s[i] == '\r' || s[i] == ' ' || s[i] == '\t')
				continue;
			break;
		}
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf_putc(out, (char)(acc >> bits & 0xff));
		}
	}
}

/* One DER element at *p: its tag, content and length; -1 when malformed. */
static int
der_next(const unsigned char **p, const unsigned char *end,
    const unsigned char **val, size_t *len)
{
	size_t l, k;
	int tag;

	if (end - *p < 2)
		return -1;
	tag = (*p)[0];
	l = (*p)[1];
	*p += 2;
	if (l & 0x80) {
		k = l & 0x7f;
		if (k == 0 || k > 3 || (size_t)(end - *p) < k)
			return -1;
		for (l = 0; k > 0; k--)
			l = l << 8 | *(*p)++;
	}
	if ((size_t)(end - *p) < l)
		return -1;
	*val = *p;
	*len = l;
	*p += l;
	return tag;
}

/* "CN=", "O=" or "OU=" for the attribute types a Kubernetes identity uses. */
static const char *
der_attr_name(const unsigned char *oid, size_t n)
{
	if (n != 3 || oid[0] != 0x55 || oid[1] != 0x04)
		return NULL;
	return oid[2] == 0x03 ? "CN=" : oid[2] == 0x0a ? "O=" : oid[2] == 0x0b ? "OU=" : NULL;
}

/* Appends the CN, O and OU attributes of a DER Name, comma-separated in
 * their order; bytes outside printable ASCII become '?'. */
static void
der_name(const unsigned char *p, const unsigned char *end, struct buf *out)
{
	const unsigned char *set, *atv, *oid, *val, *q, *r;
	size_t nset, natv, noid, nval;

	while (p < end && der_next(&p, end, &set, &nset) == 0x31) {
		for (q = set; q < set + nset && der_next(&q, set + nset, &atv, &natv) == 0x30; ) {
			const char *name;
			r = atv;
			if (der_next(&r, atv + natv, &oid, &noid) != 0x06 ||
			    der_next(&r, atv + natv, &val, &nval) < 0 ||
			    (name = der_attr_name(oid, noid)) == NULL)
				continue;
			if (out->len > 0)
				buf_putc(out, ',');
			buf_append(out, name, strlen(name));
			for (size_t i = 0; i < nval; i++)
				buf_putc(out, val[i] >= 0x20 && val[i] < 0x7f ? (char)val[i] : '?');
		}
	}
}

/* ka.csr.subject: ka.object.spec.request is a PEM CertificationRequest,
 * itself base64-encoded; the subject is the second element of its
 * certificationRequestInfo (after the version). */
static void
csr_parse(struct evctx *c)
{
	struct eval_scratch *s = c->s;
	const struct jdoc *d = c->ev->doc;
	const unsigned char *p, *end, *v;
	const char *pem, *body, *stop;
	size_t n;

	buf_reset(&s->csr_subject);
	s->csr_has_subject = 0;
	if (s->object < 0 ||
	    (pem = jtok_str(d, jtok_path(d, s->object, "spec.request"), &s->tmp, &n)) == NULL)
		return;
	b64_decode(pem, n, &s->csr_der);	/* the PEM text */
	pem = s->csr_der.data;
	n = s->csr_der.len;
	if (n == 0 || (body = memmem(pem, n, "-----\n", 6)) == NULL ||
	    (stop = memmem(body + 6, n - (size_t)(body + 6 - pem), "-----END", 8)) == NULL)
		return;
	body += 6;
	buf_reset(&s->tmp);
	buf_append(&s->tmp, body, (size_t)(stop - body));
	b64_decode(s->tmp.data, s->tmp.len, &s->csr_der);	/* the DER */
	p = (const unsigned char *)s->csr_der.data;
	end = p + s->csr_der.len;
	if (der_next(&p, end, &v, &n) != 0x30)
		return;
	p = v;
	end = v + n;
	if (der_next(&p, end, &v, &n) != 0x30)	/* certificationRequestInfo */
		return;
	p = v;
	end = v + n;
	if (der_next(&p, end, &v, &n) != 0x02 || der_next(&p, end, &v, &n) != 0x30)
		return;
	der_name(v, v + n, &s->csr_subject);
	s->csr_has_subject = 1;
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
	case KA_IS_SYSTEM: val_userflag(c, v, U_SYSTEM); break;
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
	case KA_DUP_KEYS: val_docflag(c, v, JTOK_DUPKEYS); break;
	case KA_BAD_UTF8: val_docflag(c, v, JTOK_BADUTF8); break;
	case KA_COUNT: break;
	}
	return -1;
}
