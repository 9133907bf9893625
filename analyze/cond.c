/* cond.c — the condition language: lexer, recursive-descent parser that
 * compiles straight to an evaluation tree, and the evaluator.
 *
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := unary ("and" unary)*
 *   unary   := "not" unary | primary
 *   primary := "(" expr ")" | ("any"|"all") FIELD "(" expr ")"
 *            | "true" | "false" | MACRO | FIELD OP [VALUE | "(" VALUES ")" | LIST]
 *            | STRING "in" FIELD
 *
 * Work that does not depend on the event is done here once: field paths are
 * split, literal sets sorted, regexes compiled (with JIT when available),
 * CIDRs parsed, and every type mismatch the schema can reveal is an error.
 * At run time a comparison on a missing field is false, whatever the
 * operator: `not (x = y)` is then true (see docs/rule-language.md).
 *
 * The same parser and evaluator serve conditions over a finding's fields
 * (cond_ctx.finding, see fcond.c): only the field table and where values
 * are read from differ. */
#include "analyze/falco.h"
#include "base/xmalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tk { TK_EOF, TK_LP, TK_RP, TK_COMMA, TK_CMP, TK_STR, TK_WORD, TK_ERR };

struct lexer {
	const char	*s;
	size_t		 n, pos;
	enum tk		 t;		/* current token */
	const char	*ts;		/* its text (for TK_STR, inside the quotes) */
	size_t		 tn;
	size_t		 tpos;		/* its offset, for messages */
	enum op		 cmp;		/* TK_CMP */
	const char	*err;		/* TK_ERR */
};

struct parser {
	struct cond_ctx	*cc;
	const char	*what;	/* for messages: "condition", "exception NAME" */
	struct lexer	 lx;
	int		 relative;
	int		 depth;
	int		 failed;
	size_t		 at;	/* where a comparison's error points, + 1; 0: current token */
};

static const struct {
	const char	*word;
	enum op		 op;
} op_words[] = {
	{ "in", OP_IN }, { "contains", OP_CONTAINS }, { "icontains", OP_ICONTAINS },
	{ "startswith", OP_STARTSWITH }, { "endswith", OP_ENDSWITH },
	{ "glob", OP_GLOB }, { "regex", OP_REGEX }, { "exists", OP_EXISTS },
	{ "cidr", OP_CIDR },
};

static const char *const op_names[] = {
	"=", "!=", "<", "<=", ">", ">=", "in", "contains", "icontains",
	"startswith", "endswith", "glob", "regex", "exists", "cidr",
};

/* --- errors ---------------------------------------------------------------- */

void
cond_error(struct cond_ctx *cc, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cc->nerr++;
	if (cc->errs)
		buf_printf(cc->errs, "%s:%d: %s\n", cc->file ? cc->file : "(condition)",
		    cc->line, msg);
}

static void
perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
perr(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	char msg[400];
	size_t bol = 0, pos;
	int lines = 0, saved;

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->lx.s == NULL) {	/* built from parts: no text to point into */
		cond_error(p->cc, "%s: %s", p->what, msg);
		return;
	}
	/* a literal block scalar keeps its lines: point at the right one */
	pos = p->at ? p->at - 1 : p->lx.tpos;
	for (size_t i = 0; i < pos && i < p->lx.n; i++) {
		if (p->lx.s[i] == '\n') {
			lines++;
			bol = i + 1;
		}
	}
	saved = p->cc->line;
	p->cc->line += lines;
	cond_error(p->cc, "%s: %s (column %zu)", p->cc->what ? p->cc->what : "condition", msg,
	    pos - bol + 1);
	p->cc->line = saved;
}

/* --- lexer ------------------------------------------------------------------ */

static int
word_char(char c)
{
	return isalnum((unsigned char)c) || strchr("_.-/:*@$+~%?", c) != NULL;
}

/* A word may carry bracketed keys: annotations["authorization.k8s.io/x"]. */
static size_t
lex_word(const char *s, size_t n, size_t i)
{
	while (i < n) {
		if (word_char(s[i])) {
			i++;
		} else if (s[i] == '[') {
			size_t j = i + 1;
			if (j < n && (s[j] == '"' || s[j] == '\'')) {
				char q = s[j++];
				while (j < n && s[j] != q)
					j++;
				j++;
			}
			while (j < n && s[j] != ']' && s[j] != ' ')
				j++;
			if (j >= n || s[j] != ']')
				return i;
			i = j + 1;
		} else {
			break;
		}
	}
	return i;
}

static void
lex_next(struct lexer *lx)
{
	const char *s = lx->s;
	size_t n = lx->n, i = lx->pos;

	while (i < n && isspace((unsigned char)s[i]))
		i++;
	lx->tpos = i;
	lx->ts = s + i;
	lx->tn = 0;
	if (i >= n) {
		/* the end is right after the last word, not after trailing lines */
		while (lx->tpos > 0 && isspace((unsigned char)s[lx->tpos - 1]))
			lx->tpos--;
		lx->t = TK_EOF;
	} else if (s[i] == '(' || s[i] == ')' || s[i] == ',') {
		lx->t = s[i] == '(' ? TK_LP : s[i] == ')' ? TK_RP : TK_COMMA;
		i++;
	} else if (strchr("=!<>", s[i])) {
		int two = i + 1 < n && s[i + 1] == '=';
		lx->t = TK_CMP;
		switch (s[i]) {
		case '=': lx->cmp = OP_EQ; break;
		case '!': lx->cmp = OP_NE; if (!two) { lx->t = TK_ERR; lx->err = "'!' must be followed by '='"; } break;
		case '<': lx->cmp = two ? OP_LE : OP_LT; break;
		default: lx->cmp = two ? OP_GE : OP_GT; break;
		}
		i += two ? 2 : 1;
	} else if (s[i] == '"' || s[i] == '\'') {
		char q = s[i++];
		size_t j = i;
		while (j < n && s[j] != q)
			j += (s[j] == '\\' && j + 1 < n) ? 2 : 1;
		if (j >= n) {
			lx->t = TK_ERR;
			lx->err = "unterminated string";
			i = n;
		} else {
			lx->t = TK_STR;
			lx->ts = s + i;
			lx->tn = j - i;
			i = j + 1;
		}
	} else if (word_char(s[i])) {
		size_t j = lex_word(s, n, i);
		lx->t = TK_WORD;
		lx->tn = j - i;
		i = j;
	} else {
		lx->t = TK_ERR;
		lx->err = "unexpected character";
		i++;
	}
	lx->pos = i;
}

static int
is_word(const struct lexer *lx, const char *w)
{
	size_t l = strlen(w);
	return lx->t == TK_WORD && lx->tn == l && memcmp(lx->ts, w, l) == 0;
}

static int
word_op(const struct lexer *lx, enum op *op)
{
	for (size_t i = 0; i < sizeof(op_words) / sizeof(op_words[0]); i++) {
		if (is_word(lx, op_words[i].word)) {
			*op = op_words[i].op;
			return 1;
		}
	}
	return 0;
}

