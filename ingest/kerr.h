/* kerr.h — what the Kafka clients (consumers, producers) report through
 * librdkafka's error callback: one log line per cause, every occurrence
 * counted.
 *
 * librdkafka retries a broker it cannot reach or that refuses the
 * credentials or the certificate, and reports each failed attempt; with
 * several workers that is a line every few seconds for as long as the
 * problem lasts. Here the first report of a cause (authentication, tls,
 * transport, ...) is logged with librdkafka's reason, later ones are
 * counted in kaudit_kafka_errors_total{reason} and summed up in one line
 * at most every KERR_REMIND_MS per cause. */
#ifndef KAUDIT_KERR_H
#define KAUDIT_KERR_H

#include <stddef.h>

#define KERR_REMIND_MS	(10 * 60 * 1000L)

/* The cause of a librdkafka error (its code, and its reason where the code
 * hides it), as a metric label: authentication, tls, transport,
 * brokers_down, resolve, timeout, fatal or other. */
const char *kerr_cause(int err, const char *reason);
/* 1 when librdkafka's log lines of facility fac repeat what its error
 * callback reports (FAIL: a broker connection failed, ERROR: all brokers
 * down): the log callback then keeps them at debug level. */
int	kerr_duplicate(const char *fac);
/* Reports one error of a client (who: "worker 0", "producer"). */
void	kerr_report(const char *who, int err, const char *reason);

#endif
