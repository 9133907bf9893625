/* gateway.h — `kaudit gateway`'s server: the API server's audit webhook
 * in, one Kafka message per event out, 200 only once Kafka has them all.
 *
 * app/cmd_gateway.c reads the configuration and the signals; this file
 * owns the listener, the producer and the requests in flight. */
#ifndef KAUDIT_GATEWAY_H
#define KAUDIT_GATEWAY_H

#include <stddef.h>

#include "app/config.h"

struct gateway;

/* What the gateway needs of c that the key table cannot say (an
 * authentication method, TLS off loopback, tls_cert with tls_key, tokens
 * of 16 characters or more): one "FILE: gateway: ..." line in errs per
 * problem; 0 or -1. */
int	gateway_check(const struct config *c, struct buf *errs);
/* Checks what the gateway needs of c (an authentication method, TLS off
 * loopback, the files), makes the producer and starts listening. NULL
 * with every reason in err. */
struct gateway *gateway_start(const struct config *c, char *err, size_t errlen);
/* The port the webhook listener is on, and the metrics one (0: none). */
unsigned gateway_port(const struct gateway *g);
unsigned gateway_metrics_port(const struct gateway *g);
/* Stops accepting, answers what is in flight (200 when Kafka acknowledges
 * within timeout_ms, else 503), flushes the producer and frees g. */
void	gateway_stop(struct gateway *g);
/* A line of counts for the log. */
void	gateway_stats(struct gateway *g, char *out, size_t outlen);
/* The producers replaced after a fatal error so far. */
long	gateway_restarts(struct gateway *g);
/* For tests: the current producer fails as after a fatal idempotence
 * error. */
void	gateway_test_fatal(struct gateway *g);

#endif
