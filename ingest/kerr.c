/* kerr.c — Kafka client errors: logged once per cause, counted (see kerr.h). */
#include "ingest/kerr.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/obs.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

static const char *const causes[] = { "authentication", "tls", "transport", "brokers_down",
	"resolve", "timeout", "fatal", "other" };
#define NCAUSES	(sizeof(causes) / sizeof(causes[0]))

static struct {
	unsigned long	count;		/* reports so far */
	unsigned long	logged;		/* count when last logged */
	long		at;		/* clock_ms() when last logged */
} seen[NCAUSES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

const char *
kerr_cause(int err, const char *reason)
{
	/* librdkafka reports a failed handshake as _SSL the first time and as
	 * _TRANSPORT on later tries, with the same words */
	if (reason && (strstr(reason, "certificate verify failed") ||
	    strstr(reason, "SSL handshake failed")))
		return "tls";
	if (reason && strstr(reason, "SASL authentication error"))
		return "authentication";
	switch ((rd_kafka_resp_err_t)err) {
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
	case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
		return "authentication";
	case RD_KAFKA_RESP_ERR__SSL:
		return "tls";
	case RD_KAFKA_RESP_ERR__TRANSPORT:
		return "transport";
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
		return "brokers_down";
	case RD_KAFKA_RESP_ERR__RESOLVE:
		return "resolve";
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
		return "timeout";
	case RD_KAFKA_RESP_ERR__FATAL:
		return "fatal";
	default:
		return "other";
	}
}

static size_t
cause_index(const char *cause)
{
	for (size_t i = 0; i < NCAUSES; i++)
		if (strcmp(causes[i], cause) == 0)
			return i;
	return NCAUSES - 1;
}

/* What an operator does about a cause, for its first line. */
static const char *
cause_hint(const char *cause)
{
	if (strcmp(cause, "authentication") == 0)
		return "check sasl.mechanism, sasl.username and sasl.password in kafka.properties";
	if (strcmp(cause, "tls") == 0)
		return "check ssl.ca.location (the CA of the brokers' certificates) and the "
		    "client certificate settings in kafka.properties";
	if (strcmp(cause, "brokers_down") == 0)
		return "no connection to any broker: the other kafka errors logged say why";
	return "check kafka.brokers and that the brokers run";
}

int
kerr_duplicate(const char *fac)
{
	return strcmp(fac, "FAIL") == 0 || strcmp(fac, "ERROR") == 0;
}

void
kerr_report(const char *who, int err, const char *reason)
{
	const char *cause = kerr_cause(err, reason);
	size_t i = cause_index(cause);
	unsigned long n, since = 0;
	int first, remind;
	long now = clock_ms();

	obs_kafka_error(cause);
	pthread_mutex_lock(&lock);
	n = ++seen[i].count;
	first = n == 1;
	remind = !first && now - seen[i].at >= KERR_REMIND_MS;
	if (first || remind) {
		since = n - seen[i].logged;
		seen[i].logged = n;
		seen[i].at = now;
	}
	pthread_mutex_unlock(&lock);
	if (first)
		log_msg(strcmp(cause, "authentication") == 0 || strcmp(cause, "tls") == 0 ?
		    LOG_ERROR : LOG_WARN, "kafka %s: %s: %s: %s; %s (librdkafka keeps "
		    "trying; further %s errors are counted in kaudit_kafka_errors_total and logged "
		    "again at most every %ld minutes)", cause, who, rd_kafka_err2name(err),
		    reason ? reason : "", cause_hint(cause), cause, KERR_REMIND_MS / 60000);
	else if (remind)
		log_warn("kafka %s: %lu more since the last report, this one: %s: %s", cause,
		    since, who, reason ? reason : "");
}
