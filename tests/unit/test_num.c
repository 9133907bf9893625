/* test_num.c — the strict number parser of options and configuration:
 * every form that strtol(), strtoull(), atof() or strtod() would take and
 * num.h refuses, the bounds, overflow, and the messages. */
#include "base/num.h"
#include "tests/unit/t.h"

#include <stdint.h>

static char err[128];

/* Values no integer option or key may take, whatever its bounds. */
static const char *const not_int[] = {
	"", " ", "abc", " 5", "5 ", "\t5", "5\n", "+5", "0x10", "0X10", "010", "00",
	"1e3", "1E3", "5.0", "5.", ".5", "1_000", "1,000", "--5", "-", "-0", "- 5",
	"inf", "-inf", "nan", "NaN", "infinity", "true", "5abc", "٣",
};

static void
test_int_rejects_junk(void)
{
	int64_t v = 42;
	uint64_t u = 42;

	for (size_t i = 0; i < sizeof(not_int) / sizeof(not_int[0]); i++) {
		if (num_parse_i64(not_int[i], INT64_MIN, INT64_MAX, &v, err, sizeof(err)) == 0)
			printf("  i64 took \"%s\"\n", not_int[i]), t_failed_checks++;
		else
			T_ASSERT(strncmp(err, "expected an integer, got \"", 26) == 0);
		if (num_parse_u64(not_int[i], 0, UINT64_MAX, &u, err, sizeof(err)) == 0)
			printf("  u64 took \"%s\"\n", not_int[i]), t_failed_checks++;
	}
	T_INTEQ(v, 42);			/* untouched on error */
	T_INTEQ(u, 42);
}

static void
test_int_values(void)
{
	int64_t v;
	uint64_t u;

	T_INTEQ(num_parse_i64("0", -5, 5, &v, err, sizeof(err)), 0);
	T_INTEQ(v, 0);
	T_INTEQ(num_parse_i64("-5", -5, 5, &v, err, sizeof(err)), 0);
	T_INTEQ(v, -5);
	T_INTEQ(num_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v, err, sizeof(err)), 0);
	T_INTEQ(v, INT64_MAX);
	T_INTEQ(num_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v, err, sizeof(err)), 0);
	T_ASSERT(v == INT64_MIN);
	T_INTEQ(num_parse_u64("18446744073709551615", 0, UINT64_MAX, &u, err, sizeof(err)), 0);
	T_ASSERT(u == UINT64_MAX);
	T_INTEQ(num_parse_u64("4194304", 1024, 1u << 30, &u, err, sizeof(err)), 0);
	T_INTEQ(u, 4194304);
}

static void
test_int_range(void)
{
	int64_t v;
	uint64_t u;

	T_INTEQ(num_parse_i64("65", 1, 64, &v, err, sizeof(err)), -1);
	T_STREQ(err, "65 is out of range [1, 64]");
	T_INTEQ(num_parse_i64("0", 1, 64, &v, err, sizeof(err)), -1);
	T_STREQ(err, "0 is out of range [1, 64]");
	T_INTEQ(num_parse_i64("-1", 0, 64, &v, err, sizeof(err)), -1);
	T_STREQ(err, "-1 is out of range [0, 64]");
	T_INTEQ(num_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v, err, sizeof(err)), -1);
	T_INTEQ(num_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v, err, sizeof(err)), -1);
	T_INTEQ(num_parse_i64("99999999999999999999999", 0, 10, &v, err, sizeof(err)), -1);
	T_STREQ(err, "99999999999999999999999 is out of range [0, 10]");
	/* the unsigned wrap of strtoull("-1") */
	T_INTEQ(num_parse_u64("-1", 0, UINT64_MAX, &u, err, sizeof(err)), -1);
	T_STREQ(err, "-1 is out of range [0, 18446744073709551615]");
	T_INTEQ(num_parse_u64("18446744073709551616", 0, UINT64_MAX, &u, err, sizeof(err)), -1);
	T_INTEQ(num_parse_u64("3", 4, 9, &u, err, sizeof(err)), -1);
	T_STREQ(err, "3 is out of range [4, 9]");
}

static void
test_messages_quote_and_cap(void)
{
	uint64_t u;

	T_INTEQ(num_parse_u64("abc", 0, 9, &u, err, sizeof(err)), -1);
	T_STREQ(err, "expected an integer, got \"abc\"");
	T_INTEQ(num_parse_u64("", 0, 9, &u, err, sizeof(err)), -1);
	T_STREQ(err, "expected an integer, got \"\"");
	T_INTEQ(num_parse_u64("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, 9, &u,
	    err, sizeof(err)), -1);
	T_STREQ(err, "expected an integer, got \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"");
}

static void
test_seconds(void)
{
	static const char *const bad[] = {
		"", "abc", "1e3", "1E3", "inf", "nan", "NaN", "-1", "+1", " 1", "1 ", "0x10",
		".5", "5.", "1.2345", "01", "00.5", "1..2", "1.2.3", "1,5", "1s", "1.5e0",
	};
	int64_t ms = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (num_parse_ms(bad[i], 0, INT64_MAX, &ms, err, sizeof(err)) == 0)
			printf("  took \"%s\" as %lld ms\n", bad[i], (long long)ms), t_failed_checks++;
		else
			T_ASSERT(strncmp(err, "expected seconds", 16) == 0);
	}
	T_INTEQ(ms, 7);
	T_INTEQ(num_parse_ms("30", 1, 604800000, &ms, err, sizeof(err)), 0);
	T_INTEQ(ms, 30000);
	T_INTEQ(num_parse_ms("0.5", 1, 604800000, &ms, err, sizeof(err)), 0);
	T_INTEQ(ms, 500);
	T_INTEQ(num_parse_ms("1.25", 1, 604800000, &ms, err, sizeof(err)), 0);
	T_INTEQ(ms, 1250);
	T_INTEQ(num_parse_ms("0.001", 1, 604800000, &ms, err, sizeof(err)), 0);
	T_INTEQ(ms, 1);
	T_INTEQ(num_parse_ms("0", 1, 604800000, &ms, err, sizeof(err)), -1);
	T_STREQ(err, "0 is out of range [0.001, 604800] seconds");
	T_INTEQ(num_parse_ms("604800.001", 1, 604800000, &ms, err, sizeof(err)), -1);
	T_INTEQ(num_parse_ms("99999999999999999999", 1, 604800000, &ms, err, sizeof(err)), -1);
	T_STREQ(err, "99999999999999999999 is out of range [0.001, 604800] seconds");
	T_INTEQ(num_parse_ms("9223372036854775", 0, INT64_MAX, &ms, err, sizeof(err)), -1);
	T_INTEQ(num_parse_ms("1.5", 2000, 3000, &ms, err, sizeof(err)), -1);
	T_STREQ(err, "1.5 is out of range [2, 3] seconds");
}

int
main(void)
{
	T_RUN(test_int_rejects_junk);
	T_RUN(test_int_values);
	T_RUN(test_int_range);
	T_RUN(test_messages_quote_and_cap);
	T_RUN(test_seconds);
	return t_done();
}
