/* sigmadet.c — a Sigma rule's `detection` compiled into a condition tree:
 * search identifiers (a mapping is an AND of its fields, a list of values an
 * OR, a list of mappings an OR of them), the value modifiers, and the
 * `condition` expression (and, or, not, parentheses, `1 of` and `all of`
 * over identifier patterns or `them`).
 *
 * DESIGN: Sigma compares text case-insensitively with `*` and `?`
 * wildcards, so every string comparison becomes one regex: the values of a
 * field are escaped byte by byte and joined into one alternation, anchored
 * as the modifier says (whole value, contains, startswith, endswith), with
 * (?i) unless `|cased`. Numbers and booleans are also compared as typed
 * values where the audit field may hold them. A field name that is no path
 * of an audit event, or a value that the field's type can never hold (the
 * string 'ALLOW' against responseStatus.code), is warned about and compiled
 * as the comparison it is: one that never holds (a missing field), so the
 * rule keeps the logic its author wrote and no other. */
#include "analyze/compile.h"
#include "base/b64.h"
#include "base/yamldoc.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGMA_IDENTS_MAX	256	/* search identifiers in one detection */
#define SIGMA_VALUES_MAX	4096	/* values of one field */

enum smatch { SM_EQ, SM_CONTAINS, SM_STARTS, SM_ENDS };

struct smods {
	enum smatch	 match;
	int		 all, cased, windash, exists, cidr;
	int		 b64;		/* 1 base64, 2 base64offset */
	int		 re;		/* re, with re_flags "i", "m", "s" */
	char		 re_flags[4];
	const char	*cmp;		/* "<", "<=", ">", ">=" */
};

struct ident {
	const char	*name;
	struct node	*n;
};

struct sdet {
	struct compiler	*c;
	yaml_document_t	*d;
	const char	*rid;		/* the rule's id, for messages */
	struct ident	 id[SIGMA_IDENTS_MAX];
	size_t		 nid;
};

static struct node *
node_const(struct compiler *c, int v)
{
	struct node *n = arena_alloc(c->ar, sizeof(*n));

	n->kind = v ? N_TRUE : N_FALSE;
	return n;
}

static struct node *
node_exists(struct compiler *c, struct field *f, int want)
{
	struct node *n = arena_alloc(c->ar, sizeof(*n));

	n->kind = N_CMP;
	n->f = f;
	n->op = OP_EXISTS;
	return want ? n : cond_group(c->ar, N_NOT, &n, 1);
}

static struct node *
node_join(struct compiler *c, enum nkind kind, struct node **kid, size_t n)
{
	if (n == 0)
		return node_const(c, kind == N_AND);
	return n == 1 ? kid[0] : cond_group(c->ar, kind, kid, n);
}

/* --- modifiers --------------------------------------------------------------------- */

static int
mod_one(struct compiler *c, int line, const char *m, struct smods *o)
{
	static const char *const unsupported[] = { "utf16", "utf16le", "utf16be", "wide",
	    "minute", "hour", "day", "week", "month", "year", NULL };
	static const char *const cmps[][2] = { { "lt", "<" }, { "lte", "<=" }, { "gt", ">" },
	    { "gte", ">=" } };

	if (strcmp(m, "contains") == 0) o->match = SM_CONTAINS;
	else if (strcmp(m, "startswith") == 0) o->match = SM_STARTS;
	else if (strcmp(m, "endswith") == 0) o->match = SM_ENDS;
	else if (strcmp(m, "all") == 0) o->all = 1;
	else if (strcmp(m, "cased") == 0) o->cased = 1;
	else if (strcmp(m, "windash") == 0) o->windash = 1;
	else if (strcmp(m, "exists") == 0) o->exists = 1;
	else if (strcmp(m, "cidr") == 0) o->cidr = 1;
	else if (strcmp(m, "base64") == 0) o->b64 = 1;
	else if (strcmp(m, "base64offset") == 0) o->b64 = 2;
	else if (strcmp(m, "re") == 0) o->re = 1;
	else if ((strcmp(m, "i") == 0 || strcmp(m, "m") == 0 || strcmp(m, "s") == 0) && o->re) {
		if (strchr(o->re_flags, m[0]) == NULL)
			o->re_flags[strlen(o->re_flags)] = m[0];
	} else if (strcmp(m, "expand") == 0) {
		cerr(c, c->file, line, "sigma: modifier expand: placeholders (%%name%%) are not "
		    "supported; write the values out");
		return -1;
	} else if (strcmp(m, "fieldref") == 0) {
		cerr(c, c->file, line, "sigma: modifier fieldref (comparing two fields) is not "
		    "supported");
		return -1;
	} else {
		for (size_t i = 0; i < 4; i++)
			if (strcmp(m, cmps[i][0]) == 0) {
				o->cmp = cmps[i][1];
				return 0;
			}
		for (size_t i = 0; unsupported[i]; i++)
			if (strcmp(m, unsupported[i]) == 0) {
				cerr(c, c->file, line, "sigma: modifier %s is not supported for "
				    "Kubernetes audit events", m);
				return -1;
			}
		cerr(c, c->file, line, "sigma: unknown modifier \"%s\"", m);
		return -1;
	}
	return 0;
}

