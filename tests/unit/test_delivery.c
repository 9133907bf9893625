/* test_delivery.c — when a failed delivery is tried again, without any
 * service: the Standard Webhooks schedule scaled by backoff_ms and capped by
 * max_backoff_ms, its jitter, Retry-After in both forms and garbage, HTTP
 * dates in their three forms, what each HTTP status means, and the new
 * configuration keys with their defaults and bounds. */
#include "alert/delivery.h"
#include "alert/webhook.h"
#include "app/config.h"
#include "base/timefmt.h"
#include "tests/unit/t.h"

#include <stdint.h>

static struct alert_opts
opts(int backoff_ms, int max_backoff_ms)
{
	struct alert_opts o;

	memset(&o, 0, sizeof(o));
	o.backoff_ms = backoff_ms;
	o.max_backoff_ms = max_backoff_ms;
	o.max_age_ms = 86400000;
	return o;
}

/* The defaults give Standard Webhooks' own schedule. */
static void
test_schedule_default(void)
{
	struct alert_opts o = opts(5000, 36000000);
	static const long want[] = { 5000, 300000, 1800000, 7200000, 18000000, 36000000,
	    36000000, 36000000 };

	for (int n = 1; n <= 8; n++)
		T_INTEQ(delivery_wait(&o, n), want[n - 1]);
	/* Past the end the last wait repeats, and a 0 counts as the first. */
	T_INTEQ(delivery_wait(&o, 1000), 36000000);
	T_INTEQ(delivery_wait(&o, 0), 5000);
}

/* backoff_ms is the first wait and scales the rest; max_backoff_ms caps. */
static void
test_schedule_scaled(void)
{
	struct alert_opts o = opts(100, 1000);
	long w[DELIVERY_STEPS + 4];

	T_INTEQ(delivery_wait(&o, 1), 100);		/* 5 s * 100/5000 */
	T_INTEQ(delivery_wait(&o, 2), 1000);		/* 5 m would be 6000 */
	T_INTEQ(delivery_wait(&o, 6), 1000);
	o = opts(200, 100000);
	T_INTEQ(delivery_wait(&o, 2), 12000);		/* 5 m * 200/5000 */
	T_INTEQ(delivery_wait(&o, 3), 72000);		/* 30 m */
	T_INTEQ(delivery_wait(&o, 4), 100000);		/* 2 h, capped */
	/* The largest keys do not overflow: 10 h * 3600000/5000. */
	o = opts(3600000, 86400000);
	T_INTEQ(delivery_wait(&o, 6), 86400000);
	o = opts(100, 1000);
	T_INTEQ(delivery_schedule(&o, w, sizeof(w) / sizeof(w[0])), DELIVERY_STEPS);
	T_INTEQ(w[0], 100);
	T_INTEQ(w[DELIVERY_STEPS - 1], 1000);
	T_INTEQ(delivery_schedule(&o, w, 2), 2);
}

/* +-10%, never past max_backoff_ms, never 0. */
static void
test_schedule_jitter(void)
{
	struct alert_opts o = opts(5000, 36000000);

	T_INTEQ(delivery_wait_jitter(&o, 1, 0.0), 4500);
	T_INTEQ(delivery_wait_jitter(&o, 1, 0.5), 5000);
	T_INTEQ(delivery_wait_jitter(&o, 1, 0.999999), 5499);
	/* At the cap the jitter only shortens. */
	T_INTEQ(delivery_wait_jitter(&o, 7, 0.0), 32400000);
	T_INTEQ(delivery_wait_jitter(&o, 7, 0.99), 36000000);
	o = opts(1, 1);
	T_INTEQ(delivery_wait_jitter(&o, 1, 0.0), 1);
}

static void
test_http_date(void)
{
	int64_t ms = -1;

	/* RFC 9110's example in its three forms: 784111777 s. */
	T_INTEQ(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &ms), 0);
	T_INTEQ(ms, 784111777000LL);
	ms = -1;
	T_INTEQ(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &ms), 0);
	T_INTEQ(ms, 784111777000LL);
	ms = -1;
	T_INTEQ(http_date_parse("Sun Nov  6 08:49:37 1994", &ms), 0);
	T_INTEQ(ms, 784111777000LL);
	T_INTEQ(http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &ms), 0);
	T_INTEQ(ms, 0);
	T_INTEQ(http_date_parse("Tue, 29 Feb 2028 23:59:59 GMT", &ms), 0);
	T_INTEQ(http_date_parse("Monday, 01-Jan-35 00:00:00 GMT", &ms), 0);
	T_INTEQ(ms, 2051222400000LL);	/* 2035: a 2-digit year below 70 */
	static const char *const bad[] = {
		"", "Sun", "Sun,", "Sun, 06 Nov 1994", "Sun, 06 Nov 1994 08:49:37",
		"Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT ",
		"Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT", "Sun 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
		"Sun Nov  6 08:49:37 1994 ", "Sun Nov  6 08:49 1994",
		"1994-11-06T08:49:37Z", "Sun, 06 Nov 1994 08:4", "Sun, 0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http_date_parse(bad[i], &ms) != -1)
			printf("    took \"%s\"\n", bad[i]);
		T_INTEQ(http_date_parse(bad[i], &ms), -1);
	}
}

