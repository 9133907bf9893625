/* delivery.h — when a failed delivery is tried again: the retry schedule
 * and the receiver's Retry-After. Pure functions, private to alert/.
 *
 * The schedule is Standard Webhooks': the first attempt at once, then waits
 * of 5 s, 5 m, 30 m, 2 h, 5 h, 10 h, 10 h, ... Scaled by
 * alert.backoff_ms / 5000 (so backoff_ms is the first wait) and capped by
 * alert.max_backoff_ms (the longest wait); the defaults, 5000 and 36000000,
 * give the schedule itself. */
#ifndef KAUDIT_DELIVERY_H
#define KAUDIT_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "alert/alert.h"

/* Waits of the schedule, unscaled, in seconds; the last repeats. */
#define DELIVERY_STEPS	6

/* The wait after the n-th failed attempt (n >= 1), scaled and capped, with
 * no jitter. */
long	delivery_wait(const struct alert_opts *o, int n);

/* The same with jitter: uniformly within +-10% of it, never past
 * max_backoff_ms; r is a uniform random number in [0, 1). */
long	delivery_wait_jitter(const struct alert_opts *o, int n, double r);

/* Fills waits[0..max) with delivery_wait(o, 1..max): what the database
 * paces the probes of an open circuit by. Returns how many (at most
 * DELIVERY_STEPS: the last repeats). */
size_t	delivery_schedule(const struct alert_opts *o, long *waits, size_t max);

/* The longest Retry-After taken as said (a week); the caller caps it by
 * max_backoff_ms and what is left of max_age anyway. */
#define DELIVERY_RETRY_AFTER_MAX_S	(7L * 86400)

/* Parses a Retry-After value (delta-seconds, or an HTTP-date read against
 * now_ms, the current time in ms since the epoch) into *ms: how long to wait
 * from now, 0 for a date in the past. Returns 0, or -1 when the value is
 * neither (then the schedule applies). Surrounding spaces are allowed. */
int	delivery_retry_after(const char *value, int64_t now_ms, long *ms);

#endif