/* Splits `field|mod|mod` into the field name (arena) and the modifiers. */
static const char *
mods_parse(struct compiler *c, int line, const char *key, struct smods *o)
{
	const char *bar = strchr(key, '|');
	const char *name = arena_strndup(c->ar, key, bar ? (size_t)(bar - key) : strlen(key));
	int kinds;

	memset(o, 0, sizeof(*o));
	while (bar) {
		const char *next = strchr(bar + 1, '|');
		char m[32];
		size_t n = next ? (size_t)(next - bar - 1) : strlen(bar + 1);
		snprintf(m, sizeof(m), "%.*s", (int)(n < sizeof(m) ? n : sizeof(m) - 1), bar + 1);
		if (n >= sizeof(m) || mod_one(c, line, m, o) < 0) {
			if (n >= sizeof(m))
				cerr(c, c->file, line, "sigma: unknown modifier \"%.40s...\"", bar + 1);
			return NULL;
		}
		bar = next;
	}
	kinds = (o->re != 0) + (o->cidr != 0) + (o->exists != 0) + (o->cmp != NULL);
	if (kinds > 1 || (kinds == 1 && (o->match != SM_EQ || o->b64 || o->windash))) {
		cerr(c, c->file, line, "sigma: %s: re, cidr, exists and lt/lte/gt/gte stand alone "
		    "(no contains, startswith, endswith, base64 or windash with them)", key);
		return NULL;
	}
	if (o->b64 == 2 && o->match != SM_CONTAINS) {
		cerr(c, c->file, line, "sigma: %s: base64offset needs contains (the encoded text "
		    "sits inside a longer one)", key);
		return NULL;
	}
	return name;
}

/* --- fields -------------------------------------------------------------------------- */

/* The audit field a Sigma field name names, or NULL after a warning: a
 * name that is no path of an audit event (ka.* are kaudit's own). */
static struct field *
sfield(struct sdet *s, const char *name, int line)
{
	char err[256];
	struct field *f = NULL;

	if (strncmp(name, "ka.", 3) != 0)
		f = field_compile(s->c->ar, name, strlen(name), 0, err, sizeof(err));
	if (f == NULL || f->base == FB_COMPUTED)
		cwarn(s->c, s->c->file, line, "sigma rule %s: field \"%s\" is no path of an audit "
		    "event: the comparison never holds, so the rule cannot fire as written",
		    s->rid, name);
	return f && f->base != FB_COMPUTED ? f : NULL;
}

/* --- values ---------------------------------------------------------------------------- */

enum vkind { V_NULL, V_NUM, V_BOOL, V_STR };

static enum vkind
vkind(const yaml_node_t *n, double *num, int *b)
{
	const char *s = (const char *)n->data.scalar.value;
	char *end;

	*num = 0;
	*b = 0;
	if (yamldoc_plain(n)) {
		if (*s == '\0' || strcmp(s, "null") == 0 || strcmp(s, "~") == 0 ||
		    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
			return V_NULL;
		if ((*b = yamldoc_bool(n)) >= 0)
			return V_BOOL;
		*b = 0;
	}
	if (*s != '\0' && strlen(s) == n->data.scalar.length && !isspace((unsigned char)*s)) {
		*num = strtod(s, &end);
		if (*end == '\0' && isfinite(*num) && !isalpha((unsigned char)*s) &&
		    strpbrk(s, "xXnN") == NULL)
			return yamldoc_plain(n) ? V_NUM : V_STR;
	}
	return V_STR;
}

static int
text_numeric(const char *s, double *num)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s) || strpbrk(s, "xXnN"))
		return 0;
	*num = strtod(s, &end);
	return *end == '\0' && isfinite(*num);
}

