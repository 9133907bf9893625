/* signal.c — stage 1 of memory across events: what one event hands to the
 * state engine when a rule that feeds a correlation, or a rule with
 * `suppress`, fires on it.
 *
 * Everything the engine needs is worked out here, where the event is at
 * hand: the state key (the cluster, the rule and the group_by or suppress
 * values, as a JSON array, so no value can run into the next), the event
 * time, the value a value_count counts or the tuple a first_seen remembers,
 * and, for a correlation, the finding it would make if this event completes
 * it (the event's fields under the correlation's title) with its output
 * rendered but for the %{correlation.X} parts only the engine knows. A
 * group_by field holding several values (the subjects of a binding, a
 * user's groups) makes one signal per value: a user in two bound groups
 * completes two keys. */
#include "analyze/rules_impl.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <string.h>

/* Appends one value's text: strings unescaped, the rest as JSON. */
static void
tok_text(struct evctx *c, int t, struct buf *b)
{
	const struct jdoc *d = c->ev->doc;
	const char *s;
	size_t n;

	if (jtok_type(d, t) == JT_STR)
		s = jtok_str(d, t, &c->s->tmp, &n);
	else
		s = jtok_raw(d, t, &n);
	if (s)
		buf_append(b, s, n);
}

static size_t
push(struct buf *b, size_t start, size_t *off, size_t *len, size_t k)
{
	off[k] = start;
	len[k] = b->len - start;
	return k + 1;
}

size_t
field_strings(const struct field *f, struct evctx *c, struct buf *b, size_t *off,
    size_t *len, size_t max)
{
	const struct jdoc *d = c->ev->doc;
	struct val v;
	size_t k = 0, start = b->len;
	char num[64];

	field_eval(f, c, -1, &v);
	switch (v.kind) {
	case VAL_NONE:
	case VAL_JSON:	/* a finding's, never an event's */
		return 0;
	case VAL_STR:
		buf_append(b, v.s, v.n);
		return push(b, start, off, len, 0);
	case VAL_NUM:
		snprintf(num, sizeof(num), "%.15g", v.num);
		buf_puts(b, num);
		return push(b, start, off, len, 0);
	case VAL_BOOL:
		buf_puts(b, v.b ? "true" : "false");
		return push(b, start, off, len, 0);
	case VAL_TOK:
		if (jtok_type(d, v.tok) != JT_ARR) {
			tok_text(c, v.tok, b);
			return push(b, start, off, len, 0);
		}
		v.arr[0] = v.tok;
		v.narr = 1;
		break;
	case VAL_ARRS:
		break;
	case VAL_LIST:
		for (size_t i = 0; i < v.list->n && k < max; i++) {
			start = b->len;
			buf_append(b, v.list->b.data + v.list->off[i], v.list->len[i]);
			k = push(b, start, off, len, k);
		}
		return k;
	}
	for (int i = 0; i < v.narr; i++) {
		for (int t = jtok_first(d, v.arr[i]); t >= 0 && k < max; t = jtok_next(d, v.arr[i], t)) {
			if (jtok_type(d, t) == JT_NULL)
				continue;
			start = b->len;
			tok_text(c, t, b);
			k = push(b, start, off, len, k);
		}
	}
	return k;
}

/* The event's time in ms; -1 when it has none that parses. */
static int
event_time(struct evctx *c, int64_t *ms)
{
	const char *s;
	size_t n;

	s = event_str(c->ev, EF_STAGE_TS, &c->s->tmp, &n);
	if (s == NULL)
		s = event_str(c->ev, EF_RECEIVED_TS, &c->s->tmp, &n);
	return s != NULL && time_parse_ms(s, n, ms) == 0 ? 0 : -1;
}

/* Whether the event has a time the engine can order it by. */
int
signal_timed(struct evctx *c)
{
	int64_t ms;

	return event_time(c, &ms) == 0;
}

/* The values of nf fields, each a list. */
struct keyvals {
	size_t	 off[8][KEY_VALUES_MAX], len[8][KEY_VALUES_MAX], n[8];
	size_t	 nf;
};

/* Reads each field's values into kv (strings in b); 0, or -1 when one of
 * them is missing (no key can be made). */
