/* decode_gke.c — rewrites a GKE Cloud Logging audit entry (protoPayload with
 * serviceName k8s.io) as audit.k8s.io/v1 Event JSON, so rules read GKE and
 * apiserver events through the same fields.
 *
 * Cloud Logging spreads the audit record over protoPayload (methodName
 * "io.k8s.core.v1.pods.exec.create", resourceName
 * "core/v1/namespaces/NS/pods/NAME/exec", authenticationInfo,
 * requestMetadata, authorizationInfo, status as a gRPC code) and the entry
 * (timestamp, labels, resource.labels.cluster_name). Values are copied as
 * raw JSON where they are already JSON, so nothing is unescaped and
 * re-escaped; the pieces cut out of methodName/resourceName are escaped
 * afresh. Not the hot path: one allocation per name is fine here. */
#include "ingest/decode_gke.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GKE_MAX_SEG	16

struct gke_span {
	const char	*s;
	size_t		 n;
};

struct gke_ref {
	struct gke_span	 group, version, resource, sub, ns, name, verb;
};

struct gke_out {
	struct buf	*b;
	int		 first;		/* no member written yet in this object */
};

static void
gke_key(struct gke_out *w, const char *key)
{
	if (!w->first)
		buf_putc(w->b, ',');
	w->first = 0;
	if (key == NULL)	/* an array element */
		return;
	buf_json_str(w->b, key, strlen(key));
	buf_putc(w->b, ':');
}

static void
gke_span(struct gke_out *w, const char *key, struct gke_span v)
{
	if (v.s == NULL)
		return;
	gke_key(w, key);
	buf_json_str(w->b, v.s, v.n);
}

/* Copies the JSON of token t (any type) as member key; absent is skipped. */
static void
gke_raw(struct gke_out *w, const char *key, const struct jdoc *d, int t)
{
	const char *raw;
	size_t n;

	if (t < 0 || d->tok[t].type == JT_NULL)
		return;
	raw = jtok_raw(d, t, &n);
	gke_key(w, key);
	buf_append(w->b, raw, n);
}

static void
gke_open(struct gke_out *w, const char *key, char bracket)
{
	gke_key(w, key);
	buf_putc(w->b, bracket);
	w->first = 1;
}

static void
gke_close(struct gke_out *w, char bracket)
{
	buf_putc(w->b, bracket);
	w->first = 0;
}

static int
gke_split(const char *s, char sep, struct gke_span *seg)
{
	int n = 0;
	const char *e;

	for (;;) {
		e = strchr(s, sep);
		if (n == GKE_MAX_SEG)
			return n;
		seg[n].s = s;
		seg[n].n = e ? (size_t)(e - s) : strlen(s);
		n++;
		if (e == NULL)
			return n;
		s = e + 1;
	}
}

static int
gke_is_version(struct gke_span v)
{
	return v.n >= 2 && v.s[0] == 'v' && v.s[1] >= '0' && v.s[1] <= '9';
}

static int
gke_is(struct gke_span v, const char *s)
{
	return v.n == strlen(s) && memcmp(v.s, s, v.n) == 0;
}

/* "io.k8s.GROUP.VERSION.RESOURCE[.SUB].VERB": the version segment anchors
 * the split, so dotted group names (CRDs) survive. */
static void
gke_method(const char *m, struct gke_ref *r)
{
	struct gke_span seg[GKE_MAX_SEG];
	int n, v;

	if (strncmp(m, "io.k8s.", 7) == 0)
		m += 7;
	n = gke_split(m, '.', seg);
	for (v = 1; v < n && !gke_is_version(seg[v]); v++)
		;
	if (v + 2 >= n)
		return;
	r->group.s = seg[0].s;
	r->group.n = (size_t)(seg[v - 1].s + seg[v - 1].n - seg[0].s);
	r->version = seg[v];
	r->resource = seg[v + 1];
	if (v + 3 < n)
		r->sub = seg[v + 2];
	r->verb = seg[n - 1];
}

