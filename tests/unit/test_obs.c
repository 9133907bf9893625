/* test_obs.c — the daemon's observability pieces without services: metric
 * families with several labels (exposition, the cap, the sweep of gauges),
 * base/obs.h's families, and the log's redaction, formats and escaping. */
#include "t.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/obs.h"

#include <jansson.h>
#include <unistd.h>

static void
test_metrics_several_labels(void)
{
	struct metrics *m = metrics_new();
	struct metric *d = metrics_counter_l(m, "x_deliveries_total", "D.",
	    (const char *const[]){ "webhook", "outcome", NULL });
	struct buf out;

	metric_add_l(d, (const char *const[]){ "ops", "done" }, 1);
	metric_add_l(d, (const char *const[]){ "ops", "retry" }, 1);
	metric_add_l(d, (const char *const[]){ "ops", "done" }, 2);
	metric_add_l(d, (const char *const[]){ "a\"b", "done" }, 1);
	buf_init(&out);
	metrics_expose(m, &out);
	T_STREQ(buf_cstr(&out),
	    "# HELP x_deliveries_total D.\n"
	    "# TYPE x_deliveries_total counter\n"
	    "x_deliveries_total{webhook=\"ops\",outcome=\"done\"} 3\n"
	    "x_deliveries_total{webhook=\"ops\",outcome=\"retry\"} 1\n"
	    "x_deliveries_total{webhook=\"a\\\"b\",outcome=\"done\"} 1\n");
	T_INTEQ(metric_value_l(d, (const char *const[]){ "ops", "done" }), 3);
	T_INTEQ(metric_value_l(d, (const char *const[]){ "ops", "dead" }), 0);
	buf_free(&out);
	metrics_free(m);
}

/* Past the family's limit every label reads "other"; the limit is per
 * family. */
static void
test_metrics_limit(void)
{
	struct metrics *m = metrics_new();
	struct metric *f = metrics_counter_l(m, "x_findings_total", "F.",
	    (const char *const[]){ "rule", "severity", NULL });
	char id[16];

	metric_limit(f, 3);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		metric_add_l(f, (const char *const[]){ id, "high" }, 1);
	}
	T_INTEQ(metric_value_l(f, (const char *const[]){ "r0", "high" }), 1);
	T_INTEQ(metric_value_l(f, (const char *const[]){ "r1", "high" }), 1);
	T_INTEQ(metric_value_l(f, (const char *const[]){ "r2", "high" }), 0);
	T_INTEQ(metric_value_l(f, (const char *const[]){ "other", "other" }), 8);
	metrics_free(m);
}

/* A gauge per partition forgets the partitions not set since the last
 * sweep. */
static void
test_metrics_sweep(void)
{
	struct metrics *m = metrics_new();
	struct metric *g = metrics_gauge_l(m, "x_lag", "L.",
	    (const char *const[]){ "topic", "partition", NULL });
	struct buf out;

	metric_set_l(g, (const char *const[]){ "t", "0" }, 5);
	metric_set_l(g, (const char *const[]){ "t", "1" }, 7);
	metric_sweep(g);
	metric_set_l(g, (const char *const[]){ "t", "1" }, 2);
	metric_sweep(g);
	buf_init(&out);
	metrics_expose(m, &out);
	T_STREQ(buf_cstr(&out), "# HELP x_lag L.\n# TYPE x_lag gauge\n"
	    "x_lag{topic=\"t\",partition=\"1\"} 2\n");
	buf_free(&out);
	metric_sweep(g);
	buf_init(&out);
	metrics_expose(m, &out);
	T_STREQ(buf_cstr(&out), "# HELP x_lag L.\n# TYPE x_lag gauge\n");
	buf_free(&out);
	metrics_free(m);
}

/* Every family the issue names is exposed once obs_init() ran; nothing
 * before. */
