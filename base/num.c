/* num.c — strict decimal numbers for options and configuration (see num.h).
 * The grammar is checked by hand rather than with strtol() and friends,
 * which skip leading whitespace, take a '+', wrap "-1" to the largest
 * unsigned value and read "0x10", "1e3" or "inf" depending on the function. */
#include "base/num.h"

#include <stdio.h>
#include <string.h>

#define NUM_SHOW	40	/* bytes of a bad value quoted in a message */

#define IS_DIGIT(c)	((unsigned)(c) - '0' < 10u)

/* The count of digits at s; 0 when there is none, or when a zero is
 * followed by more digits. */
static size_t
num_digits(const char *s)
{
	size_t n = 0;

	while (IS_DIGIT(s[n]))
		n++;
	return n > 1 && s[0] == '0' ? 0 : n;
}

/* The value of the n digits at s; -1 when above UINT64_MAX. */
static int
num_mag(const char *s, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (*v > (UINT64_MAX - d) / 10)
			return -1;
		*v = *v * 10 + d;
	}
	return 0;
}

/* "-"? digits and nothing else ("-0" is not a way to write 0): *neg, the
 * magnitude and whether it overflowed. */
static int
num_int(const char *s, int *neg, uint64_t *mag, int *over)
{
	size_t n;

	*neg = s[0] == '-';
	s += *neg;
	if ((n = num_digits(s)) == 0 || s[n] != '\0' || (*neg && s[0] == '0'))
		return -1;
	*over = num_mag(s, n, mag) < 0;
	return 0;
}

static int
num_bad(char *err, size_t errlen, const char *what, const char *s)
{
	snprintf(err, errlen, "expected %s, got \"%.*s%s\"", what, NUM_SHOW, s,
	    strlen(s) > NUM_SHOW ? "..." : "");
	return -1;
}

static int
num_range(char *err, size_t errlen, const char *s, const char *lo, const char *hi,
    const char *unit)
{
	snprintf(err, errlen, "%.*s%s is out of range [%s, %s]%s", NUM_SHOW, s,
	    strlen(s) > NUM_SHOW ? "..." : "", lo, hi, unit);
	return -1;
}

int
num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out,
    char *err, size_t errlen)
{
	char lo[24], hi[24];
	uint64_t mag;
	int64_t v;
	int neg, over;

	if (num_int(s, &neg, &mag, &over) < 0)
		return num_bad(err, errlen, "an integer", s);
	if (over || mag > (uint64_t)INT64_MAX + (uint64_t)neg)
		goto range;
	if (neg)
		v = mag > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)mag;
	else
		v = (int64_t)mag;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	snprintf(lo, sizeof(lo), "%lld", (long long)min);
	snprintf(hi, sizeof(hi), "%lld", (long long)max);
	return num_range(err, errlen, s, lo, hi, "");
}

int
num_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    char *err, size_t errlen)
{
	char lo[24], hi[24];
	uint64_t mag;
	int neg, over;

	if (num_int(s, &neg, &mag, &over) < 0)
		return num_bad(err, errlen, "an integer", s);
	if (neg || over || mag < min || mag > max) {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)max);
		return num_range(err, errlen, s, lo, hi, "");
	}
	*out = mag;
	return 0;
}

/* ms as seconds, without trailing zeros: 1500 -> "1.5". */
static void
num_secs(char *b, size_t n, int64_t ms)
{
	size_t l;

	if (ms % 1000 == 0) {
		snprintf(b, n, "%lld", (long long)(ms / 1000));
		return;
	}
	snprintf(b, n, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
	for (l = strlen(b); b[l - 1] == '0'; l--)
		b[l - 1] = '\0';
}

int
num_parse_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out,
    char *err, size_t errlen)
{
	static const unsigned scale[] = { 1000, 100, 10, 1 };
	char lo[32], hi[32];
	size_t n = num_digits(s), f = 0;
	uint64_t whole, frac = 0;
	int64_t ms;

	if (n == 0)
		return num_bad(err, errlen, "seconds (e.g. 30 or 0.5)", s);
	if (s[n] == '.') {
		while (IS_DIGIT(s[n + 1 + f]))
			f++;
		if (f == 0 || f > 3 || s[n + 1 + f] != '\0')
			return num_bad(err, errlen, "seconds with at most 3 decimals (e.g. 30 or 0.5)", s);
		num_mag(s + n + 1, f, &frac);
	} else if (s[n] != '\0') {
		return num_bad(err, errlen, "seconds (e.g. 30 or 0.5)", s);
	}
	/* below INT64_MAX / 1000 - 1 seconds, the milliseconds fit */
	if (num_mag(s, n, &whole) == 0 && whole < (uint64_t)INT64_MAX / 1000 - 1) {
		ms = (int64_t)(whole * 1000 + frac * scale[f]);
		if (ms >= min_ms && ms <= max_ms) {
			*out = ms;
			return 0;
		}
	}
	num_secs(lo, sizeof(lo), min_ms);
	num_secs(hi, sizeof(hi), max_ms);
	return num_range(err, errlen, s, lo, hi, " seconds");
}
