/* format.h — the body a webhook receives: the payload (a finding, or a
 * group notification, told apart by its top-level "group" key) rendered
 * for the webhook's format.
 *
 *   generic    the payload as compact JSON, or the webhook's template with
 *              %{field} filled in (each value JSON-escaped)
 *   slack      a Block Kit message (text fallback plus blocks)
 *   teams      a Workflows webhook message carrying an Adaptive Card
 *   pagerduty  an Events API v2 trigger event
 *
 * Every value of a payload comes from an audit event, written by whoever
 * can reach the API server, so each one is capped and, in the three chat
 * and paging formats, neutralised so that it can never become a mention, a
 * link, formatting or a template directive: docs/alerting.md ("Formats and
 * signatures") says how and why. Pure: no I/O. */
#ifndef KAUDIT_FORMAT_H
#define KAUDIT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alert/alert.h"
#include "base/buf.h"

/* Caps, in characters (Unicode code points), of one value as shown. */
#define ALERT_VALUE_MAX		256	/* a field: user, namespace, an evidence value */
#define ALERT_MESSAGE_MAX	1000	/* the finding's message */
#define ALERT_TITLE_MAX		150	/* a title: Slack's header limit */
#define ALERT_GROUP_SHOWN	20	/* findings of a group notification shown */
#define ALERT_TEMPLATE_VALUE_MAX 1000	/* one %{field} of a template */
#define ALERT_GENERIC_STR_MAX	4096	/* a string of the generic payload (as findings) */
#define ALERT_TEMPLATE_MAX	65536	/* bytes of a template */
#define ALERT_FINGERPRINT_MAX	160	/* a PagerDuty dedup_key, NUL included */

/* PagerDuty's endpoint, the url of a pagerduty webhook that sets none. */
#define ALERT_PAGERDUTY_URL	"https://events.pagerduty.com/v2/enqueue"

/* "generic", "slack", "teams", "pagerduty" to and from the enum. */
int	alert_format_parse(const char *s, enum alert_format *out);
const char *alert_format_name(enum alert_format f);

/* Renders payload (borrowed) for wc's format into body (reset first).
 * delivery_id is the outbox row's id (%{kaudit.delivery_id} of a
 * template). Returns 0, or -1 with err when the payload cannot be rendered
 * (not a JSON object; a template whose result is not JSON). */
int	alert_render(const struct webhook_conf *wc, int64_t delivery_id, json_t *payload,
	    struct buf *body, char *err, size_t errlen);

/* Checks a generic template: every %{field} names a field of a finding or
 * of a group notification (or kaudit.*), and the text is valid JSON once
 * they are filled in with sample values, hostile ones included. Returns 0,
 * or -1 with err. */
int	alert_template_check(const char *tmpl, char *err, size_t errlen);

/* A payload's PagerDuty dedup_key: kaudit-group-<group_id> for a group;
 * for a finding kaudit-<rule>-<hash of rule, audit_id and the stateful
 * key>, the same over retries, restarts and later updates of the finding. */
void	alert_fingerprint(json_t *payload, char out[ALERT_FINGERPRINT_MAX]);

#endif
