/* alert.h — webhook delivery of findings from the PostgreSQL outbox.
 *
 * The only code that includes curl/curl.h lives in alert/. The alerter thread
 * claims due outbox rows (FOR UPDATE SKIP LOCKED, so several kaudit processes
 * can share one outbox), POSTs the claimed rows concurrently (one slow or
 * dead webhook costs a claim one timeout, not one per row), records each
 * attempt and either marks it done, schedules a retry with exponential
 * backoff, or marks it dead after alert.max_attempts. */
#ifndef KAUDIT_ALERT_H
#define KAUDIT_ALERT_H

#include <stddef.h>

#include <jansson.h>

#include "core/config.h"

/* Which configured webhooks receive a finding (by min_severity, categories
 * and rules filters; a webhook with no filter receives every finding).
 * Fills names (capacity c->nwebhooks) and returns the count. Pure. */
size_t	alert_route(const struct config *c, json_t *finding, const char **names);

struct alerter;

/* Starts the alerter thread. Returns NULL with err on failure. */
struct alerter *alerter_start(const struct config *c, char *err, size_t errlen);
/* Asks the thread to stop: deliveries in flight finish and are recorded, no
 * new one starts; joins it. Rows not delivered stay pending in the outbox
 * for the next start. */
void	alerter_stop(struct alerter *a);

/* 1 when the alerter's last look at the outbox found nothing due (used by
 * `kaudit run --idle-exit`). */
int	alerter_idle(struct alerter *a);

/* Global libcurl init/cleanup, once per process. */
int	alert_global_init(void);
void	alert_global_cleanup(void);

#endif
