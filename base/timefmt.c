/* timefmt.c — RFC 3339 times, HTTP dates and durations (see timefmt.h). */
#include "base/timefmt.h"

#include <stdio.h>
#include <string.h>

/* Value of n digits at s, or -1 when any is not a digit. */
static int
digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int
time_parse_ms(const char *s, size_t n, int64_t *ms)
{
	int y, mo, d, h, mi, sec, frac = 0, scale = 100, off = 0;
	size_t i = 19;

	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if ((y = digits(s, 4)) < 0 || (mo = digits(s + 5, 2)) < 0 || (d = digits(s + 8, 2)) < 0 ||
	    (h = digits(s + 11, 2)) < 0 || (mi = digits(s + 14, 2)) < 0 ||
	    (sec = digits(s + 17, 2)) < 0)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	if (s[i] == '.') {
		if (++i == n || s[i] < '0' || s[i] > '9')
			return -1;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			frac += (s[i] - '0') * scale;
			scale /= 10;
		}
	}
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
		off = 0;
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
		if (oh < 0 || om < 0 || oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
	} else {
		return -1;
	}
	if (sec == 60)
		sec = 59;	/* a leap second reads as the second before it */
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off * 60) * 1000 +
	    frac;
	return 0;
}

void
time_format_ms(int64_t ms, char out[TIME_TEXT_MAX])
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000), days, y, rem;
	int frac = (int)(ms - secs * 1000), m, d;

	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	rem = secs - days * 86400;
	civil_from_days(days, &y, &m, &d);
	if (frac)
		snprintf(out, TIME_TEXT_MAX, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y,
		    m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), frac);
	else
		snprintf(out, TIME_TEXT_MAX, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m,
		    d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

static const struct {
	const char	*unit;
	int64_t		 ms;
} units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
};

static const char *const http_wkday[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const http_weekday[] = { "Monday", "Tuesday", "Wednesday", "Thursday",
    "Friday", "Saturday", "Sunday" };
static const char *const http_month[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Index of the name in list that s starts with, its length in *len; -1. */
static int
http_name(const char *s, const char *const *list, int n, size_t *len)
{
	for (int i = 0; i < n; i++) {
		*len = strlen(list[i]);
		if (strncmp(s, list[i], *len) == 0)
			return i;
	}
	return -1;
}

/* "HH:MM:SS" at s into seconds of the day; -1. */
static int
http_clock(const char *s)
{
	int h, m, sec;

	/* In order: no byte past the end of s is read. */
	if ((h = digits(s, 2)) < 0 || s[2] != ':' || (m = digits(s + 3, 2)) < 0 ||
	    s[5] != ':' || (sec = digits(s + 6, 2)) < 0 || h > 23 || m > 59 || sec > 60)
		return -1;
	return h * 3600 + m * 60 + (sec == 60 ? 59 : sec);
}

/* The date once its fields are read; -1 when it does not exist. */
static int
http_date_done(int64_t y, int mo, int d, int secs, int64_t *ms)
{
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || secs < 0)
		return -1;
	*ms = (days_from_civil(y, mo, d) * 86400 + secs) * 1000;
	return 0;
}

/* "06 Nov 1994 08:49:37 GMT" or "06-Nov-94 08:49:37 GMT" (sep '-', 2-digit
 * year), after the weekday. */
static int
http_date_dmy(const char *s, char sep, int ydigits, int64_t *ms)
{
	size_t len;
	int d = digits(s, 2), mo, y, secs;

	if (d < 0 || s[2] != sep || (mo = http_name(s + 3, http_month, 12, &len)) < 0 ||
	    s[6] != sep || (y = digits(s + 7, (size_t)ydigits)) < 0 || s[7 + ydigits] != ' ')
		return -1;
	s += 8 + ydigits;
	if ((secs = http_clock(s)) < 0 || strcmp(s + 8, " GMT") != 0)
		return -1;
	if (ydigits == 2)
		y += y < 70 ? 2000 : 1900;
	return http_date_done(y, mo + 1, d, secs, ms);
}

int
http_date_parse(const char *s, int64_t *ms)
{
	size_t len;
	int mo, d, secs, y;

	if (http_name(s, http_weekday, 7, &len) >= 0 && strncmp(s + len, ", ", 2) == 0)
		return http_date_dmy(s + len + 2, '-', 2, ms);
	if (http_name(s, http_wkday, 7, &len) < 0)
		return -1;
	if (strncmp(s + 3, ", ", 2) == 0)
		return http_date_dmy(s + 5, ' ', 4, ms);
	/* asctime: "Sun Nov  6 08:49:37 1994", the day padded with a space */
	if (s[3] != ' ' || (mo = http_name(s + 4, http_month, 12, &len)) < 0 || s[7] != ' ')
		return -1;
	d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
	if (d < 0 || s[10] != ' ' || (secs = http_clock(s + 11)) < 0 || s[19] != ' ' ||
	    (y = digits(s + 20, 4)) < 0 || s[24] != '\0')
		return -1;
	return http_date_done(y, mo + 1, d, secs, ms);
}

int
duration_parse(const char *s, int64_t *ms)
{
	int64_t v = 0;
	size_t i = 0;

	while (s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (s[i++] - '0');
		if (v > 3650000000000LL)
			return -1;
	}
	if (i == 0)
		return -1;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (strcmp(s + i, units[u].unit) == 0) {
			if (v > 3153600000000LL / units[u].ms)	/* 100 years */
				return -1;
			*ms = v * units[u].ms;
			return 0;
		}
	}
	return -1;
}

void
duration_format(int64_t ms, char out[TIME_TEXT_MAX])
{
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (ms != 0 && ms % units[u].ms == 0) {
			snprintf(out, TIME_TEXT_MAX, "%lld%s", (long long)(ms / units[u].ms),
			    units[u].unit);
			return;
		}
	}
	snprintf(out, TIME_TEXT_MAX, "0s");
}
