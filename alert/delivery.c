/* delivery.c — the retry schedule and Retry-After (see delivery.h). */
#include "alert/delivery.h"

#include <string.h>

#include "base/timefmt.h"

/* Standard Webhooks' waits between attempts, in seconds. */
static const long delivery_steps[DELIVERY_STEPS] = {
	5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600
};

long
delivery_wait(const struct alert_opts *o, int n)
{
	long step = delivery_steps[n < 1 ? 0 : n > DELIVERY_STEPS ? DELIVERY_STEPS - 1 : n - 1];
	/* 5 s scales to backoff_ms: seconds * backoff_ms / 5 ms, in double
	 * because 10 h times a large backoff_ms overflows a long on 32 bits */
	double w = (double)step * (double)o->backoff_ms / 5.0;

	return w > (double)o->max_backoff_ms ? o->max_backoff_ms : (long)w;
}

long
delivery_wait_jitter(const struct alert_opts *o, int n, double r)
{
	double w = (double)delivery_wait(o, n) * (0.9 + 0.2 * r);

	if (w > (double)o->max_backoff_ms)
		w = o->max_backoff_ms;
	return w < 1 ? 1 : (long)w;
}

size_t
delivery_schedule(const struct alert_opts *o, long *waits, size_t max)
{
	size_t n = max < DELIVERY_STEPS ? max : DELIVERY_STEPS;

	for (size_t i = 0; i < n; i++)
		waits[i] = delivery_wait(o, (int)i + 1);
	return n;
}

int
delivery_retry_after(const char *value, int64_t now_ms, long *ms)
{
	char v[64];
	size_t n;
	int64_t secs = 0, at;

	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t' ||
	    value[n - 1] == '\r' || value[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= sizeof(v))
		return -1;
	memcpy(v, value, n);
	v[n] = '\0';
	if (strspn(v, "0123456789") == n) {
		/* 1*DIGIT: leading zeros allowed; a huge value saturates */
		for (size_t i = 0; i < n && secs < DELIVERY_RETRY_AFTER_MAX_S; i++)
			secs = secs * 10 + (v[i] - '0');
		if (secs > DELIVERY_RETRY_AFTER_MAX_S)
			secs = DELIVERY_RETRY_AFTER_MAX_S;
		*ms = (long)(secs * 1000);
		return 0;
	}
	if (http_date_parse(v, &at) == -1)
		return -1;
	if (at <= now_ms)
		*ms = 0;
	else if (at - now_ms > DELIVERY_RETRY_AFTER_MAX_S * 1000)
		*ms = DELIVERY_RETRY_AFTER_MAX_S * 1000;
	else
		*ms = (long)(at - now_ms);
	return 0;
}
