/* test_json.c — the tokenizer (base/jtok.c): structure, navigation,
 * strings and escapes, every rejection with its offset, the caps, and a
 * throughput figure over real audit lines. */
#include "base/jtok.h"
#include "base/xmalloc.h"
#include "tests/unit/t.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_IN "tests/fixtures/corpus/openshift-cluster-logging-operator/test/functional/" \
	"filters/apiaudit/vrl/testdata/audit_in.log"

static int
parse(struct jdoc *d, const char *s, char *err)
{
	err[0] = '\0';
	return jtok_parse(d, s, strlen(s), err, 128);
}

static void
test_structure(void)
{
	struct jdoc d;
	char err[128];
	const char *s = " {\"a\": [1, {\"b\": null}, \"x\"], \"c\": true} ";

	jdoc_init(&d);
	T_INTEQ(parse(&d, s, err), 0);
	T_INTEQ(d.ntok, 10);
	T_INTEQ(d.tok[0].type, JT_OBJ);
	T_INTEQ(d.tok[0].size, 2);
	T_INTEQ(d.tok[0].start, 1);
	T_INTEQ(d.tok[0].len, strlen(s) - 2);
	T_INTEQ(d.tok[0].next, 10);
	T_INTEQ(d.tok[1].type, JT_STR);		/* "a" */
	T_INTEQ(d.tok[1].start, 3);
	T_INTEQ(d.tok[1].len, 1);
	T_INTEQ(d.tok[2].type, JT_ARR);
	T_INTEQ(d.tok[2].size, 3);
	T_INTEQ(d.tok[2].next, 8);
	T_INTEQ(d.tok[3].type, JT_NUM);
	T_INTEQ(d.tok[4].type, JT_OBJ);
	T_INTEQ(d.tok[4].size, 1);
	T_INTEQ(d.tok[6].type, JT_NULL);
	T_INTEQ(d.tok[7].type, JT_STR);
	T_INTEQ(d.tok[9].type, JT_TRUE);
	T_INTEQ(parse(&d, "[]", err), 0);
	T_INTEQ(d.ntok, 1);
	T_INTEQ(d.tok[0].size, 0);
	T_INTEQ(parse(&d, "\t\r\n-0.5e+10 \n", err), 0);
	T_INTEQ(d.tok[0].type, JT_NUM);
	T_INTEQ(d.tok[0].len, 8);
	T_INTEQ(parse(&d, "\"\"", err), 0);
	T_INTEQ(d.tok[0].len, 0);
	jdoc_free(&d);
}

static void
test_navigation(void)
{
	struct jdoc d;
	char err[128];
	const char *s = "{\"objectRef\":{\"resource\":\"pods\",\"sub\":[1,2,3]},"
	    "\"k\\u0065y\":\"v\",\"user\":{\"username\":\"alice\"},\"n\":-12.5e1}";
	int t, c, count = 0;
	double v;
	size_t n;

	jdoc_init(&d);
	T_INTEQ(parse(&d, s, err), 0);
	t = jtok_path(&d, 0, "objectRef.resource");
	T_ASSERT(jtok_str_eq(&d, t, "pods", 4));
	T_ASSERT(!jtok_str_eq(&d, t, "pod", 3));
	T_INTEQ(jtok_type(&d, jtok_path(&d, 0, "objectRef.missing")), JT_NONE);
	T_INTEQ(jtok_path(&d, 0, "objectRef.resource.deeper"), -1);
	T_INTEQ(jtok_getz(&d, -1, "x"), -1);
	t = jtok_path(&d, 0, "objectRef.sub");
	T_INTEQ(jtok_type(&d, jtok_at(&d, t, 2)), JT_NUM);
	T_INTEQ(jtok_at(&d, t, 3), -1);
	T_ASSERT(jtok_num(&d, jtok_at(&d, t, 1), &v) == 0 && v == 2);
	for (c = jtok_first(&d, t); c >= 0; c = jtok_next(&d, t, c))
		count++;
	T_INTEQ(count, 3);
	count = 0;
	for (c = jtok_first(&d, 0); c >= 0; c = jtok_next(&d, 0, c))
		count++;
	T_INTEQ(count, 4);
	/* keys compare in unescaped form */
	t = jtok_getz(&d, 0, "key");
	T_ASSERT(jtok_str_eq(&d, t, "v", 1));
	T_STREQ(jtok_raw(&d, t, &n), "\"v\",\"user\":{\"username\":\"alice\"},\"n\":-12.5e1}");
	T_INTEQ(n, 3);
	T_ASSERT(jtok_str_eq(&d, jtok_path(&d, 0, "user.username"), "alice", 5));
	T_ASSERT(jtok_num(&d, jtok_getz(&d, 0, "n"), &v) == 0 && v == -125.0);
	T_INTEQ(jtok_num(&d, jtok_getz(&d, 0, "user"), &v), -1);
	T_INTEQ(jtok_first(&d, jtok_getz(&d, 0, "n")), -1);
	jdoc_free(&d);
}

