/* falcofield.c — the fields Falco rules read from an audit event: every
 * ka.* field of the k8saudit plugin and the json plugin's json.* / jevt.*
 * fields, as their READMEs document them, read the way the plugins read
 * them (which matters for detections Falco's users already rely on).
 *
 * A value is always a string: a JSON string is its content, anything else
 * its JSON text (a number "201", a boolean "true", an object as written).
 * A field is "not available" when the event lacks it, and then every
 * comparison on it is false, as in Falco. A list field that comes out
 * empty is not available either: Falco's libs treat an extraction of no
 * values as a failed one. */
#include "analyze/falco.h"
#include "base/timefmt.h"
#include "base/url.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FF_LIST		0x01	/* a list of strings */
#define FF_KEY		0x02	/* needs [argument] */
#define FF_INDEX	0x04	/* may take [N]: that element only */

enum fx {
	X_KEYS, X_KEYS_LIST, X_URI_PARAM, X_HAS_NAME, X_CTR, X_CTR_FIRST, X_ANY_PRIV,
	X_RULES, X_VOL, X_VOL_TYPE, X_VOL_HOSTPATH, X_SUBJ, X_POD_NAME, X_CLUSTER,
	X_JVALUE, X_JOBJ, X_RAWTIME,
};

/* How a per-container value is read (X_CTR): as the k8saudit plugin does. */
enum cmode {
	C_STRICT,	/* a container without the value: the field is not available */
	C_SKIPNIL,	/* a container without it is skipped */
	C_IMAGE, C_REPO, C_HOSTPORT,
	C_EFF,		/* the container's, else the pod's, else "0" */
};

struct fdef {
	const char	*name;
	unsigned	 flags;
	enum fx		 x;
	const char	*k[4];		/* keys: a path, or below each container */
	const char	*ctr;		/* containers, initContainers, ephemeralContainers */
	enum cmode	 mode;
};

#define CTR(pre, arr) \
	{ pre ".name", FF_LIST | FF_INDEX, X_CTR, { "name" }, arr, C_STRICT }, \
	{ pre ".image", FF_LIST | FF_INDEX, X_CTR, { "image" }, arr, C_IMAGE }, \
	{ pre ".image.repository", FF_LIST | FF_INDEX, X_CTR, { "image" }, arr, C_REPO }, \
	{ pre ".command", FF_LIST | FF_INDEX, X_CTR, { "command" }, arr, C_STRICT }, \
	{ pre ".args", FF_LIST | FF_INDEX, X_CTR, { "args" }, arr, C_STRICT }, \
	{ pre ".privileged", FF_LIST | FF_INDEX, X_CTR, { "securityContext", "privileged" }, \
	    arr, C_SKIPNIL }, \
	{ pre ".allow_privilege_escalation", FF_LIST | FF_INDEX, X_CTR, \
	    { "securityContext", "allowPrivilegeEscalation" }, arr, C_STRICT }, \
	{ pre ".read_only_fs", FF_LIST | FF_INDEX, X_CTR, \
	    { "securityContext", "readOnlyRootFilesystem" }, arr, C_STRICT }, \
	{ pre ".run_as_user", FF_LIST | FF_INDEX, X_CTR, { "securityContext", "runAsUser" }, \
	    arr, C_STRICT }, \
	{ pre ".eff_run_as_user", FF_LIST | FF_INDEX, X_CTR, { "runAsUser" }, arr, C_EFF }, \
	{ pre ".run_as_group", FF_LIST | FF_INDEX, X_CTR, { "securityContext", "runAsGroup" }, \
	    arr, C_STRICT }, \
	{ pre ".eff_run_as_group", FF_LIST | FF_INDEX, X_CTR, { "runAsGroup" }, arr, C_EFF }, \
	{ pre ".proc_mount", FF_LIST | FF_INDEX, X_CTR, { "securityContext", "procMount" }, \
	    arr, C_STRICT }, \
	{ pre ".add_capabilities", FF_LIST | FF_INDEX, X_CTR, \
	    { "securityContext", "capabilities", "add" }, arr, C_STRICT }

