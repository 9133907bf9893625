/* test_tokens.c — the tokenizer's fast paths against their plain meaning:
 * string scanning sixteen bytes at a time (a quote, backslash, control or
 * non-ASCII byte at every position of a block, strings ending right at the end of the
 * text, and against a byte-by-byte scan on random strings), and numbers
 * converted without strtod() (bit for bit what strtod() gives). */
#include "base/jtok.h"
#include "base/utf8.h"
#include "tests/unit/t.h"

#include <stdlib.h>
#include <string.h>

static struct jdoc doc;

/* The value of the \\uXXXX escape at s[i], or -1. */
static long
plain_u(const unsigned char *s, size_t n, size_t i)
{
	long v = 0;

	if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
		return -1;
	for (size_t k = i + 2; k < i + 6; k++) {
		if (s[k] >= '0' && s[k] <= '9')
			v = v * 16 + (s[k] - '0');
		else if ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'f')
			v = v * 16 + ((s[k] | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

/* The plain meaning of a JSON string body s[0..n): 1 when it is valid,
 * with *esc set when it has an escape and *bad when it holds a byte that
 * is not UTF-8 or a \\u escape of a lone surrogate (both are read as
 * U+FFFD, not refused). */
static int
plain_string(const unsigned char *s, size_t n, int *esc, int *bad)
{
	long u, lo;

	*esc = 0;
	*bad = !utf8_valid((const char *)s, n);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] < 0x20)
			return 0;
		if (s[i] != '\\')
			continue;
		*esc = 1;
		if (i + 1 < n && s[i + 1] == 'u') {
			if ((u = plain_u(s, n, i)) < 0)
				return 0;
			i += 5;
			if (u >= 0xdc00 && u <= 0xdfff)
				*bad = 1;
			if (u >= 0xd800 && u <= 0xdbff) {
				lo = plain_u(s, n, i + 1);
				if (lo == -1 && i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'u')
					return 0;	/* \\u then not 4 hex digits */
				if (lo >= 0xdc00 && lo <= 0xdfff)
					i += 6;
				else
					*bad = 1;
			}
			continue;
		}
		if (i + 1 >= n || s[i + 1] == '\0' || strchr("\"\\/bfnrt", s[i + 1]) == NULL)
			return 0;
		i++;
	}
	return 1;
}

/* Every body length from 0 to 70 bytes, with one special byte at every
 * position, tokenized as the whole text (so the closing quote is the last
 * byte and no block may be read past it). */
static void
test_string_positions(void)
{
	static const unsigned char specials[] = { '"', '\\', 0x01, 0x1f, 0x7f, 0x80, 0xff, ' ' };
	unsigned char text[80];
	char err[128];
	size_t bad = 0, cases = 0;

	for (size_t n = 0; n <= 70; n++) {
		for (size_t at = 0; at <= n; at++) {
			for (size_t k = 0; k < sizeof(specials); k++) {
				int esc, bad8, want, got;
				text[0] = '"';
				memset(text + 1, 'a', n);
				if (at < n)
					text[1 + at] = specials[k];
				text[1 + n] = '"';
				want = plain_string(text + 1, n, &esc, &bad8);
				got = jtok_parse(&doc, (const char *)text, n + 2, err, sizeof(err)) == 0;
				cases++;
				if (got != want ||
				    (got && (doc.tok[0].len != n || !!(doc.tok[0].flags & JTOK_ESCAPED) != esc ||
				    !!(doc.tok[0].flags & JTOK_BADUTF8) != bad8))) {
					if (bad++ < 5)
						printf("  length %zu, byte %#x at %zu: parsed %d, want %d\n",
						    n, specials[k], at, got, want);
				}
			}
		}
	}
	T_INTEQ(bad, 0);
	T_ASSERT(cases > 20000);
}

/* A string cut short at every length: never read past the text, always
 * "unterminated string" at its end. */
static void
test_string_unterminated(void)
{
	char *text, err[128], want[64];
	size_t bad = 0;

	for (size_t n = 1; n <= 64; n++) {
		text = malloc(n);	/* exact size: a read past it is caught by ASan */
		text[0] = '"';
		memset(text + 1, 'b', n - 1);
		snprintf(want, sizeof(want), "offset %zu: unterminated string", n);
		if (jtok_parse(&doc, text, n, err, sizeof(err)) == 0 || strcmp(err, want) != 0)
			if (bad++ < 5)
				printf("  %zu bytes: \"%s\", want \"%s\"\n", n, err, want);
		free(text);
	}
	T_INTEQ(bad, 0);
}