/* One byte of literal text into the regex. */
static void
re_byte(struct buf *re, unsigned char ch)
{
	if (isalnum(ch))
		buf_putc(re, (char)ch);
	else
		buf_printf(re, "\\x%02x", ch);
}

/* Sigma text into regex: `*` any run, `?` one byte, `\` escapes `*`, `?`
 * and itself and is literal before anything else. */
static void
re_text(struct buf *re, const char *s, size_t n, int wildcards)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (wildcards && ch == '\\' && i + 1 < n && strchr("*?\\", s[i + 1])) {
			re_byte(re, (unsigned char)s[++i]);
		} else if (wildcards && ch == '*') {
			buf_puts(re, ".*");
		} else if (wildcards && ch == '?') {
			buf_putc(re, '.');
		} else {
			re_byte(re, ch);
		}
	}
}

static int
has_wildcard(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && strchr("*?\\", s[i + 1]))
			i++;
		else if (s[i] == '*' || s[i] == '?')
			return 1;
	}
	return 0;
}

/* The text without its wildcard escapes (base64 encodes what it names). */
static void
text_plain(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && strchr("*?\\", s[i + 1]))
			i++;
		buf_putc(out, s[i]);
	}
}

/* base64offset: the encodings of the text at the three offsets it may
 * sit at inside a longer encoded text, less the digits its neighbours
 * share (as the Sigma specification defines them). */
static void
re_b64(struct buf *re, const char *s, size_t n, int offsets)
{
	static const size_t lead[3] = { 0, 2, 3 };
	struct buf plain, enc;

	buf_init(&plain);
	buf_init(&enc);
	for (int k = 0; k < (offsets ? 3 : 1); k++) {
		size_t total, cut;
		buf_reset(&enc);
		buf_reset(&plain);
		for (int z = 0; z < k; z++)
			buf_putc(&plain, ' ');
		text_plain(&plain, s, n);
		b64_encode((const unsigned char *)plain.data, plain.len, &enc);
		if (offsets) {
			/* the last digits (and padding) depend on what follows */
			total = plain.len % 3;
			cut = total == 0 ? 0 : total == 1 ? 3 : 2;
			enc.len = enc.len > cut ? enc.len - cut : 0;
			if (lead[k] > enc.len)
				continue;
			if (k)
				buf_putc(re, '|');
			re_text(re, enc.data + lead[k], enc.len - lead[k], 0);
		} else {
			re_text(re, enc.data, enc.len, 0);
		}
	}
	buf_free(&plain);
	buf_free(&enc);
}

/* windash: the text with every option dash ('-' or '/' starting a word)
 * written each way Windows accepts: -, /, en dash, em dash, bar. */
static void
re_windash(struct buf *re, const char *s, size_t n, int wildcards)
{
	static const char *const dash[] = { "-", "/", "\xe2\x80\x93", "\xe2\x80\x94",
	    "\xe2\x80\x95" };
	struct buf v;

	buf_init(&v);
	for (size_t k = 0; k < 5; k++) {
		buf_reset(&v);
		for (size_t i = 0; i < n; i++) {
			int word_start = (i == 0 || !isalnum((unsigned char)s[i - 1])) &&
			    i + 1 < n && isalnum((unsigned char)s[i + 1]);
			if ((s[i] == '-' || s[i] == '/') && word_start)
				buf_puts(&v, dash[k]);
			else
				buf_putc(&v, s[i]);
		}
		if (k)
			buf_putc(re, '|');
		re_text(re, v.data, v.len, wildcards);
	}
	buf_free(&v);
}

/* The alternatives one string value stands for. */
static void
re_value(struct buf *re, const struct smods *m, const char *s, size_t n)
{
	if (m->b64)
		re_b64(re, s, n, m->b64 == 2);
	else if (m->windash)
		re_windash(re, s, n, 1);
	else
		re_text(re, s, n, 1);
}

struct vctx {
	struct sdet	*s;
	struct field	*f;
	const char	*fname;
	const struct smods *m;
	int		 line;
	size_t		 nalt;		/* alternatives in the OR's regex so far */
	struct lit	*pin;		/* the same, when each is a whole plain value */
	size_t		 npin;
	int		 nopin;		/* one is not */
	struct cond_ctx	 cc;
};

static struct node *
cmp_node(struct vctx *v, const char *op, const struct lit *l, size_t nl, int seq)
{
	struct node *n;

	v->cc.nerr = 0;
	n = cond_cmp(&v->cc, "sigma", v->fname, op, l, nl, seq);
	v->s->c->nerr += v->cc.nerr;
	return n;
}