static const struct fdef fdefs[] = {
	{ "ka.auditid", 0, X_KEYS, { "auditID" }, NULL, 0 },
	{ "ka.stage", 0, X_KEYS, { "stage" }, NULL, 0 },
	{ "ka.auth.decision", 0, X_KEYS, { "annotations", "authorization.k8s.io/decision" }, NULL, 0 },
	{ "ka.auth.reason", 0, X_KEYS, { "annotations", "authorization.k8s.io/reason" }, NULL, 0 },
	{ "ka.auth.openshift.decision", 0, X_KEYS,
	    { "annotations", "authentication.openshift.io/decision" }, NULL, 0 },
	{ "ka.auth.openshift.username", 0, X_KEYS,
	    { "annotations", "authentication.openshift.io/username" }, NULL, 0 },
	{ "ka.validations.admission.policy.failure", 0, X_KEYS,
	    { "annotations", "validation.policy.admission.k8s.io/validation_failure" }, NULL, 0 },
	{ "ka.security.pod.violations", 0, X_KEYS,
	    { "annotations", "pod-security.kubernetes.io/audit-violations" }, NULL, 0 },
	{ "ka.user.name", 0, X_KEYS, { "user", "username" }, NULL, 0 },
	{ "ka.user.groups", FF_LIST, X_KEYS_LIST, { "user", "groups" }, NULL, 0 },
	{ "ka.impuser.name", 0, X_KEYS, { "impersonatedUser", "username" }, NULL, 0 },
	{ "ka.verb", 0, X_KEYS, { "verb" }, NULL, 0 },
	{ "ka.uri", 0, X_KEYS, { "requestURI" }, NULL, 0 },
	{ "ka.uri.param", FF_KEY, X_URI_PARAM, { "requestURI" }, NULL, 0 },
	{ "ka.target.name", 0, X_KEYS, { "objectRef", "name" }, NULL, 0 },
	{ "ka.target.namespace", 0, X_KEYS, { "objectRef", "namespace" }, NULL, 0 },
	{ "ka.target.resource", 0, X_KEYS, { "objectRef", "resource" }, NULL, 0 },
	{ "ka.target.subresource", 0, X_KEYS, { "objectRef", "subresource" }, NULL, 0 },
	{ "ka.target.pod.name", 0, X_POD_NAME, { "objectRef", "name" }, NULL, 0 },
	{ "ka.req.binding.subjects", FF_LIST, X_KEYS_LIST, { "requestObject", "subjects" }, NULL, 0 },
	{ "ka.req.binding.subjects.user_names", FF_LIST, X_SUBJ, { "User" }, NULL, 0 },
	{ "ka.req.binding.subjects.serviceaccount_names", FF_LIST, X_SUBJ, { "ServiceAccount" },
	    NULL, 0 },
	{ "ka.req.binding.subjects.serviceaccount_ns_names", FF_LIST, X_SUBJ,
	    { "ServiceAccount", "ns" }, NULL, 0 },
	{ "ka.req.binding.subjects.group_names", FF_LIST, X_SUBJ, { "Group" }, NULL, 0 },
	{ "ka.req.binding.role", 0, X_KEYS, { "requestObject", "roleRef", "name" }, NULL, 0 },
	{ "ka.req.binding.subject.has_name", FF_KEY, X_HAS_NAME, { NULL }, NULL, 0 },
	{ "ka.req.configmap.name", 0, X_KEYS, { "objectRef", "name" }, NULL, 0 },
	{ "ka.req.configmap.obj", 0, X_KEYS, { "requestObject", "data" }, NULL, 0 },
	CTR("ka.req.pod.containers", "containers"),
	{ "ka.req.pod.containers.host_port", FF_LIST | FF_INDEX, X_CTR, { "ports" }, "containers",
	    C_HOSTPORT },
	CTR("ka.req.pod.initContainers", "initContainers"),
	{ "ka.req.pod.initContainers.host_port", FF_LIST | FF_INDEX, X_CTR, { "ports" },
	    "initContainers", C_HOSTPORT },
	CTR("ka.req.pod.ephemeralContainers", "ephemeralContainers"),
	{ "ka.req.container.image", 0, X_CTR_FIRST, { "image" }, "containers", C_IMAGE },
	{ "ka.req.container.image.repository", 0, X_CTR_FIRST, { "image" }, "containers", C_REPO },
	{ "ka.req.container.privileged", 0, X_ANY_PRIV, { NULL }, "containers", 0 },
	{ "ka.req.pod.host_ipc", 0, X_KEYS, { "requestObject", "spec", "hostIPC" }, NULL, 0 },
	{ "ka.req.pod.host_network", 0, X_KEYS, { "requestObject", "spec", "hostNetwork" }, NULL, 0 },
	{ "ka.req.container.host_network", 0, X_KEYS, { "requestObject", "spec", "hostNetwork" },
	    NULL, 0 },
	{ "ka.req.pod.host_pid", 0, X_KEYS, { "requestObject", "spec", "hostPID" }, NULL, 0 },
	{ "ka.req.pod.run_as_user", 0, X_KEYS,
	    { "requestObject", "spec", "securityContext", "runAsUser" }, NULL, 0 },
	{ "ka.req.pod.run_as_group", 0, X_KEYS,
	    { "requestObject", "spec", "securityContext", "runAsGroup" }, NULL, 0 },
	{ "ka.req.pod.fs_group", 0, X_KEYS,
	    { "requestObject", "spec", "securityContext", "fsGroup" }, NULL, 0 },
	{ "ka.req.pod.supplemental_groups", FF_LIST, X_KEYS_LIST,
	    { "requestObject", "spec", "securityContext", "supplementalGroups" }, NULL, 0 },
	{ "ka.req.role.rules", FF_LIST, X_KEYS_LIST, { "requestObject", "rules" }, NULL, 0 },
	{ "ka.req.role.rules.apiGroups", FF_LIST | FF_INDEX, X_RULES, { "apiGroups" }, NULL, 0 },
	{ "ka.req.role.rules.nonResourceURLs", FF_LIST | FF_INDEX, X_RULES, { "nonResourceURLs" },
	    NULL, 0 },
	{ "ka.req.role.rules.verbs", FF_LIST | FF_INDEX, X_RULES, { "verbs" }, NULL, 0 },
	{ "ka.req.role.rules.resources", FF_LIST | FF_INDEX, X_RULES, { "resources" }, NULL, 0 },
	{ "ka.req.service.type", 0, X_KEYS, { "requestObject", "spec", "type" }, NULL, 0 },
	{ "ka.req.service.ports", FF_LIST | FF_INDEX, X_KEYS_LIST, { "requestObject", "spec", "ports" },
	    NULL, 0 },
	{ "ka.req.volume.hostpath", FF_KEY, X_VOL_HOSTPATH, { "hostPath", "path" }, NULL, 0 },
	{ "ka.req.pod.volumes.hostpath", FF_LIST | FF_INDEX, X_VOL, { "hostPath", "path" }, NULL, 0 },
	{ "ka.req.pod.volumes.flexvolume_driver", FF_LIST | FF_INDEX, X_VOL,
	    { "flexVolume", "driver" }, NULL, 0 },
	{ "ka.req.pod.volumes.volume_type", FF_LIST | FF_INDEX, X_VOL_TYPE, { NULL }, NULL, 0 },
	{ "ka.resp.name", 0, X_KEYS, { "responseObject", "metadata", "name" }, NULL, 0 },
	{ "ka.response.code", 0, X_KEYS, { "responseStatus", "code" }, NULL, 0 },
	{ "ka.response.reason", 0, X_KEYS, { "responseStatus", "reason" }, NULL, 0 },
	{ "ka.useragent", 0, X_KEYS, { "userAgent" }, NULL, 0 },
	{ "ka.sourceips", FF_LIST | FF_INDEX, X_KEYS_LIST, { "sourceIPs" }, NULL, 0 },
	{ "ka.cluster.name", 0, X_CLUSTER, { NULL }, NULL, 0 },
	{ "json.value", FF_KEY, X_JVALUE, { NULL }, NULL, 0 },
	{ "json.obj", 0, X_JOBJ, { NULL }, NULL, 0 },
	{ "json.rawtime", 0, X_RAWTIME, { NULL }, NULL, 0 },
	{ "jevt.value", FF_KEY, X_JVALUE, { NULL }, NULL, 0 },
	{ "jevt.obj", 0, X_JOBJ, { NULL }, NULL, 0 },
	{ "jevt.rawtime", 0, X_RAWTIME, { NULL }, NULL, 0 },
};

