/* falcocond.c — Falco's condition language, as falcosecurity/libs parses
 * and evaluates it:
 *
 *   expr  := and ("or" and)*
 *   and   := not ("and" not)*
 *   not   := "not" not | check
 *   check := "(" expr ")" | MACRO | FIELD UNARY | FIELD OP VALUE
 *          | FIELD LISTOP "(" [VALUE ("," VALUE)*] ")"
 *   OP    := = == != < <= > >= contains icontains bcontains startswith
 *            bstartswith endswith glob iglob regex
 *   LISTOP := in intersects pmatch;  UNARY := exists
 *
 * A value is a quoted string or a bare word (up to a blank, '(', ')' or
 * ','); inside "( )" a value that names a list stands for its items.
 * Every field is a string or a list of strings (falcofield.c). On a list
 * field only exists, in (every value is in the set) and intersects (some
 * value is) apply, as in libs; on a single value in and intersects are
 * membership. A field that is not available makes every comparison false
 * (so `not f = x` is then true), as in Falco. */
#include "analyze/falco.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char	*word;
	enum fop	 op;
} fops[] = {
	{ "==", FO_EQ }, { "=", FO_EQ }, { "!=", FO_NE }, { "<=", FO_LE }, { "<", FO_LT },
	{ ">=", FO_GE }, { ">", FO_GT }, { "contains", FO_CONTAINS },
	{ "icontains", FO_ICONTAINS }, { "bcontains", FO_BCONTAINS },
	{ "startswith", FO_STARTSWITH }, { "bstartswith", FO_BSTARTSWITH },
	{ "endswith", FO_ENDSWITH }, { "glob", FO_GLOB }, { "iglob", FO_IGLOB },
	{ "pmatch", FO_PMATCH }, { "in", FO_IN }, { "intersects", FO_INTERSECTS },
	{ "exists", FO_EXISTS }, { "regex", FO_REGEX },
};

#define NFOPS	(sizeof(fops) / sizeof(fops[0]))

/* Transformers and field references of newer libs: refused by name. */
static const char *const unsupported_calls[] = {
	"val", "tolower", "toupper", "b64", "basename", "len", NULL,
};

struct fparser {
	struct compiler		*c;
	const struct falcocond_names *names;
	const char		*what;
	const struct fpiece	*piece;
	size_t			 npiece;
	const char		*s;	/* the pieces joined by spaces */
	size_t			 n, pos;
	int			 depth, failed;
	int			 syntax;	/* syntax only: fields and names unchecked */
};

/* --- errors ------------------------------------------------------------------------ */