/* A regex over the alternatives in alt, anchored as the match says. */
static struct node *
regex_node(struct vctx *v, const char *alt)
{
	static const char *const pre[] = { "\\A(?:", "(?:", "\\A(?:", "(?:" };
	static const char *const post[] = { ")\\z", ")", ")", ")\\z" };
	struct buf re;
	struct lit l;
	struct node *n;

	buf_init(&re);
	buf_printf(&re, "(?s%s)%s%s%s", v->m->cased || v->m->b64 ? "" : "i", pre[v->m->match],
	    alt, post[v->m->match]);
	memset(&l, 0, sizeof(l));
	l.s = arena_strndup(v->s->c->ar, re.data, re.len);
	l.n = re.len;
	l.flags = LIT_QUOTED;
	buf_free(&re);
	n = cmp_node(v, "regex", &l, 1, 0);
	return n;
}

static int
type_never(struct vctx *v, const char *what, const char *text)
{
	static const char *const tn[] = { "", "a string", "a number", "a boolean", "an array",
	    "an object", "" };
	cwarn(v->s->c, v->s->c->file, v->line, "sigma rule %s: %s is %s in audit events, "
	    "compared with %s '%s': the comparison never holds, so the rule cannot fire "
	    "as written", v->s->rid, v->fname, tn[v->f->type], what, text);
	return 0;
}

/* The typed comparison a scalar also stands for: a number (or a quoted
 * one: Sigma values are text) against a numeric field or one typed at run
 * time, a boolean against a boolean.
 * Returns 1 with *out set, 0 when there is none, -1 after an error. */
static int
typed_node(struct vctx *v, enum vkind k, double num, int b, const char *text, struct node **out)
{
	struct lit l = { .s = text, .n = strlen(text) };
	enum ftype t = v->f->type;
	int plain = v->m->match == SM_EQ && !v->m->b64 && !v->m->windash;

	*out = NULL;
	if (!plain || (t != FT_NUM && t != FT_BOOL && t != FT_ANY))
		return 0;
	if ((k == V_NUM || k == V_STR) && t != FT_BOOL && text_numeric(text, &num)) {
		l.flags = LIT_NUM;
		l.num = num;
	} else if (k == V_BOOL && t != FT_NUM) {
		l.flags = LIT_BOOL;
		l.b = b;
	} else {
		return 0;
	}
	*out = cmp_node(v, "=", &l, 1, 0);
	return *out ? 1 : -1;
}

/* Notes a whole plain value (no wildcard, no transformation) for the
 * index: a rule whose verb, resource or subresource can only be such
 * values waits in their buckets (index.c). */
static void
pin_value(struct vctx *v, const char *text, size_t n)
{
	struct buf plain;

	if (v->m->match != SM_EQ || v->m->b64 || v->m->windash || has_wildcard(text, n) ||
	    v->f->ikey == IK_NONE) {
		v->nopin = 1;
		return;
	}
	buf_init(&plain);
	text_plain(&plain, text, n);
	v->pin = xrealloc(v->pin, (v->npin + 1) * sizeof(*v->pin));
	v->pin[v->npin] = (struct lit){ .s = arena_strndup(v->s->c->ar, buf_cstr(&plain),
	    plain.len), .n = plain.len, .flags = LIT_QUOTED };
	v->npin++;
	buf_free(&plain);
}

/* The pinned values as the regex node's set (read by index.c only). */
static void
pin_set(struct vctx *v, struct node *n)
{
	if (n == NULL || v->nopin || v->npin == 0)
		return;
	n->set = arena_alloc(v->s->c->ar, sizeof(*n->set));
	n->set->str = arena_alloc(v->s->c->ar, v->npin * sizeof(*n->set->str));
	memcpy(n->set->str, v->pin, v->npin * sizeof(*v->pin));
	n->set->nstr = v->npin;
}

/* A value the field is missing for: null (or exists: false) holds. */
static int
missing_holds(const struct smods *m, yaml_node_t **vals, size_t n)
{
	int any = 0, every = 1;
	double num;
	int b;

	for (size_t i = 0; i < n; i++) {
		int h = m->exists ? yamldoc_bool(vals[i]) == 0 :
		    !m->re && !m->cidr && !m->cmp && vkind(vals[i], &num, &b) == V_NULL;
		any |= h;
		every &= h;
	}
	return m->all ? every : any;
}