/* "GROUP/VERSION/[namespaces/NS/]RESOURCE[/NAME[/SUB]]"; a leading '/' is a
 * non-resource URL and names no object. */
static void
gke_resource(const char *s, struct gke_ref *r)
{
	struct gke_span seg[GKE_MAX_SEG], *rest;
	int n;

	if (*s == '/' || *s == '\0')
		return;
	n = gke_split(s, '/', seg);
	if (n < 3)
		return;
	r->group = seg[0];
	r->version = seg[1];
	rest = seg + 2;
	n -= 2;
	if (n >= 3 && gke_is(rest[0], "namespaces")) {
		r->ns = rest[1];
		rest += 2;
		n -= 2;
	}
	r->resource = rest[0];
	if (n >= 2)
		r->name = rest[1];
	if (n >= 3)
		r->sub = rest[2];
}

/* Cloud Logging abbreviates API groups in methodName ("rbac" for
 * rbac.authorization.k8s.io); resourceName spells them out. */
static int
gke_abbreviated(struct gke_span g)
{
	static const char *plain[] = { "apps", "batch", "autoscaling", "policy", "extensions" };

	if (memchr(g.s, '.', g.n))
		return 0;
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (gke_is(g, plain[i]))
			return 0;
	return 1;
}

static void
gke_group(struct gke_out *w, struct gke_span g)
{
	struct buf full;

	if (g.s == NULL || gke_is(g, "core"))
		return;
	if (!gke_abbreviated(g)) {
		gke_span(w, "apiGroup", g);
		return;
	}
	buf_init(&full);
	buf_append(&full, g.s, g.n);
	if (gke_is(g, "rbac"))
		buf_puts(&full, ".authorization");
	else if (gke_is(g, "flowcontrol"))
		buf_puts(&full, ".apiserver");
	buf_puts(&full, ".k8s.io");
	gke_span(w, "apiGroup", (struct gke_span){ full.data, full.len });
	buf_free(&full);
}

static void
gke_object_ref(struct gke_out *w, const struct gke_ref *r)
{
	if (r->resource.s == NULL)
		return;
	gke_open(w, "objectRef", '{');
	gke_span(w, "resource", r->resource);
	gke_span(w, "subresource", r->sub);
	gke_span(w, "namespace", r->ns);
	gke_span(w, "name", r->name);
	gke_group(w, r->group);
	gke_span(w, "apiVersion", r->version);
	gke_close(w, '}');
}

/* google.rpc.Code to the HTTP status the apiserver answered. */
static int
gke_http_code(const struct jdoc *d, int status)
{
	static const int map[][2] = {
		{ 0, 200 }, { 3, 400 }, { 5, 404 }, { 6, 409 }, { 7, 403 },
		{ 16, 401 }, { 10, 409 }, { 8, 429 }, { 14, 503 }, { 4, 504 },
	};
	double v = 0;

	jtok_num(d, jtok_getz(d, status, "code"), &v);
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (v == map[i][0])
			return map[i][1];
	return 500;
}

static void
gke_status(struct gke_out *w, const struct jdoc *d, int pp)
{
	int status = jtok_getz(d, pp, "status");
	char code[16];

	gke_open(w, "responseStatus", '{');
	gke_key(w, "code");
	snprintf(code, sizeof(code), "%d", gke_http_code(d, status));
	buf_puts(w->b, code);
	gke_raw(w, "message", d, jtok_getz(d, status, "message"));
	gke_close(w, '}');
}

/* The entry's labels carry the apiserver's own annotations when present;
 * otherwise the decision follows authorizationInfo[].granted. */
