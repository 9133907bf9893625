/* finding.c — the finding a rule produces: DESIGN.md's fields, the rendered
 * message, and the evidence (the fields the condition read, with the values
 * that made it fire).
 *
 * Findings are rare next to events, so this is the one place of the
 * evaluation path that builds jansson values. Every string taken from the
 * event is capped and made valid UTF-8, so a hostile event cannot blow up a
 * finding or make it unprintable. */
#include "analyze/falco.h"
#include "base/hash.h"
#include "base/utf8.h"
#include "base/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_FIELD_MAX	256	/* bytes of one %{field} in a message */
#define FIELD_STR_MAX		4096	/* bytes of a finding's string field */

/* A JSON string of at most cap bytes (plus "..."), invalid UTF-8 replaced
 * by U+FFFD. New reference. */
static json_t *
jstring(const char *s, size_t n, size_t cap)
{
	struct buf b;
	json_t *j;
	size_t i = 0;

	/* the common case: short and valid, copied once by jansson */
	while (i < n && i < cap) {
		size_t l = (unsigned char)s[i] < 0x80 ? 1 : utf8_seq((const unsigned char *)s + i, n - i);
		if (l == 0)
			break;
		i += l;
	}
	if (i == n)
		return json_stringn_nocheck(s, n);
	i = 0;
	buf_init(&b);
	while (i < n && b.len < cap) {
		size_t l = utf8_seq((const unsigned char *)s + i, n - i);
		if (l == 0) {
			buf_append(&b, "\xef\xbf\xbd", 3);
			i++;
		} else {
			buf_append(&b, s + i, l);
			i += l;
		}
	}
	if (i < n)
		buf_puts(&b, "...");
	j = json_stringn_nocheck(buf_cstr(&b), b.len);
	buf_free(&b);
	return j;
}

static json_t *
jnumber(double v)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* Any token as a jansson value; big arrays and objects become a capped
 * string of their compact text. New reference. */
static json_t *
tok_json(struct evctx *c, int t)
{
	const struct jdoc *d = c->ev->doc;
	const char *s;
	size_t n;
	double v;
	json_t *j;
	char *dump;

	switch (jtok_type(d, t)) {
	case JT_STR:
		s = jtok_str(d, t, &c->s->tmp, &n);
		return s ? jstring(s, n, EVIDENCE_STR_MAX) : json_null();
	case JT_NUM:
		return jtok_num(d, t, &v) == 0 ? jnumber(v) : json_null();
	case JT_TRUE: return json_true();
	case JT_FALSE: return json_false();
	case JT_OBJ: case JT_ARR:
		s = jtok_raw(d, t, &n);
		if ((j = json_loadb(s, n, JSON_DECODE_ANY, NULL)) == NULL)
			return jstring(s, n, EVIDENCE_RAW_MAX);
		if (n <= EVIDENCE_RAW_MAX)
			return j;	/* compact text is never longer than the raw */
		dump = json_dumps(j, JSON_COMPACT);
		if (dump && strlen(dump) > EVIDENCE_RAW_MAX) {
			json_decref(j);
			j = jstring(dump, strlen(dump), EVIDENCE_RAW_MAX);
		}
		free(dump);
		return j;
	default:
		return json_null();
	}
}

static json_t *
val_json(struct evctx *c, const struct val *v)
{
	const struct jdoc *d = c->ev->doc;
	json_t *arr;

	switch (v->kind) {
	case VAL_STR: return jstring(v->s, v->n, EVIDENCE_STR_MAX);
	case VAL_NUM: return jnumber(v->num);
	case VAL_BOOL: return json_boolean(v->b);
	case VAL_TOK: return tok_json(c, v->tok);
	case VAL_LIST:
		arr = json_array();
		for (size_t i = 0; i < v->list->n && i < EVIDENCE_MAX; i++)
			json_array_append_new(arr, jstring(v->list->b.data + v->list->off[i],
			    v->list->len[i], EVIDENCE_STR_MAX));
		return arr;
	case VAL_ARRS:
		arr = json_array();
		for (int i = 0; i < v->narr; i++)
			for (int t = jtok_first(d, v->arr[i]); t >= 0 &&
			    json_array_size(arr) < EVIDENCE_MAX; t = jtok_next(d, v->arr[i], t))
				json_array_append_new(arr, tok_json(c, t));
		return arr;
	default: return json_null();
	}
}

