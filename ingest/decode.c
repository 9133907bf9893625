/* decode.c — turns one message into audit events, whatever its shape.
 *
 * DESIGN: the text is walked as a sequence of top-level JSON values (one
 * value is simply the common case); each value is tokenized once into a
 * document from a pool and classified: Event, EventList, array, AKS records,
 * GKE entry, shipper envelope. Wrappers that hold the event as a JSON string
 * are unescaped into decoder-owned text and decoded as messages of their own;
 * GKE entries are rewritten as audit-event JSON in decoder-owned text. Docs
 * and texts come from pools that grow but are only freed by decoded_free(),
 * so events can point into them until the next call and steady state makes
 * no allocation. A bad value costs one error and decoding resumes at the next
 * line, which is what a JSON-lines file needs; wrapper nesting is capped. */
#include "ingest/decode.h"
#include "ingest/decode_gke.h"
#include "base/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DECODE_MAX_WRAP	4

struct decoded_priv {
	struct jdoc	**doc;		/* pool; the first ndoc_used are in use */
	size_t		 ndoc, ndoc_used;
	struct buf	**text;		/* pool of owned texts, same scheme */
	size_t		 ntext, ntext_used;
	size_t		 evcap, errcap;
	struct buf	 scratch;
};

struct dctx {
	struct decoded	*out;
	const struct decode_opts *o;
	const char	*cluster;	/* for events decoded now */
	const char	*msg;		/* the outer message, for line numbers */
	size_t		 line, line_pos; /* line number of byte line_pos */
	size_t		 vline;		/* line of the current top-level value */
	size_t		 base;		/* offset of the current doc in its text */
	const char	*where;		/* set inside text unwrapped from a string */
	size_t		 where_off;	/* outer offset of that string */
	int		 wrap;		/* wrapper depth */
	decode_fn	 fn;		/* decode_stream() only */
	void		*arg;
	size_t		 total;
};

static void	decode_text(struct dctx *c, const char *text, size_t len);
static void	decode_object(struct dctx *c, const struct jdoc *d, int t);

void
decoded_init(struct decoded *out)
{
	memset(out, 0, sizeof(*out));
	out->priv = xcalloc(1, sizeof(*out->priv));
}

void
decoded_free(struct decoded *out)
{
	struct decoded_priv *p = out->priv;

	if (p) {
		for (size_t i = 0; i < p->ndoc; i++) {
			jdoc_free(p->doc[i]);
			free(p->doc[i]);
		}
		for (size_t i = 0; i < p->ntext; i++) {
			buf_free(p->text[i]);
			free(p->text[i]);
		}
		free(p->doc);
		free(p->text);
		buf_free(&p->scratch);
		free(p);
	}
	free(out->ev);
	free(out->err);
	memset(out, 0, sizeof(*out));
}

static void
decode_reset(struct decoded *out)
{
	out->nev = 0;
	out->nerr = 0;
	out->nerr_more = 0;
	out->priv->ndoc_used = 0;
	out->priv->ntext_used = 0;
}

static struct jdoc *
decode_doc(struct decoded_priv *p)
{
	if (p->ndoc_used == p->ndoc) {
		p->doc = xrealloc(p->doc, (p->ndoc + 1) * sizeof(*p->doc));
		p->doc[p->ndoc] = xmalloc(sizeof(struct jdoc));
		jdoc_init(p->doc[p->ndoc++]);
	}
	return p->doc[p->ndoc_used++];
}

/* An empty decoder-owned text that stays put until the next call. */
static struct buf *
decode_owned_text(struct decoded *out)
{
	struct decoded_priv *p = out->priv;

	if (p->ntext_used == p->ntext) {
		p->text = xrealloc(p->text, (p->ntext + 1) * sizeof(*p->text));
		p->text[p->ntext] = xmalloc(sizeof(struct buf));
		buf_init(p->text[p->ntext++]);
	}
	buf_reset(p->text[p->ntext_used]);
	buf_append(p->text[p->ntext_used], "", 0);
	return p->text[p->ntext_used++];
}

