/* jtok.c — strict RFC 8259 tokenizer into a flat token array, navigation
 * over it and on-demand unescaping of strings.
 *
 * DESIGN: one pass over the text, no recursion: an explicit stack of open
 * containers (at most JTOK_MAX_DEPTH) replaces the call stack, so hostile
 * nesting cannot overflow anything. The parser is a small state machine
 * (value, key, after-value, close) written with gotos because each state is
 * entered from several places and a loop with a state variable costs a
 * branch per byte on the hot path. The only allocation is the token array,
 * grown geometrically and kept across calls. String bodies, most of the
 * bytes of an audit event, are skipped 16 bytes at a time (SSE2, or eight at
 * a time in a plain 64-bit word elsewhere); escapes are validated there but
 * decoded only when a caller asks (jtok_str and friends). The skip also
 * stops at bytes >= 0x80, so that each UTF-8 sequence is validated where
 * it stands, and ASCII strings, nearly all of them, cost nothing more. The
 * machine keeps the open container's token, member count and kind in
 * locals, so the per-token work touches only the token being written.
 *
 * Duplicate keys: each key sets one bit of a 64-bit filter of its object,
 * chosen by its length and first and last bytes (KEYSIG). Only an object
 * where two keys met on a bit, or with a key that must be decoded, is
 * checked when it closes (jtok_check_keys): up to JTOK_PAIRWISE keys by a
 * small hash table of signatures and a memcmp of equal ones, more, or
 * decoded ones, by sorting their decoded forms, O(n log n) whatever the
 * keys are. Most objects of an audit event have a handful of distinct keys
 * and are never checked. jtok_get() stops at the first match unless the
 * object is marked JTOK_DUPKEYS, and only marked strings are decoded. */
#include "base/jtok.h"
#include "base/utf8.h"
#include "base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define R8(x)	x, x, x, x, x, x, x, x
#define R16(x)	R8(x), R8(x)

/* Bytes that end a run of plain string content: '"', '\\', controls, and
 * the bytes of UTF-8 sequences, which are validated one by one. */
static const uint8_t str_stop[256] = {
	R16(1), R16(1),				/* 0x00-0x1f */
	0, 0, 1, 0, 0, 0, 0, 0, R8(0),		/* 0x20-0x2f: '"' */
	R16(0), R16(0),				/* 0x30-0x4f */
	R8(0), 0, 0, 0, 0, 1, 0, 0, 0,		/* 0x50-0x5f: '\\' */
	R16(0), R16(0),				/* 0x60-0x7f */
	R16(1), R16(1), R16(1), R16(1),		/* 0x80-0xbf */
	R16(1), R16(1), R16(1), R16(1),		/* 0xc0-0xff */
};

#define JTOK_PAIRWISE	64	/* keys of an object compared pair by pair */

struct jparse {
	struct jdoc	*d;
	const unsigned char *s;
	size_t		 n;
	size_t		 errpos;
	const char	*msg;
};

void
jdoc_init(struct jdoc *d)
{
	memset(d, 0, sizeof(*d));
}

void
jdoc_free(struct jdoc *d)
{
	free(d->tok);
	jdoc_init(d);
}

static int
jtok_fail(struct jparse *p, size_t pos, const char *msg)
{
	p->errpos = pos;
	p->msg = msg;
	return -1;
}

static int
jtok_grow(struct jparse *p, size_t pos)
{
	struct jdoc *d = p->d;
	uint32_t cap;

	if (d->cap >= JTOK_MAX_TOKENS)
		return jtok_fail(p, pos, "more than 4194304 tokens");
	cap = d->cap ? d->cap * 2 : 256;
	if (cap > JTOK_MAX_TOKENS)
		cap = JTOK_MAX_TOKENS;
	d->tok = xrealloc(d->tok, (size_t)cap * sizeof(*d->tok));
	d->cap = cap;
	return 0;
}