static json_t *
ev_str(struct evctx *c, enum event_field f)
{
	size_t n;
	const char *s = event_str(c->ev, f, &c->s->tmp, &n);

	return s ? jstring(s, n, FIELD_STR_MAX) : json_null();
}

/* The API server gives every request an auditID; events from other sources
 * (hand-written fixtures, some log exports) may lack one. The finding's key
 * (audit_id, rule) must still be stable when the same message is delivered
 * again, so such events get an id derived from their own bytes. */
static json_t *
finding_audit_id(struct evctx *c)
{
	size_t n, len;
	const char *s = event_str(c->ev, EF_AUDIT_ID, &c->s->tmp, &n);
	const char *text;
	char id[40];

	if (s != NULL && n > 0)
		return jstring(s, n, FIELD_STR_MAX);
	text = event_json(c->ev, &len);
	snprintf(id, sizeof(id), "kaudit-%016llx",
	    (unsigned long long)fnv1a64(FNV1A64_INIT, text, len));
	return json_string(id);
}

/* --- evidence ------------------------------------------------------------- */

struct evidence {
	json_t		*obj;
	struct buf	 name;
};

static void
evidence_add(struct evidence *e, struct evctx *c, const struct field *f, int elem,
    const char *prefix, size_t plen)
{
	struct val v;

	if (json_object_size(e->obj) >= EVIDENCE_MAX)
		return;
	field_eval(f, c, elem, &v);
	if (v.kind == VAL_NONE)
		return;
	buf_reset(&e->name);
	if (f->base == FB_ELEM && plen > 0) {
		buf_append(&e->name, prefix, plen);
		if (strcmp(f->name, ".") != 0) {
			buf_putc(&e->name, '.');
			buf_puts(&e->name, f->name);
		}
	} else {
		buf_puts(&e->name, f->name);
	}
	if (json_object_get(e->obj, e->name.data) == NULL)
		json_object_set_new(e->obj, e->name.data, val_json(c, &v));
}

static void evidence_walk(struct evidence *e, const struct node *n, struct evctx *c,
    int elem, const char *prefix, size_t plen);

/* For any: the first element that satisfies the inner condition, named
 * array[i]; otherwise the array itself. */
static void
evidence_quant(struct evidence *e, const struct node *n, struct evctx *c, int elem,
    const char *prefix, size_t plen)
{
	const struct jdoc *d = c->ev->doc;
	struct val v;
	int arrs[3], narr = 0, i = 0;
	char name[256];

	field_eval(n->f, c, elem, &v);
	if (v.kind == VAL_TOK && jtok_type(d, v.tok) == JT_ARR)
		arrs[narr++] = v.tok;
	else if (v.kind == VAL_ARRS)
		for (int k = 0; k < v.narr; k++)
			arrs[narr++] = v.arr[k];
	for (int k = 0; k < narr && n->kind == N_ANY; k++) {
		for (int t = jtok_first(d, arrs[k]); t >= 0; t = jtok_next(d, arrs[k], t), i++) {
			int l;
			if (!cond_eval(n->kid[0], c, t))
				continue;
			if (n->f->base == FB_ELEM && plen > 0)
				l = snprintf(name, sizeof(name), "%.*s.%s[%d]", (int)plen, prefix,
				    n->f->name, i);
			else
				l = snprintf(name, sizeof(name), "%s[%d]", n->f->name, i);
			if (l > 0 && (size_t)l < sizeof(name))
				evidence_walk(e, n->kid[0], c, t, name, (size_t)l);
			return;
		}
	}
	evidence_add(e, c, n->f, elem, prefix, plen);
}

