/* cmd_gateway.c — `kaudit gateway`: the API server's audit webhook in
 * front of Kafka (app/gateway.h). Reads the configuration, starts the
 * listeners, logs counts every 30 s, and on SIGTERM or SIGINT stops
 * accepting, answers what is in flight and exits 0. */
#include "app/cmd.h"
#include "app/config.h"
#include "app/gateway.h"
#include "base/clock.h"
#include "base/log.h"
#include "ingest/consumer.h"

#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STATS_EVERY_MS	30000

static atomic_int gateway_signal;
static atomic_int gateway_hups;

/* SIGHUP, which `kaudit run` takes as "reload", is counted and logged
 * here rather than left to kill the gateway: its settings are read only at
 * start, and a reload sent to every kaudit process must not stop the
 * intake of the API server's events. */
static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		atomic_fetch_add(&gateway_hups, 1);
	else
		atomic_store(&gateway_signal, sig);
}

static void
gateway_usage(FILE *out)
{
	fprintf(out,
	    "usage: kaudit gateway -c FILE\n"
	    "\n"
	    "Receives the Kubernetes API server's audit webhook (POST /audit, an\n"
	    "audit.k8s.io/v1 EventList or one Event) and produces each event to Kafka\n"
	    "(gateway.topic), keyed by auditID, for kaudit run to consume. A request is\n"
	    "let in with a client certificate that verifies against gateway.client_ca\n"
	    "or a bearer token of gateway.tokens. Answers:\n"
	    "  200  every event of the POST is acknowledged by Kafka\n"
	    "  400  the body is not an EventList or an Event (logged, counted)\n"
	    "  401  no valid credentials\n"
	    "  413  the body is larger than gateway.max_body_bytes\n"
	    "  503  Kafka did not acknowledge within gateway.timeout_ms: the API server\n"
	    "       sends the batch again (an event may reach Kafka twice, never zero times)\n"
	    "GET /healthz answers 200 on the webhook listener; /metrics (Prometheus) and\n"
	    "/healthz are served on gateway.metrics_listen. SIGTERM or SIGINT stop\n"
	    "accepting, answer the requests in flight and exit 0. SIGHUP is logged and\n"
	    "ignored: the config is read only at start. See docs/ingest.md.\n"
	    "\n"
	    "  -c, --config FILE      configuration (see kaudit check --example, gateway:)\n"
	    "\n"
	    "Exits 2 on a usage error, 1 when the configuration or a listener fails.\n");
}

static int
gateway_config(const char *path, struct config *c)
{
	struct buf errs;
	char err[512], warn[1024];
	int rc = -1;

	buf_init(&errs);
	config_defaults(c);
	if (config_load(c, path, &errs) != 0) {
		fputs(buf_cstr(&errs), stderr);
		goto out;
	}
	config_apply_logging(c);
	if (consumer_check_props(&c->kafka_props, err, sizeof(err), warn, sizeof(warn)) != 0) {
		log_redact(err, sizeof(err));	/* librdkafka quotes the value */
		fprintf(stderr, "%s:%d: %s\n", c->path, c->kafka_props_line, err);
		goto out;
	}
	rc = 0;
out:
	buf_free(&errs);
	return rc;
}

static void
gateway_serve(struct gateway *g)
{
	long next = clock_ms() + STATS_EVERY_MS;
	char line[512];

	int hups = 0, n;

	while (atomic_load(&gateway_signal) == 0) {
		usleep(100 * 1000);
		if ((n = atomic_load(&gateway_hups)) != hups) {
			log_warn("gateway: SIGHUP ignored: the gateway reads its config only at "
			    "start; restart it to apply a change");
			hups = n;
		}
		if (clock_ms() >= next) {
			gateway_stats(g, line, sizeof(line));
			log_info("gateway: %s", line);
			next = clock_ms() + STATS_EVERY_MS;
		}
	}
	log_info("gateway: signal %d: stopping", atomic_load(&gateway_signal));
}

int
cmd_gateway(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL;
	struct config c;
	struct gateway *g;
	char err[2048];
	int ch;

	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'h': gateway_usage(stdout); return 0;
		default:  gateway_usage(stderr); return 2;
		}
	}
	if (path == NULL || optind != argc) {
		gateway_usage(stderr);
		return 2;
	}
	cmd_signals(on_signal);
	if (gateway_config(path, &c) != 0) {
		config_free(&c);
		return 1;
	}
	if ((g = gateway_start(&c, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s%s", err, err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
		config_free(&c);
		return 1;
	}
	log_info("gateway: listening on %s (port %u), POST /audit; metrics port %u; "
	    "events to topic %s", c.gw_listen, gateway_port(g), gateway_metrics_port(g),
	    *c.gw_topic ? c.gw_topic : c.topics.v[0]);
	gateway_serve(g);
	gateway_stop(g);
	config_free(&c);
	return 0;
}
