/* obs.c — the daemon's metric families (see obs.h).
 *
 * DESIGN: one registry for the process, published through an atomic
 * pointer once every family exists; recording threads only read it. The
 * families are the ones docs/operations.md lists; names follow Prometheus
 * conventions (counters end in _total, durations in seconds). */
#include "base/obs.h"
#include "base/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define OBS_RULES_MAX		4096	/* label sets of findings per rule */
#define OBS_PARTITIONS_MAX	4096	/* label sets of the lag gauge */

struct obs {
	struct metrics	*reg;
	struct metric	*events, *messages, *errors, *findings, *deliveries, *pending, *lag,
			*batch, *delivery, *db_retries, *rules, *reloads, *build, *kafka;
};

static _Atomic(struct obs *) cur;

static void
obs_families(struct obs *o)
{
	static const double batch_b[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
	    5, 10, 30 };
	static const double post_b[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	    30 };
	struct metrics *m = o->reg;

	o->events = metrics_counter(m, "kaudit_events_total",
	    "Audit events decoded from Kafka messages.", NULL);
	o->messages = metrics_counter(m, "kaudit_messages_total",
	    "Kafka messages consumed from the audit topics.", NULL);
	o->errors = metrics_counter(m, "kaudit_ingest_errors_total",
	    "Undecodable input kept in kaudit.ingest_errors, by reason.", "reason");
	o->findings = metrics_counter_l(m, "kaudit_findings_total",
	    "Findings made by the rules, by rule id and severity (before deduplication).",
	    (const char *const[]){ "rule", "severity", NULL });
	metric_limit(o->findings, OBS_RULES_MAX);
	o->deliveries = metrics_counter_l(m, "kaudit_deliveries_total",
	    "Webhook POSTs ended, by webhook and outcome (done, retry, dead, gone).",
	    (const char *const[]){ "webhook", "outcome", NULL });
	o->pending = metrics_gauge(m, "kaudit_outbox_pending",
	    "Deliveries pending in the outbox (sampled every few seconds).");
	o->lag = metrics_gauge_l(m, "kaudit_consumer_lag",
	    "Messages between this process's position and the high watermark, per "
	    "partition it reads.", (const char *const[]){ "topic", "partition", NULL });
	metric_limit(o->lag, OBS_PARTITIONS_MAX);
	o->batch = metrics_histogram(m, "kaudit_batch_seconds",
	    "Time from a batch in hand to its offsets stored, database retries included.",
	    batch_b, sizeof(batch_b) / sizeof(*batch_b));
	o->delivery = metrics_histogram(m, "kaudit_delivery_seconds",
	    "Duration of webhook POSTs.", post_b, sizeof(post_b) / sizeof(*post_b));
	o->db_retries = metrics_counter(m, "kaudit_db_retries_total",
	    "Batch writes to PostgreSQL that failed and are tried again.", NULL);
	o->rules = metrics_gauge(m, "kaudit_rules_loaded", "Rules in the set in use.");
	o->reloads = metrics_counter(m, "kaudit_reloads_total",
	    "Reloads of config and rules (SIGHUP), by result (ok, failed).", "result");
	o->kafka = metrics_counter(m, "kaudit_kafka_errors_total",
	    "Errors the Kafka clients reported, by cause (authentication, tls, transport, "
	    "brokers_down, resolve, timeout, fatal, other); librdkafka keeps retrying.",
	    "reason");
	o->build = metrics_gauge_l(m, "kaudit_build_info",
	    "Always 1; the version of the running binary in a label.",
	    (const char *const[]){ "version", NULL });
}

void
obs_init(const char *version)
{
	struct obs *o = calloc(1, sizeof(*o));

	if (o == NULL)
		abort();
	o->reg = metrics_new();
	obs_families(o);
	metric_set_l(o->build, (const char *const[]){ version }, 1);
	metric_add(o->reloads, "ok", 0);
	metric_add(o->reloads, "failed", 0);
	atomic_store(&cur, o);
}

struct metrics *
obs_registry(void)
{
	struct obs *o = atomic_load(&cur);

	return o ? o->reg : NULL;
}

void
obs_expose(struct buf *out)
{
	struct obs *o = atomic_load(&cur);

	if (o)
		metrics_expose(o->reg, out);
}

void
obs_free(void)
{
	struct obs *o = atomic_exchange(&cur, NULL);

	if (o == NULL)
		return;
	metrics_free(o->reg);
	free(o);
}

/* The registry when there is one; every recorder starts with it. */
#define OBS_OR_RETURN(o)	struct obs *o = atomic_load(&cur); if (o == NULL) return

void
obs_messages(unsigned long n)
{
	OBS_OR_RETURN(o);
	metric_add(o->messages, NULL, (double)n);
}

void
obs_events(unsigned long n)
{
	OBS_OR_RETURN(o);
	metric_add(o->events, NULL, (double)n);
}

void
obs_ingest_error(const char *reason, unsigned long n)
{
	OBS_OR_RETURN(o);
	metric_add(o->errors, reason, (double)n);
}

void
obs_finding(const char *rule, const char *severity)
{
	OBS_OR_RETURN(o);
	metric_add_l(o->findings, (const char *const[]){ rule ? rule : "",
	    severity ? severity : "" }, 1);
}

void
obs_delivery(const char *webhook, const char *outcome, double seconds)
{
	OBS_OR_RETURN(o);
	metric_add_l(o->deliveries, (const char *const[]){ webhook, outcome }, 1);
	metric_observe(o->delivery, seconds);
}

void
obs_batch(double seconds)
{
	OBS_OR_RETURN(o);
	metric_observe(o->batch, seconds);
}

void
obs_db_retry(void)
{
	OBS_OR_RETURN(o);
	metric_add(o->db_retries, NULL, 1);
}

void
obs_outbox_pending(long n)
{
	OBS_OR_RETURN(o);
	metric_set(o->pending, (double)n);
}

void
obs_rules_loaded(long n)
{
	OBS_OR_RETURN(o);
	metric_set(o->rules, (double)n);
}

void
obs_reload(const char *result)
{
	OBS_OR_RETURN(o);
	metric_add(o->reloads, result, 1);
}

void
obs_reloads_set(unsigned long ok, unsigned long failed)
{
	OBS_OR_RETURN(o);
	metric_set_l(o->reloads, (const char *const[]){ "ok" }, (double)ok);
	metric_set_l(o->reloads, (const char *const[]){ "failed" }, (double)failed);
}

void
obs_lag(const char *topic, int32_t partition, int64_t lag)
{
	char p[16];

	OBS_OR_RETURN(o);
	snprintf(p, sizeof(p), "%d", (int)partition);
	metric_set_l(o->lag, (const char *const[]){ topic, p }, (double)lag);
}

void
obs_lag_sweep(void)
{
	OBS_OR_RETURN(o);
	metric_sweep(o->lag);
}

void
obs_kafka_error(const char *cause)
{
	OBS_OR_RETURN(o);
	metric_add(o->kafka, cause, 1);
}