/* --- literals ----------------------------------------------------------------- */

static char *
unquote(struct arena *a, const char *s, size_t n, size_t *outn)
{
	char *o = arena_alloc(a, n + 1);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char c = s[++i];
			o[k++] = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = '\0';
	*outn = k;
	return o;
}

void
lit_bare(struct lit *l)
{
	char *end;

	l->flags &= ~(unsigned)LIT_QUOTED;
	if (strcmp(l->s, "true") == 0 || strcmp(l->s, "false") == 0) {
		l->flags |= LIT_BOOL;
		l->b = l->s[0] == 't';
	} else if (strcmp(l->s, "null") == 0) {
		l->flags |= LIT_NULL;
	} else if (l->n > 0 && l->n == strlen(l->s)) {
		double v = strtod(l->s, &end);
		if (*end == '\0' && isfinite(v) && !isalpha((unsigned char)l->s[0]) &&
		    !(l->n > 1 && (l->s[1] == 'x' || l->s[1] == 'X'))) {
			l->flags |= LIT_NUM;
			l->num = v;
		}
	}
}

static int
lit_parse(struct parser *p, struct lit *l)
{
	struct lexer *lx = &p->lx;

	memset(l, 0, sizeof(*l));
	if (lx->t == TK_STR) {
		l->s = unquote(p->cc->ar, lx->ts, lx->tn, &l->n);
		l->flags = LIT_QUOTED;
	} else if (lx->t == TK_WORD) {
		l->s = arena_strndup(p->cc->ar, lx->ts, lx->tn);
		l->n = lx->tn;
		lit_bare(l);
	} else {
		perr(p, "%s", lx->t == TK_ERR ? lx->err : "expected a value");
		return -1;
	}
	lex_next(lx);
	return 0;
}

static int
lit_cmp(const void *a, const void *b)
{
	const struct lit *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->s, y->s, x->n);
}

struct litset *
litset_build(struct arena *a, const struct lit *v, size_t n)
{
	struct litset *set = arena_alloc(a, sizeof(*set));

	set->str = arena_alloc(a, sizeof(*v) * (n ? n : 1));
	set->num = arena_alloc(a, sizeof(double) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		set->str[set->nstr++] = v[i];
		if (v[i].flags & LIT_NUM)
			set->num[set->nnum++] = v[i].num;
		if (v[i].flags & LIT_BOOL)
			set->bools |= v[i].b ? 2u : 1u;
		if (v[i].flags & LIT_NULL)
			set->null = 1;
	}
	qsort(set->str, set->nstr, sizeof(*set->str), lit_cmp);
	return set;
}

int
litset_has_str(const struct litset *set, const char *s, size_t n)
{
	size_t lo = 0, hi = set->nstr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct lit *l = &set->str[mid];
		int c = l->n != n ? (l->n < n ? -1 : 1) : memcmp(l->s, s, n);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* --- node building ---------------------------------------------------------------- */

static struct node *
node_new(struct parser *p, enum nkind kind)
{
	struct node *n = arena_alloc(p->cc->ar, sizeof(*n));
	n->kind = kind;
	return n;
}

static struct node *
node_group(struct parser *p, enum nkind kind, struct node **kid, size_t nkid)
{
	struct node *n;

	if (nkid == 1)
		return kid[0];
	n = node_new(p, kind);
	n->kid = arena_alloc(p->cc->ar, sizeof(*kid) * nkid);
	memcpy(n->kid, kid, sizeof(*kid) * nkid);
	n->nkid = nkid;
	return n;
}

static const char *
type_name(enum ftype t)
{
	static const char *const names[] = { "any", "a string", "a number",
	    "a boolean", "an array", "an object", "a severity" };
	return names[t];
}

static const char *
lit_type(const struct lit *l)
{
	if (l->flags & LIT_QUOTED)
		return "a string";
	if (l->flags & LIT_NUM)
		return "a number";
	if (l->flags & LIT_BOOL)
		return "a boolean";
	return l->flags & LIT_NULL ? "null" : "a string";
}

static int
op_ordering(enum op op)
{
	return op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
}

static int
op_stringy(enum op op)
{
	return op >= OP_CONTAINS && op <= OP_REGEX;
}

/* A severity is compared by rank (info < low < ... < critical): only
 * equality, order and in apply, and only to the five names. */
static int
check_severity(struct parser *p, const struct field *f, enum op op, const struct lit *v,
    size_t nv)
{
	enum severity sev;

	if (op != OP_EQ && op != OP_NE && op != OP_IN && !op_ordering(op)) {
		perr(p, "%s is ranked (info < low < medium < high < critical): use =, !=, <, <=, "
		    ">, >= or in, not %s", f->name, op_names[op]);
		return -1;
	}
	for (size_t i = 0; i < nv; i++) {
		if (strlen(v[i].s) != v[i].n || severity_parse(v[i].s, &sev) != 0) {
			perr(p, "\"%s\" is not a severity (info, low, medium, high, critical)",
			    v[i].s);
			return -1;
		}
	}
	return 0;
}

/* The checks the schema makes possible before any event is seen. */
static int
check_types(struct parser *p, const struct field *f, enum op op,
    const struct lit *v, size_t nv)
{
	enum ftype t = f->type;

	if (op == OP_EXISTS || t == FT_ANY)
		return 0;
	if (t == FT_SEV)
		return check_severity(p, f, op, v, nv);
	if (t == FT_OBJ) {
		perr(p, "%s is an object: only exists applies (or any/all over an array in it)", f->name);
		return -1;
	}
	if (t == FT_ARR && (op == OP_EQ || op == OP_NE || op_ordering(op))) {
		perr(p, "%s is an array: use contains, in, or any/all, not %s", f->name, op_names[op]);
		return -1;
	}
	if ((t == FT_NUM || t == FT_BOOL) && (op_stringy(op) || op == OP_CIDR)) {
		perr(p, "type mismatch: %s needs a string, %s is %s", op_names[op], f->name, type_name(t));
		return -1;
	}
	if (t == FT_BOOL && op_ordering(op)) {
		perr(p, "type mismatch: %s is a boolean and cannot be ordered", f->name);
		return -1;
	}
	for (size_t i = 0; i < nv; i++) {
		int ok = t == FT_NUM ? (v[i].flags & LIT_NUM) != 0 :
		    t == FT_BOOL ? (v[i].flags & LIT_BOOL) != 0 : 1;
		if (!ok) {
			perr(p, "type mismatch: %s is %s, %s%s%s is %s", f->name, type_name(t),
			    (v[i].flags & LIT_QUOTED) ? "\"" : "", v[i].s,
			    (v[i].flags & LIT_QUOTED) ? "\"" : "", lit_type(&v[i]));
			return -1;
		}
	}
	return 0;
}

static int
cidr_parse(const char *s, struct cidr *c)
{
	char tmp[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long bits;
	char *end;

	if (alen >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, alen);
	tmp[alen] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, tmp, c->addr) == 1)
		c->family = 4;
	else if (inet_pton(AF_INET6, tmp, c->addr) == 1)
		c->family = 6;
	else
		return -1;
	bits = c->family == 4 ? 32 : 128;
	if (slash) {
		long max = bits;
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || end == slash + 1 || bits < 0 || bits > max)
			return -1;
	}
	c->bits = (unsigned)bits;
	return 0;
}

