/* timefmt.h — event times and durations as kaudit reads and writes them:
 * RFC 3339 timestamps (as the API server writes stageTimestamp) to and from
 * milliseconds since the epoch, and durations written `10m`, `24h`, `7d`. */
#ifndef KAUDIT_TIMEFMT_H
#define KAUDIT_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) as YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), digits
 * exactly as wide as shown, into *ms (fractions beyond milliseconds are cut).
 * Returns 0, or -1 when s is anything else (signs, spaces, out-of-range
 * fields, a day the month does not have). */
int	time_parse_ms(const char *s, size_t n, int64_t *ms);

#define TIME_TEXT_MAX	80
/* Writes ms as 2026-01-31T23:59:59.123Z (no fraction when it is zero). */
void	time_format_ms(int64_t ms, char out[TIME_TEXT_MAX]);

/* Parses an HTTP-date (RFC 9110 5.6.7) into *ms: the preferred
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and the two obsolete forms a
 * recipient must still read, RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" (a
 * two-digit year below 70 is 20yy) and asctime "Sun Nov  6 08:49:37 1994".
 * The weekday is checked for its form, not against the date. Returns 0, or
 * -1 for anything else. */
int	http_date_parse(const char *s, int64_t *ms);

/* Parses a duration: a whole number followed by ms, s, m, h or d (`90s`,
 * `10m`, `24h`, `30d`), into *ms. Returns 0, or -1 with no unit, an unknown
 * unit, a sign, spaces, or more than 100 years. */
int	duration_parse(const char *s, int64_t *ms);

/* Writes ms back in the largest unit that divides it exactly: 600000 -> 10m. */
void	duration_format(int64_t ms, char out[TIME_TEXT_MAX]);

#endif