static void
test_strings(void)
{
	struct jdoc d;
	struct buf b;
	char err[128], *dup;
	const char *s = "[\"a\\\"b\\\\c\\/d\\n\\t\", \"caf\\u00e9 \\ud83d\\ude00 \\u20ac\", \"plain\", \"\\u0000x\"]";
	const char *p;
	size_t n;

	jdoc_init(&d);
	buf_init(&b);
	T_INTEQ(parse(&d, s, err), 0);
	T_INTEQ(d.tok[1].flags & JTOK_ESCAPED, JTOK_ESCAPED);
	T_INTEQ(d.tok[3].flags & JTOK_ESCAPED, 0);
	T_STREQ(jtok_str(&d, 1, &b, &n), "a\"b\\c/d\n\t");
	T_INTEQ(n, 9);
	T_STREQ(jtok_str(&d, 2, &b, &n), "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac");
	T_ASSERT(jtok_str_eq(&d, 2, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac", 14));
	T_ASSERT(!jtok_str_eq(&d, 2, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82", 13));
	p = jtok_str(&d, 3, &b, &n);
	T_ASSERT(p == s + d.tok[3].start && n == 5);
	p = jtok_str(&d, 4, &b, &n);
	T_ASSERT(p != NULL && n == 2 && p[0] == '\0' && p[1] == 'x');
	dup = jtok_strdup(&d, 2);
	T_STREQ(dup, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac");
	free(dup);
	dup = jtok_strdup(&d, 3);
	T_STREQ(dup, "plain");
	free(dup);
	T_ASSERT(jtok_strdup(&d, 0) == NULL);
	T_ASSERT(jtok_str(&d, 0, &b, &n) == NULL);
	buf_reset(&b);
	T_INTEQ(jtok_unescape("x\\u00", 5, &b), -1);
	buf_reset(&b);
	T_INTEQ(jtok_unescape("\\udc00", 6, &b), 0);	/* a lone surrogate is U+FFFD */
	T_STREQ(b.data, "\xef\xbf\xbd");
	buf_reset(&b);
	T_INTEQ(jtok_unescape("a\xff", 2, &b), 0);	/* raw bytes kept for the inner parse */
	T_STREQ(b.data, "a\xff");
	buf_reset(&b);
	T_INTEQ(jtok_unescape("\\q", 2, &b), -1);
	buf_reset(&b);
	T_INTEQ(jtok_unescape("a\\u0041\\n", 9, &b), 0);
	T_STREQ(b.data, "aA\n");
	buf_free(&b);
	jdoc_free(&d);
}

static const struct {
	const char	*in;
	const char	*err;
} bad[] = {
	{ "", "offset 0: unexpected end of input, expected a value" },
	{ "   ", "offset 3: unexpected end of input" },
	{ "{", "offset 1: unexpected end of input, expected an object key" },
	{ "{\"a\"", "offset 4: unexpected end of input, expected ':'" },
	{ "{\"a\":1", "offset 6: unexpected end of input, expected ',' or '}'" },
	{ "{\"a\" 1}", "offset 5: expected ':'" },
	{ "{\"a\":1,}", "offset 7: expected '\"'" },
	{ "{\"a\":1 \"b\":2}", "offset 7: expected ',' or '}'" },
	{ "[1,]", "offset 3: expected a value" },
	{ "[1 2]", "offset 3: expected ',' or ']'" },
	{ "[1,2", "offset 4: unexpected end of input, expected ',' or ']'" },
	{ "{\"a\":1}}", "offset 7: unexpected data after the value" },
	{ "01", "offset 1: unexpected data after the value" },
	{ "-", "offset 1: invalid number, expected a digit" },
	{ "-a", "offset 1: invalid number" },
	{ "1.", "offset 2: invalid number, expected a digit after '.'" },
	{ "[1.e5]", "offset 3: invalid number" },
	{ "1e", "offset 2: invalid number, expected a digit in the exponent" },
	{ "1e+", "offset 3: invalid number" },
	{ "+1", "offset 0: expected a value" },
	{ ".5", "offset 0: expected a value" },
	{ "tru", "offset 0: expected a value" },
	{ "[nul]", "offset 1: expected a value" },
	{ "True", "offset 0: expected a value" },
	{ "\"abc", "offset 4: unterminated string" },
	{ "\"ab\\", "offset 3: unterminated string" },
	{ "[\"a\x01\"]", "offset 3: control character in string" },
	{ "\"a\nb\"", "offset 2: control character in string" },
	{ "\"\\x\"", "offset 1: invalid escape" },
	{ "\"\\u12G4\"", "offset 1: expected 4 hex digits after \\u" },
	{ "\"ab\\u12\"", "offset 3: expected 4 hex digits" },
	{ "{\"a\":1,\"b\":[true, false, nulll]}", "offset 29: expected ',' or ']'" },
	{ "{1:2}", "offset 1: expected '\"'" },
	{ "[1]x", "offset 3: unexpected data after the value" },
	{ "\xef\xbb\xbf{}", "offset 0: expected a value" },
};

static void
test_rejects(void)
{
	struct jdoc d;
	char err[128];
	size_t i;

	jdoc_init(&d);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(&d, bad[i].in, err);

		if (rc != -1 || strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			printf("  input %zu \"%s\": rc %d, error \"%s\", wanted \"%s\"\n", i,
			    bad[i].in, rc, err, bad[i].err);
			T_ASSERT(0);
		}
		T_INTEQ(d.ntok, 0);
	}
	jdoc_free(&d);
}

/* Duplicate keys: the last occurrence counts, as in Go's decoder and in
 * PostgreSQL's jsonb, for jtok_get and jtok_path at every depth and for keys
 * that are equal once decoded; the object and the document are marked, and
 * an object without a repeated key is not. */
static void
test_duplicate_keys(void)
{
	static const struct {
		const char *in, *path, *want;
	} last[] = {
		{ "{\"verb\":\"get\",\"verb\":\"delete\"}", "verb", "delete" },
		{ "{\"verb\":\"get\",\"x\":1,\"verb\":\"list\",\"verb\":\"delete\"}", "verb", "delete" },
		{ "{\"verb\":\"get\",\"\\u0076erb\":\"delete\"}", "verb", "delete" },
		{ "{\"\\u0076erb\":\"get\",\"verb\":\"delete\"}", "verb", "delete" },
		{ "{\"v\\u0065rb\":\"get\",\"\\u0076\\u0065rb\":\"delete\"}", "verb", "delete" },
		{ "{\"a\":{\"b\":\"1\",\"b\":\"2\"}}", "a.b", "2" },
		{ "{\"a\":{\"b\":\"1\"},\"a\":{\"c\":\"2\"}}", "a.c", "2" },
		{ "{\"requestObject\":{\"spec\":{\"hostPID\":\"false\",\"hostPID\":\"true\"}}}",
		    "requestObject.spec.hostPID", "true" },
		{ "{\"\":\"1\",\"\":\"2\"}", "", "2" },
		/* each invalid byte is U+FFFD: two different bad bytes make one key */
		{ "{\"k\xff\":\"1\",\"k\xfe\":\"2\"}", "k\xef\xbf\xbd", "2" },
		{ "{\"k\\ud800\":\"1\",\"k\xff\":\"2\"}", "k\xef\xbf\xbd", "2" },
	};
	struct jdoc d;
	struct buf b, many;
	char err[128];
	size_t n;
	int t;

	jdoc_init(&d);
	buf_init(&b);
	buf_init(&many);
	for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++) {
		T_INTEQ(parse(&d, last[i].in, err), 0);
		t = strchr(last[i].path, '.') ? jtok_path(&d, 0, last[i].path) :
		    jtok_get(&d, 0, last[i].path, strlen(last[i].path));
		if (!jtok_str_eq(&d, t, last[i].want, strlen(last[i].want))) {
			printf("  %s: %s is not %s\n", last[i].in, last[i].path, last[i].want);
			t_failed_checks++;
		}
		T_ASSERT(d.flags & JTOK_DUPKEYS);
		T_ASSERT(jtok_flags(&d, 0, JTOK_DUPKEYS) == JTOK_DUPKEYS);
	}
	/* the mark is on the object that repeats a key, not its parent */
	T_INTEQ(parse(&d, "{\"a\":{\"b\":1,\"b\":2},\"c\":{\"b\":1,\"d\":2}}", err), 0);
	T_INTEQ(d.tok[0].flags & JTOK_DUPKEYS, 0);
	T_INTEQ(d.tok[jtok_getz(&d, 0, "a")].flags & JTOK_DUPKEYS, JTOK_DUPKEYS);
	T_INTEQ(jtok_flags(&d, jtok_getz(&d, 0, "c"), JTOK_DUPKEYS), 0);
	T_INTEQ(jtok_flags(&d, jtok_getz(&d, 0, "a"), JTOK_DUPKEYS), JTOK_DUPKEYS);
	/* near misses: no mark */
	static const char *const distinct[] = {
		"{\"verb\":1,\"Verb\":2,\"verbs\":3,\"verc\":4,\"werb\":5}",
		"{\"a\":{\"b\":1},\"c\":{\"b\":1}}",
		"[{\"a\":1},{\"a\":1}]",
		"{\"ab\":1,\"ba\":2,\"a\":3,\"\":4,\"\\u0061c\":5}",
		"{\"k\xc3\xa9\":1,\"k\xc3\xa8\":2}",
	};
	for (size_t i = 0; i < sizeof(distinct) / sizeof(distinct[0]); i++) {
		T_INTEQ(parse(&d, distinct[i], err), 0);
		if (d.flags & JTOK_DUPKEYS)
			printf("  marked: %s\n", distinct[i]), t_failed_checks++;
	}
	/* objects of every size up to past the pairwise limit, repeated key
	 * first and last, or none */
	for (int keys = 2; keys <= 200; keys += keys < 70 ? 1 : 37) {
		for (int dup = 0; dup < 2; dup++) {
			buf_reset(&many);
			buf_putc(&many, '{');
			for (int k = 0; k < keys; k++)
				buf_printf(&many, "%s\"key%d\":%d", k ? "," : "",
				    dup && k == keys - 1 ? 0 : k, k);
			buf_putc(&many, '}');
			T_INTEQ(jtok_parse(&d, many.data, many.len, err, sizeof(err)), 0);
			if (!!(d.flags & JTOK_DUPKEYS) != dup)
				printf("  %d keys, dup %d: flags %#x\n", keys, dup, d.flags), t_failed_checks++;
			double v = -1;
			jtok_num(&d, jtok_getz(&d, 0, "key0"), &v);
			if (v != (dup ? keys - 1 : 0))
				printf("  %d keys, dup %d: key0 is %g\n", keys, dup, v), t_failed_checks++;
		}
	}
	/* an escaped key among more than the pairwise limit */
	buf_reset(&many);
	buf_puts(&many, "{\"\\u006bey0\":\"first\"");
	for (int k = 1; k < 100; k++)
		buf_printf(&many, ",\"key%d\":%d", k, k);
	buf_puts(&many, ",\"key0\":\"last\"}");
	T_INTEQ(jtok_parse(&d, many.data, many.len, err, sizeof(err)), 0);
	T_ASSERT(d.flags & JTOK_DUPKEYS);
	T_ASSERT(jtok_str_eq(&d, jtok_getz(&d, 0, "key0"), "last", 4));
	T_ASSERT(jtok_str(&d, jtok_getz(&d, 0, "key0"), &b, &n) != NULL && n == 4);
	buf_free(&many);
	buf_free(&b);
	jdoc_free(&d);
}

/* Invalid UTF-8 of every kind, raw or as a lone \u surrogate: the string
 * parses, is marked, and reads as U+FFFD per bad byte (per lone escape),
 * as Go's decoder and schema/db.c read it. Valid UTF-8 is not marked. */
static void
test_invalid_utf8(void)
{
#define R "\xef\xbf\xbd"
	static const struct {
		const char *in, *want, *what;
	} cases[] = {
		{ "\xc0\xaf", R R, "overlong 2-byte /" },
		{ "\xc1\xbf", R R, "overlong 2-byte" },
		{ "\xe0\x80\xaf", R R R, "overlong 3-byte" },
		{ "\xf0\x80\x80\xaf", R R R R, "overlong 4-byte" },
		{ "\xed\xa0\x80", R R R, "UTF-8 of a high surrogate" },
		{ "\xed\xbf\xbf", R R R, "UTF-8 of a low surrogate" },
		{ "\xed\xa0\xbd\xed\xb8\x80", R R R R R R, "UTF-8 of a surrogate pair (CESU-8)" },
		{ "\xf4\x90\x80\x80", R R R R, "above U+10FFFF" },
		{ "\xf5\x80\x80\x80", R R R R, "lead byte f5" },
		{ "\xff", R, "ff" },
		{ "\xfe", R, "fe" },
		{ "a\x80" "b", "a" R "b", "lone continuation byte" },
		{ "a\xc3", "a" R, "truncated 2-byte at the end" },
		{ "\xe2\x82x", R R "x", "truncated 3-byte" },
		{ "\xf0\x9f\x98", R R R, "truncated 4-byte" },
		{ "\xc3\xa9\xe9", "\xc3\xa9" R, "valid then Latin-1" },
		{ "\\ud800", R, "lone high surrogate escape" },
		{ "\\udc00", R, "lone low surrogate escape" },
		{ "\\ud800\\u0041", R "A", "high surrogate escape then a letter" },
		{ "\\ud800\\ud800\\udc00", R "\xf0\x90\x80\x80", "high, then a pair" },
		{ "x\\udc00\\ud800", "x" R R, "low then high" },
		{ "\\u0076\xff", "v" R, "escape and a bad byte" },
	};
	static const char *const good[] = {
		"caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xef\xbf\xbd",
		"\xed\x9f\xbf", "\xee\x80\x80", "\\ud83d\\ude00", "\\u00e9", "plain",
	};
	struct jdoc d;
	struct buf text, b;
	char err[128], *dup;
	const char *s;
	size_t n;

	jdoc_init(&d);
	buf_init(&text);
	buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* as a value and as a key, short and after 40 bytes (past the
		 * sixteen-byte skip) */
		for (int pad = 0; pad < 2; pad++) {
			const char *p = pad ? "0123456789012345678901234567890123456789" : "";
			struct buf want;
			buf_init(&want);
			buf_printf(&want, "%s%s", p, cases[i].want);
			buf_reset(&text);
			buf_printf(&text, "{\"v\":\"%s%s\",\"%s%s\":1}", p, cases[i].in, p, cases[i].in);
			if (jtok_parse(&d, text.data, text.len, err, sizeof(err)) != 0) {
				printf("  %s: rejected: %s\n", cases[i].what, err);
				t_failed_checks++;
				buf_free(&want);
				continue;
			}
			if (!(d.tok[2].flags & JTOK_BADUTF8) || !(d.tok[3].flags & JTOK_BADUTF8) ||
			    !(d.flags & JTOK_BADUTF8))
				printf("  %s: not marked\n", cases[i].what), t_failed_checks++;
			s = jtok_str(&d, 2, &b, &n);
			if (s == NULL || n != want.len || memcmp(s, want.data, n) != 0)
				printf("  %s: read \"%.*s\"\n", cases[i].what, (int)n, s ? s : ""),
				    t_failed_checks++;
			T_ASSERT(jtok_str_eq(&d, 2, want.data, want.len));
			T_ASSERT(!jtok_str_eq(&d, 2, want.data, want.len - 1));
			T_ASSERT(jtok_get(&d, 0, want.data, want.len) == 4);
			dup = jtok_strdup(&d, 2);
			T_ASSERT(dup != NULL && strcmp(dup, want.data) == 0);
			free(dup);
			T_ASSERT(jtok_flags(&d, 0, JTOK_BADUTF8) == JTOK_BADUTF8);
			buf_free(&want);
		}
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		buf_reset(&text);
		buf_printf(&text, "[\"%s\"]", good[i]);
		T_INTEQ(jtok_parse(&d, text.data, text.len, err, sizeof(err)), 0);
		if (d.flags & JTOK_BADUTF8)
			printf("  marked: %s\n", good[i]), t_failed_checks++;
		T_INTEQ(jtok_flags(&d, 0, JTOK_BADUTF8 | JTOK_DUPKEYS), 0);
	}
	buf_free(&text);
	buf_free(&b);
	jdoc_free(&d);
#undef R
}

static void
test_depth(void)
{
	struct jdoc d;
	char err[128], s[200];

	jdoc_init(&d);
	memset(s, '[', 64);
	memset(s + 64, ']', 64);
	s[128] = '\0';
	T_INTEQ(parse(&d, s, err), 0);
	T_INTEQ(d.ntok, 64);
	T_INTEQ(d.tok[63].next, 64);
	T_INTEQ(d.tok[0].len, 128);
	memset(s, '[', 65);
	memset(s + 65, ']', 65);
	s[130] = '\0';
	T_INTEQ(parse(&d, s, err), -1);
	T_STREQ(err, "offset 64: nesting deeper than 64 levels");
	jdoc_free(&d);
}

static void
test_token_cap(void)
{
	struct jdoc d;
	char err[128];
	size_t n = JTOK_MAX_TOKENS, len = 2 * n + 1;
	char *s = xmalloc(len + 1);

	jdoc_init(&d);
	/* [0,0,...,0]: the array plus n - 1 elements is exactly the cap */
	s[0] = '[';
	for (size_t i = 0; i < n - 1; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = ',';
	}
	s[2 * (n - 1)] = ']';
	T_INTEQ(jtok_parse(&d, s, 2 * (n - 1) + 1, err, sizeof(err)), 0);
	T_INTEQ(d.ntok, JTOK_MAX_TOKENS);
	T_INTEQ(d.tok[0].size, n - 1);
	s[2 * (n - 1)] = ',';
	s[2 * n - 1] = '0';
	s[2 * n] = ']';
	T_INTEQ(jtok_parse(&d, s, len, err, sizeof(err)), -1);
	T_STREQ(err, "offset 8388607: more than 4194304 tokens");
	free(s);
	jdoc_free(&d);
}

static void
test_prefix(void)
{
	struct jdoc d;
	char err[128];
	const char *s = "{\"a\":1} [2,3]\n\n4\n{\"b\":";
	size_t pos = 0, used, len = strlen(s);

	jdoc_init(&d);
	T_INTEQ(jtok_parse_prefix(&d, s, len, &used, err, sizeof(err)), 0);
	T_INTEQ(used, 8);
	T_INTEQ(d.tok[0].type, JT_OBJ);
	pos += used;
	T_INTEQ(jtok_parse_prefix(&d, s + pos, len - pos, &used, err, sizeof(err)), 0);
	T_INTEQ(used, 7);
	T_INTEQ(d.tok[0].size, 2);
	pos += used;
	T_INTEQ(jtok_parse_prefix(&d, s + pos, len - pos, &used, err, sizeof(err)), 0);
	T_INTEQ(used, 2);
	T_INTEQ(d.tok[0].type, JT_NUM);
	pos += used;
	T_INTEQ(jtok_parse_prefix(&d, s + pos, len - pos, &used, err, sizeof(err)), -1);
	T_STREQ(err, "offset 5: unexpected end of input, expected a value");
	/* a whole-text parse refuses what a prefix parse accepts */
	T_INTEQ(jtok_parse(&d, s, len, err, sizeof(err)), -1);
	T_STREQ(err, "offset 8: unexpected data after the value");
	jdoc_free(&d);
}

/* Every line of the real OpenShift log parses and the tokens match the
 * structure: each object member count equals the keys between it and next. */
static void
test_corpus_lines(void)
{
	struct jdoc d;
	char err[128];
	size_t len, lines = 0, ok = 0;
	char *data = t_slurp(AUDIT_IN, &len), *p, *nl;
	struct jtok *first = NULL;

	T_ASSERT(data != NULL);
	if (data == NULL)
		return;
	jdoc_init(&d);
	for (p = data; p < data + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(data + len - p));
		if (nl == NULL)
			nl = data + len;
		lines++;
		if (jtok_parse(&d, p, (size_t)(nl - p), err, sizeof(err)) == 0 &&
		    d.tok[0].type == JT_OBJ && d.tok[0].next == d.ntok &&
		    jtok_str_eq(&d, jtok_getz(&d, 0, "kind"), "Event", 5))
			ok++;
		if (first == NULL)
			first = d.tok;
	}
	T_INTEQ(lines, 100);
	T_INTEQ(ok, 100);
	jdoc_free(&d);
	free(data);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Figures, not assertions: printed for the record. The typical event is the
 * median-size line; the whole-file figure includes the big response bodies. */
static void
test_bench(void)
{
	struct jdoc d;
	char err[128];
	size_t len, nev = 0, bytes = 0, rounds = 20;
	char *data = t_slurp(AUDIT_IN, &len), *p, *nl;
	const char *small = "tests/fixtures/corpus/kubernetes-test-infra-logviewer/parsing_test_events.jsonl";
	double t0, t1;

	T_ASSERT(data != NULL);
	if (data == NULL)
		return;
	jdoc_init(&d);
	t0 = now_us();
	for (size_t r = 0; r < rounds; r++)
		for (p = data; p < data + len; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(data + len - p));
			if (nl == NULL)
				nl = data + len;
			T_ASSERT(jtok_parse(&d, p, (size_t)(nl - p), err, sizeof(err)) == 0);
			nev++;
			bytes += (size_t)(nl - p);
		}
	t1 = now_us();
	printf("bench: tokenize %zu events (%s), %.2f us/event, %.0f MB/s, %.0f bytes/event\n",
	    nev, "openshift audit_in.log", (t1 - t0) / nev, bytes / (t1 - t0), (double)bytes / nev);
	free(data);
	data = t_slurp(small, &len);
	T_ASSERT(data != NULL);
	if (data) {
		nev = bytes = 0;
		t0 = now_us();
		for (size_t r = 0; r < 20000; r++)
			for (p = data; p < data + len; p = nl + 1) {
				nl = memchr(p, '\n', (size_t)(data + len - p));
				if (nl == NULL)
					nl = data + len;
				if (nl == p)
					continue;
				jtok_parse(&d, p, (size_t)(nl - p), err, sizeof(err));
				nev++;
				bytes += (size_t)(nl - p);
			}
		t1 = now_us();
		printf("bench: tokenize %zu events (%s), %.2f us/event, %.0f MB/s, %.0f bytes/event\n",
		    nev, "test-infra jsonl", (t1 - t0) / nev, bytes / (t1 - t0), (double)bytes / nev);
		free(data);
	}
	jdoc_free(&d);
}

int
main(void)
{
	T_RUN(test_structure);
	T_RUN(test_navigation);
	T_RUN(test_strings);
	T_RUN(test_rejects);
	T_RUN(test_duplicate_keys);
	T_RUN(test_invalid_utf8);
	T_RUN(test_depth);
	T_RUN(test_token_cap);
	T_RUN(test_prefix);
	T_RUN(test_corpus_lines);
	T_RUN(test_bench);
	return t_done();
}