static int
keyvals_read(struct field *const *f, size_t nf, struct evctx *c, struct buf *b,
    struct keyvals *kv, int whole)
{
	kv->nf = nf;
	for (size_t i = 0; i < nf && i < 8; i++) {
		kv->n[i] = field_strings(f[i], c, b, kv->off[i], kv->len[i], KEY_VALUES_MAX);
		if (kv->n[i] == 0)
			return -1;
		if (whole && kv->n[i] > 1) {	/* one value: all of them */
			size_t end = kv->off[i][kv->n[i] - 1] + kv->len[i][kv->n[i] - 1];
			kv->len[i][0] = end - kv->off[i][0];
			kv->n[i] = 1;
		}
	}
	return nf > 8 ? -1 : 0;
}

/* The key of combination idx (a mixed-radix number over kv) as a JSON array. */
static void
key_build(struct buf *key, const char *cluster, const char *rule, const struct buf *b,
    const struct keyvals *kv, size_t idx)
{
	buf_reset(key);
	buf_putc(key, '[');
	buf_json_str(key, cluster, strlen(cluster));
	buf_putc(key, ',');
	buf_json_str(key, rule, strlen(rule));
	for (size_t i = 0; i < kv->nf; i++) {
		size_t j = idx % kv->n[i];
		idx /= kv->n[i];
		buf_putc(key, ',');
		buf_json_str(key, b->data + kv->off[i][j], kv->len[i][j]);
	}
	buf_putc(key, ']');
}

static size_t
combinations(const struct keyvals *kv)
{
	size_t n = 1;

	for (size_t i = 0; i < kv->nf; i++) {
		n *= kv->n[i];
		if (n > KEY_VALUES_MAX)
			return KEY_VALUES_MAX;
	}
	return n;
}

/* value_count's value, or first_seen's tuple as a JSON array. */
static int
feed_value(const struct corr_feed *f, struct evctx *c, struct buf *out)
{
	const struct corr *k = f->corr->corr;
	struct buf *b = &c->s->sigtmp;
	size_t off[KEY_VALUES_MAX], len[KEY_VALUES_MAX], n;

	buf_reset(out);
	if (k->nvalue == 0 || f->step < 0)
		return 0;
	if (k->kind == CK_VALUE_COUNT) {
		buf_reset(b);
		if ((n = field_strings(f->value[0], c, b, off, len, KEY_VALUES_MAX)) == 0)
			return -1;
		buf_append(out, b->data + off[0], off[n - 1] + len[n - 1] - off[0]);
		return 0;
	}
	buf_putc(out, '[');
	for (size_t v = 0; v < k->nvalue; v++) {
		buf_reset(b);
		if (v)
			buf_putc(out, ',');
		if ((n = field_strings(f->value[v], c, b, off, len, KEY_VALUES_MAX)) == 0)
			buf_puts(out, "null");
		else
			buf_json_str(out, b->data + off[0], off[n - 1] + len[n - 1] - off[0]);
	}
	buf_putc(out, ']');
	return 0;
}

static size_t
feed_signals(const struct corr_feed *f, struct evctx *c, json_t *finding, int64_t t,
    const char *audit_id, const struct eval_out *out)
{
	struct eval_scratch *s = c->s;
	struct buf vals;
	struct keyvals kv;
	struct signal sg;
	json_t *cf = NULL, *parts = NULL;
	size_t n = 0, combos;

	buf_init(&vals);
	if (keyvals_read(f->key, f->corr->corr->ngroup, c, &vals, &kv, 0) < 0 ||
	    feed_value(f, c, &s->sigval) < 0)
		goto out;
	if (f->step >= 0) {
		cf = finding_retitle(finding, f->corr);
		parts = finding_message_parts(f->corr, c);
	}
	combos = combinations(&kv);
	for (size_t i = 0; i < combos; i++) {
		key_build(&s->sigkey, c->ev->cluster ? c->ev->cluster : "default", f->corr->id,
		    &vals, &kv, i);
		sg = (struct signal){ .rule = f->corr, .step = f->step, .key = s->sigkey.data,
		    .keylen = s->sigkey.len, .t = t, .audit_id = audit_id,
		    .value = s->sigval.len ? s->sigval.data : NULL, .valuelen = s->sigval.len,
		    .finding = cf ? cf : finding, .message = parts };
		sg.event = event_json(c->ev, &sg.eventlen);
		out->signal(out->arg, &sg);
		n++;
	}
out:
	json_decref(cf);
	json_decref(parts);
	buf_free(&vals);
	return n;
}