static int
compile_regex(struct parser *p, struct node *n, const struct lit *l)
{
	int ec;
	PCRE2_SIZE off;
	struct cond_ctx *cc = p->cc;

	n->re = pcre2_compile((PCRE2_SPTR)l->s, l->n, 0, &ec, &off, NULL);
	if (n->re == NULL) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		perr(p, "bad regex \"%s\": %s at offset %zu", l->s, (char *)msg, (size_t)off);
		return -1;
	}
	(void)pcre2_jit_compile(n->re, PCRE2_JIT_COMPLETE);
	if (cc->regexes) {
		*cc->regexes = xrealloc(*cc->regexes, sizeof(pcre2_code *) * (*cc->nregexes + 1));
		(*cc->regexes)[(*cc->nregexes)++] = n->re;
	} else {
		pcre2_code_free(n->re);
		n->re = NULL;
	}
	return 0;
}

/* Per-operator preparation of the literal(s). */
static int
finish_cmp(struct parser *p, struct node *n, struct lit *v, size_t nv, int set)
{
	struct arena *a = p->cc->ar;

	if (check_types(p, n->f, n->op, v, nv) < 0)
		return -1;
	if (n->f->type == FT_SEV && n->op != OP_EXISTS) {
		/* ranks, compared as numbers with the finding's rank */
		struct lit *rank = arena_alloc(a, sizeof(*rank) * (nv ? nv : 1));
		for (size_t i = 0; i < nv; i++) {
			enum severity sev = SEV_INFO;
			(void)severity_parse(v[i].s, &sev);
			rank[i] = v[i];
			rank[i].flags = LIT_NUM;
			rank[i].num = (double)sev;
		}
		v = rank;
	}
	if (n->op == OP_ICONTAINS) {
		/* lowered copies: v may be a list's own items, which other
		 * conditions read as written */
		struct lit *low = arena_alloc(a, sizeof(*low) * (nv ? nv : 1));
		for (size_t i = 0; i < nv; i++) {
			low[i] = v[i];
			low[i].s = arena_strndup(a, v[i].s, v[i].n);
		}
		v = low;
	}
	if (n->op == OP_ICONTAINS)
		for (size_t i = 0; i < nv; i++)
			for (char *c = (char *)v[i].s; *c; c++)
				*c = (char)tolower((unsigned char)*c);
	if (n->op == OP_REGEX)
		return compile_regex(p, n, &v[0]);
	if (n->op == OP_CIDR) {
		n->cidr = arena_alloc(a, sizeof(*n->cidr) * (nv ? nv : 1));
		n->ncidr = nv;
		for (size_t i = 0; i < nv; i++) {
			if (cidr_parse(v[i].s, &n->cidr[i]) < 0) {
				perr(p, "bad CIDR \"%s\"", v[i].s);
				return -1;
			}
		}
		return 0;
	}
	if (set || op_stringy(n->op))
		n->set = litset_build(a, v, nv);
	else
		n->lit = &v[0];
	return 0;
}

/* --- parser ------------------------------------------------------------------------ */

static struct node *parse_or(struct parser *p);

static int
expect(struct parser *p, enum tk t, const char *what)
{
	if (p->lx.t == TK_ERR) {
		perr(p, "%s", p->lx.err);
		return -1;
	}
	if (p->lx.t != t) {
		perr(p, "expected %s", what);
		return -1;
	}
	lex_next(&p->lx);
	return 0;
}

static const struct rlist *
list_lookup(struct parser *p, const struct lexer *lx)
{
	char name[128];

	if (lx->t != TK_WORD || p->cc->names == NULL || lx->tn >= sizeof(name))
		return NULL;
	memcpy(name, lx->ts, lx->tn);
	name[lx->tn] = '\0';
	return p->cc->names->list(p->cc->names->arg, name);
}

static void
vec_push(struct arena *a, struct lit **v, size_t *n, size_t *cap, const struct lit *l)
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

/* "(" value, value... ")" — a known list name inside expands to its items
 * (an empty list to none: an empty set matches nothing, whatever the
 * operator). */
static int
parse_values(struct parser *p, struct lit **v, size_t *nv)
{
	size_t cap = 0, k;
	struct lit l;
	const struct rlist *rl;

	*v = NULL;
	*nv = 0;
	lex_next(&p->lx);
	for (k = 0; p->lx.t != TK_RP; k++) {
		if (k > 0 && expect(p, TK_COMMA, "',' or ')'") < 0)
			return -1;
		if ((rl = list_lookup(p, &p->lx)) != NULL) {
			for (size_t i = 0; i < rl->nitem; i++)
				vec_push(p->cc->ar, v, nv, &cap, &rl->item[i]);
			lex_next(&p->lx);
			continue;
		}
		if (lit_parse(p, &l) < 0)
			return -1;
		vec_push(p->cc->ar, v, nv, &cap, &l);
	}
	lex_next(&p->lx);
	return 0;
}

/* The right-hand side: a value, "(" values ")", or a list name. */
static int
parse_rhs(struct parser *p, struct node *n, struct lit **v, size_t *nv, int *set)
{
	const struct rlist *rl;

	*set = 0;
	if (p->lx.t == TK_LP && n->op != OP_REGEX &&
	    (n->op == OP_IN || op_stringy(n->op) || n->op == OP_CIDR)) {
		*set = 1;
		return parse_values(p, v, nv);
	}
	if (n->op != OP_REGEX && n->op >= OP_IN && (rl = list_lookup(p, &p->lx))) {
		*set = 1;
		*v = rl->item;
		*nv = rl->nitem;
		lex_next(&p->lx);
		return 0;
	}
	if (n->op == OP_IN) {
		if (p->lx.t == TK_WORD && p->cc->lenient) {
			lex_next(&p->lx);
			*set = 1;
			*v = NULL;
			*nv = 0;
			return 0;
		}
		if (p->lx.t == TK_WORD && p->cc->finding)
			perr(p, "unknown list \"%.*s\" (the lists of rule files do not apply to "
			    "findings: write the values, in (a, b))", (int)p->lx.tn, p->lx.ts);
		else if (p->lx.t == TK_WORD)
			perr(p, "unknown list \"%.*s\"", (int)p->lx.tn, p->lx.ts);
		else
			perr(p, "expected '(' or a list name after in");
		return -1;
	}
	*v = arena_alloc(p->cc->ar, sizeof(**v));
	*nv = 1;
	return lit_parse(p, *v);
}

