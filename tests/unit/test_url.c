/* test_url.c — the query-string and path readers against what Go's
 * net/url and path packages (1.17 and later) make of the same text. Each
 * expected value below is the one Go gives (url.ParseQuery keeps the pairs
 * listed, in order, and returns an error exactly when `dropped` > 0;
 * path.Clean("/" + p) for the paths). */
#include "base/buf.h"
#include "base/url.h"
#include "tests/unit/t.h"

#include <stdio.h>
#include <string.h>

/* The kept pairs as "name=value|name=value", bytes outside printable ASCII
 * as \xNN; *dropped gets the pairs dropped with an error. */
static const char *
pairs(const char *qs, size_t *dropped)
{
	static struct buf out;
	struct buf name, value;
	struct url_query q;

	buf_init(&name);
	buf_init(&value);
	buf_reset(&out);
	buf_append(&out, "", 0);
	url_query_init(&q, qs, strlen(qs));
	while (url_query_next(&q, &name, &value)) {
		if (name.data == NULL || value.data == NULL)
			return "(NULL data)";
		if (out.len > 0)
			buf_putc(&out, '|');
		for (int part = 0; part < 2; part++) {
			const struct buf *b = part ? &value : &name;
			if (part)
				buf_putc(&out, '=');
			for (size_t i = 0; i < b->len; i++) {
				unsigned char c = (unsigned char)b->data[i];
				if (c >= 0x20 && c < 0x7f)
					buf_putc(&out, (char)c);
				else
					buf_printf(&out, "\\x%02x", c);
			}
		}
	}
	*dropped = q.dropped;
	buf_free(&name);
	buf_free(&value);
	return out.data;
}

#define T_QUERY(qs, want, wdropped) do { \
	size_t d_ = 99; \
	T_STREQ(pairs(qs, &d_), want); \
	T_INTEQ(d_, wdropped); \
} while (0)

/* Names are unescaped like values: %63ommand is command. */
static void
test_query_names(void)
{
	T_QUERY("%63ommand=sh&%63ommand=-c&%63ommand=id&container=c&stdin=true",
	    "command=sh|command=-c|command=id|container=c|stdin=true", 0);
	/* names are compared after decoding, exactly: no case folding, and an
	 * encoded space is part of the name */
	T_QUERY("com%6Dand=x&Command=y&command%20=z&command+=w",
	    "command=x|Command=y|command =z|command =w", 0);
	/* an encoded '=' or '&' is data, not a separator */
	T_QUERY("command%3Dsh=1&x%26command=2", "command=sh=1|x&command=2", 0);
}

/* Go 1.17+: only '&' separates; a pair with a ';' is dropped with an
 * error ("invalid semicolon separator in query") and the rest is kept. */
static void
test_query_semicolon(void)
{
	T_QUERY("command=sh;x&command=id", "command=id", 1);
	T_QUERY("command=a;", "", 1);
	T_QUERY("a;b=c&d=e", "d=e", 1);
	/* an encoded ';' is data */
	T_QUERY("command=a%3Bb", "command=a;b", 0);
}

/* A bad escape anywhere in the name or the value drops the pair (Go's
 * EscapeError); a '%' needs two hex digits after it. */
static void
test_query_bad_escape(void)
{
	T_QUERY("command=a&command=%zz&command=b", "command=a|command=b", 1);
	T_QUERY("command=%4&command=ok", "command=ok", 1);
	T_QUERY("command=ok&command=%4", "command=ok", 1);
	T_QUERY("command=%2", "", 1);
	T_QUERY("command=%", "", 1);
	T_QUERY("%zz=1&command=q", "command=q", 1);
	T_QUERY("%=x&command=%%41", "", 2);
	T_QUERY("command=%ZZ&command=%G0&command=%0g", "", 3);
	/* hex digits of either case; any byte may be written */
	T_QUERY("command=%41%2f%2F%Aa%00%ff", "command=A//\\xaa\\x00\\xff", 0);
}

/* '+' is a space in names and values; "%2B" is a plus. */
static void
test_query_plus(void)
{
	T_QUERY("command=a+b%20c%2B", "command=a b c+", 0);
	T_QUERY("command=++", "command=  ", 0);
}

/* A name without '=' has an empty value; the value runs to the next '&'
 * and may hold more '='; empty pairs are skipped; an empty name is kept. */
static void
test_query_shapes(void)
{
	T_QUERY("command", "command=", 0);
	T_QUERY("command&command=sh", "command=|command=sh", 0);
	T_QUERY("command=&command=sh", "command=|command=sh", 0);
	T_QUERY("command=a=b=c", "command=a=b=c", 0);
	T_QUERY("&&command=x&&", "command=x", 0);
	T_QUERY("=x&=&command=y", "=x|=|command=y", 0);
	T_QUERY("container=&container=w", "container=|container=w", 0);
	/* the request target has no fragment: '#' and '?' are data */
	T_QUERY("command=x#y?z", "command=x#y?z", 0);
	T_QUERY("", "", 0);
}

/* Path unescaping keeps '+'; both modes leave out unchanged on error. */
static void
test_unescape(void)
{
	struct buf b;

	buf_init(&b);
	T_INTEQ(url_unescape("a+b%2Fc", 7, 0, &b), 0);
	T_STREQ(buf_cstr(&b), "a+b/c");
	T_INTEQ(url_unescape("x%4", 3, 0, &b), -1);
	T_STREQ(buf_cstr(&b), "a+b/c");
	T_INTEQ(url_unescape("+", 1, 1, &b), 0);
	T_STREQ(buf_cstr(&b), "a+b/c ");
	buf_reset(&b);
	T_INTEQ(url_unescape("", 0, 1, &b), 0);
	T_ASSERT(b.data != NULL && b.len == 0);
	buf_free(&b);
}

static void
test_path_clean(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "", "/" }, { "/", "/" }, { "a", "/a" }, { "//a//b/", "/a/b" },
		{ "a/./b", "/a/b" }, { "a/../b", "/b" }, { "../../a", "/a" },
		{ "a/b/..", "/a" }, { "/..", "/" }, { "a/..", "/" }, { ".", "/" },
		{ "./", "/" }, { "a/.../b", "/a/.../b" }, { "..a/b..", "/..a/b.." },
		{ "/exec/ns/p/c", "/exec/ns/p/c" }, { "/x/../exec/", "/exec" },
		{ "a/b/../../..", "/" }, { "a//..//b", "/b" },
	};
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		url_path_clean(cases[i].in, strlen(cases[i].in), &b);
		T_STREQ(b.data, cases[i].want);
	}
	buf_free(&b);
}

int
main(void)
{
	T_RUN(test_query_names);
	T_RUN(test_query_semicolon);
	T_RUN(test_query_bad_escape);
	T_RUN(test_query_plus);
	T_RUN(test_query_shapes);
	T_RUN(test_unescape);
	T_RUN(test_path_clean);
	return t_done();
}