static void
decode_err(struct dctx *c, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* off is relative to the text being decoded: the message, or the unwrapped
 * string when c->where is set (then the error points at that string). */
static void
decode_err(struct dctx *c, size_t off, const char *fmt, ...)
{
	struct decoded *out = c->out;
	struct decode_error *e;
	char what[160];
	va_list ap;

	if (out->nerr >= DECODE_MAX_ERRORS) {
		out->nerr_more++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (out->nerr == out->priv->errcap) {
		out->priv->errcap = out->priv->errcap ? out->priv->errcap * 2 : 8;
		out->err = xrealloc(out->err, out->priv->errcap * sizeof(*out->err));
	}
	e = &out->err[out->nerr++];
	e->offset = c->where ? c->where_off : off;
	e->oversize = 0;
	if (c->where)
		snprintf(e->msg, sizeof(e->msg), "line %zu: offset %zu: %s: offset %zu: %.120s",
		    c->vline, c->where_off, c->where, off, what);
	else
		snprintf(e->msg, sizeof(e->msg), "line %zu: offset %zu: %.160s",
		    c->vline, off, what);
}

/* Offset of token t in the text being decoded. */
static size_t
decode_off(const struct dctx *c, const struct jdoc *d, int t)
{
	size_t start = d->tok[t].start;

	return c->base + (d->tok[t].type == JT_STR ? start - 1 : start);
}

static void
decode_event(struct dctx *c, const struct jdoc *d, int t, size_t off)
{
	struct decoded *out = c->out;
	struct audit_event *ev;

	if (out->nev == out->priv->evcap) {
		out->priv->evcap = out->priv->evcap ? out->priv->evcap * 2 : 16;
		out->ev = xrealloc(out->ev, out->priv->evcap * sizeof(*out->ev));
	}
	ev = &out->ev[out->nev++];
	ev->doc = d;
	ev->root = t;
	ev->cluster = c->cluster;
	ev->offset = c->where ? c->where_off : off;
	event_index(ev);
}

static const char *
decode_type_name(enum jtok_type type)
{
	static const char *names[] = {
		"nothing", "an object", "an array", "a string", "a number",
		"true", "false", "null",
	};

	return type <= JT_NULL ? names[type] : "?";
}

static int
decode_enter(struct dctx *c, size_t off)
{
	if (c->wrap >= DECODE_MAX_WRAP) {
		decode_err(c, off, "wrappers nested deeper than %d levels", DECODE_MAX_WRAP);
		return -1;
	}
	c->wrap++;
	return 0;
}

/* Elements of a JSON array or of an EventList's items: objects only. */
static void
decode_list(struct dctx *c, const struct jdoc *d, int arr)
{
	uint32_t i = 0;

	if (decode_enter(c, decode_off(c, d, arr)) < 0)
		return;
	for (int e = jtok_first(d, arr); e >= 0; e = jtok_next(d, arr, e), i++) {
		if (jtok_type(d, e) != JT_OBJ)
			decode_err(c, decode_off(c, d, e), "element %u: expected an object, got %s",
			    i, decode_type_name(jtok_type(d, e)));
		else
			decode_object(c, d, e);
	}
	c->wrap--;
}

/* A string that holds a whole message of its own. */
static void
decode_string(struct dctx *c, const struct jdoc *d, int t, const char *where)
{
	struct dctx saved = *c;
	struct buf *text;
	size_t off = decode_off(c, d, t);

	if (decode_enter(c, off) < 0)
		return;
	text = decode_owned_text(c->out);
	if (jtok_unescape(d->text + d->tok[t].start, d->tok[t].len, text) < 0) {
		decode_err(c, off, "%s: malformed escape", where);
		goto out;
	}
	if (c->where == NULL)
		c->where_off = off;
	c->where = where;
	decode_text(c, text->data, text->len);
out:
	c->wrap = saved.wrap;
	c->where = saved.where;
	c->where_off = saved.where_off;
	c->base = saved.base;
}

/* Case-insensitive: Azure writes resource ids in upper case as often as not. */
static const char *
decode_aks_cluster(struct dctx *c, const struct jdoc *d, int rec)
{
	static const char key[] = "/managedclusters/";
	const char *s, *end, *name;
	size_t n, k = sizeof(key) - 1;
	struct buf *b;

	s = jtok_str(d, jtok_getz(d, rec, "resourceId"), &c->out->priv->scratch, &n);
	if (s == NULL)
		return c->cluster;
	for (size_t i = 0; i + k <= n; i++) {
		if (strncasecmp(s + i, key, k) != 0)
			continue;
		name = s + i + k;
		end = memchr(name, '/', n - i - k);
		if (end == NULL)
			end = s + n;
		if (end == name)
			break;
		b = decode_owned_text(c->out);
		buf_append(b, name, (size_t)(end - name));
		return b->data;
	}
	return c->cluster;
}

/* An Azure diagnostic record: properties.log holds the event. */
static void
decode_record(struct dctx *c, const struct jdoc *d, int rec)
{
	const char *cluster = c->cluster;
	int log;

	if (jtok_type(d, rec) != JT_OBJ) {
		decode_err(c, decode_off(c, d, rec), "record: expected an object, got %s",
		    decode_type_name(jtok_type(d, rec)));
		return;
	}
	log = jtok_path(d, rec, "properties.log");
	c->cluster = decode_aks_cluster(c, d, rec);
	if (jtok_type(d, log) == JT_STR)
		decode_string(c, d, log, "properties.log");
	else if (jtok_type(d, log) == JT_OBJ && decode_enter(c, decode_off(c, d, log)) == 0) {
		decode_object(c, d, log);
		c->wrap--;
	} else if (jtok_type(d, log) != JT_OBJ)
		decode_err(c, decode_off(c, d, rec), "record without a properties.log string or object");
	c->cluster = cluster;
}

static void
decode_records(struct dctx *c, const struct jdoc *d, int arr)
{
	if (decode_enter(c, decode_off(c, d, arr)) < 0)
		return;
	for (int r = jtok_first(d, arr); r >= 0; r = jtok_next(d, arr, r))
		decode_record(c, d, r);
	c->wrap--;
}

static void
decode_gke_entry(struct dctx *c, const struct jdoc *d, int t)
{
	struct jdoc *doc;
	struct buf *text = decode_owned_text(c->out), *name;
	const char *cluster = c->cluster;
	char err[128];

	decode_gke(d, t, text);
	doc = decode_doc(c->out->priv);
	if (jtok_parse(doc, text->data, text->len, err, sizeof(err)) < 0) {
		decode_err(c, decode_off(c, d, t), "GKE entry could not be mapped: %s", err);
		return;
	}
	name = decode_owned_text(c->out);
	if (decode_gke_cluster(d, t, name) == 0)
		c->cluster = name->data;
	decode_event(c, doc, 0, decode_off(c, d, t));
	c->cluster = cluster;
}

static int
decode_is_gke(const struct jdoc *d, int pp)
{
	int m = jtok_getz(d, pp, "methodName");

	if (jtok_str_eq(d, jtok_getz(d, pp, "serviceName"), "k8s.io", 6))
		return 1;
	return jtok_type(d, m) == JT_STR && d->tok[m].len >= 7 &&
	    memcmp(d->text + d->tok[m].start, "io.k8s.", 7) == 0;
}

static void
decode_envelope(struct dctx *c, const struct jdoc *d, int v)
{
	if (jtok_type(d, v) == JT_STR)
		decode_string(c, d, v, c->o->envelope_field);
	else if (jtok_type(d, v) == JT_OBJ && decode_enter(c, decode_off(c, d, v)) == 0) {
		decode_object(c, d, v);
		c->wrap--;
	} else if (jtok_type(d, v) != JT_OBJ)
		decode_err(c, decode_off(c, d, v), "envelope field %s holds %s, not a string or object",
		    c->o->envelope_field, decode_type_name(jtok_type(d, v)));
}

static void
decode_object(struct dctx *c, const struct jdoc *d, int t)
{
	const char *env = c->o->envelope_field;
	int kind = jtok_getz(d, t, "kind"), v;

	if (env && *env && (v = jtok_getz(d, t, env)) >= 0) {
		decode_envelope(c, d, v);
		return;
	}
	if (jtok_str_eq(d, kind, "EventList", 9)) {
		if (jtok_type(d, v = jtok_getz(d, t, "items")) == JT_ARR)
			decode_list(c, d, v);
		else
			decode_err(c, decode_off(c, d, t), "EventList without an items array");
		return;
	}
	if (jtok_str_eq(d, kind, "Event", 5) ||
	    (jtok_getz(d, t, "auditID") >= 0 && jtok_getz(d, t, "verb") >= 0)) {
		decode_event(c, d, t, decode_off(c, d, t));
		return;
	}
	if (jtok_type(d, v = jtok_getz(d, t, "records")) == JT_ARR)
		decode_records(c, d, v);
	else if (jtok_path(d, t, "properties.log") >= 0)
		decode_record(c, d, t);
	else if (jtok_type(d, v = jtok_getz(d, t, "protoPayload")) == JT_OBJ && decode_is_gke(d, v))
		decode_gke_entry(c, d, t);
	else
		decode_err(c, decode_off(c, d, t), "not an audit event (no auditID/verb)");
}

static void
decode_value(struct dctx *c, const struct jdoc *d)
{
	switch (jtok_type(d, 0)) {
	case JT_OBJ:
		decode_object(c, d, 0);
		break;
	case JT_ARR:
		decode_list(c, d, 0);
		break;
	default:
		decode_err(c, decode_off(c, d, 0), "not an audit event: %s",
		    decode_type_name(jtok_type(d, 0)));
	}
}

/* Line number of byte pos of the outer message; positions only grow. */
static size_t
decode_line(struct dctx *c, size_t pos)
{
	const char *p = c->msg + c->line_pos, *end = c->msg + pos, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c->line++;
		p = nl + 1;
	}
	c->line_pos = pos;
	return c->line;
}

/* Says in the last error kept how many more there were. */
static void
decode_count_more(struct decoded *out)
{
	char note[64];
	char *msg;
	size_t n, keep;

	if (out->nerr_more == 0 || out->nerr == 0)
		return;
	msg = out->err[out->nerr - 1].msg;
	n = (size_t)snprintf(note, sizeof(note), " (and %zu more errors in this message)",
	    out->nerr_more);
	keep = sizeof(out->err[0].msg) - 1 - n;
	if (strlen(msg) > keep)
		msg[keep] = '\0';
	memcpy(msg + strlen(msg), note, n + 1);
}

static void
decode_flush(struct dctx *c)
{
	if (c->fn == NULL)
		return;
	decode_count_more(c->out);
	if (c->out->nev || c->out->nerr)
		c->fn(c->arg, c->out);
	c->total += c->out->nev;
	decode_reset(c->out);
}

/* A tokenizer message is "offset K: what"; K is relative to the value. */
static void
decode_parse_err(struct dctx *c, size_t pos, const char *err)
{
	char *end;
	unsigned long long k = 0;

	if (strncmp(err, "offset ", 7) == 0) {
		k = strtoull(err + 7, &end, 10);
		if (strncmp(end, ": ", 2) == 0)
			err = end + 2;
	}
	decode_err(c, pos + (size_t)k, "%s", err);
}

static int
decode_ws(char ch)
{
	return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t';
}

/* Decodes each top-level value of text[0..len); a value that does not parse
 * costs one error and the walk resumes after the line it started on. */
static void
decode_text(struct dctx *c, const char *text, size_t len)
{
	size_t pos = 0, used;
	const char *nl;
	struct jdoc *d;
	char err[128];

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	for (;;) {
		while (pos < len && decode_ws(text[pos]))
			pos++;
		if (pos >= len)
			break;
		if (c->where == NULL)
			c->vline = decode_line(c, pos);
		d = decode_doc(c->out->priv);
		c->base = pos;
		if (jtok_parse_prefix(d, text + pos, len - pos, &used, err, sizeof(err)) < 0) {
			decode_parse_err(c, pos, err);
			nl = memchr(text + pos, '\n', len - pos);
			pos = nl ? (size_t)(nl - text) + 1 : len;
		} else if (c->fn && c->o && c->o->max_bytes && used > c->o->max_bytes) {
			size_t nerr = c->out->nerr;
			decode_err(c, pos, "message of %zu bytes exceeds ingest.max_message_bytes (%zu)",
			    used, c->o->max_bytes);
			if (c->out->nerr > nerr)
				c->out->err[nerr].oversize = 1;
			pos += used;
		} else {
			decode_value(c, d);
			pos += used;
		}
		if (c->where == NULL)
			decode_flush(c);
	}
}

static void
decode_ctx(struct dctx *c, struct decoded *out, const char *buf,
    const struct decode_opts *o)
{
	static const struct decode_opts none;

	memset(c, 0, sizeof(*c));
	c->out = out;
	c->o = o ? o : &none;
	c->cluster = c->o->cluster && *c->o->cluster ? c->o->cluster : "default";
	c->msg = buf;
	c->line = 1;
	c->vline = 1;
}

size_t
decode_message(struct decoded *out, const char *buf, size_t len,
    const struct decode_opts *o)
{
	struct dctx c;

	if (out->priv == NULL)
		decoded_init(out);
	decode_reset(out);
	decode_ctx(&c, out, buf, o);
	if (c.o->max_bytes && len > c.o->max_bytes) {
		struct decode_error *e;

		out->err = xrealloc(out->err, (out->priv->errcap ? out->priv->errcap : 1) *
		    sizeof(*out->err));
		if (out->priv->errcap == 0)
			out->priv->errcap = 1;
		e = &out->err[out->nerr++];
		e->offset = 0;
		e->oversize = 1;
		snprintf(e->msg, sizeof(e->msg),
		    "message of %zu bytes exceeds ingest.max_message_bytes (%zu)", len, c.o->max_bytes);
		return 0;
	}
	decode_text(&c, buf, len);
	decode_count_more(out);
	return out->nev;
}

size_t
decode_stream(struct decoded *work, const char *buf, size_t len,
    const struct decode_opts *o, decode_fn fn, void *arg)
{
	struct dctx c;

	if (work->priv == NULL)
		decoded_init(work);
	decode_reset(work);
	decode_ctx(&c, work, buf, o);
	c.fn = fn;
	c.arg = arg;
	decode_text(&c, buf, len);
	return c.total;
}
