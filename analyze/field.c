/* field.c — field paths in conditions: parsing, validation against the
 * audit schema and the table of ka.* names, reading them out of an event,
 * and rendering values for messages. The ka.* values themselves are worked
 * out in computed.c. A second table names a finding's fields, for
 * conditions over findings (fcond.c), read out of the finding's jansson
 * object.
 *
 * A path is split once, at compile time, into key and index segments, and
 * starts from the closest token the decoder already located (ev->f[]), so
 * reading `objectRef.resource` costs nothing and `requestObject.spec.x`
 * skips straight to requestObject. */
#include "analyze/rules_impl.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The audit.k8s.io Event schema as far as rules may name it. `open` marks
 * objects whose content is free-form (request bodies, annotations): any path
 * below them is accepted and typed at run time. */
static const struct fdef {
	const char	*path;
	enum ftype	 type;
	int		 open;
	int		 ef;
	enum ikey	 ikey;
} fdefs[] = {
	{ "kind",			FT_STR, 0, -1, IK_NONE },
	{ "apiVersion",			FT_STR, 0, -1, IK_NONE },
	{ "level",			FT_STR, 0, -1, IK_NONE },
	{ "auditID",			FT_STR, 0, EF_AUDIT_ID, IK_NONE },
	{ "stage",			FT_STR, 0, EF_STAGE, IK_NONE },
	{ "requestURI",			FT_STR, 0, EF_REQUEST_URI, IK_NONE },
	{ "verb",			FT_STR, 0, EF_VERB, IK_VERB },
	{ "user",			FT_OBJ, 0, EF_USER, IK_NONE },
	{ "user.username",		FT_STR, 0, EF_USERNAME, IK_NONE },
	{ "user.uid",			FT_STR, 0, -1, IK_NONE },
	{ "user.groups",		FT_ARR, 0, EF_GROUPS, IK_NONE },
	{ "user.extra",			FT_OBJ, 1, -1, IK_NONE },
	{ "impersonatedUser",		FT_OBJ, 0, EF_IMPERSONATED, IK_NONE },
	{ "impersonatedUser.username",	FT_STR, 0, EF_IMPERSONATED_NAME, IK_NONE },
	{ "impersonatedUser.uid",	FT_STR, 0, -1, IK_NONE },
	{ "impersonatedUser.groups",	FT_ARR, 0, -1, IK_NONE },
	{ "impersonatedUser.extra",	FT_OBJ, 1, -1, IK_NONE },
	{ "sourceIPs",			FT_ARR, 0, EF_SOURCE_IPS, IK_NONE },
	{ "userAgent",			FT_STR, 0, EF_USER_AGENT, IK_NONE },
	{ "objectRef",			FT_OBJ, 0, EF_OBJECT_REF, IK_NONE },
	{ "objectRef.resource",		FT_STR, 0, EF_RESOURCE, IK_RESOURCE },
	{ "objectRef.subresource",	FT_STR, 0, EF_SUBRESOURCE, IK_SUBRESOURCE },
	{ "objectRef.namespace",	FT_STR, 0, EF_NAMESPACE, IK_NONE },
	{ "objectRef.name",		FT_STR, 0, EF_NAME, IK_NONE },
	{ "objectRef.apiGroup",		FT_STR, 0, EF_API_GROUP, IK_NONE },
	{ "objectRef.apiVersion",	FT_STR, 0, -1, IK_NONE },
	{ "objectRef.uid",		FT_STR, 0, -1, IK_NONE },
	{ "objectRef.resourceVersion",	FT_STR, 0, -1, IK_NONE },
	{ "responseStatus",		FT_OBJ, 0, EF_RESPONSE_STATUS, IK_NONE },
	{ "responseStatus.code",	FT_NUM, 0, EF_CODE, IK_NONE },
	{ "responseStatus.status",	FT_STR, 0, -1, IK_NONE },
	{ "responseStatus.reason",	FT_STR, 0, -1, IK_NONE },
	{ "responseStatus.message",	FT_STR, 0, -1, IK_NONE },
	{ "responseStatus.metadata",	FT_OBJ, 1, -1, IK_NONE },
	{ "responseStatus.details",	FT_OBJ, 1, -1, IK_NONE },
	{ "requestObject",		FT_ANY, 1, EF_REQUEST_OBJECT, IK_NONE },
	{ "responseObject",		FT_ANY, 1, EF_RESPONSE_OBJECT, IK_NONE },
	{ "annotations",		FT_OBJ, 1, EF_ANNOTATIONS, IK_NONE },
	{ "requestReceivedTimestamp",	FT_STR, 0, EF_RECEIVED_TS, IK_NONE },
	{ "stageTimestamp",		FT_STR, 0, EF_STAGE_TS, IK_NONE },
	{ "timestamp",			FT_STR, 0, -1, IK_NONE },
	{ "metadata",			FT_OBJ, 1, -1, IK_NONE },
};

