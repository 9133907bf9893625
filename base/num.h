/* num.h — strict parsing of the numbers people write: command-line option
 * values and configuration values.
 *
 * One grammar everywhere, so that a value is either exactly what it looks
 * like or an error, never a silent default: decimal digits, with a leading
 * '-' for a negative value; no '+', no whitespace, no leading zero ("010" is
 * 8 to some YAML readers and 10 to others), no hex, exponent, fraction,
 * digit separators, "inf" or "nan", nothing after the last digit, and the
 * value must lie in [min, max]. Durations are seconds with at most three
 * decimals ("30", "0.5", "1.25"), kept as milliseconds.
 *
 * Errors are one line for the caller to prefix with the name of what it
 * parsed ("--threads: ", "ingest.workers: "), and quote the value:
 *   expected an integer, got "abc"
 *   70 is out of range [1, 64]
 *   expected seconds (e.g. 30 or 0.5), got "1e3" */
#ifndef KAUDIT_NUM_H
#define KAUDIT_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0 and sets *out, or -1 with the reason in err. */
int	num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out,
	    char *err, size_t errlen);
int	num_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	    char *err, size_t errlen);
/* Seconds, to milliseconds; min_ms and max_ms bound the result. */
int	num_parse_ms(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out,
	    char *err, size_t errlen);

#endif