static size_t
suppress_signal(const struct rule *r, struct evctx *c, json_t *finding, int64_t t,
    const char *audit_id, const struct eval_out *out)
{
	struct eval_scratch *s = c->s;
	struct buf vals;
	struct keyvals kv;
	struct signal sg;
	size_t n = 0;

	buf_init(&vals);
	/* a missing by-field is a value too (absent), not a reason to speak
	 * on every event */
	kv.nf = r->suppress->nby;
	for (size_t i = 0; i < kv.nf && i < 8; i++) {
		size_t start = vals.len;
		struct keyvals one;
		if (keyvals_read(&r->suppress->by[i], 1, c, &vals, &one, 1) < 0) {
			vals.len = start;
			kv.off[i][0] = start;
			kv.len[i][0] = 0;
		} else {
			kv.off[i][0] = one.off[0][0];
			kv.len[i][0] = one.len[0][0];
		}
		kv.n[i] = 1;
	}
	if (kv.nf <= 8) {
		key_build(&s->sigkey, c->ev->cluster ? c->ev->cluster : "default", r->id, &vals,
		    &kv, 0);
		sg = (struct signal){ .rule = r, .step = 0, .key = s->sigkey.data,
		    .keylen = s->sigkey.len, .t = t, .audit_id = audit_id, .finding = finding };
		sg.event = event_json(c->ev, &sg.eventlen);
		out->signal(out->arg, &sg);
		n = 1;
	}
	buf_free(&vals);
	return n;
}

size_t
signals_emit(const struct rule *r, struct evctx *c, json_t *finding, const struct eval_out *out)
{
	const char *audit_id = json_string_value(json_object_get(finding, "audit_id"));
	int64_t t;
	size_t n = 0;

	if (event_time(c, &t) < 0) {
		c->s->untimed++;
		return 0;
	}
	for (size_t i = 0; i < r->nfeeds; i++)
		n += feed_signals(r->feeds[i], c, finding, t, audit_id ? audit_id : "", out);
	if (r->suppress && r->enabled)
		n += suppress_signal(r, c, finding, t, audit_id ? audit_id : "", out);
	c->s->signals += n;
	return n;
}

/* --- attribution -------------------------------------------------------------------- */

static const struct {
	const char	*resource;
	const char	*kind;
} owner_kinds[] = {
	{ "deployments", "Deployment" }, { "replicasets", "ReplicaSet" },
	{ "statefulsets", "StatefulSet" }, { "daemonsets", "DaemonSet" },
	{ "jobs", "Job" }, { "cronjobs", "CronJob" },
	{ "replicationcontrollers", "ReplicationController" },
};

static json_t *
tok_json_str(struct evctx *c, int t)
{
	const char *s;
	size_t n;

	if ((s = jtok_str(c->ev->doc, t, &c->s->tmp, &n)) == NULL || n == 0 || n > 1024)
		return NULL;
	return json_stringn(s, n);
}

/* {"kind", "name", "uid"} of the ownerReference marked controller. */
static json_t *
controller_ref(struct evctx *c, int obj)
{
	const struct jdoc *d = c->ev->doc;
	int refs = jtok_path(d, obj, "metadata.ownerReferences");
	json_t *kind, *name, *o;

	if (jtok_type(d, refs) != JT_ARR)
		return NULL;
	for (int t = jtok_first(d, refs); t >= 0; t = jtok_next(d, refs, t)) {
		if (jtok_type(d, jtok_getz(d, t, "controller")) != JT_TRUE)
			continue;
		kind = tok_json_str(c, jtok_getz(d, t, "kind"));
		name = tok_json_str(c, jtok_getz(d, t, "name"));
		if (kind == NULL || name == NULL) {
			json_decref(kind);
			json_decref(name);
			return NULL;
		}
		o = json_object();
		json_object_set_new(o, "kind", kind);
		json_object_set_new(o, "name", name);
		if ((kind = tok_json_str(c, jtok_getz(d, t, "uid"))) != NULL)
			json_object_set_new(o, "uid", kind);
		return o;
	}
	return NULL;
}

json_t *
owner_made_by_controller(struct evctx *c)
{
	const struct ruleset *rs = c->s->rs;
	int obj;

	if (rs->controller == NULL || !cond_eval(rs->controller, c, -1))
		return NULL;
	if ((obj = computed_object(c)) < 0)
		return NULL;
	return controller_ref(c, obj);
}

