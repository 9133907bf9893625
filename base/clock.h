/* clock.h — monotonic milliseconds, for timeouts, backoff and idle checks. */
#ifndef KAUDIT_CLOCK_H
#define KAUDIT_CLOCK_H

#include <time.h>

static inline long
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

#endif
