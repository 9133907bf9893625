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

#include "analyze/fcond.h"
#include "analyze/rules.h"
#include "base/strlist.h"

/* What a webhook's body looks like (alert/format.h renders it). */
enum alert_format {
	ALERT_FORMAT_GENERIC,	/* the finding JSON, or a template of it */
	ALERT_FORMAT_SLACK,	/* Block Kit message */
	ALERT_FORMAT_TEAMS,	/* Workflows message with an Adaptive Card */
	ALERT_FORMAT_PAGERDUTY,	/* Events API v2 trigger */
};

/* One destination (alert.webhooks[] in the configuration). */
struct webhook_conf {
	char		*name;
	char		*url;
	enum severity	 min_severity;	/* default info: every finding */
	struct strlist	 categories;	/* empty: every category */
	struct strlist	 rules;		/* empty: every rule id */
	struct kvlist	 headers;	/* extra HTTP headers */
	int		 timeout_ms;	/* default 5000 */
	enum alert_format format;	/* default generic */
	char		*template;	/* generic only; NULL or "": none */
	char		*routing_key;	/* pagerduty only */
	struct strlist	 secrets;	/* whsec_<base64> each: Standard Webhooks signing */
	char		*when;		/* a condition over the finding (source text) */
	struct finding_cond *when_cond;	/* compiled; NULL = no condition */
	/* Grouping (alert/groups.h): empty group_by, one notification per
	 * finding. The durations are ms (config's CT_DURATION). */
	struct strlist	 group_by;	/* finding fields */
	long		 group_wait_ms;		/* default 30 s */
	long		 group_interval_ms;	/* default 5 m */
	long		 repeat_interval_ms;	/* default 4 h */
	double		 rate_limit;	/* notifications per second, shared by
					 * every process; 0 = unlimited */
	int		 concurrency;	/* requests in flight per process; default 4 */
	/* TLS: PEM files, "" none. ca_file replaces the system's trusted
	 * CAs; client_cert and client_key go together. */
	char		*ca_file;
	char		*client_cert;
	char		*client_key;
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

struct db_grouping;

/* Which webhooks receive a finding: those whose every filter it passes
 * (min_severity, categories, rules, and the when condition; a webhook with
 * no filter receives every finding). Fills names (capacity o->nwebhooks)
 * and returns the count. When groups is not NULL it is filled in parallel
 * to names: for a webhook with group_by, the finding's group key (a new
 * reference: alert_route_release() drops it) and the webhook's group
 * timings; a NULL key for the others. Pure; safe to call from several
 * threads. */
size_t	alert_route(const struct alert_opts *o, json_t *finding, const char **names,
	    struct db_grouping *groups);
void	alert_route_release(struct db_grouping *groups, size_t n);

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
/* alerter_stop bounded by deadline_ms (clock_ms(); 0: none): at the
 * deadline deliveries still in flight are abandoned to their lease (sent
 * again later, same delivery id). Returns 0, or -2 when the thread still
 * waits on the database a second past the deadline: it is left running, to
 * the exiting process. */
int	alerter_stop_by(struct alerter *a, long deadline_ms);

/* 1 when the alerter's last look at the outbox found nothing due and no
 * delivery under a lease, its own or another alerter's (used by `kaudit run
 * --idle-exit`, which must not exit while a POST is in flight). */
int	alerter_idle(struct alerter *a);

/* Global libcurl init/cleanup, once per process. */
int	alert_global_init(void);
void	alert_global_cleanup(void);

#endif