/* Random bodies over an alphabet heavy in specials, as object keys and
 * values, against the plain scan. */
static void
test_string_random(void)
{
	static const char alpha[] = "aaaaaaaab\\\\\"nt/u0dD8c\x01 \xc3\xa9\xe2\x82\xac\xed\xa0\xf0\xff";
	char body[100], text[240], err[128];
	size_t bad = 0, valid = 0;

	srand(5);
	for (int i = 0; i < 200000; i++) {
		size_t n = (size_t)(rand() % 90), len;
		int esc, bad8, want, got;
		for (size_t k = 0; k < n; k++)
			body[k] = alpha[rand() % (sizeof(alpha) - 1)];
		want = plain_string((const unsigned char *)body, n, &esc, &bad8);
		len = (size_t)snprintf(text, sizeof(text), "{\"k\":\"%.*s\",\"%.*s\":1}",
		    (int)n, body, (int)n, body);
		got = jtok_parse(&doc, text, len, err, sizeof(err)) == 0;
		valid += want;
		if (got != want || (got && (doc.tok[2].len != n ||
		    !!(doc.tok[2].flags & JTOK_ESCAPED) != esc || doc.tok[3].len != n ||
		    !!(doc.tok[2].flags & JTOK_BADUTF8) != bad8 ||
		    !!(doc.tok[3].flags & JTOK_BADUTF8) != bad8 ||
		    !!(doc.flags & JTOK_BADUTF8) != bad8)))
			if (bad++ < 5)
				printf("  \"%.*s\": parsed %d, want %d\n", (int)n, body, got, want);
	}
	T_INTEQ(bad, 0);
	T_ASSERT(valid > 10000);
}

static int
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void
test_numbers(void)
{
	static const char *const fixed[] = {
		"0", "-0", "7", "-7", "401", "65535", "999999999999999", "-999999999999999",
		"1000000000000000", "9007199254740993", "-9007199254740993",
		"123456789012345678901234567890", "1.5", "-0.0", "1e3", "2E-2", "0.1",
	};
	char text[40], err[128];
	double v;
	size_t bad = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		T_INTEQ(jtok_parse(&doc, fixed[i], strlen(fixed[i]), err, sizeof(err)), 0);
		T_INTEQ(jtok_num(&doc, 0, &v), 0);
		if (!same_double(v, strtod(fixed[i], NULL)))
			printf("  %s: %.17g, strtod %.17g\n", fixed[i], v, strtod(fixed[i], NULL));
		T_ASSERT(same_double(v, strtod(fixed[i], NULL)));
	}
	T_INTEQ(jtok_parse(&doc, "-0", 2, err, sizeof(err)), 0);
	jtok_num(&doc, 0, &v);
	T_ASSERT(v == 0 && 1 / v < 0);
	srand(9);
	for (int i = 0; i < 100000; i++) {
		size_t n = 0, digits = 1 + (size_t)(rand() % 19);
		if (rand() % 3 == 0)
			text[n++] = '-';
		text[n++] = (char)('1' + rand() % 9);
		for (size_t k = 1; k < digits; k++)
			text[n++] = (char)('0' + rand() % 10);
		text[n] = '\0';
		if (jtok_parse(&doc, text, n, err, sizeof(err)) < 0 || jtok_num(&doc, 0, &v) < 0 ||
		    !same_double(v, strtod(text, NULL)))
			if (bad++ < 5)
				printf("  %s: %.17g, strtod %.17g\n", text, v, strtod(text, NULL));
	}
	T_INTEQ(bad, 0);
	T_INTEQ(jtok_parse(&doc, "\"12\"", 4, err, sizeof(err)), 0);
	T_INTEQ(jtok_num(&doc, 0, &v), -1);
	T_ASSERT(v == 0);
}

int
main(void)
{
	jdoc_init(&doc);
	T_RUN(test_string_positions);
	T_RUN(test_string_unterminated);
	T_RUN(test_string_random);
	T_RUN(test_numbers);
	jdoc_free(&doc);
	return t_done();
}