/* The nodes of one value. Null means the field is missing. A string adds
 * its alternatives to alt (OR of values), or, under `all`, makes its own
 * node; a number or boolean may add a typed comparison as well. */
static int
one_value(struct vctx *v, yaml_node_t *y, struct node **kid, size_t *nkid, struct buf *alt)
{
	const char *text = (const char *)y->data.scalar.value;
	enum ftype t = v->f->type;
	struct node *typed = NULL, *both[2];
	struct buf own;
	double num;
	int b;
	enum vkind k = vkind(y, &num, &b);

	if (k == V_NULL) {
		if (v->m->match != SM_EQ || v->m->b64 || v->m->windash) {
			cerr(v->s->c, v->s->c->file, yamldoc_line(y), "sigma: %s: null takes no "
			    "modifier (it means the field is missing)", v->fname);
			return -1;
		}
		kid[(*nkid)++] = node_exists(v->s->c, v->f, 0);
		return 0;
	}
	if (typed_node(v, k, num, b, text, &typed) < 0)
		return -1;
	if (t == FT_NUM || t == FT_BOOL || t == FT_OBJ) {
		if (typed)
			kid[(*nkid)++] = typed;
		else
			type_never(v, "the value", text);
		return 0;
	}
	if (!v->m->all) {
		if (typed)
			kid[(*nkid)++] = typed;
		if (v->nalt++)
			buf_putc(alt, '|');
		re_value(alt, v->m, text, y->data.scalar.length);
		pin_value(v, text, y->data.scalar.length);
		return 0;
	}
	buf_init(&own);
	re_value(&own, v->m, text, y->data.scalar.length);
	both[0] = regex_node(v, buf_cstr(&own));
	buf_free(&own);
	if ((both[1] = typed) != NULL && both[0] != NULL)
		both[0] = cond_group(v->s->c->ar, N_OR, both, 2);
	if (both[0] == NULL)
		return -1;
	kid[(*nkid)++] = both[0];
	return 0;
}

static int
values_of(struct vctx *v, yaml_node_t *y, yaml_node_t ***out, size_t *n)
{
	yaml_document_t *d = v->s->d;

	if (y->type == YAML_SCALAR_NODE) {
		*out = xcalloc(1, sizeof(**out));
		(*out)[0] = y;
		*n = 1;
		return 0;
	}
	if (y->type != YAML_SEQUENCE_NODE) {
		cerr(v->s->c, v->s->c->file, yamldoc_line(y), "sigma: %s: expected a value or "
		    "a list of values", v->fname);
		return -1;
	}
	*n = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
	if (*n == 0 || *n > SIGMA_VALUES_MAX) {
		cerr(v->s->c, v->s->c->file, yamldoc_line(y), "sigma: %s: expected 1 to %d values",
		    v->fname, SIGMA_VALUES_MAX);
		return -1;
	}
	*out = xcalloc(*n, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		(*out)[i] = yaml_document_get_node(d, y->data.sequence.items.start[i]);
		if (yamldoc_scalar((*out)[i]) == NULL) {
			cerr(v->s->c, v->s->c->file, yamldoc_line((*out)[i]), "sigma: %s: values "
			    "must be scalars", v->fname);
			free(*out);
			return -1;
		}
	}
	return 0;
}

/* exists, cidr, re and lt/lte/gt/gte: one comparison per value. */
static struct node *
special_value(struct vctx *v, yaml_node_t *y)
{
	const char *text = (const char *)y->data.scalar.value;
	struct lit l = { .s = text, .n = y->data.scalar.length, .flags = LIT_QUOTED };
	struct buf re;
	double num;

	if (v->m->exists) {
		int b = yamldoc_bool(y);
		if (b < 0) {
			cerr(v->s->c, v->s->c->file, yamldoc_line(y), "sigma: %s|exists: expected "
			    "true or false", v->fname);
			return NULL;
		}
		return node_exists(v->s->c, v->f, b);
	}
	if (v->m->cmp) {
		if (!text_numeric(text, &num)) {
			cerr(v->s->c, v->s->c->file, yamldoc_line(y), "sigma: %s: lt/lte/gt/gte "
			    "need a number, got \"%s\"", v->fname, text);
			return NULL;
		}
		l.flags = LIT_NUM;
		l.num = num;
		return cmp_node(v, v->m->cmp, &l, 1, 0);
	}
	if (v->m->cidr)
		return cmp_node(v, "cidr", &l, 1, 1);
	buf_init(&re);
	buf_printf(&re, "%s%s%s%s", *v->m->re_flags ? "(?" : "", v->m->re_flags,
	    *v->m->re_flags ? ")" : "", text);
	l.s = arena_strndup(v->s->c->ar, re.data, re.len);
	l.n = re.len;
	buf_free(&re);
	return cmp_node(v, "regex", &l, 1, 0);
}