static struct node *
parse_cmp(struct parser *p, struct field *f)
{
	struct node *n = node_new(p, N_CMP);
	struct lit *v = NULL;
	size_t nv = 0, rhs;
	int set = 0;

	n->f = f;
	if (p->lx.t == TK_CMP)
		n->op = p->lx.cmp;
	else
		(void)word_op(&p->lx, &n->op);
	lex_next(&p->lx);
	rhs = p->lx.tpos;
	if (n->op != OP_EXISTS && parse_rhs(p, n, &v, &nv, &set) < 0)
		return NULL;
	p->at = rhs + 1;
	if (finish_cmp(p, n, v, nv, n->op == OP_IN || set) < 0)
		return NULL;
	p->at = 0;
	return n;
}

static struct field *
parse_field(struct parser *p)
{
	char err[256];
	struct field *f;
	int rel = p->relative || p->cc->lenient;

	if (p->cc->finding)
		f = field_compile_finding(p->cc->ar, p->lx.ts, p->lx.tn, p->relative, err,
		    sizeof(err));
	else
		f = field_compile(p->cc->ar, p->lx.ts, p->lx.tn, rel, err, sizeof(err));
	if (f == NULL)
		perr(p, "%s", err);
	return f;
}

static struct node *
parse_quant(struct parser *p)
{
	struct node *n = node_new(p, is_word(&p->lx, "any") ? N_ANY : N_ALL);
	int saved = p->relative;

	lex_next(&p->lx);
	if (p->lx.t != TK_WORD) {
		perr(p, "expected an array field after %s", n->kind == N_ANY ? "any" : "all");
		return NULL;
	}
	if ((n->f = parse_field(p)) == NULL)
		return NULL;
	if (n->f->type != FT_ARR && n->f->type != FT_ANY) {
		perr(p, "%s is %s, not an array", n->f->name, type_name(n->f->type));
		return NULL;
	}
	lex_next(&p->lx);
	if (expect(p, TK_LP, "'(' after the array field") < 0)
		return NULL;
	n->kid = arena_alloc(p->cc->ar, sizeof(*n->kid));
	n->nkid = 1;
	p->relative = 1;
	n->kid[0] = parse_or(p);
	p->relative = saved;
	if (n->kid[0] == NULL || expect(p, TK_RP, "')'") < 0)
		return NULL;
	return n;
}

static struct node *
parse_macro(struct parser *p)
{
	char name[128];
	struct node *n;
	int found = 0;
	const char *w = p->lx.ts;
	size_t wn = p->lx.tn;

	if (p->cc->finding) {
		perr(p, "expected an operator after \"%.*s\" (macros do not apply to findings)",
		    (int)(wn > 80 ? 80 : wn), w);
		return NULL;
	}
	if (p->cc->names == NULL) {
		if (!p->cc->lenient) {
			perr(p, "unknown macro \"%.*s\"", (int)wn, w);
			return NULL;
		}
		lex_next(&p->lx);
		return node_new(p, N_TRUE);
	}
	if (wn >= sizeof(name) || memchr(w, '.', wn) || memchr(w, '[', wn)) {
		perr(p, "expected an operator after field \"%.*s\"", (int)(wn > 80 ? 80 : wn), w);
		return NULL;
	}
	memcpy(name, w, wn);
	name[wn] = '\0';
	n = p->cc->names->macro(p->cc->names->arg, name, p->relative, p->cc, &found);
	if (n == NULL) {
		if (!found)
			perr(p, "unknown macro \"%s\"", name);
		p->failed = 1;
		return NULL;
	}
	lex_next(&p->lx);
	return n;
}

/* "VALUE" in FIELD: a quoted value that an array field holds, the same as
 * FIELD contains "VALUE" (on an array, contains is membership). */
static struct node *
parse_member(struct parser *p)
{
	struct node *n = node_new(p, N_CMP);
	struct lit *v = arena_alloc(p->cc->ar, sizeof(*v));
	size_t at = p->lx.tpos;

	if (lit_parse(p, v) < 0)
		return NULL;
	lex_next(&p->lx);	/* in */
	if (p->lx.t != TK_WORD) {
		perr(p, "expected a list field after in");
		return NULL;
	}
	if ((n->f = parse_field(p)) == NULL)
		return NULL;
	if (n->f->type != FT_ARR && n->f->type != FT_ANY) {
		perr(p, "\"VALUE\" in FIELD needs a list field, and %s is %s (use %s = \"%s\")",
		    n->f->name, type_name(n->f->type), n->f->name, v->s);
		return NULL;
	}
	lex_next(&p->lx);
	n->op = OP_CONTAINS;
	p->at = at + 1;
	if (finish_cmp(p, n, v, 1, 1) < 0)
		return NULL;
	p->at = 0;
	return n;
}

static struct node *
parse_primary(struct parser *p)
{
	struct lexer *lx = &p->lx;
	struct lexer peek;
	struct node *n;
	enum op op;

	if (lx->t == TK_LP) {
		lex_next(lx);
		if ((n = parse_or(p)) == NULL || expect(p, TK_RP, "')'") < 0)
			return NULL;
		return n;
	}
	if (lx->t == TK_ERR) {
		perr(p, "%s", lx->err);
		return NULL;
	}
	if (lx->t == TK_STR) {
		peek = *lx;
		lex_next(&peek);
		if (is_word(&peek, "in"))
			return parse_member(p);
	}
	if (lx->t != TK_WORD) {
		perr(p, lx->t == TK_EOF ? "unexpected end of condition" :
		    lx->t == TK_STR ? "expected a field, a macro or '(' (a quoted value "
		    "comes after its operator, or before in and a list field)" :
		    "expected a field, a macro or '('");
		return NULL;
	}
	peek = *lx;
	lex_next(&peek);
	if (peek.t == TK_ERR) {
		*lx = peek;
		perr(p, "%s", peek.err);
		return NULL;
	}
	if (peek.t == TK_CMP || word_op(&peek, &op)) {
		struct field *f = parse_field(p);
		if (f == NULL)
			return NULL;
		*lx = peek;
		return parse_cmp(p, f);
	}
	if ((is_word(lx, "any") || is_word(lx, "all")) && peek.t == TK_WORD)
		return parse_quant(p);
	if (is_word(lx, "true") || is_word(lx, "false")) {
		n = node_new(p, is_word(lx, "true") ? N_TRUE : N_FALSE);
		lex_next(lx);
		return n;
	}
	return parse_macro(p);
}

static struct node *
parse_unary(struct parser *p)
{
	struct node *n, *kid;

	if (++p->depth > COND_MAX_DEPTH) {
		perr(p, "condition nested too deeply");
		return NULL;
	}
	if (is_word(&p->lx, "not")) {
		lex_next(&p->lx);
		if ((kid = parse_unary(p)) == NULL)
			return NULL;
		n = node_new(p, N_NOT);
		n->kid = arena_alloc(p->cc->ar, sizeof(*n->kid));
		n->kid[0] = kid;
		n->nkid = 1;
	} else {
		n = parse_primary(p);
	}
	p->depth--;
	return n;
}