#define NFDEFS	(sizeof(fdefs) / sizeof(fdefs[0]))

int
ffield_is_list(const struct ffield *f)
{
	return (f->def->flags & FF_LIST) != 0;
}

/* --- parsing ---------------------------------------------------------------------- */

/* RFC 6901: '/'-separated tokens, ~1 is '/' and ~0 is '~'. */
static int
jptr_parse(struct arena *a, struct ffield *f, char *err, size_t errlen)
{
	const char *p = f->arg, *end = f->arg + f->argn;
	size_t n = 0;

	if (f->argn > 0 && *p != '/') {
		snprintf(err, errlen, "%s: a JSON pointer starts with '/'", f->name);
		return -1;
	}
	for (const char *q = p; q < end; q++)
		n += *q == '/';
	f->ptr = arena_alloc(a, sizeof(*f->ptr) * (n ? n : 1));
	while (p < end) {
		const char *tok = ++p, *stop = memchr(tok, '/', (size_t)(end - tok));
		char *o;
		size_t k = 0;
		if (stop == NULL)
			stop = end;
		o = arena_alloc(a, (size_t)(stop - tok) + 1);
		for (const char *q = tok; q < stop; q++) {
			if (*q != '~') {
				o[k++] = *q;
			} else if (q + 1 < stop && (q[1] == '0' || q[1] == '1')) {
				o[k++] = *++q == '0' ? '~' : '/';
			} else {
				snprintf(err, errlen, "%s: bad escape in JSON pointer (~0 or ~1)", f->name);
				return -1;
			}
		}
		f->ptr[f->nptr++] = o;
		p = stop;
	}
	return 0;
}

