/* test_kerr.c — Kafka client errors (ingest/kerr.h) and the checks of
 * kafka.properties that need no broker: a cause is logged once and counted
 * each time; librdkafka's codes and reasons map to the causes the metric
 * documents; OAUTHBEARER without a token source is refused before anything
 * starts. */
#include "tests/unit/t.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/obs.h"
#include "base/strlist.h"
#include "ingest/consumer.h"
#include "ingest/kerr.h"

#include <librdkafka/rdkafka.h>

static void
test_causes(void)
{
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR__AUTHENTICATION, "SASL authentication error: x"),
	    "authentication");
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, ""), "authentication");
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR__SSL, "SSL handshake failed: x"), "tls");
	/* a later try of the same handshake comes as a transport error */
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR__TRANSPORT,
	    "b/bootstrap: error:0A000086:SSL routines::certificate verify failed"), "tls");
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR__TRANSPORT, "Connection refused"), "transport");
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down"),
	    "brokers_down");
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR__RESOLVE, NULL), "resolve");
	T_STREQ(kerr_cause(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "x"), "other");
}

static void
report_auth_thrice(void)
{
	for (int i = 0; i < 3; i++)
		kerr_report("worker 0", RD_KAFKA_RESP_ERR__AUTHENTICATION,
		    "b/bootstrap: SASL authentication error: invalid credentials");
	kerr_report("worker 1", RD_KAFKA_RESP_ERR__TRANSPORT, "b/bootstrap: Connection refused");
}

/* One line per cause, every report counted. */
static void
test_once_per_cause(void)
{
	struct buf m;
	char *text;

	obs_init("t");
	text = t_capture_stderr(report_auth_thrice);
	T_ASSERT(text != NULL);
	if (text != NULL) {
		const char *p = strstr(text, "kaudit error: kafka authentication: worker 0: "
		    "_AUTHENTICATION: b/bootstrap: SASL authentication error");
		T_ASSERT(p != NULL);
		/* nothing after that line names the cause again */
		p = p ? strchr(p, '\n') : NULL;
		T_ASSERT(p != NULL && strstr(p, "kafka authentication") == NULL);
		T_ASSERT(strstr(text, "kaudit warn: kafka transport: worker 1: _TRANSPORT: "
		    "b/bootstrap: Connection refused; check kafka.brokers") != NULL);
	}
	buf_init(&m);
	obs_expose(&m);
	T_ASSERT(strstr(buf_cstr(&m), "kaudit_kafka_errors_total{reason=\"authentication\"} 3\n"));
	T_ASSERT(strstr(buf_cstr(&m), "kaudit_kafka_errors_total{reason=\"transport\"} 1\n"));
	buf_free(&m);
	free(text);
	obs_free();
}

/* consumer_check_props on props: its return, err and warn. */
static int
check(const char *const *kv, char *err, char *warn)
{
	struct kvlist l = { NULL, 0 };
	int rc;

	for (size_t i = 0; kv[i]; i += 2)
		kvlist_add(&l, kv[i], kv[i + 1]);
	err[0] = '\0';
	rc = consumer_check_props(&l, err, 512, warn, 512);
	kvlist_free(&l);
	return rc;
}

static void
test_oauthbearer(void)
{
	char err[512], warn[512];
	static const char *const none[] = { "security.protocol", "sasl_ssl",
	    "sasl.mechanism", "OAUTHBEARER", NULL };
	static const char *const unsigned_jwt[] = { "sasl.mechanism", "oauthbearer",
	    "enable.sasl.oauthbearer.unsecure.jwt", "true", NULL };
	static const char *const oidc[] = { "sasl.mechanism", "OAUTHBEARER",
	    "sasl.oauthbearer.method", "oidc", NULL };
	static const char *const scram[] = { "sasl.mechanism", "SCRAM-SHA-512", NULL };

	T_INTEQ(check(none, err, warn), -1);
	T_ASSERT(strstr(err, "sasl.mechanism=OAUTHBEARER needs a token source") != NULL);
	T_INTEQ(check(unsigned_jwt, err, warn), 0);
	T_ASSERT(strstr(warn, "unsigned tokens, which only a test broker takes") != NULL);
	T_INTEQ(check(scram, err, warn), 0);
	T_STREQ(warn, "");
	/* a librdkafka built without libcurl refuses OIDC, and the error then
	 * names the version; one built with it takes the property */
	if (check(oidc, err, warn) != 0) {
		T_ASSERT(strstr(err, "not supported in this build") != NULL);
		T_ASSERT(strstr(err, rd_kafka_version_str()) != NULL);
	}
}

int
main(void)
{
	T_RUN(test_causes);
	T_RUN(test_once_per_cause);
	T_RUN(test_oauthbearer);
	return t_done();
}