/* `field|modifiers: value(s)` as one node. */
static struct node *
field_node(struct sdet *s, yaml_node_t *key, yaml_node_t *val)
{
	struct smods m;
	struct vctx v = { .s = s, .m = &m, .line = yamldoc_line(key) };
	yaml_node_t **vals = NULL;
	struct node **kid = NULL, *out = NULL;
	size_t nval = 0, nkid = 0;
	struct buf alt;
	int special, bad = 0;

	v.cc = (struct cond_ctx){ .ar = s->c->ar, .file = s->c->file, .line = v.line,
	    .errs = s->c->errs, .regexes = &s->c->rs->regex, .nregexes = &s->c->rs->nregex };
	if ((v.fname = mods_parse(s->c, v.line, yamldoc_scalar(key), &m)) == NULL)
		return NULL;
	if (*v.fname == '\0') {
		cerr(s->c, s->c->file, v.line, "sigma: keyword search (values without a field "
		    "name) is not supported: audit events have no message field; name the field");
		return NULL;
	}
	if (values_of(&v, val, &vals, &nval) < 0)
		return NULL;
	special = m.exists || m.cidr || m.re || m.cmp;
	if ((v.f = sfield(s, v.fname, v.line)) == NULL) {
		out = node_const(s->c, missing_holds(&m, vals, nval));
		free(vals);
		return out;
	}
	buf_init(&alt);
	kid = xcalloc(nval + 2, sizeof(*kid) * 2);
	for (size_t i = 0; i < nval && !bad; i++) {
		if (special)
			bad = (kid[nkid++] = special_value(&v, vals[i])) == NULL;
		else
			bad = one_value(&v, vals[i], kid, &nkid, &alt) < 0;
	}
	if (!bad && v.nalt && (kid[nkid++] = regex_node(&v, buf_cstr(&alt))) == NULL)
		bad = 1;
	if (!bad && v.nalt)
		pin_set(&v, kid[nkid - 1]);
	if (!bad)	/* no node: every value was one the field never holds */
		out = nkid ? node_join(s->c, m.all ? N_AND : N_OR, kid, nkid) : node_const(s->c, 0);
	buf_free(&alt);
	free(v.pin);
	free(kid);
	free(vals);
	return out;
}

/* --- search identifiers ------------------------------------------------------------------ */

static struct node *
map_node(struct sdet *s, yaml_node_t *m)
{
	size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start), k = 0;
	struct node **kid, *out = NULL;

	if (n == 0) {
		cerr(s->c, s->c->file, yamldoc_line(m), "sigma: an empty selection");
		return NULL;
	}
	kid = xcalloc(n, sizeof(*kid));
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *key = yaml_document_get_node(s->d, p->key);
		if (yamldoc_scalar(key) == NULL) {
			cerr(s->c, s->c->file, yamldoc_line(key), "sigma: field names must be strings");
			goto out;
		}
		if ((kid[k++] = field_node(s, key, yaml_document_get_node(s->d, p->value))) == NULL)
			goto out;
	}
	out = node_join(s->c, N_AND, kid, k);
out:
	free(kid);
	return out;
}

static struct node *
ident_node(struct sdet *s, yaml_node_t *v)
{
	size_t n;
	struct node **kid, *out = NULL;

	if (v && v->type == YAML_MAPPING_NODE)
		return map_node(s, v);
	if (v == NULL || v->type != YAML_SEQUENCE_NODE ||
	    (n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start)) == 0) {
		cerr(s->c, s->c->file, yamldoc_line(v), "sigma: a search identifier is a mapping "
		    "of fields or a list of them%s", v && v->type == YAML_SCALAR_NODE ?
		    " (keyword search is not supported: audit events have no message field)" : "");
		return NULL;
	}
	kid = xcalloc(n, sizeof(*kid));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_document_get_node(s->d, v->data.sequence.items.start[i]);
		if (it == NULL || it->type != YAML_MAPPING_NODE) {
			cerr(s->c, s->c->file, yamldoc_line(it), "sigma: keyword search (a list of "
			    "values without a field name) is not supported: audit events have no "
			    "message field; name the field");
			goto out;
		}
		if ((kid[i] = map_node(s, it)) == NULL)
			goto out;
	}
	out = node_join(s->c, N_OR, kid, n);