static const struct fdef *
fdef_longest(const char *s, size_t n)
{
	const struct fdef *best = NULL;
	size_t bestlen = 0;

	for (size_t i = 0; i < NFDEFS; i++) {
		size_t l = strlen(fdefs[i].name);
		if (l > bestlen && l <= n && memcmp(s, fdefs[i].name, l) == 0 &&
		    (l == n || !(isalnum((unsigned char)s[l]) || s[l] == '_' ||
		    (s[l] == '.' && l + 1 < n && isalpha((unsigned char)s[l + 1]))))) {
			best = &fdefs[i];
			bestlen = l;
		}
	}
	return best;
}

static int
ffield_arg(struct ffield *f, const char *s, size_t n, size_t *used, char *err, size_t errlen)
{
	const char *close;

	if (*used >= n || s[*used] != '[') {
		if (f->def->flags & FF_KEY) {
			snprintf(err, errlen, "%s needs an argument: %s[...]", f->def->name, f->def->name);
			return -1;
		}
		return 0;
	}
	if ((close = memchr(s + *used, ']', n - *used)) == NULL) {
		snprintf(err, errlen, "%s: '[' without ']'", f->def->name);
		return -1;
	}
	f->arg = s + *used + 1;
	f->argn = (size_t)(close - f->arg);
	*used = (size_t)(close - s) + 1;
	if (f->argn >= 2 && (f->arg[0] == '"' || f->arg[0] == '\'') &&
	    f->arg[f->argn - 1] == f->arg[0]) {
		f->arg++;
		f->argn -= 2;
	}
	if (f->def->flags & FF_KEY)
		return f->argn == 0 ? (snprintf(err, errlen, "%s: empty argument", f->def->name), -1) : 0;
	if (!(f->def->flags & FF_INDEX)) {
		snprintf(err, errlen, "%s takes no argument", f->def->name);
		return -1;
	}
	f->index = 0;
	for (size_t i = 0; i < f->argn; i++) {
		if (!isdigit((unsigned char)f->arg[i]) || f->index > 100000000) {
			snprintf(err, errlen, "%s: the argument is an index, [0], [1], ...", f->def->name);
			return -1;
		}
		f->index = f->index * 10 + (f->arg[i] - '0');
	}
	return f->argn ? 0 : (snprintf(err, errlen, "%s: empty index", f->def->name), -1);
}