/* [cluster, "@owners", namespace]: one key, hence one partition and one
 * state, per namespace, for owners and the findings they explain. */
static void
owners_key(struct evctx *c, struct buf *key)
{
	const char *ns;
	size_t n;
	const char *cluster = c->ev->cluster ? c->ev->cluster : "default";

	buf_reset(key);
	buf_putc(key, '[');
	buf_json_str(key, cluster, strlen(cluster));
	buf_puts(key, ",\"@owners\",");
	if ((ns = event_str(c->ev, EF_NAMESPACE, &c->s->tmp, &n)) == NULL) {
		ns = "";
		n = 0;
	}
	buf_json_str(key, ns, n);
	buf_putc(key, ']');
}

size_t
signal_attribute(const struct rule *r, struct evctx *c, json_t *finding, json_t *owner,
    const struct eval_out *out)
{
	struct eval_scratch *s = c->s;
	struct signal sg;
	char *ref;
	int64_t t;

	if (event_time(c, &t) < 0) {
		s->untimed++;
		return 0;
	}
	owners_key(c, &s->sigkey);
	ref = json_dumps(owner, JSON_COMPACT);
	sg = (struct signal){ .kind = SIGNAL_ATTRIBUTE, .rule = r, .key = s->sigkey.data,
	    .keylen = s->sigkey.len, .t = t,
	    .audit_id = json_string_value(json_object_get(finding, "audit_id")),
	    .value = ref, .valuelen = ref ? strlen(ref) : 0, .finding = finding };
	sg.event = event_json(c->ev, &sg.eventlen);
	out->signal(out->arg, &sg);
	free(ref);
	s->signals++;
	return 1;
}

static const char *
owner_kind(struct evctx *c)
{
	for (size_t i = 0; i < sizeof(owner_kinds) / sizeof(owner_kinds[0]); i++)
		if (jtok_str_eq(c->ev->doc, c->ev->f[EF_RESOURCE], owner_kinds[i].resource,
		    strlen(owner_kinds[i].resource)))
			return owner_kinds[i].kind;
	return NULL;
}

size_t
signal_observe(struct evctx *c, const struct rule *const *fired, size_t nfired,
    const struct eval_out *out)
{
	struct eval_scratch *s = c->s;
	const struct jdoc *d = c->ev->doc;
	const char *kind = owner_kind(c), *v;
	json_t *o, *name, *rules, *ref;
	struct signal sg;
	int obj, verb = c->ev->f[EF_VERB];
	size_t n;
	int64_t t;

	if (kind == NULL || s->rs->controller == NULL || c->ev->f[EF_SUBRESOURCE] >= 0 ||
	    !(jtok_str_eq(d, verb, "create", 6) || jtok_str_eq(d, verb, "update", 6) ||
	    jtok_str_eq(d, verb, "patch", 5)))
		return 0;
	if ((obj = computed_object(c)) < 0 || event_time(c, &t) < 0)
		return 0;
	if ((name = tok_json_str(c, jtok_path(d, obj, "metadata.name"))) == NULL &&
	    (name = tok_json_str(c, c->ev->f[EF_NAME])) == NULL)
		return 0;
	o = json_object();
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "name", name);
	ref = controller_ref(c, obj);
	json_object_set_new(o, "owner", ref ? ref : json_null());
	/* a person: whoever wrote it, unless a controller did */
	v = NULL;
	n = 0;
	if (!cond_eval(s->rs->controller, c, -1) &&
	    (v = event_str(c->ev, EF_IMPERSONATED_NAME, &s->tmp, &n)) == NULL)
		v = event_str(c->ev, EF_USERNAME, &s->tmp, &n);
	json_object_set_new(o, "person", v ? json_stringn(v, n) : json_null());
	rules = json_array();
	for (size_t i = 0; i < nfired; i++)
		json_array_append_new(rules, json_string(fired[i]->id));
	json_object_set_new(o, "rules", rules);
	owners_key(c, &s->sigkey);
	sg = (struct signal){ .kind = SIGNAL_OBSERVE, .key = s->sigkey.data,
	    .keylen = s->sigkey.len, .t = t, .finding = o };
	out->signal(out->arg, &sg);
	json_decref(o);
	s->signals++;
	return 1;
}