out:
	free(kid);
	return out;
}

/* --- condition ---------------------------------------------------------------------------- */

struct cparse {
	struct sdet	*s;
	const char	*p;
	int		 line;
	int		 depth;
	int		 failed;
	char		 tok[128];
};

static void
cp_err(struct cparse *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cp_err(struct cparse *cp, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (cp->failed)
		return;
	cp->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cerr(cp->s->c, cp->s->c->file, cp->line, "sigma condition: %s", msg);
}

/* The next token into cp->tok without consuming it; "" at the end. */
static const char *
cp_peek(struct cparse *cp)
{
	const char *q = cp->p;
	size_t n = 0;

	while (isspace((unsigned char)*q))
		q++;
	if (*q == '(' || *q == ')' || *q == '|')
		n = 1;
	else
		while (q[n] && !isspace((unsigned char)q[n]) && !strchr("()|", q[n]))
			n++;
	snprintf(cp->tok, sizeof(cp->tok), "%.*s", (int)(n < sizeof(cp->tok) ? n : sizeof(cp->tok) - 1), q);
	return cp->tok;
}

static void
cp_next(struct cparse *cp)
{
	while (isspace((unsigned char)*cp->p))
		cp->p++;
	if (*cp->p == '(' || *cp->p == ')' || *cp->p == '|')
		cp->p++;
	else
		while (*cp->p && !isspace((unsigned char)*cp->p) && !strchr("()|", *cp->p))
			cp->p++;
}

static int
cp_is(struct cparse *cp, const char *w)
{
	return strcasecmp(cp_peek(cp), w) == 0;
}

static struct node *cp_or(struct cparse *cp);

/* `1 of PATTERN`, `all of PATTERN`, `... of them` (them: every identifier
 * not starting with '_', as the specification says). */
static struct node *
cp_quant(struct cparse *cp, int all)
{
	struct sdet *s = cp->s;
	struct node *kid[SIGMA_IDENTS_MAX];
	size_t n = 0;
	char pat[128];

	cp_next(cp);
	if (!cp_is(cp, "of")) {
		cp_err(cp, "expected \"of\" after \"%s\"", all ? "all" : "1");
		return NULL;
	}
	cp_next(cp);
	snprintf(pat, sizeof(pat), "%s", cp_peek(cp));
	if (*pat == '\0' || strchr("()|", *pat)) {
		cp_err(cp, "expected a search identifier pattern or them");
		return NULL;
	}
	cp_next(cp);
	for (size_t i = 0; i < s->nid; i++) {
		int hit = strcasecmp(pat, "them") == 0 ? s->id[i].name[0] != '_' :
		    fnmatch(pat, s->id[i].name, 0) == 0;
		if (hit)
			kid[n++] = s->id[i].n;
	}
	if (n == 0) {
		cp_err(cp, "no search identifier matches \"%s\"", pat);
		return NULL;
	}
	return node_join(s->c, all ? N_AND : N_OR, kid, n);
}

static struct node *
cp_primary(struct cparse *cp)
{
	struct node *n;

	if (++cp->depth > COND_MAX_DEPTH) {
		cp_err(cp, "nested too deeply");
		return NULL;
	}
	cp_peek(cp);
	if (strcmp(cp->tok, "(") == 0) {
		cp_next(cp);
		if ((n = cp_or(cp)) != NULL && !cp_is(cp, ")")) {
			cp_err(cp, "expected ')'");
			n = NULL;
		}
		cp_next(cp);
	} else if (cp_is(cp, "not")) {
		cp_next(cp);
		n = cp_primary(cp);
		n = n ? cond_group(cp->s->c->ar, N_NOT, &n, 1) : NULL;
	} else if (cp_is(cp, "1") || cp_is(cp, "all")) {
		n = cp_quant(cp, cp_is(cp, "all"));
	} else if (strcmp(cp->tok, "|") == 0) {
		cp_err(cp, "aggregations (| count() ...) are not supported: write a correlation "
		    "rule");
		n = NULL;
	} else if (*cp->tok == '\0' || strcmp(cp->tok, ")") == 0 || cp_is(cp, "and") ||
	    cp_is(cp, "or")) {
		cp_err(cp, "expected a search identifier, got \"%s\"", *cp->tok ? cp->tok : "the end");
		n = NULL;
	} else {
		n = NULL;
		for (size_t i = 0; i < cp->s->nid && n == NULL; i++)
			if (strcmp(cp->s->id[i].name, cp->tok) == 0)
				n = cp->s->id[i].n;
		if (n == NULL)
			cp_err(cp, "unknown search identifier \"%s\"", cp->tok);
		cp_next(cp);
	}
	cp->depth--;
	return n;
}

static struct node *
cp_seq(struct cparse *cp, const char *op, enum nkind kind, struct node *(*sub)(struct cparse *))
{
	struct node *kid[64], *n;
	size_t k = 0;

	if ((n = sub(cp)) == NULL)
		return NULL;
	kid[k++] = n;
	while (cp_is(cp, op)) {
		cp_next(cp);
		if (k == 64) {
			cp_err(cp, "more than 64 operands of %s", op);
			return NULL;
		}
		if ((kid[k++] = sub(cp)) == NULL)
			return NULL;
	}
	return node_join(cp->s->c, kind, kid, k);
}

static struct node *
cp_and(struct cparse *cp)
{
	return cp_seq(cp, "and", N_AND, cp_primary);
}

static struct node *
cp_or(struct cparse *cp)
{
	return cp_seq(cp, "or", N_OR, cp_and);
}

static struct node *
cond_one(struct sdet *s, yaml_node_t *y)
{
	struct cparse cp = { .s = s, .line = yamldoc_line(y) };
	const char *text = yamldoc_scalar(y);
	struct node *n;

	if (text == NULL || *text == '\0') {
		cerr(s->c, s->c->file, yamldoc_line(y), "sigma: condition must be a non-empty "
		    "string (or a list of them)");
		return NULL;
	}
	cp.p = text;
	if ((n = cp_or(&cp)) != NULL && *cp_peek(&cp) != '\0') {
		if (strcmp(cp.tok, "|") == 0)
			cp_err(&cp, "aggregations (| count() ...) are not supported: write a "
			    "correlation rule");
		else
			cp_err(&cp, "unexpected \"%s\"", cp.tok);
		n = NULL;
	}
	return n;
}

/* A list of conditions holds when any of them does. */
static struct node *
condition(struct sdet *s, yaml_node_t *y)
{
	struct node *kid[64];
	size_t n;

	if (y->type != YAML_SEQUENCE_NODE)
		return cond_one(s, y);
	n = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
	if (n == 0 || n > 64) {
		cerr(s->c, s->c->file, yamldoc_line(y), "sigma: condition: expected 1 to 64 "
		    "conditions");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((kid[i] = cond_one(s, yaml_document_get_node(s->d,
		    y->data.sequence.items.start[i]))) == NULL)
			return NULL;
	return node_join(s->c, N_OR, kid, n);
}

struct node *
sigmadet_compile(struct compiler *c, yaml_document_t *d, yaml_node_t *det, const char *rid)
{
	struct sdet *s = xcalloc(1, sizeof(*s));
	yaml_node_t *cond = NULL;
	struct node *out = NULL;
	int bad = 0;

	s->c = c;
	s->d = d;
	s->rid = rid;
	if (det == NULL || det->type != YAML_MAPPING_NODE) {
		cerr(c, c->file, yamldoc_line(det), "sigma: detection must be a mapping");
		goto out;
	}
	for (yaml_node_pair_t *p = det->data.mapping.pairs.start;
	    p < det->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		const char *name = yamldoc_scalar(k);
		if (name == NULL) {
			cerr(c, c->file, yamldoc_line(k), "sigma: detection keys must be strings");
			bad = 1;
		} else if (strcmp(name, "condition") == 0) {
			cond = yaml_document_get_node(d, p->value);
		} else if (strcmp(name, "timeframe") == 0) {
			cerr(c, c->file, yamldoc_line(k), "sigma: timeframe is not supported: "
			    "write a correlation rule with timespan");
			bad = 1;
		} else if (s->nid == SIGMA_IDENTS_MAX) {
			cerr(c, c->file, yamldoc_line(k), "sigma: more than %d search identifiers",
			    SIGMA_IDENTS_MAX);
			bad = 1;
			break;
		} else {
			s->id[s->nid].name = adup(c, name);
			s->id[s->nid].n = ident_node(s, yaml_document_get_node(d, p->value));
			bad |= s->id[s->nid++].n == NULL;
		}
	}
	if (cond == NULL)
		cerr(c, c->file, yamldoc_line(det), "sigma: detection: missing condition");
	else if (!bad)
		out = condition(s, cond);
out:
	free(s);
	return out;
}