struct ffield *
ffield_parse(struct arena *a, const char *s, size_t n, int whole, size_t *used,
    char *err, size_t errlen)
{
	const struct fdef *d = fdef_longest(s, n);
	struct ffield *f;
	size_t u;

	if (d == NULL || (whole && strlen(d->name) != (size_t)(memchr(s, '[', n) ?
	    (size_t)((const char *)memchr(s, '[', n) - s) : n))) {
		size_t w = 0;
		while (w < n && s[w] != '[' && w < 80)
			w++;
		snprintf(err, errlen, "unknown field \"%.*s\" (the k8saudit plugin's ka.* "
		    "fields and the json plugin's json.*/jevt.* fields are supported)", (int)w, s);
		return NULL;
	}
	f = arena_alloc(a, sizeof(*f));
	f->def = d;
	f->index = -1;
	u = strlen(d->name);
	if (ffield_arg(f, s, n, &u, err, errlen) < 0)
		return NULL;
	if (whole && u != n) {
		snprintf(err, errlen, "unexpected text after field %s", d->name);
		return NULL;
	}
	f->name = arena_strndup(a, s, u);
	if (f->arg)
		f->arg = arena_strndup(a, f->arg, f->argn);
	if (d->x == X_JVALUE && jptr_parse(a, f, err, errlen) < 0)
		return NULL;
	*used = u;
	return f;
}

/* --- reading values ---------------------------------------------------------------- */

static void
add(struct evctx *c, const char *s, size_t n)
{
	strvec_add(&c->s->fvals, "", s, n);
}

/* A JSON value as the plugins turn it into a string: a string's content,
 * the JSON text of anything else. */
static void
add_tok(struct evctx *c, int t)
{
	const struct jdoc *d = c->ev->doc;
	const char *s;
	size_t n;

	if (jtok_type(d, t) == JT_STR)
		s = jtok_str(d, t, &c->s->ftmp, &n);
	else
		s = jtok_raw(d, t, &n);
	add(c, s, n);
}

static int
keys(const struct jdoc *d, int t, const char *const *k, size_t nk)
{
	for (size_t i = 0; i < nk && k[i] && t >= 0; i++)
		t = jtok_type(d, t) == JT_OBJ ? jtok_getz(d, t, k[i]) : -1;
	return t;
}

/* The array at path, or only its [index] element when the field has one:
 * calls fn for each element; -1 when the array is missing. */
typedef void each_fn(struct evctx *c, const struct ffield *f, int t, void *arg);

static int
each(struct evctx *c, const struct ffield *f, int arr, each_fn *fn, void *arg)
{
	const struct jdoc *d = c->ev->doc;

	if (jtok_type(d, arr) != JT_ARR)
		return -1;
	if (f->index >= 0) {
		int t = jtok_at(d, arr, (uint32_t)f->index);
		if (t < 0)
			return -1;
		fn(c, f, t, arg);
		return 0;
	}
	for (int t = jtok_first(d, arr); t >= 0; t = jtok_next(d, arr, t))
		fn(c, f, t, arg);
	return 0;
}

static void
elem_string(struct evctx *c, const struct ffield *f, int t, void *arg)
{
	add_tok(c, t);
}

static void
image_part(struct evctx *c, const struct ffield *f, int img)
{
	const struct jdoc *d = c->ev->doc;
	const char *s;
	size_t n, k;

	if (jtok_type(d, img) != JT_STR) {
		if (img >= 0)
			add_tok(c, img);
		return;
	}
	s = jtok_str(d, img, &c->s->ftmp, &n);
	if (f->def->mode == C_REPO) {
		/* the plugin's split: before the first ':', then before the first '@' */
		for (k = 0; k < n && s[k] != ':'; k++)
			;
		n = k;
		for (k = 0; k < n && s[k] != '@'; k++)
			;
		n = k;
	}
	add(c, s, n);
}