static void
evidence_walk(struct evidence *e, const struct node *n, struct evctx *c, int elem,
    const char *prefix, size_t plen)
{
	switch (n->kind) {
	case N_OR:
		/* only the branch that held */
		for (size_t i = 0; i < n->nkid; i++) {
			if (cond_eval(n->kid[i], c, elem)) {
				evidence_walk(e, n->kid[i], c, elem, prefix, plen);
				return;
			}
		}
		for (size_t i = 0; i < n->nkid; i++)
			evidence_walk(e, n->kid[i], c, elem, prefix, plen);
		break;
	case N_AND: case N_NOT: case N_MEMO:
		for (size_t i = 0; i < n->nkid; i++)
			evidence_walk(e, n->kid[i], c, elem, prefix, plen);
		break;
	case N_CMP:
		evidence_add(e, c, n->f, elem, prefix, plen);
		break;
	case N_ANY: case N_ALL:
		evidence_quant(e, n, c, elem, prefix, plen);
		break;
	default:
		break;
	}
}

/* --- the finding ------------------------------------------------------------ */

void
finding_message(const struct rule *r, struct evctx *c, struct buf *out)
{
	struct val v;

	for (size_t i = 0; i < r->nout; i++) {
		if (r->out[i].corr) {
			buf_printf(out, "%%{correlation.%s}", r->out[i].corr);
			continue;
		}
		if (r->out[i].ff) {
			ffield_render(r->out[i].ff, c, out, MESSAGE_FIELD_MAX);
			continue;
		}
		if (r->out[i].f == NULL) {
			buf_append(out, r->out[i].text, r->out[i].len);
			continue;
		}
		field_eval(r->out[i].f, c, -1, &v);
		field_render(&v, c, out, MESSAGE_FIELD_MAX);
	}
}

static json_t *
finding_groups(struct evctx *c)
{
	const struct jdoc *d = c->ev->doc;
	int arr = c->ev->f[EF_GROUPS];
	json_t *g = json_array();

	if (jtok_type(d, arr) != JT_ARR)
		return g;
	for (int t = jtok_first(d, arr); t >= 0 && json_array_size(g) < 256;
	    t = jtok_next(d, arr, t))
		if (jtok_type(d, t) == JT_STR)
			json_array_append_new(g, tok_json(c, t));
	return g;
}

static json_t *
finding_time(struct evctx *c)
{
	if (c->ev->f[EF_STAGE_TS] >= 0)
		return ev_str(c, EF_STAGE_TS);
	return ev_str(c, EF_RECEIVED_TS);
}

static json_t *
finding_code(struct evctx *c)
{
	double v;

	if (jtok_num(c->ev->doc, c->ev->f[EF_CODE], &v) < 0)
		return json_null();
	return jnumber(v);
}

static void finding_head(json_t *o, const struct rule *r);

json_t *
finding_message_parts(const struct rule *r, struct evctx *c)
{
	json_t *parts = json_array();
	struct buf text;
	struct val v;

	buf_init(&text);
	for (size_t i = 0; i < r->nout; i++) {
		if (r->out[i].corr) {
			if (text.len)
				json_array_append_new(parts, jstring(text.data, text.len, FIELD_STR_MAX));
			buf_reset(&text);
			json_array_append_new(parts, json_pack("{ss}", "c", r->out[i].corr));
		} else if (r->out[i].ff) {
			ffield_render(r->out[i].ff, c, &text, MESSAGE_FIELD_MAX);
		} else if (r->out[i].f == NULL) {
			buf_append(&text, r->out[i].text, r->out[i].len);
		} else {
			field_eval(r->out[i].f, c, -1, &v);
			field_render(&v, c, &text, MESSAGE_FIELD_MAX);
		}
	}
	if (text.len)
		json_array_append_new(parts, jstring(text.data, text.len, FIELD_STR_MAX));
	buf_free(&text);
	return parts;
}

json_t *
finding_retitle(json_t *finding, const struct rule *r)
{
	json_t *o = json_object(), *v;
	const char *k;

	finding_head(o, r);
	json_object_foreach(finding, k, v)
		if (json_object_get(o, k) == NULL)
			json_object_set(o, k, v);
	return o;
}