/* A finding's fields (docs/design.md, the finding contract), for `when:`
 * conditions. evidence and correlation.key hold names of event fields
 * (with dots: reach them as evidence["objectRef.name"]); any path below
 * them, and below correlation.tuple, is typed at run time. */
static const struct fdef finding_fdefs[] = {
	{ "rule",			FT_STR, 0, -1, IK_NONE },
	{ "title",			FT_STR, 0, -1, IK_NONE },
	{ "severity",			FT_SEV, 0, -1, IK_NONE },
	{ "category",			FT_STR, 0, -1, IK_NONE },
	{ "tags",			FT_ARR, 0, -1, IK_NONE },
	{ "audit_id",			FT_STR, 0, -1, IK_NONE },
	{ "stage",			FT_STR, 0, -1, IK_NONE },
	{ "time",			FT_STR, 0, -1, IK_NONE },
	{ "cluster",			FT_STR, 0, -1, IK_NONE },
	{ "user",			FT_STR, 0, -1, IK_NONE },
	{ "groups",			FT_ARR, 0, -1, IK_NONE },
	{ "impersonated_user",		FT_STR, 0, -1, IK_NONE },
	{ "source_ip",			FT_STR, 0, -1, IK_NONE },
	{ "user_agent",			FT_STR, 0, -1, IK_NONE },
	{ "verb",			FT_STR, 0, -1, IK_NONE },
	{ "resource",			FT_STR, 0, -1, IK_NONE },
	{ "subresource",		FT_STR, 0, -1, IK_NONE },
	{ "namespace",			FT_STR, 0, -1, IK_NONE },
	{ "name",			FT_STR, 0, -1, IK_NONE },
	{ "code",			FT_NUM, 0, -1, IK_NONE },
	{ "message",			FT_STR, 0, -1, IK_NONE },
	{ "evidence",			FT_OBJ, 1, -1, IK_NONE },
	{ "repeats",			FT_NUM, 0, -1, IK_NONE },
	{ "last_repeat",		FT_STR, 0, -1, IK_NONE },
	{ "attributed_user",		FT_STR, 0, -1, IK_NONE },
	{ "correlation",		FT_OBJ, 0, -1, IK_NONE },
	{ "correlation.kind",		FT_STR, 0, -1, IK_NONE },
	{ "correlation.key",		FT_OBJ, 1, -1, IK_NONE },
	{ "correlation.count",		FT_NUM, 0, -1, IK_NONE },
	{ "correlation.distinct",	FT_NUM, 0, -1, IK_NONE },
	{ "correlation.first",		FT_STR, 0, -1, IK_NONE },
	{ "correlation.last",		FT_STR, 0, -1, IK_NONE },
	{ "correlation.audit_ids",	FT_ARR, 0, -1, IK_NONE },
	{ "correlation.tuple",		FT_ANY, 1, -1, IK_NONE },
};