static struct node *
parse_seq(struct parser *p, const char *sep, enum nkind kind)
{
	struct node *buf[64], **kid = buf, *n;
	size_t nkid = 0, cap = 64;

	for (;;) {
		n = kind == N_OR ? parse_seq(p, "and", N_AND) : parse_unary(p);
		if (n == NULL)
			return NULL;
		if (nkid == cap) {
			struct node **nk = arena_alloc(p->cc->ar, sizeof(*nk) * cap * 2);
			memcpy(nk, kid, sizeof(*nk) * nkid);
			kid = nk;
			cap *= 2;
		}
		kid[nkid++] = n;
		if (!is_word(&p->lx, sep))
			break;
		lex_next(&p->lx);
	}
	return node_group(p, kind, kid, nkid);
}

static struct node *
parse_or(struct parser *p)
{
	struct node *n;

	if (++p->depth > COND_MAX_DEPTH) {
		perr(p, "condition nested too deeply");
		return NULL;
	}
	n = parse_seq(p, "or", N_OR);
	p->depth--;
	return n;
}

struct node *
cond_compile(struct cond_ctx *cc, const char *text, size_t len, int relative)
{
	struct parser p = { .what = "condition", .cc = cc, .relative = relative };
	struct node *n;

	p.lx.s = text;
	p.lx.n = len;
	if (len > COND_MAX_LEN) {
		cond_error(cc, "condition: longer than %d bytes", COND_MAX_LEN);
		return NULL;
	}
	lex_next(&p.lx);
	if (p.lx.t == TK_EOF) {
		perr(&p, "empty condition");
		return NULL;
	}
	n = parse_or(&p);
	if (n && p.lx.t != TK_EOF) {
		if (p.lx.t == TK_ERR)
			perr(&p, "%s", p.lx.err);
		else
			perr(&p, "expected and, or, or the end of the condition");
		n = NULL;
	}
	return p.failed ? NULL : n;
}

/* Appends list's items to v (none for an empty list). */
static void
push_list(struct arena *a, const struct rlist *rl, struct lit **v, size_t *nv, size_t *cap)
{
	for (size_t i = 0; i < rl->nitem; i++)
		vec_push(a, v, nv, cap, &rl->item[i]);
}

static const struct rlist *
list_named(const struct cond_ctx *cc, const struct lit *l)
{
	if (cc->names == NULL || (l->flags & LIT_QUOTED) || l->n == 0 || strlen(l->s) != l->n)
		return NULL;
	return cc->names->list(cc->names->arg, l->s);
}

int
cond_op_known(const char *name)
{
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(op_names[i], name) == 0)
			return i != OP_EXISTS;
	return 0;
}

struct node *
cond_cmp(struct cond_ctx *cc, const char *what, const char *field, const char *opname,
    const struct lit *val, size_t nval, int seq)
{
	struct parser p = { .what = what, .cc = cc };
	struct node *n = node_new(&p, N_CMP);
	struct lit *v = NULL;
	const struct rlist *rl;
	size_t nv = 0, cap = 0;
	char err[256];
	int set = seq, op = -1;

	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(op_names[i], opname) == 0)
			op = (int)i;
	if (op < 0 || op == OP_EXISTS) {
		perr(&p, "unknown comparison \"%s\"", opname);
		return NULL;
	}
	n->op = (enum op)op;
	if ((n->f = field_compile(cc->ar, field, strlen(field), 0, err, sizeof(err))) == NULL) {
		perr(&p, "%s", err);
		return NULL;
	}
	if (seq) {
		/* a sequence: its items, a list name among them expanded */
		for (size_t i = 0; i < nval; i++) {
			if ((rl = list_named(cc, &val[i])) != NULL)
				push_list(cc->ar, rl, &v, &nv, &cap);
			else
				vec_push(cc->ar, &v, &nv, &cap, &val[i]);
		}
	} else if (nval != 1) {
		perr(&p, "expected one value");
		return NULL;
	} else if (n->op == OP_IN) {
		/* a scalar after in names a list */
		if (cc->names == NULL ||
		    (rl = cc->names->list(cc->names->arg, val[0].s)) == NULL) {
			perr(&p, "unknown list \"%s\"", val[0].s);
			return NULL;
		}
		push_list(cc->ar, rl, &v, &nv, &cap);
		set = 1;
	} else if (n->op != OP_REGEX && n->op > OP_IN && (rl = list_named(cc, &val[0])) != NULL) {
		push_list(cc->ar, rl, &v, &nv, &cap);
		set = 1;
	} else {
		vec_push(cc->ar, &v, &nv, &cap, &val[0]);
	}
	if (finish_cmp(&p, n, v, nv, n->op == OP_IN || set) < 0)
		return NULL;
	return n;
}

struct node *
cond_group(struct arena *a, enum nkind kind, struct node **kid, size_t nkid)
{
	struct node *n = arena_alloc(a, sizeof(*n));

	n->kind = kind;
	n->kid = arena_alloc(a, sizeof(*kid) * (nkid ? nkid : 1));
	memcpy(n->kid, kid, sizeof(*kid) * nkid);
	n->nkid = nkid;
	return n;
}

int
cond_check(const char *text, size_t len, struct buf *errs)
{
	struct arena ar = { NULL };
	pcre2_code **re = NULL;
	size_t nre = 0;
	struct cond_ctx cc = { .ar = &ar, .file = "(condition)", .line = 1,
	    .errs = errs, .regexes = &re, .nregexes = &nre };
	struct node *n = cond_compile(&cc, text, len, 0);

	for (size_t i = 0; i < nre; i++)
		pcre2_code_free(re[i]);
	free(re);
	arena_free(&ar);
	return n ? 0 : -1;
}

/* --- evaluation ------------------------------------------------------------------ */

enum sk { SK_NONE, SK_STR, SK_NUM, SK_BOOL, SK_OTHER };

struct sval {
	enum sk		 k;
	const char	*s;
	size_t		 n;
	double		 num;
	int		 b;
};

static void
sval_tok(struct evctx *c, int t, struct sval *v)
{
	const struct jdoc *d = c->ev->doc;

	switch (jtok_type(d, t)) {
	case JT_STR:
		v->k = SK_STR;
		v->s = jtok_str(d, t, &c->s->tmp, &v->n);
		if (v->s == NULL)
			v->k = SK_NONE;
		break;
	case JT_NUM:
		v->k = jtok_num(d, t, &v->num) == 0 ? SK_NUM : SK_NONE;
		break;
	case JT_TRUE: case JT_FALSE:
		v->k = SK_BOOL;
		v->b = jtok_type(d, t) == JT_TRUE;
		break;
	case JT_NULL: case JT_NONE:
		v->k = SK_NONE;
		break;
	default:
		v->k = SK_OTHER;
		break;
	}
}

static int
lit_eq(const struct lit *l, const struct sval *v)
{
	switch (v->k) {
	case SK_STR: return v->n == l->n && memcmp(v->s, l->s, l->n) == 0;
	case SK_NUM: return (l->flags & LIT_NUM) && v->num == l->num;
	case SK_BOOL: return (l->flags & LIT_BOOL) && v->b == l->b;
	default: return 0;
	}
}