/* The fields every finding of r starts with, as finding_head() built them
 * for each finding before: now built for a rule's first finding and shared
 * by reference by the rest (never changed once built; jansson counts
 * references atomically, so threads may share them). */
static json_t *
head_build(const struct rule *r)
{
	json_t *o = json_object(), *tags = json_array();

	for (size_t i = 0; i < r->ntags; i++)
		json_array_append_new(tags, json_string(r->tags[i]));
	json_object_set_new_nocheck(o, "rule", json_string(r->id));
	json_object_set_new_nocheck(o, "title", json_string(r->title));
	json_object_set_new_nocheck(o, "severity", json_string(severity_name(r->severity)));
	json_object_set_new_nocheck(o, "category", json_string(r->category));
	json_object_set_new_nocheck(o, "tags", tags);
	return o;
}

/* r->head, built by the first thread to need it: a thread that loses the
 * race drops its own copy. Borrowed. */
static json_t *
head_get(const struct rule *r)
{
	json_t **slot = (json_t **)&r->head;	/* a cache, not the rule's meaning */
	json_t *head = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *mine, *none = NULL;

	if (head != NULL)
		return head;
	mine = head_build(r);
	if (__atomic_compare_exchange_n(slot, &none, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return mine;
	json_decref(mine);
	return none;
}

static void
finding_head(json_t *o, const struct rule *r)
{
	json_t *v;
	const char *k;

	json_object_foreach(head_get(r), k, v)
		json_object_set_nocheck(o, k, v);
}

json_t *
finding_build(const struct rule *r, struct evctx *c)
{
	json_t *o = json_object();
	struct evidence e = { json_object(), c->s->evname };
	struct buf *msg = &c->s->msg;
	int sip = c->ev->f[EF_SOURCE_IPS];

	finding_head(o, r);
	json_object_set_new_nocheck(o, "audit_id", finding_audit_id(c));
	json_object_set_new_nocheck(o, "stage", c->ev->f[EF_STAGE] >= 0 ? ev_str(c, EF_STAGE) :
	    json_string("ResponseComplete"));
	json_object_set_new_nocheck(o, "time", finding_time(c));
	json_object_set_new_nocheck(o, "cluster", json_string(c->ev->cluster ? c->ev->cluster : "default"));
	json_object_set_new_nocheck(o, "user", ev_str(c, EF_USERNAME));
	json_object_set_new_nocheck(o, "groups", finding_groups(c));
	json_object_set_new_nocheck(o, "impersonated_user", ev_str(c, EF_IMPERSONATED_NAME));
	json_object_set_new_nocheck(o, "source_ip", jtok_type(c->ev->doc, sip) == JT_ARR &&
	    jtok_type(c->ev->doc, jtok_at(c->ev->doc, sip, 0)) == JT_STR ?
	    tok_json(c, jtok_at(c->ev->doc, sip, 0)) : json_null());
	json_object_set_new_nocheck(o, "user_agent", ev_str(c, EF_USER_AGENT));
	json_object_set_new_nocheck(o, "verb", ev_str(c, EF_VERB));
	json_object_set_new_nocheck(o, "resource", ev_str(c, EF_RESOURCE));
	json_object_set_new_nocheck(o, "subresource", ev_str(c, EF_SUBRESOURCE));
	json_object_set_new_nocheck(o, "namespace", ev_str(c, EF_NAMESPACE));
	json_object_set_new_nocheck(o, "name", ev_str(c, EF_NAME));
	json_object_set_new_nocheck(o, "code", finding_code(c));
	buf_reset(msg);
	finding_message(r, c, msg);
	json_object_set_new_nocheck(o, "message", jstring(buf_cstr(msg), msg->len, FIELD_STR_MAX));
	evidence_walk(&e, r->cond, c, -1, "", 0);
	c->s->evname = e.name;	/* keep the grown buffer for the next finding */
	json_object_set_new_nocheck(o, "evidence", e.obj);
	/* later matches counted on it (suppress); the state engine keeps it */
	json_object_set_new_nocheck(o, "repeats", json_integer(0));
	return o;
}