static void
gke_annotations(struct gke_out *w, const struct jdoc *d, int entry, int pp)
{
	static const char dk[] = "authorization.k8s.io/decision", rk[] = "authorization.k8s.io/reason";
	int labels = jtok_getz(d, entry, "labels"), ai = jtok_getz(d, pp, "authorizationInfo");
	int decision = jtok_getz(d, labels, dk), reason = jtok_getz(d, labels, rk);
	int granted = -1;

	for (int a = jtok_first(d, ai); jtok_type(d, ai) == JT_ARR && a >= 0; a = jtok_next(d, ai, a)) {
		switch (jtok_type(d, jtok_getz(d, a, "granted"))) {
		case JT_TRUE:
			if (granted < 0)
				granted = 1;
			break;
		case JT_FALSE:
			granted = 0;
			break;
		default:
			break;
		}
	}
	if (decision < 0 && reason < 0 && granted < 0)
		return;
	gke_open(w, "annotations", '{');
	if (decision >= 0)
		gke_raw(w, dk, d, decision);
	else if (granted >= 0)
		gke_span(w, dk, granted ? (struct gke_span){ "allow", 5 } : (struct gke_span){ "forbid", 6 });
	gke_raw(w, rk, d, reason);
	gke_close(w, '}');
}

static void
gke_user(struct gke_out *w, const struct jdoc *d, int pp)
{
	int email = jtok_path(d, pp, "authenticationInfo.principalEmail");
	int rm = jtok_getz(d, pp, "requestMetadata");
	int ip = jtok_getz(d, rm, "callerIp");

	if (email >= 0) {
		gke_open(w, "user", '{');
		gke_raw(w, "username", d, email);
		gke_close(w, '}');
	}
	if (ip < 0)
		ip = jtok_getz(d, rm, "callerIP");
	if (jtok_type(d, ip) == JT_STR) {
		gke_open(w, "sourceIPs", '[');
		gke_raw(w, NULL, d, ip);
		gke_close(w, ']');
	}
	gke_raw(w, "userAgent", d, jtok_getz(d, rm, "callerSuppliedUserAgent"));
}

static void
gke_names(struct gke_out *w, const struct jdoc *d, int pp)
{
	char *method = jtok_strdup(d, jtok_getz(d, pp, "methodName"));
	char *res = jtok_strdup(d, jtok_getz(d, pp, "resourceName"));
	struct gke_ref r;

	memset(&r, 0, sizeof(r));
	if (method)
		gke_method(method, &r);
	if (res)
		gke_resource(res, &r);
	gke_span(w, "verb", r.verb);
	if (jtok_getz(d, pp, "requestURI") >= 0)
		gke_raw(w, "requestURI", d, jtok_getz(d, pp, "requestURI"));
	else if (res && res[0] == '/')
		gke_span(w, "requestURI", (struct gke_span){ res, strlen(res) });
	gke_object_ref(w, &r);
	free(method);
	free(res);
}

void
decode_gke(const struct jdoc *d, int entry, struct buf *out)
{
	struct gke_out w = { out, 0 };
	int pp = jtok_getz(d, entry, "protoPayload");
	int id = jtok_path(d, entry, "operation.id");
	int ts = jtok_getz(d, entry, "timestamp"), rts = jtok_getz(d, entry, "receiveTimestamp");

	buf_puts(out, "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\"");
	if (jtok_type(d, id) != JT_STR)
		id = jtok_getz(d, entry, "insertId");
	if (jtok_type(d, id) == JT_STR)
		gke_raw(&w, "auditID", d, id);
	buf_puts(out, ",\"stage\":\"ResponseComplete\"");
	gke_names(&w, d, pp);
	gke_user(&w, d, pp);
	gke_status(&w, d, pp);
	gke_raw(&w, "requestObject", d, jtok_getz(d, pp, "request"));
	gke_raw(&w, "responseObject", d, jtok_getz(d, pp, "response"));
	gke_raw(&w, "requestReceivedTimestamp", d, ts);
	gke_raw(&w, "stageTimestamp", d, rts >= 0 ? rts : ts);
	gke_annotations(&w, d, entry, pp);
	buf_putc(out, '}');
}

int
decode_gke_cluster(const struct jdoc *d, int entry, struct buf *out)
{
	int t = jtok_path(d, entry, "resource.labels.cluster_name");
	char *name = jtok_strdup(d, t);
	int rc = -1;

	if (name && *name) {
		buf_puts(out, name);
		rc = 0;
	}
	free(name);
	return rc;
}