static void
test_obs_families(void)
{
	static const char *const names[] = { "kaudit_events_total ", "kaudit_messages_total ",
	    "kaudit_ingest_errors_total{reason=\"oversize\"} 2",
	    "kaudit_findings_total{rule=\"k8s.exec.pod\",severity=\"high\"} 1",
	    "kaudit_deliveries_total{webhook=\"ops\",outcome=\"done\"} 1",
	    "kaudit_outbox_pending 4", "kaudit_consumer_lag{topic=\"audit\",partition=\"3\"} 12",
	    "kaudit_batch_seconds_count 1", "kaudit_delivery_seconds_count 1",
	    "kaudit_db_retries_total 1", "kaudit_rules_loaded 90",
	    "kaudit_reloads_total{result=\"ok\"} 0", "kaudit_reloads_total{result=\"failed\"} 1",
	    "kaudit_build_info{version=\"9.9\"} 1", NULL };
	struct buf out;

	obs_events(3);
	buf_init(&out);
	obs_expose(&out);
	T_INTEQ(out.len, 0);
	obs_init("9.9");
	obs_events(3);
	obs_messages(2);
	obs_ingest_error("oversize", 2);
	obs_finding("k8s.exec.pod", "high");
	obs_delivery("ops", "done", 0.2);
	obs_outbox_pending(4);
	obs_lag("audit", 3, 12);
	obs_batch(0.03);
	obs_db_retry();
	obs_rules_loaded(90);
	obs_reload("failed");
	obs_expose(&out);
	for (int i = 0; names[i]; i++)
		if (strstr(buf_cstr(&out), names[i]) == NULL) {
			printf("  missing: %s\n", names[i]);
			T_ASSERT(0);
		}
	T_ASSERT(strstr(buf_cstr(&out), "kaudit_events_total 3\n") != NULL);
	buf_reset(&out);
	obs_reloads_set(3, 2);
	obs_expose(&out);
	T_ASSERT(strstr(buf_cstr(&out), "kaudit_reloads_total{result=\"ok\"} 3\n"
	    "kaudit_reloads_total{result=\"failed\"} 2\n") != NULL);
	buf_free(&out);
	obs_free();
}

static void
redacts(const char *in, const char *want)
{
	char s[512];

	snprintf(s, sizeof(s), "%s", in);
	log_redact(s, sizeof(s));
	T_STREQ(s, want);
}

static void
test_log_redact(void)
{
	redacts("postgres postgresql://kaudit:s3cret@db:5432/kaudit: refused",
	    "postgres postgresql://kaudit:REDACTED@db:5432/kaudit: refused");
	redacts("url https://user@host/x", "url https://user@host/x");
	redacts("host=db password=hunter2 user=k", "host=db password=REDACTED user=k");
	redacts("sasl.password=abc", "sasl.password=REDACTED");
	redacts("{\"Password\": \"p w\"}", "{\"Password\": \"REDACTED\"}");
	redacts("Authorization: Bearer eyJabc.def", "Authorization: Bearer REDACTED");
	redacts("authorization: Basic dXNlcjpw", "authorization: Basic REDACTED");
	redacts("token=abc&x=1", "token=REDACTED&x=1");
	redacts("tokens are counted", "tokens are counted");
	redacts("no secrets here", "no secrets here");
	log_secret("X-Custom-Value-1");
	log_secret("abc");	/* too short to register */
	redacts("header X-Api: X-Custom-Value-1, abc", "header X-Api: REDACTED, abc");
	redacts("postgresql://X-Custom-Value-1:pw@db/k", "postgresql://REDACTED:REDACTED@db/k");
	log_secrets_clear();
	redacts("X-Custom-Value-1", "X-Custom-Value-1");
}

static void
log_hostile(void)
{
	log_info("user %s said \"%s\" password=pw1234", "eve\n2026-01-01T00:00:00Z kaudit error: forged",
	    "a\\b\x01\xff");
}

/* A value with a newline, a quote, a control byte and invalid UTF-8 stays
 * on its line, as valid JSON, redacted. */
static void
test_log_json(void)
{
	char *text;
	json_t *j;
	json_error_t e;

	log_set_format(LOG_JSON);
	text = t_capture_stderr(log_hostile);
	log_set_format(LOG_TEXT);
	T_ASSERT(text != NULL);
	if (text == NULL)
		return;
	T_INTEQ(strchr(text, '\n') - text + 1, (long long)strlen(text));
	j = json_loads(text, 0, &e);
	T_ASSERT(j != NULL);
	T_STREQ(json_string_value(json_object_get(j, "level")), "info");
	T_STREQ(json_string_value(json_object_get(j, "msg")),
	    "user eve\n2026-01-01T00:00:00Z kaudit error: forged said \"a\\b\x01\xef\xbf\xbd\" "
	    "password=REDACTED");
	json_decref(j);
	free(text);
}

static void
test_log_text(void)
{
	char *text = t_capture_stderr(log_hostile);

	T_ASSERT(text != NULL);
	if (text == NULL)
		return;
	T_INTEQ(strchr(text, '\n') - text + 1, (long long)strlen(text));
	T_ASSERT(strstr(text, " kaudit info: user eve\\n2026-01-01T00:00:00Z kaudit error: "
	    "forged said \"a\\b\\x01\\xff\" password=REDACTED\n") != NULL);
	free(text);
}

int
main(void)
{
	T_RUN(test_metrics_several_labels);
	T_RUN(test_metrics_limit);
	T_RUN(test_metrics_sweep);
	T_RUN(test_obs_families);
	T_RUN(test_log_redact);
	T_RUN(test_log_json);
	T_RUN(test_log_text);
	return t_done();
}