static void
host_ports(struct evctx *c, int ports)
{
	const struct jdoc *d = c->ev->doc;

	if (jtok_type(d, ports) != JT_ARR)
		return;
	for (int p = jtok_first(d, ports); p >= 0; p = jtok_next(d, ports, p)) {
		int v = jtok_type(d, p) == JT_OBJ ? jtok_getz(d, p, "hostPort") : -1;
		if (v < 0 && jtok_type(d, p) == JT_OBJ)
			v = jtok_getz(d, p, "containerPort");
		if (v >= 0)
			add_tok(c, v);
	}
}

struct ctr_walk {
	int	 pod;		/* C_EFF: the pod's value, or -1 */
	int	 failed;	/* a value the plugin cannot read: the field is not available */
};

static void
ctr_one(struct evctx *c, const struct ffield *f, int ctr, void *arg)
{
	struct ctr_walk *ctr_state = arg;
	const struct jdoc *d = c->ev->doc;
	const struct fdef *def = f->def;
	int v = keys(d, ctr, def->k, 4);

	switch (def->mode) {
	case C_IMAGE: case C_REPO:
		if (v < 0)
			ctr_state->failed = 1;
		else
			image_part(c, f, v);
		break;
	case C_HOSTPORT:
		host_ports(c, v);
		break;
	case C_EFF:
		v = keys(d, jtok_getz(d, ctr, "securityContext"), def->k, 1);
		if (v >= 0)
			add_tok(c, v);
		else if (ctr_state->pod >= 0)
			add_tok(c, ctr_state->pod);
		else
			add(c, "0", 1);
		break;
	case C_SKIPNIL:
		if (v >= 0)
			add_tok(c, v);
		break;
	case C_STRICT:
		if (v < 0)
			ctr_state->failed = 1;
		else
			add_tok(c, v);
		break;
	}
}

static long
ctr_extract(struct evctx *c, const struct ffield *f)
{
	const struct jdoc *d = c->ev->doc;
	int spec = keys(d, c->ev->f[EF_REQUEST_OBJECT], (const char *const[]){ "spec" }, 1);
	struct ctr_walk w = { -1, 0 };

	if (f->def->mode == C_EFF)
		w.pod = keys(d, jtok_getz(d, spec, "securityContext"), f->def->k, 1);
	if (each(c, f, jtok_type(d, spec) == JT_OBJ ? jtok_getz(d, spec, f->def->ctr) : -1,
	    ctr_one, &w) < 0 || w.failed)
		return -1;
	return (long)c->s->fvals.n;
}

static void
rule_part(struct evctx *c, const struct ffield *f, int rule, void *arg)
{
	const struct jdoc *d = c->ev->doc;
	int arr = keys(d, rule, f->def->k, 1);

	if (jtok_type(d, arr) != JT_ARR)
		return;
	for (int t = jtok_first(d, arr); t >= 0; t = jtok_next(d, arr, t))
		if (jtok_type(d, t) != JT_NULL)
			add_tok(c, t);
}

static void
vol_part(struct evctx *c, const struct ffield *f, int vol, void *arg)
{
	int v = keys(c->ev->doc, vol, f->def->k, 4);

	if (v >= 0)
		add_tok(c, v);
}

static void
vol_type(struct evctx *c, const struct ffield *f, int vol, void *arg)
{
	const struct jdoc *d = c->ev->doc;

	if (jtok_type(d, vol) != JT_OBJ)
		return;
	for (int k = jtok_first(d, vol); k >= 0; k = jtok_next(d, vol, k))
		if (!jtok_str_eq(d, k, "name", 4))
			add_tok(c, k);
}

static void
subj_part(struct evctx *c, const struct ffield *f, int subj, void *arg)
{
	const struct jdoc *d = c->ev->doc;
	int kind = jtok_getz(d, subj, "kind"), name = jtok_getz(d, subj, "name");
	const char *s;
	size_t n;

	if (jtok_type(d, subj) != JT_OBJ || !jtok_str_eq(d, kind, f->def->k[0],
	    strlen(f->def->k[0])) || jtok_type(d, name) != JT_STR)
		return;
	if (f->def->k[1] == NULL) {
		add_tok(c, name);
		return;
	}
	buf_reset(&c->s->ftmp2);
	s = jtok_str(d, jtok_getz(d, subj, "namespace"), &c->s->ftmp, &n);
	if (s)
		buf_append(&c->s->ftmp2, s, n);
	buf_putc(&c->s->ftmp2, ':');
	s = jtok_str(d, name, &c->s->ftmp, &n);
	buf_append(&c->s->ftmp2, s, n);
	add(c, c->s->ftmp2.data, c->s->ftmp2.len);
}