static void
test_retry_after(void)
{
	int64_t now = 784111777000LL;	/* Sun, 06 Nov 1994 08:49:37 GMT */
	long ms = -1;

	T_INTEQ(delivery_retry_after("120", now, &ms), 0);
	T_INTEQ(ms, 120000);
	T_INTEQ(delivery_retry_after(" 0 ", now, &ms), 0);
	T_INTEQ(ms, 0);
	T_INTEQ(delivery_retry_after("007", now, &ms), 0);
	T_INTEQ(ms, 7000);
	T_INTEQ(delivery_retry_after("\t5\r\n", now, &ms), 0);	/* as a header line ends */
	T_INTEQ(ms, 5000);
	/* A huge delay saturates at a week instead of overflowing. */
	T_INTEQ(delivery_retry_after("99999999999999999999999", now, &ms), 0);
	T_INTEQ(ms, DELIVERY_RETRY_AFTER_MAX_S * 1000);
	T_INTEQ(delivery_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, &ms), 0);
	T_INTEQ(ms, 30000);
	T_INTEQ(delivery_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now, &ms), 0);
	T_INTEQ(ms, 10000);
	T_INTEQ(delivery_retry_after("Sun Nov  6 08:49:38 1994", now, &ms), 0);
	T_INTEQ(ms, 1000);
	/* A date in the past: at once. One years ahead: a week. */
	T_INTEQ(delivery_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now, &ms), 0);
	T_INTEQ(ms, 0);
	T_INTEQ(delivery_retry_after("Mon, 06 Nov 1995 08:49:37 GMT", now, &ms), 0);
	T_INTEQ(ms, DELIVERY_RETRY_AFTER_MAX_S * 1000);
	static const char *const bad[] = {
		"", " ", "-1", "+5", "1.5", "5s", "0x10", "1e3", "soon", "5 5",
		"Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Nov 1994",
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = -7;
		if (delivery_retry_after(bad[i], now, &ms) != -1)
			printf("    took \"%s\"\n", bad[i]);
		T_INTEQ(delivery_retry_after(bad[i], now, &ms), -1);
		T_INTEQ(ms, -7);
	}
}

/* 2xx delivered; 410 disables; 408, 429, 5xx and no answer retry; any
 * other status (4xx, 3xx not followed, 1xx) is dead at once. */
static void
test_classify(void)
{
	for (int s = 100; s <= 599; s++) {
		enum webhook_result want = s >= 200 && s <= 299 ? WEBHOOK_OK :
		    s == 410 ? WEBHOOK_GONE :
		    s == 408 || s == 429 || s >= 500 ? WEBHOOK_RETRY : WEBHOOK_DROP;
		if (webhook_classify(s) != want)
			printf("    status %d\n", s);
		T_INTEQ(webhook_classify(s), want);
	}
	T_INTEQ(webhook_classify(0), WEBHOOK_RETRY);
}

static int
load(struct config *c, const char *yaml, struct buf *errs)
{
	config_defaults(c);
	buf_reset(errs);
	return config_load_text(c, "t.yaml", yaml, strlen(yaml), errs);
}

/* The keys: defaults that changed, a rate with decimals, bounds. */
static void
test_config_keys(void)
{
	struct config c;
	struct buf errs;

	buf_init(&errs);
	T_INTEQ(load(&c, "alert:\n  webhooks:\n    - { name: a, url: \"http://x/\" }\n", &errs), 0);
	T_INTEQ(c.alert.max_age_ms, 86400000);
	T_INTEQ(c.alert.max_attempts, 0);
	T_INTEQ(c.alert.backoff_ms, 5000);
	T_INTEQ(c.alert.max_backoff_ms, 36000000);
	T_INTEQ(c.alert.webhooks[0].concurrency, 4);
	T_ASSERT(c.alert.webhooks[0].rate_limit == 0.0);
	config_free(&c);
	T_INTEQ(load(&c, "alert:\n  max_age: 90m\n  max_attempts: 12\n  webhooks:\n"
	    "    - { name: a, url: \"http://x/\", rate_limit: 0.5, concurrency: 1 }\n"
	    "    - { name: b, url: \"http://x/\", rate_limit: \"2\" }\n", &errs), 0);
	T_INTEQ(c.alert.max_age_ms, 5400000);
	T_INTEQ(c.alert.max_attempts, 12);
	T_ASSERT(c.alert.webhooks[0].rate_limit == 0.5);
	T_INTEQ(c.alert.webhooks[0].concurrency, 1);
	T_ASSERT(c.alert.webhooks[1].rate_limit == 2.0);
	config_free(&c);
	T_INTEQ(load(&c, "alert:\n  max_age: 100\n  webhooks:\n"
	    "    - { name: a, url: \"http://x/\", rate_limit: 1e3, concurrency: 0 }\n"
	    "    - { name: b, url: \"http://x/\", rate_limit: -1 }\n"
	    "    - { name: c, url: \"http://x/\", rate_limit: 0.0001 }\n", &errs), -1);
	T_ASSERT(strstr(buf_cstr(&errs), "t.yaml:2: alert.max_age: expected a duration") != NULL);
	T_ASSERT(strstr(buf_cstr(&errs), "t.yaml:4: rate_limit: expected a number per second"
	    " from 0 to 100000 with at most 3 decimals (e.g. 1 or 0.5), got \"1e3\"") != NULL);
	T_ASSERT(strstr(buf_cstr(&errs), "t.yaml:4: concurrency:") != NULL);
	T_ASSERT(strstr(buf_cstr(&errs), "t.yaml:5: rate_limit:") != NULL);
	T_ASSERT(strstr(buf_cstr(&errs), "t.yaml:6: rate_limit:") != NULL);
	config_free(&c);
	buf_free(&errs);
}

int
main(void)
{
	T_RUN(test_schedule_default);
	T_RUN(test_schedule_scaled);
	T_RUN(test_schedule_jitter);
	T_RUN(test_http_date);
	T_RUN(test_retry_after);
	T_RUN(test_classify);
	T_RUN(test_config_keys);
	return t_done();
}