static int
lit_order(const struct lit *l, const struct sval *v, int *cmp)
{
	if (v->k == SK_NUM && (l->flags & LIT_NUM)) {
		*cmp = v->num < l->num ? -1 : v->num > l->num;
		return 1;
	}
	if (v->k == SK_STR && !(l->flags & (LIT_NUM | LIT_BOOL | LIT_NULL))) {
		size_t m = v->n < l->n ? v->n : l->n;
		int r = memcmp(v->s, l->s, m);
		*cmp = r ? r : (v->n < l->n ? -1 : v->n > l->n);
		return 1;
	}
	return 0;
}

static int
set_has(const struct litset *set, const struct sval *v)
{
	switch (v->k) {
	case SK_STR: return litset_has_str(set, v->s, v->n);
	case SK_NUM:
		for (size_t i = 0; i < set->nnum; i++)
			if (set->num[i] == v->num)
				return 1;
		return 0;
	case SK_BOOL: return (set->bools & (v->b ? 2u : 1u)) != 0;
	default: return 0;
	}
}

static int
ci_eq(const char *a, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) != (unsigned char)lower[i])
			return 0;
	return 1;
}

static int
ci_contains(const char *s, size_t n, const char *lower, size_t ln)
{
	if (ln == 0)
		return 1;
	for (size_t i = 0; i + ln <= n; i++)
		if (ci_eq(s + i, lower, ln))
			return 1;
	return 0;
}

/* Whether l[0..ln) occurs in h[0..n): memchr() to each candidate first byte.
 * For values the size of a user agent this is several times cheaper than
 * memmem(), which prepares a shift table on every call. */
static int
mem_has(const char *h, size_t n, const char *l, size_t ln)
{
	const char *p = h, *end = h + n;

	if (ln == 0)
		return 1;
	while ((size_t)(end - p) >= ln &&
	    (p = memchr(p, l[0], (size_t)(end - p) - ln + 1)) != NULL) {
		if (memcmp(p + 1, l + 1, ln - 1) == 0)
			return 1;
		p++;
	}
	return 0;
}

/* icontains against a set: a short value is lowered once, and the pairs of
 * adjacent bytes it holds noted in a bitmap, so that most items (lowered
 * when compiled) are ruled out by a pair of theirs that it lacks, without a
 * search. Catch-all rules match user agents against lists of dozens of tool
 * names on every event. */
static int
ci_contains_any(const struct litset *set, const char *s, size_t n)
{
	char low[512];
	uint64_t pairs[64] = { 0 };	/* 4096 bits, by a hash of two bytes */
	unsigned h;

	if (n > sizeof(low)) {
		for (size_t i = 0; i < set->nstr; i++)
			if (ci_contains(s, n, set->str[i].s, set->str[i].n))
				return 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	for (size_t i = 1; i < n; i++) {
		h = ((unsigned char)low[i - 1] * 67u + (unsigned char)low[i]) & 4095u;
		pairs[h >> 6] |= 1ull << (h & 63);
	}
	for (size_t i = 0; i < set->nstr; i++) {
		const struct lit *l = &set->str[i];
		size_t k = 1;
		for (; k < l->n; k++) {
			h = ((unsigned char)l->s[k - 1] * 67u + (unsigned char)l->s[k]) & 4095u;
			if (!(pairs[h >> 6] & (1ull << (h & 63))))
				break;
		}
		if (k >= l->n && mem_has(low, n, l->s, l->n))
			return 1;
	}
	return 0;
}

#define CIM_SLOTS	64	/* icontains results kept per scratch (power of 2) */
#define CIM_STR_MAX	256	/* bytes of a value kept; longer ones are not */

/* The result of ci_contains_any() for one (set, value): the catch-all
 * rules match every event's user agent against lists of tool names, and a
 * stream of events repeats few user agents. The value is kept whole and
 * compared, so a hit is exact; a slot holds the last value that hashed to
 * it. */
struct cimemo {
	const struct litset	*set;
	size_t			 n;
	int			 hit;
	char			 s[CIM_STR_MAX];
};

static int
ci_contains_memo(struct eval_scratch *scr, const struct litset *set, const char *s, size_t n)
{
	uint64_t w[2] = { 0, 0 };
	struct cimemo *m;
	size_t slot;

	if (scr == NULL || n > CIM_STR_MAX)
		return ci_contains_any(set, s, n);
	if (scr->cim == NULL)
		scr->cim = xcalloc(CIM_SLOTS, sizeof(*scr->cim));
	/* the ends of the value, where user agents differ (versions) */
	memcpy(w, s, n < 8 ? n : 8);
	if (n > 8)
		memcpy(&w[1], s + n - (n < 16 ? n - 8 : 8), n < 16 ? n - 8 : 8);
	slot = (size_t)(((w[0] * 0x9e3779b97f4a7c15ull) ^ (w[1] * 0xc2b2ae3d27d4eb4full) ^
	    ((uintptr_t)set >> 4) ^ n) * 0xff51afd7ed558ccdull >> 58) & (CIM_SLOTS - 1);
	m = &scr->cim[slot];
	if (m->set == set && m->n == n && memcmp(m->s, s, n) == 0)
		return m->hit;
	m->set = set;
	m->n = n;
	memcpy(m->s, s, n);
	m->hit = ci_contains_any(set, s, n);
	return m->hit;
}

/* '*' any run, '?' one byte, '\' escapes; iterative with one backtrack point. */
static int
glob_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pn && (p[pi] == '?' ||
		    (p[pi] == '\\' && pi + 1 < pn ? p[pi + 1] == s[si] : p[pi] == s[si]))) {
			pi += (p[pi] == '\\' && pi + 1 < pn) ? 2 : 1;
			si++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else {
			return 0;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

static int
cidr_match(const struct node *n, const char *s, size_t len)
{
	char tmp[64];
	uint8_t a[16];
	int fam;

	if (len >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, a) == 1)
		fam = 4;
	else if (inet_pton(AF_INET6, tmp, a) == 1)
		fam = 6;
	else
		return 0;
	for (size_t i = 0; i < n->ncidr; i++) {
		const struct cidr *c = &n->cidr[i];
		unsigned full = c->bits / 8, rest = c->bits % 8;
		if (c->family != fam || memcmp(a, c->addr, full) != 0)
			continue;
		if (rest && ((a[full] ^ c->addr[full]) & (0xff00 >> rest) & 0xff))
			continue;
		return 1;
	}
	return 0;
}

/* A string operator against each literal of the set; in_array: the value
 * is one element of an array, where contains means membership. */
static int
str_match(const struct node *n, struct evctx *c, const struct sval *v, int in_array)
{
	const struct litset *set = n->set;

	if (v->k != SK_STR)
		return n->op == OP_CONTAINS && in_array && set_has(set, v);
	if (n->op == OP_REGEX)
		return pcre2_match(n->re, (PCRE2_SPTR)v->s, v->n, 0, 0, c->s ? c->s->md : c->md,
		    NULL) >= 0;
	if (n->op == OP_CIDR)
		return cidr_match(n, v->s, v->n);
	if (n->op == OP_CONTAINS && in_array)
		return set_has(set, v);
	if (n->op == OP_ICONTAINS && !in_array)
		return ci_contains_memo(c->s, set, v->s, v->n);
	for (size_t i = 0; i < set->nstr; i++) {
		const struct lit *l = &set->str[i];
		switch (n->op) {
		case OP_CONTAINS:
			if (memmem(v->s, v->n, l->s, l->n) || l->n == 0)
				return 1;
			break;
		case OP_ICONTAINS:
			if (in_array ? (v->n == l->n && ci_eq(v->s, l->s, l->n)) :
			    ci_contains(v->s, v->n, l->s, l->n))
				return 1;
			break;
		case OP_STARTSWITH:
			if (v->n >= l->n && memcmp(v->s, l->s, l->n) == 0)
				return 1;
			break;
		case OP_ENDSWITH:
			if (v->n >= l->n && memcmp(v->s + v->n - l->n, l->s, l->n) == 0)
				return 1;
			break;
		case OP_GLOB:
			if (glob_match(l->s, l->n, v->s, v->n))
				return 1;
			break;
		default:
			break;
		}
	}
	return 0;
}

static int
scalar_match(const struct node *n, struct evctx *c, const struct sval *v, int in_array)
{
	int cmp;

	if (v->k == SK_NONE)
		return 0;
	switch (n->op) {
	case OP_EQ: return lit_eq(n->lit, v);
	case OP_NE: return !lit_eq(n->lit, v);
	case OP_LT: return lit_order(n->lit, v, &cmp) && cmp < 0;
	case OP_LE: return lit_order(n->lit, v, &cmp) && cmp <= 0;
	case OP_GT: return lit_order(n->lit, v, &cmp) && cmp > 0;
	case OP_GE: return lit_order(n->lit, v, &cmp) && cmp >= 0;
	case OP_IN: return set_has(n->set, v);
	case OP_EXISTS: return 1;
	default: return str_match(n, c, v, in_array);
	}
}

/* Operators other than equality and ordering apply to array elements: true
 * when any element matches (contains on an array is membership). */
static int
array_match(const struct node *n, struct evctx *c, int arr)
{
	const struct jdoc *d = c->ev->doc;
	struct sval sv;

	if (n->op == OP_EQ || op_ordering(n->op))
		return 0;
	if (n->op == OP_NE)
		return 1;
	for (int t = jtok_first(d, arr); t >= 0; t = jtok_next(d, arr, t)) {
		sval_tok(c, t, &sv);
		if (scalar_match(n, c, &sv, 1))
			return 1;
	}
	return 0;
}

/* A value inside a finding as a scalar (arrays and objects: SK_OTHER). */
static void
sval_json(const json_t *j, struct sval *v)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->k = SK_STR;
		v->s = json_string_value(j);
		v->n = json_string_length(j);
		break;
	case JSON_INTEGER:
		v->k = SK_NUM;
		v->num = (double)json_integer_value(j);
		break;
	case JSON_REAL:
		v->k = SK_NUM;
		v->num = json_real_value(j);
		break;
	case JSON_TRUE: case JSON_FALSE:
		v->k = SK_BOOL;
		v->b = json_is_true(j);
		break;
	case JSON_NULL:
		v->k = SK_NONE;
		break;
	default:
		v->k = SK_OTHER;
		break;
	}
}