static int
jptr_find(struct evctx *c, const struct ffield *f)
{
	const struct jdoc *d = c->ev->doc;
	int t = c->ev->root;

	for (size_t i = 0; i < f->nptr && t >= 0; i++) {
		const char *k = f->ptr[i];
		char *end;
		unsigned long idx;
		if (jtok_type(d, t) == JT_OBJ) {
			t = jtok_getz(d, t, k);
		} else if (jtok_type(d, t) == JT_ARR && isdigit((unsigned char)k[0]) &&
		    (k[0] != '0' || k[1] == '\0')) {
			idx = strtoul(k, &end, 10);
			t = *end == '\0' && idx < UINT32_MAX ? jtok_at(d, t, (uint32_t)idx) : -1;
		} else {
			t = -1;
		}
	}
	return t;
}

/* Nanoseconds since the epoch of the event's time, as Falco's evt.rawtime
 * for a plugin event: stageTimestamp, else requestReceivedTimestamp. */
static long
rawtime(struct evctx *c)
{
	const struct jdoc *d = c->ev->doc;
	int t = c->ev->f[EF_STAGE_TS] >= 0 ? c->ev->f[EF_STAGE_TS] : c->ev->f[EF_RECEIVED_TS];
	size_t n = 0;
	const char *s = jtok_str(d, t, &c->s->ftmp, &n);
	int64_t ms;
	char num[32];

	if (s == NULL || time_parse_ms(s, n, &ms) < 0)
		return -1;
	snprintf(num, sizeof(num), "%lld", (long long)ms * 1000000LL);
	add(c, num, strlen(num));
	return 1;
}

static long
uri_param(struct evctx *c, const struct ffield *f)
{
	const char *uri, *q;
	size_t len;
	struct buf out;
	long r = -1;

	uri = event_str(c->ev, EF_REQUEST_URI, &c->s->ftmp, &len);
	if (uri == NULL || (q = memchr(uri, '?', len)) == NULL)
		return -1;
	buf_init(&out);
	if (query_first(c->s, q + 1, (size_t)(uri + len - q - 1), f->arg, &out)) {
		add(c, out.data ? out.data : "", out.len);
		r = 1;
	}
	buf_free(&out);
	return r;
}

static long
vol_hostpath(struct evctx *c, const struct ffield *f)
{
	const struct jdoc *d = c->ev->doc;
	int spec = jtok_getz(d, c->ev->f[EF_REQUEST_OBJECT], "spec");
	int vols = jtok_type(d, spec) == JT_OBJ ? jtok_getz(d, spec, "volumes") : -1;
	int prefix = f->arg[f->argn - 1] == '*';
	size_t pl = prefix ? f->argn - 1 : f->argn;

	if (jtok_type(d, vols) != JT_ARR)
		return -1;
	for (int v = jtok_first(d, vols); v >= 0; v = jtok_next(d, vols, v)) {
		int p = keys(d, v, f->def->k, 2);
		size_t n;
		const char *s = jtok_str(d, p, &c->s->ftmp, &n);
		if (s && ((prefix && n >= pl && memcmp(s, f->arg, pl) == 0) ||
		    (n == f->argn && memcmp(s, f->arg, n) == 0))) {
			add(c, "true", 4);
			return 1;
		}
	}
	add(c, "false", 5);
	return 1;
}

static long
any_privileged(struct evctx *c)
{
	const struct jdoc *d = c->ev->doc;
	int spec = jtok_getz(d, c->ev->f[EF_REQUEST_OBJECT], "spec");
	int arr = jtok_type(d, spec) == JT_OBJ ? jtok_getz(d, spec, "containers") : -1;
	static const char *const k[] = { "securityContext", "privileged" };
	int any = 0;

	if (jtok_type(d, arr) != JT_ARR)
		return -1;
	for (int t = jtok_first(d, arr); t >= 0; t = jtok_next(d, arr, t))
		any |= jtok_type(d, keys(d, t, k, 2)) == JT_TRUE;
	add(c, any ? "true" : "false", any ? 4 : 5);
	return 1;
}

