/* test_buf.c — the growable buffer and its JSON string writer. */
#include "base/buf.h"
#include "tests/unit/t.h"

static void
test_json_str(void)
{
	struct buf b;
	static const char in[] = "a\"b\\c\nd\re\tf\x01g\x1fh/\xc3\xa9";

	buf_init(&b);
	buf_json_str(&b, in, sizeof(in) - 1);
	T_STREQ(buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh/\xc3\xa9\"");
	buf_reset(&b);
	buf_json_str(&b, "", 0);
	T_STREQ(buf_cstr(&b), "\"\"");
	buf_reset(&b);
	buf_json_str(&b, "x\0y", 3);	/* an embedded NUL is escaped, not a terminator */
	T_STREQ(buf_cstr(&b), "\"x\\u0000y\"");
	buf_free(&b);
}

static void
test_printf_grows(void)
{
	struct buf b;
	char big[1000];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b);
	T_STREQ(buf_cstr(&b), "");
	buf_printf(&b, "%d-", 42);
	buf_printf(&b, "%s", big);
	T_INTEQ(b.len, 3 + sizeof(big) - 1);
	T_ASSERT(strncmp(b.data, "42-zzz", 6) == 0);
	T_INTEQ(b.data[b.len], '\0');
	buf_free(&b);
}

int
main(void)
{
	T_RUN(test_json_str);
	T_RUN(test_printf_grows);
	return t_done();
}
