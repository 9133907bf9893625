/* alert.h — webhook delivery of findings from the PostgreSQL outbox.
 *
 * The only code that includes curl/curl.h lives in alert/. The alerter thread
 * claims due outbox rows under a lease (so several kaudit processes can share
 * one outbox, and no transaction stays open while it POSTs), keeps up to
 * alert.batch POSTs in flight (at most a webhook's concurrency to each
 * webhook), records each attempt as it ends and either marks it done,
 * schedules a retry on the Standard Webhooks schedule, or marks it dead once
 * alert.max_age has passed. It wakes when outbox rows commit (LISTEN), when a
 * retry is due, and when a POST ends. See docs/alerting.md. */
#ifndef KAUDIT_ALERT_H
#define KAUDIT_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "analyze/rules.h"
#include "base/strlist.h"

/* One destination (alert.webhooks[] in the configuration). */
struct webhook_conf {
	char		*name;
	char		*url;
	enum severity	 min_severity;	/* default info: every finding */
	struct strlist	 categories;	/* empty: every category */
	struct strlist	 rules;		/* empty: every rule id */
	struct kvlist	 headers;	/* extra HTTP headers */
	int		 timeout_ms;	/* default 5000 */
	double		 rate_limit;	/* notifications per second, shared by
					 * every process; 0 = unlimited */
	int		 concurrency;	/* requests in flight per process; default 4 */
};

/* What the alerter and the router need to know; the process fills it from
 * its configuration and keeps it alive while the alerter runs. */
struct alert_opts {
	struct webhook_conf *webhooks;
	size_t		 nwebhooks;
	int64_t		 max_age_ms;	/* then dead; default 24 h */
	int		 max_attempts;	/* then dead; 0 (default) = no limit */
	int		 backoff_ms;	/* first retry wait; scales the schedule;
					 * default 5000 */
	int		 max_backoff_ms;	/* longest wait; default 36000000 (10 h) */
	int		 poll_ms;	/* longest wait without a notification;
					 * default 500 */
	int		 batch;		/* POSTs in flight at once; default 32 */
};

/* Which webhooks receive a finding (by min_severity, categories and rules
 * filters; a webhook with no filter receives every finding). Fills names
 * (capacity o->nwebhooks) and returns the count. Pure. */
size_t	alert_route(const struct alert_opts *o, json_t *finding, const char **names);

struct alerter;

/* Starts the alerter thread with its own connection to pg_url. o must stay
 * valid until alerter_stop(). Returns NULL with err on failure. */
struct alerter *alerter_start(const char *pg_url, const struct alert_opts *o,
	    char *err, size_t errlen);
/* Asks the thread to stop: deliveries in flight finish and are recorded, no
 * new one starts; joins it. Rows claimed but not sent (after a database
 * error) have their lease released and stay pending in the outbox, due at
 * once for any alerter. */
void	alerter_stop(struct alerter *a);

/* 1 when the alerter's last look at the outbox found nothing due and no
 * delivery under a lease, its own or another alerter's (used by `kaudit run
 * --idle-exit`, which must not exit while a POST is in flight). */
int	alerter_idle(struct alerter *a);

/* Global libcurl init/cleanup, once per process. */
int	alert_global_init(void);
void	alert_global_cleanup(void);

#endif