/* array_match() over an array of a finding. */
static int
json_array_match(const struct node *n, struct evctx *c, const json_t *arr)
{
	struct sval sv;

	if (n->op == OP_EQ || op_ordering(n->op))
		return 0;
	if (n->op == OP_NE)
		return 1;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		sval_json(json_array_get(arr, i), &sv);
		if (scalar_match(n, c, &sv, 1))
			return 1;
	}
	return 0;
}

static int
cmp_eval(const struct node *n, struct evctx *c, int elem)
{
	struct val v;
	struct sval sv = { SK_NONE, NULL, 0, 0, 0 };

	field_eval(n->f, c, elem, &v);
	switch (v.kind) {
	case VAL_NONE: return 0;
	case VAL_TOK:
		if (n->op == OP_EXISTS)
			return 1;
		if (jtok_type(c->ev->doc, v.tok) == JT_ARR)
			return array_match(n, c, v.tok);
		sval_tok(c, v.tok, &sv);
		break;
	case VAL_ARRS:
		if (n->op == OP_EXISTS)
			return 1;
		for (int i = 0; i < v.narr; i++)
			if (array_match(n, c, v.arr[i]))
				return 1;
		return 0;
	case VAL_LIST:
		if (n->op == OP_EXISTS || n->op == OP_NE)
			return 1;
		if (n->op == OP_EQ || op_ordering(n->op))
			return 0;
		for (size_t i = 0; i < v.list->n; i++) {
			sv.k = SK_STR;
			sv.s = v.list->b.data + v.list->off[i];
			sv.n = v.list->len[i];
			if (scalar_match(n, c, &sv, 1))
				return 1;
		}
		return 0;
	case VAL_JSON:
		if (n->op == OP_EXISTS)
			return 1;
		if (json_is_array(v.j))
			return json_array_match(n, c, v.j);
		sv.k = SK_OTHER;
		break;
	case VAL_STR: sv.k = SK_STR; sv.s = v.s; sv.n = v.n; break;
	case VAL_NUM: sv.k = SK_NUM; sv.num = v.num; break;
	case VAL_BOOL: sv.k = SK_BOOL; sv.b = v.b; break;
	}
	return scalar_match(n, c, &sv, 0);
}

/* any/all over an array of a finding: each element in turn in a slot of
 * c->fel, which the relative fields inside read from. */
static int
quant_json(const struct node *n, struct evctx *c, const struct val *v)
{
	int all = n->kind == N_ALL, r = all, slot;

	if (v->kind != VAL_JSON || !json_is_array(v->j) || c->nfel >= COND_MAX_DEPTH)
		return 0;	/* missing: neither any nor all holds */
	slot = c->nfel++;
	for (size_t i = 0; i < json_array_size(v->j); i++) {
		c->fel[slot] = json_array_get(v->j, i);
		if ((cond_eval(n->kid[0], c, slot) != 0) != all) {
			r = !all;
			break;
		}
	}
	c->nfel--;
	return r;
}

static int
quant_eval(const struct node *n, struct evctx *c, int elem)
{
	const struct jdoc *d;
	struct val v;
	int arrs[3], narr = 0, all = n->kind == N_ALL;

	field_eval(n->f, c, elem, &v);
	if (c->finding)
		return quant_json(n, c, &v);
	d = c->ev->doc;
	if (v.kind == VAL_TOK && jtok_type(d, v.tok) == JT_ARR)
		arrs[narr++] = v.tok;
	else if (v.kind == VAL_ARRS)
		for (int i = 0; i < v.narr; i++)
			arrs[narr++] = v.arr[i];
	else
		return 0;	/* missing: neither any nor all holds */
	for (int i = 0; i < narr; i++) {
		for (int t = jtok_first(d, arrs[i]); t >= 0; t = jtok_next(d, arrs[i], t)) {
			int r = cond_eval(n->kid[0], c, t);
			if (r && !all)
				return 1;
			if (!r && all)
				return 0;
		}
	}
	return all;
}