static const struct cdef {
	const char	*name;
	enum computed	 comp;
	enum ftype	 type;
	int		 path;	/* a path may follow */
} cdefs[] = {
	{ "ka.exec.command",		KA_EXEC_COMMAND,	FT_STR, 0 },
	{ "ka.exec.container",		KA_EXEC_CONTAINER,	FT_STR, 0 },
	{ "ka.exec.argv0",		KA_EXEC_ARGV0,		FT_STR, 0 },
	{ "ka.useragent.client",	KA_UA_CLIENT,		FT_STR, 0 },
	{ "ka.useragent.version",	KA_UA_VERSION,		FT_STR, 0 },
	{ "ka.useragent.major",		KA_UA_MAJOR,		FT_NUM, 0 },
	{ "ka.useragent.minor",		KA_UA_MINOR,		FT_NUM, 0 },
	{ "ka.useragent.patch",		KA_UA_PATCH,		FT_NUM, 0 },
	{ "ka.useragent.os",		KA_UA_OS,		FT_STR, 0 },
	{ "ka.useragent.arch",		KA_UA_ARCH,		FT_STR, 0 },
	{ "ka.source_ip",		KA_SOURCE_IP,		FT_STR, 0 },
	{ "ka.decision",		KA_DECISION,		FT_STR, 0 },
	{ "ka.reason",			KA_REASON,		FT_STR, 0 },
	{ "ka.user.is_serviceaccount",	KA_IS_SA,		FT_BOOL, 0 },
	{ "ka.user.is_node",		KA_IS_NODE,		FT_BOOL, 0 },
	{ "ka.user.is_anonymous",	KA_IS_ANON,		FT_BOOL, 0 },
	{ "ka.user.serviceaccount_namespace", KA_SA_NAMESPACE,	FT_STR, 0 },
	{ "ka.user.serviceaccount_name", KA_SA_NAME,		FT_STR, 0 },
	{ "ka.object",			KA_OBJECT,		FT_OBJ, 1 },
	{ "ka.podspec",			KA_PODSPEC,		FT_OBJ, 1 },
	{ "ka.containers",		KA_CONTAINERS,		FT_ARR, 0 },
	{ "ka.volumes",			KA_VOLUMES,		FT_ARR, 1 },
	{ "ka.configmap.data",		KA_CM_DATA,		FT_STR, 0 },
	{ "ka.csr.subject",		KA_CSR_SUBJECT,		FT_STR, 0 },
	{ "ka.proxy.path",		KA_PROXY_PATH,		FT_STR, 0 },
	{ "ka.list.label_selector",	KA_LABEL_SELECTOR,	FT_STR, 0 },
	{ "ka.list.field_selector",	KA_FIELD_SELECTOR,	FT_STR, 0 },
	{ "ka.event.duplicate_keys",	KA_DUP_KEYS,		FT_BOOL, 0 },
	{ "ka.event.invalid_utf8",	KA_BAD_UTF8,		FT_BOOL, 0 },
	{ "ka.actor",			KA_ACTOR,		FT_STR, 0 },
	{ "ka.actor.identities",	KA_ACTOR_IDENTITIES,	FT_ARR, 0 },
	{ "ka.binding.subjects",	KA_BINDING_SUBJECTS,	FT_ARR, 0 },
};

/* --- parsing -------------------------------------------------------------- */

static int
key_char(char c)
{
	return c != '.' && c != '[' && c != ']' && c != '"' && c != '\'' &&
	    (unsigned char)c > ' ';
}

/* Splits text into segments. Returns the count, or -1 with err set. */
static int
field_split(struct arena *a, const char *text, size_t len, struct pathseg *seg,
    size_t maxseg, char *err, size_t errlen)
{
	size_t i = 0, n = 0;

	if (len == 0) {	/* %{} in an output: no segment to read */
		snprintf(err, errlen, "empty field name");
		return -1;
	}
	while (i < len) {
		if (n == maxseg) {
			snprintf(err, errlen, "field path too long");
			return -1;
		}
		if (text[i] == '[') {
			size_t j = i + 1;
			if (j < len && (text[j] == '"' || text[j] == '\'')) {
				char q = text[j++];
				size_t k = j;
				while (k < len && text[k] != q)
					k++;
				if (k + 1 >= len || text[k + 1] != ']')
					goto bad;
				seg[n].key = arena_strndup(a, text + j, k - j);
				seg[n].len = k - j;
				i = k + 2;
			} else {
				uint32_t v = 0;
				size_t k = j;
				while (k < len && text[k] >= '0' && text[k] <= '9' && v < 100000000)
					v = v * 10 + (uint32_t)(text[k++] - '0');
				if (k == j || k >= len || text[k] != ']')
					goto bad;
				seg[n].key = NULL;
				seg[n].index = v;
				i = k + 1;
			}
		} else {
			size_t j = i;
			while (j < len && key_char(text[j]))
				j++;
			if (j == i)
				goto bad;
			seg[n].key = arena_strndup(a, text + i, j - i);
			seg[n].len = j - i;
			i = j;
		}
		n++;
		if (i < len && text[i] == '.') {
			if (++i == len)
				goto bad;
		} else if (i < len && text[i] != '[') {
			goto bad;
		}
	}
	return (int)n;
bad:
	snprintf(err, errlen, "malformed field path \"%.*s\"", (int)(len > 80 ? 80 : len), text);
	return -1;
}