static long
extract_list(struct evctx *c, const struct ffield *f)
{
	const struct jdoc *d = c->ev->doc;
	const struct fdef *def = f->def;
	int root = c->ev->root, ro = c->ev->f[EF_REQUEST_OBJECT];
	int spec = keys(d, ro, (const char *const[]){ "spec" }, 1);

	switch (def->x) {
	case X_KEYS_LIST:
		return each(c, f, keys(d, root, def->k, 4), elem_string, NULL) < 0 ? -1 : 0;
	case X_CTR:
		return ctr_extract(c, f) < 0 ? -1 : 0;
	case X_RULES:
		return each(c, f, keys(d, ro, (const char *const[]){ "rules" }, 1), rule_part, NULL) < 0 ?
		    -1 : 0;
	case X_VOL:
		return each(c, f, keys(d, spec, (const char *const[]){ "volumes" }, 1), vol_part, NULL) < 0 ?
		    -1 : 0;
	case X_VOL_TYPE:
		return each(c, f, keys(d, spec, (const char *const[]){ "volumes" }, 1), vol_type, NULL) < 0 ?
		    -1 : 0;
	case X_SUBJ:
		return each(c, f, keys(d, ro, (const char *const[]){ "subjects" }, 1), subj_part, NULL) < 0 ?
		    -1 : 0;
	default:
		return -1;
	}
}

static long
extract_one(struct evctx *c, const struct ffield *f)
{
	const struct jdoc *d = c->ev->doc;
	const struct fdef *def = f->def;
	int t;
	size_t n;

	switch (def->x) {
	case X_KEYS:
		if ((t = keys(d, c->ev->root, def->k, 4)) < 0)
			return -1;
		add_tok(c, t);
		return 1;
	case X_URI_PARAM: return uri_param(c, f);
	case X_HAS_NAME: add(c, "true", 4); return 1;
	case X_CTR_FIRST: {
		struct ffield first = *f;
		first.index = 0;
		return ctr_extract(c, &first) > 0 ? 1 : -1;
	}
	case X_ANY_PRIV: return any_privileged(c);
	case X_VOL_HOSTPATH: return vol_hostpath(c, f);
	case X_POD_NAME:
		if (!jtok_str_eq(d, c->ev->f[EF_RESOURCE], "pods", 4) || c->ev->f[EF_NAME] < 0)
			return -1;
		add_tok(c, c->ev->f[EF_NAME]);
		return 1;
	case X_CLUSTER: add(c, c->ev->cluster, strlen(c->ev->cluster)); return 1;
	case X_JVALUE:
		if ((t = jptr_find(c, f)) < 0)
			return -1;
		add_tok(c, t);
		return 1;
	case X_JOBJ: {
		const char *s = event_json(c->ev, &n);
		add(c, s, n);
		return 1;
	}
	case X_RAWTIME: return rawtime(c);
	default: return -1;
	}
}

long
ffield_extract(const struct ffield *f, struct evctx *c)
{
	struct strvec *v = &c->s->fvals;

	buf_reset(&v->b);
	v->n = 0;
	if (f->def->flags & FF_LIST) {
		if (extract_list(c, f) < 0 || v->n == 0)
			return -1;
		return (long)v->n;
	}
	return extract_one(c, f);
}

void
ffield_render(const struct ffield *f, struct evctx *c, struct buf *out, size_t cap)
{
	const struct strvec *v = &c->s->fvals;
	size_t start = out->len;

	if (ffield_extract(f, c) < 0) {
		buf_puts(out, "<NA>");
		return;
	}
	if (ffield_is_list(f))
		buf_putc(out, '(');
	for (size_t i = 0; i < v->n; i++) {
		if (i > 0)
			buf_putc(out, ',');
		if (v->len[i])
			buf_append(out, v->b.data + v->off[i], v->len[i]);
		if (out->len - start > cap)
			break;
	}
	if (ffield_is_list(f))
		buf_putc(out, ')');
	if (out->len - start > cap) {
		out->len = start + cap;
		buf_puts(out, "...");
	}
}