static int
memo_eval(const struct node *n, struct evctx *c, int elem)
{
	struct eval_scratch *s = c->s;
	uint32_t *m;
	int r;

	if (s->memo == NULL || elem >= 0)
		return cond_eval(n->kid[0], c, elem);
	m = &s->memo[n->memo];
	if ((*m >> 1) == s->gen)
		return (int)(*m & 1);
	r = cond_eval(n->kid[0], c, elem);
	*m = (s->gen << 1) | (uint32_t)(r != 0);
	return r;
}

/* --- an OR over one field ---------------------------------------------------------- */

#define ORSW_MIN	3	/* branches on one field that make it worth it */
#define ORSW_MAX	64	/* branches of one OR (bits of a mask) */

/* An OR most of whose branches start with a comparison of the same field
 * to a literal: `(ka.useragent.minor = 20 and ...) or (ka.useragent.minor
 * = 21 and ...) or ...`, as the client rules' release tables are written.
 * The field is read once and every such comparison made on that one value
 * before any branch is evaluated; a branch whose comparison fails is false
 * and skipped without walking its nodes. The branches left are evaluated
 * as written, in order, so the result is the plain OR's. */
struct orsw {
	const struct field	*f;
	const struct node	**arm;	/* per branch: its first comparison, or NULL */
};

static int
orsw_cmp(const struct node *n)
{
	return n->kind == N_CMP && n->lit != NULL &&
	    (n->op == OP_EQ || n->op == OP_LT || n->op == OP_LE || n->op == OP_GT ||
	    n->op == OP_GE);
}

/* The comparison a branch starts with, when it is one the switch takes. */
static const struct node *
orsw_arm(const struct node *k)
{
	if (orsw_cmp(k))
		return k;
	if (k->kind == N_AND && k->nkid > 0 && orsw_cmp(k->kid[0]))
		return k->kid[0];
	return NULL;
}

/* Whether a and b read the same value: compiled separately, the same path
 * gives two structs. */
static int
field_same(const struct field *a, const struct field *b)
{
	if (a == b)
		return 1;
	if (a->base != b->base || a->ef != b->ef || a->comp != b->comp || a->type != b->type ||
	    a->nseg != b->nseg || strcmp(a->name, b->name) != 0)
		return 0;
	for (size_t i = 0; i < a->nseg; i++) {
		const struct pathseg *x = &a->seg[i], *y = &b->seg[i];
		if ((x->key == NULL) != (y->key == NULL) || x->index != y->index ||
		    (x->key && (x->len != y->len || memcmp(x->key, y->key, x->len) != 0)))
			return 0;
	}
	return 1;
}

static void
orsw_build(struct arena *a, struct node *n)
{
	const struct node *arm[ORSW_MAX];
	const struct field *f = NULL;
	size_t narm = 0;

	if (n->nkid < ORSW_MIN || n->nkid > ORSW_MAX)
		return;
	for (size_t i = 0; i < n->nkid; i++) {
		arm[i] = orsw_arm(n->kid[i]);
		if (arm[i] && f == NULL)
			f = arm[i]->f;
		if (arm[i] && !field_same(arm[i]->f, f))
			arm[i] = NULL;
		narm += arm[i] != NULL;
	}
	if (narm < ORSW_MIN)
		return;
	n->sw = arena_alloc(a, sizeof(*n->sw));
	n->sw->f = f;
	n->sw->arm = arena_alloc(a, n->nkid * sizeof(*n->sw->arm));
	memcpy(n->sw->arm, arm, n->nkid * sizeof(*arm));
}

void
cond_optimize(struct arena *a, struct node *n)
{
	if (n == NULL)
		return;
	switch (n->kind) {
	case N_OR:
		if (n->sw == NULL)
			orsw_build(a, n);
		/* FALLTHROUGH */
	case N_AND: case N_NOT: case N_ANY: case N_ALL: case N_MEMO:
		for (size_t i = 0; i < n->nkid; i++)
			cond_optimize(a, n->kid[i]);
		break;
	default:
		break;
	}
}

/* The field's value as cmp_eval() compares a scalar; arrays, lists and
 * objects make every comparison the switch takes false (SK_NONE). */
static void
orsw_value(const struct orsw *sw, struct evctx *c, int elem, struct sval *sv)
{
	struct val v;

	field_eval(sw->f, c, elem, &v);
	sv->k = SK_NONE;
	switch (v.kind) {
	case VAL_TOK:
		if (jtok_type(c->ev->doc, v.tok) != JT_ARR)
			sval_tok(c, v.tok, sv);
		break;
	case VAL_STR: sv->k = SK_STR; sv->s = v.s; sv->n = v.n; break;
	case VAL_NUM: sv->k = SK_NUM; sv->num = v.num; break;
	case VAL_BOOL: sv->k = SK_BOOL; sv->b = v.b; break;
	default: break;
	}
}

static int
orsw_eval(const struct node *n, struct evctx *c, int elem)
{
	const struct orsw *sw = n->sw;
	struct sval sv = { SK_NONE, NULL, 0, 0, 0 };
	uint64_t out = 0;

	/* every comparison first: a branch evaluated may reuse the scratch
	 * buffer the value's text sits in */
	orsw_value(sw, c, elem, &sv);
	for (size_t i = 0; i < n->nkid; i++)
		if (sw->arm[i] && !scalar_match(sw->arm[i], c, &sv, 0))
			out |= 1ull << i;
	for (size_t i = 0; i < n->nkid; i++)
		if (!(out >> i & 1) && cond_eval(n->kid[i], c, elem))
			return 1;
	return 0;
}

int
cond_eval(const struct node *n, struct evctx *c, int elem)
{
	switch (n->kind) {
	case N_AND:
		for (size_t i = 0; i < n->nkid; i++)
			if (!cond_eval(n->kid[i], c, elem))
				return 0;
		return 1;
	case N_OR:
		if (n->sw)
			return orsw_eval(n, c, elem);
		for (size_t i = 0; i < n->nkid; i++)
			if (cond_eval(n->kid[i], c, elem))
				return 1;
		return 0;
	case N_NOT: return !cond_eval(n->kid[0], c, elem);
	case N_CMP: return cmp_eval(n, c, elem);
	case N_ANY: case N_ALL: return quant_eval(n, c, elem);
	case N_TRUE: return 1;
	case N_FALSE: return 0;
	case N_MEMO: return memo_eval(n, c, elem);
	case N_FALCO: return falcocond_eval(n->fx, c);
	}
	return 0;
}