static void
fperr(struct fparser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fperr(struct fparser *p, size_t at, const char *fmt, ...)
{
	va_list ap;
	char msg[400];
	size_t off = 0, k = 0, bol;
	int line;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* the piece the offset falls in, and the line within it */
	while (k + 1 < p->npiece && at >= off + p->piece[k].len + 1) {
		off += p->piece[k].len + 1;
		k++;
	}
	line = p->piece[k].line;
	bol = off;
	for (size_t i = off; i < at && i < p->n; i++) {
		if (p->s[i] == '\n') {
			line++;
			bol = i + 1;
		}
	}
	cerr(p->c, p->piece[k].file, line, "%s: %s (column %zu)", p->what, msg, at - bol + 1);
}

/* --- lexing ------------------------------------------------------------------------- */

static void
skip_blank(struct fparser *p)
{
	while (p->pos < p->n && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

static int
ident_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '.';
}

/* The length of the word at pos: an identifier with an optional [arg]. */
static size_t
word_len(const struct fparser *p)
{
	size_t i = p->pos;

	while (i < p->n && ident_char(p->s[i]))
		i++;
	if (i > p->pos && i < p->n && p->s[i] == '[') {
		const char *close = memchr(p->s + i, ']', p->n - i);
		if (close)
			i = (size_t)(close - p->s) + 1;
	}
	return i - p->pos;
}

static int
at_keyword(const struct fparser *p, const char *kw)
{
	size_t l = strlen(kw);

	return p->pos + l <= p->n && memcmp(p->s + p->pos, kw, l) == 0 &&
	    (p->pos + l == p->n || !ident_char(p->s[p->pos + l]));
}

/* The operator at pos, advancing past it; -1 when there is none. */
static int
lex_op(struct fparser *p, enum fop *op)
{
	skip_blank(p);
	for (size_t i = 0; i < NFOPS; i++) {
		size_t l = strlen(fops[i].word);
		int word = isalpha((unsigned char)fops[i].word[0]);
		if (p->pos + l <= p->n && memcmp(p->s + p->pos, fops[i].word, l) == 0 &&
		    (!word || p->pos + l == p->n || !ident_char(p->s[p->pos + l]))) {
			*op = fops[i].op;
			p->pos += l;
			return 0;
		}
	}
	return -1;
}

/* A quoted string or a bare word, into l. */
static int
lex_value(struct fparser *p, struct lit *l)
{
	size_t start;
	char *o;
	size_t k = 0;

	skip_blank(p);
	start = p->pos;
	memset(l, 0, sizeof(*l));
	if (p->pos < p->n && (p->s[p->pos] == '"' || p->s[p->pos] == '\'')) {
		char q = p->s[p->pos++];
		o = arena_alloc(p->c->ar, p->n - p->pos + 1);
		while (p->pos < p->n && p->s[p->pos] != q) {
			char ch = p->s[p->pos++];
			if (ch == '\\' && p->pos < p->n) {
				ch = p->s[p->pos++];
				ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch == 'r' ? '\r' : ch;
			}
			o[k++] = ch;
		}
		if (p->pos >= p->n) {
			fperr(p, start, "unterminated string");
			return -1;
		}
		p->pos++;
		l->s = o;
		l->n = k;
		l->flags = LIT_QUOTED;
		return 0;
	}
	while (p->pos < p->n && !isspace((unsigned char)p->s[p->pos]) &&
	    !strchr("(),", p->s[p->pos]))
		p->pos++;
	if (p->pos == start) {
		fperr(p, start, p->pos >= p->n ? "expected a value at the end of the condition" :
		    "expected a value");
		return -1;
	}
	l->s = arena_strndup(p->c->ar, p->s + start, p->pos - start);
	l->n = p->pos - start;
	return 0;
}

/* --- values -------------------------------------------------------------------------- */

static void
push(struct arena *a, struct lit **v, size_t *n, size_t *cap, const struct lit *l)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct lit *nv = arena_alloc(a, sizeof(*nv) * ncap);
		if (*n)
			memcpy(nv, *v, sizeof(*nv) * *n);
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = *l;
}

/* A value inside "( )" that names a list stands for its items, quoted or
 * not (libs resolves lists on the parsed tree, which keeps no quotes); a
 * name no list has is the string itself. */
static void
push_expanded(struct fparser *p, struct lit **v, size_t *n, size_t *cap, const struct lit *l)
{
	const struct rlist *rl = NULL;

	if (p->names && l->n == strlen(l->s))
		rl = p->names->list(p->names->arg, l->s);
	if (rl == NULL) {
		push(p->c->ar, v, n, cap, l);
		return;
	}
	for (size_t i = 0; i < rl->nitem; i++)
		push(p->c->ar, v, n, cap, &rl->item[i]);
}

static int
lex_list(struct fparser *p, struct lit **v, size_t *nv)
{
	size_t cap = 0;
	struct lit l;

	*v = NULL;
	*nv = 0;
	skip_blank(p);
	if (p->pos >= p->n || p->s[p->pos] != '(') {
		fperr(p, p->pos, "expected '(' and a list of values");
		return -1;
	}
	p->pos++;
	skip_blank(p);
	if (p->pos < p->n && p->s[p->pos] == ')') {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (lex_value(p, &l) < 0)
			return -1;
		push_expanded(p, v, nv, &cap, &l);
		skip_blank(p);
		if (p->pos < p->n && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->n && p->s[p->pos] == ')') {
			p->pos++;
			return 0;
		}
		fperr(p, p->pos, "expected ',' or ')' in a list of values");
		return -1;
	}
}

static int
hex_value(struct arena *a, struct lit *l)
{
	char *o;

	if (l->n == 0 || l->n % 2)
		return -1;
	o = arena_alloc(a, l->n / 2 + 1);
	for (size_t i = 0; i < l->n; i += 2) {
		char h[3] = { l->s[i], l->s[i + 1], 0 };
		char *end;
		if (!isxdigit((unsigned char)h[0]) || !isxdigit((unsigned char)h[1]))
			return -1;
		o[i / 2] = (char)strtol(h, &end, 16);
	}
	l->s = o;
	l->n /= 2;
	return 0;
}

static int
op_is_list(enum fop op)
{
	return op == FO_IN || op == FO_INTERSECTS || op == FO_PMATCH;
}

static const char *
op_name(enum fop op)
{
	for (size_t i = 0; i < NFOPS; i++)
		if (fops[i].op == op)
			return fops[i].word;
	return "?";
}

/* Checks and prepares a comparison's values once; -1 after reporting. */
static int
cmp_finish(struct fparser *p, struct fexpr *x, size_t at)
{
	if (ffield_is_list(x->f) && !op_is_list(x->op) && x->op != FO_EXISTS && x->op != FO_PMATCH) {
		fperr(p, at, "%s is a list field: only exists, in and intersects apply, not %s",
		    x->f->name, op_name(x->op));
		return -1;
	}
	if (ffield_is_list(x->f) && x->op == FO_PMATCH) {
		fperr(p, at, "%s is a list field: only exists, in and intersects apply, not pmatch",
		    x->f->name);
		return -1;
	}
	if (x->op == FO_BCONTAINS || x->op == FO_BSTARTSWITH) {
		if (hex_value(p->c->ar, &x->val[0]) < 0) {
			fperr(p, at, "%s needs hexadecimal bytes, such as 2f62696e", op_name(x->op));
			return -1;
		}
	}
	if (x->op == FO_ICONTAINS || x->op == FO_IGLOB) {
		char *low = arena_strndup(p->c->ar, x->val[0].s, x->val[0].n);
		for (char *q = low; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		x->val[0].s = low;
	}
	if (x->op == FO_REGEX) {
		int ec;
		PCRE2_SIZE off;
		x->re = pcre2_compile((PCRE2_SPTR)x->val[0].s, x->val[0].n,
		    PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ec, &off, NULL);
		if (x->re == NULL) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			fperr(p, at, "bad regex \"%s\": %s", x->val[0].s, (char *)msg);
			return -1;
		}
		p->c->rs->regex = xrealloc(p->c->rs->regex,
		    sizeof(*p->c->rs->regex) * (p->c->rs->nregex + 1));
		p->c->rs->regex[p->c->rs->nregex++] = x->re;
	}
	if (op_is_list(x->op))
		x->set = litset_build(p->c->ar, x->val, x->nval);
	return 0;
}

/* --- parsing --------------------------------------------------------------------------- */

static struct fexpr *parse_or(struct fparser *p);

static struct fexpr *
node(struct fparser *p, enum fkind k)
{
	struct fexpr *x = arena_alloc(p->c->ar, sizeof(*x));
	x->kind = k;
	return x;
}

/* A comparison read for its syntax alone (a macro no rule uses): the
 * tree is not kept. */
static struct fexpr *
parse_cmp_syntax(struct fparser *p, size_t wl, struct fexpr *x)
{
	p->pos += wl;
	if (lex_op(p, &x->op) < 0) {
		fperr(p, p->pos, "expected an operator after \"%.*s\"", (int)(wl > 80 ? 80 : wl),
		    p->s + p->pos - wl);
		return NULL;
	}
	if (x->op == FO_EXISTS)
		return x;
	if (op_is_list(x->op))
		return lex_list(p, &x->val, &x->nval) < 0 ? NULL : x;
	x->val = arena_alloc(p->c->ar, sizeof(*x->val));
	return lex_value(p, x->val) < 0 ? NULL : x;
}

static struct fexpr *
parse_cmp(struct fparser *p, size_t wl)
{
	char err[300];
	size_t used, at = p->pos;
	struct fexpr *x = node(p, FK_CMP);

	if (p->syntax)
		return parse_cmp_syntax(p, wl, x);
	if ((x->f = ffield_parse(p->c->ar, p->s + p->pos, wl, 1, &used, err, sizeof(err))) == NULL) {
		fperr(p, at, "%s", err);
		return NULL;
	}
	p->pos += wl;
	at = p->pos;
	if (lex_op(p, &x->op) < 0) {
		fperr(p, p->pos, "expected an operator after field %s", x->f->name);
		return NULL;
	}
	if (x->op == FO_EXISTS)
		return cmp_finish(p, x, at) < 0 ? NULL : x;
	if (op_is_list(x->op)) {
		if (lex_list(p, &x->val, &x->nval) < 0)
			return NULL;
	} else {
		x->val = arena_alloc(p->c->ar, sizeof(*x->val));
		x->nval = 1;
		if (lex_value(p, x->val) < 0)
			return NULL;
	}
	return cmp_finish(p, x, at) < 0 ? NULL : x;
}

static struct fexpr *
parse_macro(struct fparser *p, size_t wl)
{
	char name[128];
	struct fexpr *x;
	int found = 0;

	if (wl >= sizeof(name) || memchr(p->s + p->pos, '.', wl) || memchr(p->s + p->pos, '[', wl)) {
		fperr(p, p->pos + wl, "expected an operator after field \"%.*s\"",
		    (int)(wl > 80 ? 80 : wl), p->s + p->pos);
		return NULL;
	}
	memcpy(name, p->s + p->pos, wl);
	name[wl] = '\0';
	if (p->syntax) {
		p->pos += wl;
		return node(p, FK_AND);	/* an empty AND: a placeholder */
	}
	x = p->names ? p->names->macro(p->names->arg, name, &found) : NULL;
	if (x == NULL) {
		if (!found)
			fperr(p, p->pos, "unknown macro \"%s\"", name);
		p->failed = 1;
		return NULL;
	}
	p->pos += wl;
	return x;
}

static struct fexpr *
parse_check(struct fparser *p)
{
	size_t wl, save;
	enum fop op;

	skip_blank(p);
	if (p->pos < p->n && p->s[p->pos] == '(') {
		struct fexpr *x;
		p->pos++;
		if ((x = parse_or(p)) == NULL)
			return NULL;
		skip_blank(p);
		if (p->pos >= p->n || p->s[p->pos] != ')') {
			fperr(p, p->pos, "expected ')'");
			return NULL;
		}
		p->pos++;
		return x;
	}
	if ((wl = word_len(p)) == 0) {
		fperr(p, p->pos, p->pos >= p->n ? "unexpected end of condition" :
		    "expected a field, a macro or '('");
		return NULL;
	}
	if (at_keyword(p, "and") || at_keyword(p, "or")) {
		fperr(p, p->pos, "unexpected '%.*s', expecting a field, a macro or '('", (int)wl,
		    p->s + p->pos);
		return NULL;
	}
	for (size_t i = 0; unsupported_calls[i]; i++) {
		size_t l = strlen(unsupported_calls[i]);
		if (wl == l && memcmp(p->s + p->pos, unsupported_calls[i], l) == 0 &&
		    p->pos + l < p->n && p->s[p->pos + l] == '(') {
			fperr(p, p->pos, "%s() is not supported in Falco conditions here",
			    unsupported_calls[i]);
			return NULL;
		}
	}
	save = p->pos;
	p->pos += wl;
	if (lex_op(p, &op) == 0) {
		p->pos = save;
		return parse_cmp(p, wl);
	}
	p->pos = save;
	return parse_macro(p, wl);
}

static struct fexpr *
parse_not(struct fparser *p)
{
	struct fexpr *x, *kid;

	if (++p->depth > COND_MAX_DEPTH) {
		fperr(p, p->pos, "condition nested too deeply");
		return NULL;
	}
	skip_blank(p);
	if (at_keyword(p, "not") || (p->pos + 3 < p->n && memcmp(p->s + p->pos, "not(", 4) == 0)) {
		p->pos += 3;
		if ((kid = parse_not(p)) == NULL)
			return NULL;
		x = falcocond_group(p->c->ar, FK_NOT, &kid, 1);
	} else {
		x = parse_check(p);
	}
	p->depth--;
	return x;
}

static struct fexpr *
parse_seq(struct fparser *p, const char *sep, enum fkind kind)
{
	struct fexpr *stack[64], **kid = stack, *x;
	size_t n = 0, cap = 64;

	for (;;) {
		x = kind == FK_OR ? parse_seq(p, "and", FK_AND) : parse_not(p);
		if (x == NULL)
			return NULL;
		if (n == cap) {
			struct fexpr **nk = arena_alloc(p->c->ar, sizeof(*nk) * cap * 2);
			memcpy(nk, kid, sizeof(*nk) * n);
			kid = nk;
			cap *= 2;
		}
		kid[n++] = x;
		skip_blank(p);
		if (!at_keyword(p, sep))
			break;
		p->pos += strlen(sep);
	}
	return n == 1 ? kid[0] : falcocond_group(p->c->ar, kind, kid, n);
}

static struct fexpr *
parse_or(struct fparser *p)
{
	struct fexpr *x;

	if (++p->depth > COND_MAX_DEPTH) {
		fperr(p, p->pos, "condition nested too deeply");
		return NULL;
	}
	x = parse_seq(p, "or", FK_OR);
	p->depth--;
	return x;
}

struct fexpr *
falcocond_compile(struct compiler *c, const struct fpiece *piece, size_t np,
    const struct falcocond_names *names, const char *what)
{
	struct fparser p = { .c = c, .names = names, .what = what, .piece = piece, .npiece = np,
	    .syntax = names == NULL };
	struct buf text;
	struct fexpr *x = NULL;

	if (np == 0)
		return NULL;	/* no text: the reader reported why */
	buf_init(&text);
	for (size_t i = 0; i < np; i++) {
		if (i > 0)
			buf_putc(&text, ' ');
		buf_append(&text, piece[i].text, piece[i].len);
	}
	p.s = arena_strndup(c->ar, text.data ? text.data : "", text.len);
	p.n = text.len;
	buf_free(&text);
	if (p.n > COND_MAX_LEN) {
		cerr(c, piece[0].file, piece[0].line, "%s: longer than %d bytes", what, COND_MAX_LEN);
		return NULL;
	}
	skip_blank(&p);
	if (p.pos >= p.n) {
		fperr(&p, p.pos, "empty condition");
		return NULL;
	}
	x = parse_or(&p);
	skip_blank(&p);
	if (x && p.pos < p.n)
		fperr(&p, p.pos, "unexpected '%.*s', expecting 'or', 'and'",
		    (int)(word_len(&p) ? (word_len(&p) > 60 ? 60 : word_len(&p)) : 1), p.s + p.pos);
	return p.failed ? NULL : x;
}

struct fexpr *
falcocond_group(struct arena *a, enum fkind kind, struct fexpr **kid, size_t nkid)
{
	struct fexpr *x = arena_alloc(a, sizeof(*x));

	x->kind = kind;
	x->kid = arena_alloc(a, sizeof(*kid) * (nkid ? nkid : 1));
	memcpy(x->kid, kid, sizeof(*kid) * nkid);
	x->nkid = nkid;
	return x;
}

struct fexpr *
falcocond_cmp(struct compiler *c, const char *file, int line, const struct falcocond_names *names,
    const char *field, const char *op, const struct lit *val, size_t nval, int list)
{
	struct fpiece piece = { field, strlen(field), file, line };
	struct fparser p = { .c = c, .names = names, .what = "exception", .piece = &piece,
	    .npiece = 1, .s = field, .n = strlen(field) };
	struct fexpr *x = node(&p, FK_CMP);
	char err[300];
	size_t used, cap = 0, i;

	if ((x->f = ffield_parse(c->ar, field, strlen(field), 1, &used, err, sizeof(err))) == NULL) {
		cerr(c, file, line, "exception: %s", err);
		return NULL;
	}
	for (i = 0; i < NFOPS && strcmp(fops[i].word, op) != 0; i++)
		;
	if (i == NFOPS) {
		cerr(c, file, line, "exception: unknown comparison \"%s\"", op);
		return NULL;
	}
	x->op = fops[i].op;
	if (op_is_list(x->op)) {
		for (i = 0; i < nval; i++)
			push_expanded(&p, &x->val, &x->nval, &cap, &val[i]);
	} else if (x->op != FO_EXISTS) {
		if (list || nval != 1) {
			cerr(c, file, line, "exception: %s takes one value, not a list", op);
			return NULL;
		}
		x->val = arena_alloc(c->ar, sizeof(*x->val));
		x->val[0] = val[0];
		x->nval = 1;
	}
	return cmp_finish(&p, x, 0) < 0 ? NULL : x;
}

/* --- evaluation ------------------------------------------------------------------------ */

static int
mem_ci(const char *h, size_t hn, const char *lower, size_t ln)
{
	if (ln == 0)
		return 1;
	for (size_t i = 0; i + ln <= hn; i++) {
		size_t k = 0;
		while (k < ln && tolower((unsigned char)h[i + k]) == lower[k])
			k++;
		if (k == ln)
			return 1;
	}
	return 0;
}

static int
glob(const struct lit *pat, const char *s, size_t n, int ci)
{
	char stack[512], *z = n < sizeof(stack) ? stack : xmalloc(n + 1);
	int r;

	memcpy(z, s, n);
	z[n] = '\0';
	if (ci)
		for (size_t i = 0; i < n; i++)
			z[i] = (char)tolower((unsigned char)z[i]);
	r = strlen(z) == n && fnmatch(pat->s, z, 0) == 0;
	if (z != stack)
		free(z);
	return r;
}

/* A path equal to one of the set's, or below it. */
static int
pmatch(const struct litset *set, const char *s, size_t n)
{
	for (size_t i = 0; i < set->nstr; i++) {
		const struct lit *l = &set->str[i];
		size_t pl = l->n;
		while (pl > 0 && l->s[pl - 1] == '/')
			pl--;
		if (n >= pl && memcmp(s, l->s, pl) == 0 && (n == pl || s[pl] == '/'))
			return 1;
	}
	return 0;
}

static int
one(const struct fexpr *x, struct evctx *c, const char *s, size_t n)
{
	const struct lit *v = &x->val[0];
	int cmp;

	switch (x->op) {
	case FO_EQ: return n == v->n && memcmp(s, v->s, n) == 0;
	case FO_NE: return !(n == v->n && memcmp(s, v->s, n) == 0);
	case FO_LT: case FO_LE: case FO_GT: case FO_GE:
		cmp = memcmp(s, v->s, n < v->n ? n : v->n);
		if (cmp == 0)
			cmp = n < v->n ? -1 : n > v->n;
		return x->op == FO_LT ? cmp < 0 : x->op == FO_LE ? cmp <= 0 :
		    x->op == FO_GT ? cmp > 0 : cmp >= 0;
	case FO_CONTAINS: case FO_BCONTAINS:
		return v->n == 0 || memmem(s, n, v->s, v->n) != NULL;
	case FO_ICONTAINS: return mem_ci(s, n, v->s, v->n);
	case FO_STARTSWITH: case FO_BSTARTSWITH:
		return n >= v->n && memcmp(s, v->s, v->n) == 0;
	case FO_ENDSWITH: return n >= v->n && memcmp(s + n - v->n, v->s, v->n) == 0;
	case FO_GLOB: return glob(v, s, n, 0);
	case FO_IGLOB: return glob(v, s, n, 1);
	case FO_PMATCH: return pmatch(x->set, s, n);
	case FO_IN: case FO_INTERSECTS: return litset_has_str(x->set, s, n);
	case FO_EXISTS: return 1;
	case FO_REGEX:
		return pcre2_match(x->re, (PCRE2_SPTR)s, n, 0, 0, c->s->md, NULL) >= 0;
	}
	return 0;
}

static int
cmp_eval(const struct fexpr *x, struct evctx *c)
{
	const struct strvec *v = &c->s->fvals;
	long n = ffield_extract(x->f, c);
	const char *base;

	if (n < 0)
		return 0;
	base = v->b.data ? v->b.data : "";	/* only empty strings: no buffer yet */
	if (x->op == FO_EXISTS)
		return 1;
	if (ffield_is_list(x->f)) {
		for (size_t i = 0; i < v->n; i++) {
			int in = litset_has_str(x->set, base + v->off[i], v->len[i]);
			if (x->op == FO_IN && !in)
				return 0;
			if (x->op == FO_INTERSECTS && in)
				return 1;
		}
		return x->op == FO_IN;
	}
	return one(x, c, base + v->off[0], v->len[0]);
}

int
falcocond_eval(const struct fexpr *x, struct evctx *c)
{
	switch (x->kind) {
	case FK_AND:
		for (size_t i = 0; i < x->nkid; i++)
			if (!falcocond_eval(x->kid[i], c))
				return 0;
		return 1;
	case FK_OR:
		for (size_t i = 0; i < x->nkid; i++)
			if (falcocond_eval(x->kid[i], c))
				return 1;
		return 0;
	case FK_NOT: return !falcocond_eval(x->kid[0], c);
	case FK_CMP: return cmp_eval(x, c);
	}
	return 0;
}

/* --- category ----------------------------------------------------------------------------- */

/* What the values of ka.target.subresource, then ka.target.resource, that
 * a condition requires say about the kaudit category. */
static const struct {
	const char	*field;
	const char	*value;
	const char	*cat;
} value_cats[] = {
	{ "ka.target.subresource", "exec", "exec" },
	{ "ka.target.subresource", "attach", "exec" },
	{ "ka.target.subresource", "portforward", "exec" },
	{ "ka.target.subresource", "ephemeralcontainers", "exec" },
	{ "ka.target.resource", "roles", "rbac" },
	{ "ka.target.resource", "clusterroles", "rbac" },
	{ "ka.target.resource", "rolebindings", "rbac" },
	{ "ka.target.resource", "clusterrolebindings", "rbac" },
	{ "ka.target.resource", "secrets", "secrets" },
	{ "ka.target.resource", "configmaps", "secrets" },
	{ "ka.target.resource", "pods", "workload" },
	{ "ka.target.resource", "deployments", "workload" },
	{ "ka.target.resource", "daemonsets", "workload" },
	{ "ka.target.resource", "statefulsets", "workload" },
	{ "ka.target.resource", "replicasets", "workload" },
	{ "ka.target.resource", "jobs", "workload" },
	{ "ka.target.resource", "cronjobs", "workload" },
	{ "ka.target.resource", "services", "network" },
	{ "ka.target.resource", "ingresses", "network" },
	{ "ka.target.resource", "networkpolicies", "network" },
	{ "ka.target.resource", "mutatingwebhookconfigurations", "admission" },
	{ "ka.target.resource", "validatingwebhookconfigurations", "admission" },
	{ "ka.target.resource", "serviceaccounts", "authn" },
	{ "ka.target.resource", "certificatesigningrequests", "authn" },
	{ "ka.target.resource", "tokenreviews", "authn" },
	{ "ka.user.name", "system:anonymous", "authn" },
};

static const char *
category_walk(const struct fexpr *x, const char *field)
{
	const char *cat;

	switch (x->kind) {
	case FK_NOT:
		return NULL;	/* what a rule excludes says nothing of what it is about */
	case FK_AND: case FK_OR:
		for (size_t i = 0; i < x->nkid; i++)
			if ((cat = category_walk(x->kid[i], field)) != NULL)
				return cat;
		return NULL;
	case FK_CMP:
		if (strcmp(x->f->name, field) != 0 || (x->op != FO_EQ && x->op != FO_IN &&
		    x->op != FO_INTERSECTS))
			return NULL;
		for (size_t v = 0; v < x->nval; v++)
			for (size_t i = 0; i < sizeof(value_cats) / sizeof(value_cats[0]); i++)
				if (strcmp(value_cats[i].field, field) == 0 &&
				    strcmp(value_cats[i].value, x->val[v].s) == 0)
					return value_cats[i].cat;
		return NULL;
	}
	return NULL;
}

const char *
falcocond_category(const struct fexpr *x)
{
	static const char *const order[] = { "ka.target.subresource", "ka.target.resource",
	    "ka.user.name" };
	const char *cat;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((cat = category_walk(x, order[i])) != NULL)
			return cat;
	return NULL;
}