/* Length of the leading run of key segments joined by dots, as text. */
static int
segs_match(const struct pathseg *seg, size_t nseg, const char *path, size_t *used)
{
	size_t k = 0;
	const char *p = path;

	while (k < nseg && seg[k].key) {
		size_t l = seg[k].len;
		if (strncmp(p, seg[k].key, l) != 0)
			return 0;
		p += l;
		k++;
		if (*p == '\0') {
			*used = k;
			return 1;
		}
		if (*p != '.')
			return 0;
		p++;
	}
	return 0;
}

/* Types f by the longest entry of table (n entries) that its path starts
 * with; what names the table in the message ("field", "finding field"). */
static int
field_typed(struct field *f, const struct fdef *table, size_t n, const char *what,
    char *err, size_t errlen)
{
	const struct fdef *best = NULL, *well = NULL;
	size_t bestk = 0, wellk = 0;

	for (size_t i = 0; i < n; i++) {
		size_t k;
		if (!segs_match(f->seg, f->nseg, table[i].path, &k))
			continue;
		if (k > bestk) {
			best = &table[i];
			bestk = k;
		}
		if (table[i].ef >= 0 && k > wellk) {
			well = &table[i];
			wellk = k;
		}
	}
	if (best == NULL)
		goto unknown;
	if (bestk == f->nseg) {
		f->type = best->type;
		f->ikey = best->ikey;
	} else if (best->open) {
		f->type = FT_ANY;
	} else if (best->type == FT_ARR && f->seg[bestk].key == NULL &&
	    bestk + 1 == f->nseg) {
		f->type = FT_STR;
	} else {
		goto unknown;
	}
	if (well) {
		f->base = FB_WELL;
		f->ef = well->ef;
		f->seg += wellk;
		f->nseg -= wellk;
	}
	return 0;
unknown:
	snprintf(err, errlen, "unknown %s \"%s\"", what, f->name);
	return -1;
}

static int
field_computed(struct field *f, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(cdefs) / sizeof(cdefs[0]); i++) {
		size_t k;
		if (!segs_match(f->seg, f->nseg, cdefs[i].name, &k))
			continue;
		if (k < f->nseg && !cdefs[i].path)
			continue;
		f->base = FB_COMPUTED;
		f->comp = cdefs[i].comp;
		f->type = k == f->nseg ? cdefs[i].type : FT_ANY;
		f->seg += k;
		f->nseg -= k;
		return 0;
	}
	snprintf(err, errlen, "unknown field \"%s\"", f->name);
	return -1;
}

struct field *
field_compile(struct arena *a, const char *text, size_t len, int relative,
    char *err, size_t errlen)
{
	struct pathseg seg[32];
	struct field *f = arena_alloc(a, sizeof(*f));
	int n;

	f->name = arena_strndup(a, text, len);
	if (relative && len == 1 && text[0] == '.') {
		f->base = FB_ELEM;
		return f;
	}
	if ((n = field_split(a, text, len, seg, 32, err, errlen)) < 0)
		return NULL;
	f->seg = arena_alloc(a, sizeof(*seg) * (size_t)n);
	memcpy(f->seg, seg, sizeof(*seg) * (size_t)n);
	f->nseg = (size_t)n;
	if (f->seg[0].key && strcmp(f->seg[0].key, "ka") == 0)
		return field_computed(f, err, errlen) == 0 ? f : NULL;
	if (relative) {
		f->base = FB_ELEM;
		return f;
	}
	if (f->seg[0].key == NULL) {
		snprintf(err, errlen, "unknown field \"%s\"", f->name);
		return NULL;
	}
	f->base = FB_ROOT;
	return field_typed(f, fdefs, sizeof(fdefs) / sizeof(fdefs[0]), "field", err,
	    errlen) == 0 ? f : NULL;
}

/* The names below evidence and correlation.key are event paths and group_by
 * fields, dots included (`objectRef.name`), as templates and group_by read
 * them: evidence.objectRef.name is the key "objectRef.name" of evidence, as
 * evidence["objectRef.name"] is. */
