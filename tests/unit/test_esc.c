/* test_esc.c — values from audit events written for HTML, Markdown and
 * CSV: what each reader would act on comes out inert. */
#include "base/esc.h"
#include "tests/unit/t.h"

static struct buf b;

static const char *
html(const char *s)
{
	buf_reset(&b);
	esc_html(&b, s);
	return buf_cstr(&b);
}

static const char *
md(const char *s)
{
	buf_reset(&b);
	esc_md(&b, s);
	return buf_cstr(&b);
}

static const char *
csv(const char *s, int numeric)
{
	buf_reset(&b);
	esc_csv(&b, s, numeric);
	return buf_cstr(&b);
}

static void
test_html(void)
{
	T_STREQ(html("<img src=https://evil.example/x onerror=alert(1)>"),
	    "&lt;img src=https://evil.example/x onerror=alert(1)&gt;");
	T_STREQ(html("a&b \"q\" 'r'"), "a&amp;b &quot;q&quot; &#39;r&#39;");
	T_STREQ(html("x\xff" "y"), "x\xef\xbf\xbdy");	/* invalid UTF-8 */
	T_STREQ(html("a\x1b[31mb"), "a\\u{001B}[31mb");
	T_STREQ(html("\xe2\x80\xae" "abc"), "\\u{202E}abc");	/* bidi override */
	T_STREQ(html("caf\xc3\xa9"), "caf\xc3\xa9");
}

static void
test_md(void)
{
	T_STREQ(md("a|b"), "a\\|b");
	T_STREQ(md("# head"), "\\# head");
	T_STREQ(md("`code` *x* _y_ [l](u) ![i](u)"),
	    "\\`code\\` \\*x\\* \\_y\\_ \\[l\\]\\(u\\) \\!\\[i\\]\\(u\\)");
	T_STREQ(md("<img src=x>"), "\\<img src=x\\>");
	T_STREQ(md("line1\nline2"), "line1\\\\nline2");
	T_STREQ(md("a\\b"), "a\\\\b");
	T_STREQ(md("&lt;"), "\\&lt;");
	T_STREQ(md("x\xff"), "x\\\\xFF");
	T_STREQ(md("plain-name:1.2"), "plain-name:1.2");
}

static void
test_csv(void)
{
	T_STREQ(csv("=cmd|' /C calc'!A0", 0), "'=cmd|' /C calc'!A0");
	T_STREQ(csv("+1", 0), "'+1");
	T_STREQ(csv("-1", 0), "'-1");
	T_STREQ(csv("-1", 1), "-1");	/* a number column keeps its sign */
	T_STREQ(csv("@SUM(A1)", 0), "'@SUM(A1)");
	T_STREQ(csv("\tx", 0), "'\tx");
	T_STREQ(csv("\rx", 0), "\"'\rx\"");
	T_STREQ(csv("a,b", 0), "\"a,b\"");
	T_STREQ(csv("say \"hi\"", 0), "\"say \"\"hi\"\"\"");
	T_STREQ(csv("=a,\"b\"", 0), "\"'=a,\"\"b\"\"\"");
	T_STREQ(csv("two\nlines", 0), "\"two\nlines\"");
	T_STREQ(csv(" pad", 0), "\" pad\"");
	T_STREQ(csv("plain", 0), "plain");
	T_STREQ(csv("", 0), "");
}

int
main(void)
{
	buf_init(&b);
	T_RUN(test_html);
	T_RUN(test_md);
	T_RUN(test_csv);
	buf_free(&b);
	return t_done();
}