static inline int
jtok_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads the 4 hex digits of a \u escape at s[i] (the backslash). */
static long
jtok_hex4(const unsigned char *s, size_t n, size_t i)
{
	long v = 0;
	int h;

	if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
		return -1;
	for (size_t k = i + 2; k < i + 6; k++) {
		if ((h = jtok_hexval(s[k])) < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Decodes the \u escape at s[*i] (surrogate pairs included) into a code
 * point and advances *i past it. Returns -1 when malformed. */
static long
jtok_ucode(const unsigned char *s, size_t n, size_t *i)
{
	long hi, lo;

	if ((hi = jtok_hex4(s, n, *i)) < 0)
		return -1;
	*i += 6;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return -2;
	if (hi < 0xd800 || hi > 0xdbff)
		return hi;
	lo = jtok_hex4(s, n, *i);
	if (lo < 0xdc00 || lo > 0xdfff)
		return -2;
	*i += 6;
	return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

/* Validates the escape at s[*i] (a backslash) and advances past it. A lone
 * surrogate is no error: Go reads it as U+FFFD, and so do we. */
static int
jtok_scan_escape(struct jparse *p, size_t *i, uint8_t *flags)
{
	size_t at;
	long cp;

	if (*i + 1 >= p->n)
		return jtok_fail(p, *i, "unterminated string");
	switch (p->s[*i + 1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		*i += 2;
		return 0;
	case 'u':
		at = *i;
		cp = jtok_ucode(p->s, p->n, i);
		if (cp == -1)
			return jtok_fail(p, at, "expected 4 hex digits after \\u");
		if (cp == -2)
			*flags |= JTOK_BADUTF8;
		return 0;
	default:
		return jtok_fail(p, *i, "invalid escape, expected one of \"\\/bfnrtu");
	}
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ONES	0x0101010101010101ull
#define HIGHS	0x8080808080808080ull

/* Skips plain string bytes eight at a time: a word is plain when none of its
 * bytes is '"', '\\', below 0x20 (the classic has-zero-byte tests) or
 * above 0x7f. The lowest flagged byte is exact, so the scan stops on the
 * first special one. */
static inline size_t
jtok_skip_word(const unsigned char *s, size_t k, size_t n)
{
	uint64_t w, hit;

	while (k + 8 <= n) {
		memcpy(&w, s + k, 8);
		hit = ((w ^ (ONES * '"')) - ONES) & ~(w ^ (ONES * '"'));
		hit |= ((w ^ (ONES * '\\')) - ONES) & ~(w ^ (ONES * '\\'));
		hit |= (w - ONES * 0x20) & ~w;
		hit |= w;
		hit &= HIGHS;
		if (hit)
			return k + (size_t)(__builtin_ctzll(hit) >> 3);
		k += 8;
	}
	while (k < n && !str_stop[s[k]])
		k++;
	return k;
}
#else
static inline size_t
jtok_skip_word(const unsigned char *s, size_t k, size_t n)
{
	while (k < n && !str_stop[s[k]])
		k++;
	return k;
}
#endif

#if defined(__SSE2__)
/* Sixteen bytes per step: '"', '\\', and in one signed comparison both the
 * controls (below 0x20) and the bytes above 0x7f (negative as signed
 * chars), flagged in one mask. Loads stay inside s[0..n); the tail goes by
 * words. */
static inline size_t
jtok_skip_plain(const unsigned char *s, size_t k, size_t n)
{
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(0x20);
	__m128i v, m;
	unsigned bits;

	while (k + 16 <= n) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(s + k));
		m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
		m = _mm_or_si128(m, _mm_cmplt_epi8(v, space));
		bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return k + (size_t)__builtin_ctz(bits);
		k += 16;
	}
	return jtok_skip_word(s, k, n);
}
#else
#define jtok_skip_plain	jtok_skip_word
#endif

#define JTOK_BAD	((size_t)-1)	/* a scan failed; p->msg says why */

/* From the first byte that ends a plain run (or n) to the closing quote,
 * through escapes and UTF-8 sequences; returns its position or JTOK_BAD.
 * A byte that does not start a valid sequence is passed over and marks the
 * string. */
static size_t __attribute__((noinline))
jtok_scan_string_rest(struct jparse *p, size_t k, uint8_t *flags)
{
	const unsigned char *s = p->s;
	size_t n = p->n, l;

	for (;;) {
		if (k >= n)
			break;
		if (s[k] == '"') {
			p->d->flags |= *flags;
			return k;
		}
		if (s[k] >= 0x80) {
			if ((l = utf8_seq(s + k, n - k)) == 0) {
				*flags |= JTOK_BADUTF8;
				l = 1;
			}
			k = jtok_skip_plain(s, k + l, n);
			continue;
		}
		if (s[k] != '\\') {
			jtok_fail(p, k, "control character in string");
			return JTOK_BAD;
		}
		if (jtok_scan_escape(p, &k, flags) < 0)
			return JTOK_BAD;
		*flags |= JTOK_ESCAPED;
		k = jtok_skip_plain(s, k, n);
	}
	jtok_fail(p, k, "unterminated string");
	return JTOK_BAD;
}

/* k is just after the opening quote; returns the position of the closing
 * one, or JTOK_BAD. */
static inline size_t
jtok_scan_string(struct jparse *p, size_t k, uint8_t *flags)
{
	k = jtok_skip_plain(p->s, k, p->n);
	if (k < p->n && p->s[k] == '"')
		return k;
	return jtok_scan_string_rest(p, k, flags);
}

#define IS_DIGIT(c)	((unsigned)(c) - '0' < 10u)

/* Returns the position after the number at k, or JTOK_BAD. */
static size_t
jtok_scan_number(struct jparse *p, size_t k)
{
	const unsigned char *s = p->s;
	size_t n = p->n;
	const char *msg = "invalid number, expected a digit";

	if (s[k] == '-')
		k++;
	if (k < n && s[k] == '0')
		k++;
	else if (k < n && IS_DIGIT(s[k]))
		while (k < n && IS_DIGIT(s[k]))
			k++;
	else
		goto bad;
	if (k < n && s[k] == '.') {
		msg = "invalid number, expected a digit after '.'";
		if (++k >= n || !IS_DIGIT(s[k]))
			goto bad;
		while (k < n && IS_DIGIT(s[k]))
			k++;
	}
	if (k < n && (s[k] | 0x20) == 'e') {
		msg = "invalid number, expected a digit in the exponent";
		if (++k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		if (k >= n || !IS_DIGIT(s[k]))
			goto bad;
		while (k < n && IS_DIGIT(s[k]))
			k++;
	}
	return k;
bad:
	jtok_fail(p, k, msg);
	return JTOK_BAD;
}

/* Returns the position after the literal at k, or JTOK_BAD. */
static size_t
jtok_scan_literal(struct jparse *p, size_t k, uint8_t *type)
{
	static const struct { const char *w; size_t n; uint8_t type; } lit[] = {
		{ "true", 4, JT_TRUE }, { "false", 5, JT_FALSE }, { "null", 4, JT_NULL },
	};

	for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
		if (p->s[k] != lit[i].w[0])
			continue;
		if (k + lit[i].n > p->n || memcmp(p->s + k, lit[i].w, lit[i].n) != 0)
			break;
		*type = lit[i].type;
		return k + lit[i].n;
	}
	jtok_fail(p, k, "expected a value");
	return JTOK_BAD;
}

#define IS_WS(c)	((c) <= ' ' && ((c) == ' ' || (c) == '\n' || (c) == '\r' || (c) == '\t'))
#define SKIP_WS()	while (pos < n && IS_WS(s[pos])) pos++

/* The open container that is not the innermost one. */
struct jframe {
	uint64_t	keys;	/* the key filter (see KEYBIT) */
	uint64_t	again;	/* nonzero: check the keys at close */
	uint32_t	tok;
	uint32_t	count;
	uint8_t		obj;
};

/* A key's length and first and last bytes (an empty key's two quotes):
 * equal keys have equal signatures. */
#define KEYSIG(len, first, last) \
	((uint64_t)(len) << 16 | (uint64_t)(unsigned char)(first) << 8 | \
	    (unsigned char)(last))
/* One of 64 bits for a signature: an object whose keys all take different
 * bits cannot repeat one, and the keys of most objects of an audit event
 * do. */
#define KEYBIT(sig)	(1ull << (((sig) * 0x9e3779b97f4a7c15ull) >> 58))
/* Its slot in jtok_check_keys()'s table of 2 * JTOK_PAIRWISE. */
#define KEYSLOT(sig)	((uint32_t)(((sig) * 0x9e3779b97f4a7c15ull) >> 57))

/* Appends a token of type at start to tok[] (locals of jtok_machine()); a
 * container gets its len, next and size when it closes. */
#define PUSH(type_, start_) do {					\
	if (ntok == cap) {						\
		d->ntok = ntok;						\
		if (jtok_grow(p, (start_)) < 0)				\
			return -1;					\
		tok = d->tok;						\
		cap = d->cap;						\
	}								\
	t = ntok++;							\
	tok[t].type = (type_);						\
	tok[t].flags = 0;						\
	tok[t].start = (uint32_t)(start_);				\
	tok[t].len = 0;							\
	tok[t].next = ntok;						\
	tok[t].size = 0;						\
} while (0)

static void	jtok_check_keys(struct jparse *p, uint32_t obj) __attribute__((noinline));

/* Tokenizes one value starting at text[0]; *used gets the bytes consumed
 * including trailing whitespace. cur/count/obj describe the innermost open
 * container (when depth > 0): values are counted for objects and arrays
 * alike, since an object has one value per member. */
static int
jtok_machine(struct jparse *p, size_t *used)
{
	struct jdoc *d = p->d;
	const unsigned char *s = p->s;
	size_t n = p->n, pos = 0, start;
	struct jframe stack[JTOK_MAX_DEPTH];
	struct jtok *tok = d->tok;
	uint32_t ntok = 0, cap = d->cap, cur = 0, count = 0, t;
	uint64_t keys = 0, again = 0, bit;
	int depth = 0, obj = 0;
	uint8_t type, c;

value:
	SKIP_WS();
	if (pos >= n)
		return jtok_fail(p, pos, "unexpected end of input, expected a value");
	count++;
	c = s[pos];
	if (c == '"') {
		PUSH(JT_STR, pos + 1);
		if ((pos = jtok_scan_string(p, pos + 1, &tok[t].flags)) == JTOK_BAD)
			return -1;
		tok[t].len = (uint32_t)(pos - tok[t].start);
		pos++;
		goto after;
	}
	if (c == '{' || c == '[') {
		if (depth == JTOK_MAX_DEPTH)
			return jtok_fail(p, pos, "nesting deeper than 64 levels");
		PUSH(c == '{' ? JT_OBJ : JT_ARR, pos);
		if (depth > 0) {
			stack[depth - 1].tok = cur;
			stack[depth - 1].count = count;
			stack[depth - 1].obj = (uint8_t)obj;
			stack[depth - 1].keys = keys;
			stack[depth - 1].again = again;
		}
		depth++;
		cur = t;
		count = 0;
		obj = c == '{';
		keys = 0;
		again = 0;
		pos++;
		SKIP_WS();
		if (pos < n && s[pos] == (obj ? '}' : ']'))
			goto close;
		if (obj)
			goto key;
		goto value;
	}
	if (c == '-' || IS_DIGIT(c)) {
		PUSH(JT_NUM, pos);
		if ((pos = jtok_scan_number(p, pos)) == JTOK_BAD)
			return -1;
		tok[t].len = (uint32_t)(pos - tok[t].start);
		goto after;
	}
	start = pos;
	if ((pos = jtok_scan_literal(p, pos, &type)) == JTOK_BAD)
		return -1;
	PUSH(type, start);
	tok[t].len = (uint32_t)(pos - tok[t].start);
	goto after;
key:
	SKIP_WS();
	if (pos >= n)
		return jtok_fail(p, pos, "unexpected end of input, expected an object key");
	if (s[pos] != '"')
		return jtok_fail(p, pos, "expected '\"' starting an object key");
	start = pos + 1;
	PUSH(JT_STR, start);
	if ((pos = jtok_scan_string(p, start, &tok[t].flags)) == JTOK_BAD)
		return -1;
	tok[t].len = (uint32_t)(pos - start);
	/* a key to compare when its object closes: one whose bit another key
	 * took, or one that must be decoded first (an empty key reads its
	 * quotes, as in jtok_check_keys) */
	bit = KEYBIT(KEYSIG(pos - start, s[start], s[pos - 1]));
	again |= (keys & bit) | (tok[t].flags & JTOK_DECODE);
	keys |= bit;
	pos++;
	if (pos < n && s[pos] == ':') {		/* compact JSON */
		pos++;
		goto value;
	}
	SKIP_WS();
	if (pos >= n)
		return jtok_fail(p, pos, "unexpected end of input, expected ':'");
	if (s[pos] != ':')
		return jtok_fail(p, pos, "expected ':'");
	pos++;
	goto value;
after:
	if (depth == 0)
		goto done;
	SKIP_WS();
	if (pos >= n)
		return jtok_fail(p, pos, obj ?
		    "unexpected end of input, expected ',' or '}'" :
		    "unexpected end of input, expected ',' or ']'");
	if (s[pos] == ',') {
		pos++;
		if (obj)
			goto key;
		goto value;
	}
	if (s[pos] == (obj ? '}' : ']'))
		goto close;
	return jtok_fail(p, pos, obj ? "expected ',' or '}'" : "expected ',' or ']'");
close:
	tok[cur].len = (uint32_t)(pos + 1 - tok[cur].start);
	tok[cur].next = ntok;
	tok[cur].size = count;
	if (again)
		jtok_check_keys(p, cur);
	if (--depth > 0) {
		cur = stack[depth - 1].tok;
		count = stack[depth - 1].count;
		obj = stack[depth - 1].obj;
		keys = stack[depth - 1].keys;
		again = stack[depth - 1].again;
	}
	pos++;
	goto after;
done:
	SKIP_WS();
	d->ntok = ntok;
	*used = pos;
	return 0;
}

static int
jtok_run(struct jdoc *d, const char *text, size_t len, size_t *used,
    char *err, size_t errlen)
{
	struct jparse p = { d, (const unsigned char *)text, len, 0, NULL };
	size_t u = 0;

	d->text = text;
	d->len = len;
	d->ntok = 0;
	d->flags = 0;
	if (len > UINT32_MAX)
		jtok_fail(&p, 0, "text longer than 4 GiB");
	else if (jtok_machine(&p, &u) == 0 && (used != NULL || u == len)) {
		if (used)
			*used = u;
		return 0;
	} else if (p.msg == NULL)
		jtok_fail(&p, u, "unexpected data after the value");
	d->ntok = 0;
	if (err && errlen)
		snprintf(err, errlen, "offset %zu: %s", p.errpos, p.msg);
	return -1;
}

int
jtok_parse(struct jdoc *d, const char *text, size_t len, char *err, size_t errlen)
{
	return jtok_run(d, text, len, NULL, err, errlen);
}

int
jtok_parse_prefix(struct jdoc *d, const char *text, size_t len, size_t *used,
    char *err, size_t errlen)
{
	size_t u = 0;

	if (jtok_run(d, text, len, &u, err, errlen) < 0)
		return -1;
	*used = u;
	return 0;
}

/* Navigation. */

static inline int
jtok_key_eq(const struct jdoc *d, int k, const char *key, size_t keylen)
{
	const struct jtok *t = &d->tok[k];

	if (!(t->flags & JTOK_DECODE))
		return t->len == keylen && memcmp(d->text + t->start, key, keylen) == 0;
	return jtok_str_eq(d, k, key, keylen);
}

/* The last occurrence of a key counts, as in Go and jsonb. The tokenizer
 * marks the objects that repeat a key, so the others stop at the first
 * match, which halves the average lookup. */
int
jtok_get(const struct jdoc *d, int obj, const char *key, size_t keylen)
{
	uint32_t i, k;
	int found = -1;

	if (obj < 0 || d->tok[obj].type != JT_OBJ)
		return -1;
	k = (uint32_t)obj + 1;
	for (i = 0; i < d->tok[obj].size; i++) {
		if (jtok_key_eq(d, (int)k, key, keylen)) {
			found = (int)k + 1;
			if (!(d->tok[obj].flags & JTOK_DUPKEYS))
				break;
		}
		k = d->tok[k + 1].next;
	}
	return found;
}

int
jtok_getz(const struct jdoc *d, int obj, const char *key)
{
	return jtok_get(d, obj, key, strlen(key));
}

int
jtok_path(const struct jdoc *d, int t, const char *dotted)
{
	const char *dot;

	while (t >= 0) {
		dot = strchr(dotted, '.');
		if (dot == NULL)
			return jtok_get(d, t, dotted, strlen(dotted));
		t = jtok_get(d, t, dotted, (size_t)(dot - dotted));
		dotted = dot + 1;
	}
	return -1;
}

int
jtok_at(const struct jdoc *d, int arr, uint32_t i)
{
	uint32_t k;

	if (arr < 0 || d->tok[arr].type != JT_ARR || i >= d->tok[arr].size)
		return -1;
	k = (uint32_t)arr + 1;
	while (i-- > 0)
		k = d->tok[k].next;
	return (int)k;
}

unsigned
jtok_flags(const struct jdoc *d, int t, unsigned mask)
{
	unsigned f = 0;

	if (t < 0 || !(d->flags & mask))
		return 0;
	for (uint32_t k = (uint32_t)t; k < d->tok[t].next; k++)
		f |= d->tok[k].flags;
	return f & mask;
}

int
jtok_first(const struct jdoc *d, int t)
{
	if (t < 0 || (d->tok[t].type != JT_OBJ && d->tok[t].type != JT_ARR) ||
	    d->tok[t].size == 0)
		return -1;
	return t + 1;
}

int
jtok_next(const struct jdoc *d, int parent, int child)
{
	uint32_t k;

	if (parent < 0 || child < 0)
		return -1;
	if (d->tok[parent].type == JT_OBJ)
		k = d->tok[child + 1].next;
	else
		k = d->tok[child].next;
	return k < d->tok[parent].next ? (int)k : -1;
}

/* Strings. */

static int
jtok_utf8(long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

#define FFFD	"\xef\xbf\xbd"	/* U+FFFD REPLACEMENT CHARACTER */

/* Decodes the escape at src[*i] (a backslash) into out[0..4), advances *i
 * and returns the byte count, or -1 when malformed. A lone surrogate is
 * U+FFFD, as in Go. */
static int
jtok_esc(const char *src, size_t n, size_t *i, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *f;
	long cp;

	if (*i + 1 >= n)
		return -1;
	if (src[*i + 1] == 'u') {
		if ((cp = jtok_ucode((const unsigned char *)src, n, i)) == -1)
			return -1;
		return jtok_utf8(cp == -2 ? 0xfffd : cp, out);
	}
	if (src[*i + 1] == '\0' || (f = strchr(from, src[*i + 1])) == NULL)
		return -1;
	out[0] = to[f - from];
	*i += 2;
	return 1;
}

/* Appends src[0..n) (no escapes) with each byte that does not start a
 * valid UTF-8 sequence replaced by U+FFFD, as Go's decoder reads it (one
 * per byte: "\xe2\x82" is two). */
static void
jtok_fix_utf8(const char *src, size_t n, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t i = 0, run, l;

	if (utf8_valid(src, n)) {
		buf_append(out, src, n);
		return;
	}
	while (i < n) {
		run = i;
		while (i < n) {
			if (p[i] < 0x80)
				l = 1;
			else if ((l = utf8_seq(p + i, n - i)) == 0)
				break;
			i += l;
		}
		buf_append(out, src + run, i - run);
		if (i < n) {
			buf_append(out, FFFD, 3);
			i++;
		}
	}
}

/* Appends the string body src[0..n) decoded, and with fix its bytes that
 * are not UTF-8 as U+FFFD. Returns -1 on a malformed escape. */
static int
jtok_decode(const char *src, size_t n, struct buf *out, int fix)
{
	const char *bs;
	size_t i = 0, end;
	char u[4];
	int k;

	buf_append(out, "", 0);
	while (i < n) {
		bs = memchr(src + i, '\\', n - i);
		end = bs ? (size_t)(bs - src) : n;
		if (fix)
			jtok_fix_utf8(src + i, end - i, out);
		else
			buf_append(out, src + i, end - i);
		if (bs == NULL)
			break;
		i = end;
		if ((k = jtok_esc(src, n, &i, u)) < 0)
			return -1;
		buf_append(out, u, (size_t)k);
	}
	return 0;
}

int
jtok_unescape(const char *src, size_t n, struct buf *out)
{
	return jtok_decode(src, n, out, 0);
}

const char *
jtok_str(const struct jdoc *d, int t, struct buf *scratch, size_t *len)
{
	const struct jtok *k;

	if (t < 0 || d->tok[t].type != JT_STR)
		return NULL;
	k = &d->tok[t];
	if (!(k->flags & JTOK_DECODE)) {
		if (len)
			*len = k->len;
		return d->text + k->start;
	}
	if (scratch == NULL)
		return NULL;
	buf_reset(scratch);
	if (jtok_decode(d->text + k->start, k->len, scratch, 1) < 0)
		return NULL;
	if (len)
		*len = scratch->len;
	return scratch->data;
}

/* The next piece of a string body's decoded content at src[*i]: its bytes
 * in out or, for a run of plain bytes, in place; advances *i. Returns the
 * byte count, or -1 on a malformed escape. */
static int
jtok_piece(const char *src, size_t n, size_t *i, char *out, const char **at)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t l;

	*at = out;
	if (p[*i] == '\\')
		return jtok_esc(src, n, i, out);
	l = p[*i] < 0x80 ? 1 : utf8_seq(p + *i, n - *i);
	if (l == 0) {
		memcpy(out, FFFD, 3);
		(*i)++;
		return 3;
	}
	*at = src + *i;
	*i += l;
	return (int)l;
}

int
jtok_str_eq(const struct jdoc *d, int t, const char *s, size_t n)
{
	const char *src, *at;
	size_t i = 0, j = 0, sn;
	char u[4];
	int k;

	if (t < 0 || d->tok[t].type != JT_STR)
		return 0;
	src = d->text + d->tok[t].start;
	sn = d->tok[t].len;
	if (!(d->tok[t].flags & JTOK_DECODE))
		return sn == n && memcmp(src, s, n) == 0;
	while (i < sn) {
		if ((k = jtok_piece(src, sn, &i, u, &at)) < 0 || j + (size_t)k > n ||
		    memcmp(s + j, at, (size_t)k) != 0)
			return 0;
		j += (size_t)k;
	}
	return j == n;
}

char *
jtok_strdup(const struct jdoc *d, int t)
{
	struct buf b;

	if (t < 0 || d->tok[t].type != JT_STR)
		return NULL;
	if (!(d->tok[t].flags & JTOK_DECODE))
		return xstrndup(d->text + d->tok[t].start, d->tok[t].len);
	buf_init(&b);
	if (jtok_decode(d->text + d->tok[t].start, d->tok[t].len, &b, 1) < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Duplicate keys. */

/* A key as the string it decodes to. */
struct jkey {
	const char	*s;
	size_t		 n;
};

static int
jkey_cmp(const void *a, const void *b)
{
	const struct jkey *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->s, y->s, x->n);
}

/* Any number of keys, escaped or not: their decoded forms sorted, then
 * neighbours compared, so the cost is O(n log n) whatever the keys are. */
static int __attribute__((noinline))
jtok_dups_sorted(const struct jdoc *d, uint32_t obj)
{
	const struct jtok *tok = d->tok;
	uint32_t n = tok[obj].size, i, k = obj + 1;
	struct jkey *keys = xcalloc(n, sizeof(*keys));
	size_t *off = xcalloc(n, sizeof(*off));
	struct buf b;
	int dup = 0;

	buf_init(&b);
	for (i = 0; i < n; i++, k = tok[k + 1].next) {
		if (tok[k].flags & JTOK_DECODE) {
			off[i] = b.len + 1;	/* 0: in place */
			jtok_decode(d->text + tok[k].start, tok[k].len, &b, 1);
			keys[i].n = b.len + 1 - off[i];
		} else {
			keys[i].s = d->text + tok[k].start;
			keys[i].n = tok[k].len;
		}
	}
	for (i = 0; i < n; i++)		/* b.data is where it stays now */
		if (off[i])
			keys[i].s = b.data + off[i] - 1;
	qsort(keys, n, sizeof(*keys), jkey_cmp);
	for (i = 1; i < n && !dup; i++)
		dup = jkey_cmp(&keys[i - 1], &keys[i]) == 0;
	buf_free(&b);
	free(off);
	free(keys);
	return dup;
}

/* Marks object obj (closed, and flagged by the machine) when a key
 * repeats. The keys of an audit event are few and plain: each goes into a
 * small open-addressing table by its signature and is compared in full only
 * with keys of the same signature. A hostile object of JTOK_PAIRWISE keys
 * of one signature costs at most every pair; more keys, or keys that must
 * be decoded, go to the sort. */
static void
jtok_check_keys(struct jparse *p, uint32_t obj)
{
	struct jdoc *d = p->d;
	const struct jtok *tok = d->tok;
	uint64_t sig[JTOK_PAIRWISE];
	uint32_t key[JTOK_PAIRWISE], n = tok[obj].size, i, h, k = obj + 1;
	uint8_t slot[2 * JTOK_PAIRWISE], j;	/* key index + 1; 0: empty */
	int dup = 0;

	if (n > JTOK_PAIRWISE)
		goto sorted;
	memset(slot, 0, sizeof(slot));
	for (i = 0; i < n && !dup; i++, k = tok[k + 1].next) {
		if (tok[k].flags & JTOK_DECODE)
			goto sorted;
		sig[i] = KEYSIG(tok[k].len, d->text[tok[k].start],
		    d->text[tok[k].start + tok[k].len - 1]);
		key[i] = k;
		for (h = KEYSLOT(sig[i]); (j = slot[h]) != 0 && !dup;
		    h = (h + 1) % sizeof(slot))
			dup = sig[j - 1] == sig[i] && memcmp(d->text + tok[key[j - 1]].start,
			    d->text + tok[k].start, tok[k].len) == 0;
		slot[h] = (uint8_t)(i + 1);
	}
	goto out;
sorted:
	dup = jtok_dups_sorted(d, obj);
out:
	if (dup) {
		d->tok[obj].flags |= JTOK_DUPKEYS;
		d->flags |= JTOK_DUPKEYS;
	}
}

/* An integer of at most 15 digits (status codes, counts, ports) converts
 * exactly by hand: below 2^53 every integer is a double, so this is what
 * strtod() returns, minus sign of "-0" included. Returns -1 otherwise. */
static int
jtok_small_int(const char *s, size_t n, double *out)
{
	size_t i = s[0] == '-';
	uint64_t v = 0;

	if (n <= i || n - i > 15)
		return -1;
	for (size_t j = i; j < n; j++) {
		if (!IS_DIGIT(s[j]))
			return -1;
		v = v * 10 + (uint64_t)(s[j] - '0');
	}
	*out = i ? -(double)v : (double)v;
	return 0;
}

int
jtok_num(const struct jdoc *d, int t, double *out)
{
	char small[64], *tmp = small;
	const struct jtok *k;

	*out = 0;
	if (t < 0 || d->tok[t].type != JT_NUM)
		return -1;
	k = &d->tok[t];
	if (jtok_small_int(d->text + k->start, k->len, out) == 0)
		return 0;
	if (k->len >= sizeof(small))
		tmp = xmalloc(k->len + 1);
	memcpy(tmp, d->text + k->start, k->len);
	tmp[k->len] = '\0';
	*out = strtod(tmp, NULL);
	if (tmp != small)
		free(tmp);
	return 0;
}

const char *
jtok_raw(const struct jdoc *d, int t, size_t *len)
{
	const struct jtok *k;

	if (t < 0) {
		*len = 0;
		return NULL;
	}
	k = &d->tok[t];
	if (k->type == JT_STR) {
		*len = k->len + 2;
		return d->text + k->start - 1;
	}
	*len = k->len;
	return d->text + k->start;
}