static void
finding_flat_tail(struct arena *a, struct field *f)
{
	size_t base = 0, n = 0;
	char *key;

	if (f->nseg >= 1 && f->seg[0].key && f->seg[0].len == 8 &&
	    memcmp(f->seg[0].key, "evidence", 8) == 0)
		base = 1;
	else if (f->nseg >= 2 && f->seg[0].key && f->seg[0].len == 11 &&
	    memcmp(f->seg[0].key, "correlation", 11) == 0 && f->seg[1].key &&
	    f->seg[1].len == 3 && memcmp(f->seg[1].key, "key", 3) == 0)
		base = 2;
	if (base == 0 || f->nseg < base + 2)
		return;
	for (size_t i = base; i < f->nseg; i++) {
		if (f->seg[i].key == NULL)
			return;		/* an index: a path into a value */
		n += f->seg[i].len + 1;
	}
	key = arena_alloc(a, n);
	n = 0;
	for (size_t i = base; i < f->nseg; i++) {
		if (n)
			key[n++] = '.';
		memcpy(key + n, f->seg[i].key, f->seg[i].len);
		n += f->seg[i].len;
	}
	f->seg[base].key = key;
	f->seg[base].len = n;
	f->nseg = base + 1;
}

struct field *
field_compile_finding(struct arena *a, const char *text, size_t len, int relative,
    char *err, size_t errlen)
{
	struct pathseg seg[32];
	struct field *f = arena_alloc(a, sizeof(*f));
	int n;

	f->name = arena_strndup(a, text, len);
	f->base = relative ? FB_ELEM : FB_FINDING;
	if (relative && len == 1 && text[0] == '.')
		return f;
	if ((n = field_split(a, text, len, seg, 32, err, errlen)) < 0)
		return NULL;
	f->seg = arena_alloc(a, sizeof(*seg) * (size_t)n);
	memcpy(f->seg, seg, sizeof(*seg) * (size_t)n);
	f->nseg = (size_t)n;
	if (relative)
		return f;
	if (f->seg[0].key == NULL) {
		snprintf(err, errlen, "unknown finding field \"%s\"", f->name);
		return NULL;
	}
	if (field_typed(f, finding_fdefs, sizeof(finding_fdefs) / sizeof(finding_fdefs[0]),
	    "finding field", err, errlen) == -1)
		return NULL;
	finding_flat_tail(a, f);
	return f;
}

/* Whether j has the type the table gives its field. A finding made by
 * kaudit always has; one that does not (hand-made, or from another
 * version) reads as missing rather than as a different kind of value, so
 * that `"T1609" in tags` never becomes a substring test on a string. */
static int
finding_type_ok(enum ftype t, const json_t *j)
{
	switch (t) {
	case FT_STR: return json_is_string(j);
	case FT_NUM: return json_is_number(j);
	case FT_BOOL: return json_is_boolean(j);
	case FT_ARR: return json_is_array(j);
	case FT_OBJ: return json_is_object(j);
	default: return 1;
	}
}

/* A finding's value as a struct val: scalars as such, arrays and objects
 * as VAL_JSON, null as VAL_NONE; a severity as its rank, or VAL_NONE when
 * it is not one of the five names; a value of another type than its
 * field's as VAL_NONE. */
static void
finding_val(const struct field *f, const json_t *j, struct val *v)
{
	enum severity sev;

	v->kind = VAL_NONE;
	if (f->type == FT_SEV) {
		if (json_is_string(j) && strlen(json_string_value(j)) == json_string_length(j) &&
		    severity_parse(json_string_value(j), &sev) == 0) {
			v->kind = VAL_NUM;
			v->num = (double)sev;
		}
		return;
	}
	if (!finding_type_ok(f->type, j))
		return;
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->kind = VAL_STR;
		v->s = json_string_value(j);
		v->n = json_string_length(j);
		break;
	case JSON_INTEGER:
		v->kind = VAL_NUM;
		v->num = (double)json_integer_value(j);
		break;
	case JSON_REAL:
		v->kind = VAL_NUM;
		v->num = json_real_value(j);
		break;
	case JSON_TRUE: case JSON_FALSE:
		v->kind = VAL_BOOL;
		v->b = json_is_true(j);
		break;
	case JSON_OBJECT: case JSON_ARRAY:
		v->kind = VAL_JSON;
		v->j = j;
		break;
	default:
		break;
	}
}

/* A finding's field: its path from the finding or the any/all element. A
 * severity that is not one of the five names reads as absent. */
static void
field_eval_finding(const struct field *f, struct evctx *c, int elem, struct val *v)
{
	const json_t *j = c->finding;

	if (f->base == FB_ELEM)
		j = elem >= 0 && elem < c->nfel ? c->fel[elem] : NULL;
	for (size_t i = 0; i < f->nseg && j; i++) {
		const struct pathseg *p = &f->seg[i];
		if (p->key)
			j = json_is_object(j) ? json_object_getn(j, p->key, p->len) : NULL;
		else
			j = json_is_array(j) ? json_array_get(j, p->index) : NULL;
	}
	if (j == NULL) {
		v->kind = VAL_NONE;
		return;
	}
	finding_val(f, j, v);
}

void
field_eval(const struct field *f, struct evctx *c, int elem, struct val *v)
{
	const struct jdoc *d;
	int t;

	if (c->finding) {
		field_eval_finding(f, c, elem, v);
		return;
	}
	d = c->ev->doc;
	v->kind = VAL_NONE;
	switch (f->base) {
	case FB_ROOT: t = c->ev->root; break;
	case FB_WELL: t = c->ev->f[f->ef]; break;
	case FB_ELEM: t = elem; break;
	case FB_FINDING: return;	/* only read through c->finding */
	default:
		t = computed_eval(f, c, v);
		if (v->kind != VAL_NONE)
			return;
		break;
	}
	for (size_t i = 0; i < f->nseg && t >= 0; i++) {
		const struct pathseg *p = &f->seg[i];
		if (p->key)
			t = jtok_type(d, t) == JT_OBJ ? jtok_get(d, t, p->key, p->len) : -1;
		else
			t = jtok_type(d, t) == JT_ARR ? jtok_at(d, t, p->index) : -1;
	}
	/* null reads as absent: `exists` is false and comparisons fail */
	if (t >= 0 && jtok_type(d, t) != JT_NULL && jtok_type(d, t) != JT_NONE) {
		v->kind = VAL_TOK;
		v->tok = t;
	}
}

static void
render_capped(struct buf *out, const char *s, size_t n, size_t cap)
{
	if (n > cap) {
		n = cap;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		buf_append(out, s, n);
		buf_puts(out, "...");
		return;
	}
	buf_append(out, s, n);
}

static void
render_tok(const struct jdoc *d, int t, struct evctx *c, struct buf *out, size_t cap)
{
	const char *s;
	size_t n;

	if (jtok_type(d, t) == JT_STR) {
		s = jtok_str(d, t, &c->s->tmp, &n);
	} else {
		s = jtok_raw(d, t, &n);
	}
	if (s)
		render_capped(out, s, n, cap);
}

void
field_render(const struct val *v, struct evctx *c, struct buf *out, size_t cap)
{
	const struct jdoc *d = c->ev ? c->ev->doc : NULL;
	char num[64];

	switch (v->kind) {
	case VAL_NONE: buf_puts(out, "<none>"); break;
	case VAL_JSON: {
		char *dump = json_dumps(v->j, JSON_COMPACT | JSON_ENCODE_ANY);
		if (dump)
			render_capped(out, dump, strlen(dump), cap);
		free(dump);
		break;
	}
	case VAL_STR: render_capped(out, v->s, v->n, cap); break;
	case VAL_NUM: snprintf(num, sizeof(num), "%.15g", v->num); buf_puts(out, num); break;
	case VAL_BOOL: buf_puts(out, v->b ? "true" : "false"); break;
	case VAL_TOK: render_tok(d, v->tok, c, out, cap); break;
	case VAL_LIST:
		buf_putc(out, '[');
		for (size_t i = 0; i < v->list->n; i++) {
			if (i)
				buf_putc(out, ',');
			buf_json_str(out, v->list->b.data + v->list->off[i], v->list->len[i]);
		}
		buf_putc(out, ']');
		break;
	case VAL_ARRS:
		buf_putc(out, '[');
		for (int i = 0, first = 1; i < v->narr; i++) {
			for (int t = jtok_first(d, v->arr[i]); t >= 0; t = jtok_next(d, v->arr[i], t)) {
				size_t n;
				const char *raw = jtok_raw(d, t, &n);
				if (!first)
					buf_putc(out, ',');
				first = 0;
				render_capped(out, raw, n, cap);
			}
		}
		buf_putc(out, ']');
		break;
	}
}
