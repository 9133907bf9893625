/* test_gateway_kafka.c — kaudit gateway's producer on a real broker: after
 * a fatal idempotence error (made with librdkafka's test hook: a broker
 * does not give one at will) the gateway answers no 200 it cannot keep,
 * replaces its producer, and the next POST is acknowledged again. Needs
 * KAUDIT_KAFKA_BROKERS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "app/config.h"
#include "app/gateway.h"
#include "base/clock.h"
#include "base/xmalloc.h"
#include "tests/unit/t.h"

#define TOKEN	"unit-test-token-0123456789"
#define BODY	"{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"items\":[" \
	"{\"auditID\":\"f-1\",\"verb\":\"get\"},{\"auditID\":\"f-2\",\"verb\":\"list\"}]}"

static size_t
discard(void *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* POSTs BODY with the token; the HTTP status, or 0. */
static long
post(unsigned port)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
	char url[64];
	long code = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/audit", port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, BODY);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return code;
}

static struct config c;

static void
test_fatal_error_replaces_producer(void)
{
	struct gateway *g;
	char err[1024];
	long code, end;

	if ((g = gateway_start(&c, err, sizeof(err))) == NULL) {
		printf("  gateway_start: %s\n", err);
		T_ASSERT(0);
		return;
	}
	T_INTEQ(post(gateway_port(g)), 200);
	gateway_test_fatal(g);
	/* a POST now may meet the failed producer (503) or the new one (200);
	 * never a 200 from the failed one */
	code = post(gateway_port(g));
	T_ASSERT(code == 503 || code == 200);
	for (end = clock_ms() + 10000; gateway_restarts(g) < 1 && clock_ms() < end; )
		usleep(20 * 1000);
	T_INTEQ(gateway_restarts(g), 1);
	T_INTEQ(post(gateway_port(g)), 200);
	T_INTEQ(post(gateway_port(g)), 200);
	gateway_stop(g);
}

int
main(void)
{
	const char *brokers = getenv("KAUDIT_KAFKA_BROKERS");
	char topic[64];

	if (brokers == NULL || *brokers == '\0') {
		printf("FAIL test_gateway_kafka: KAUDIT_KAFKA_BROKERS is not set (tests/run.sh "
		    "starts the services)\n");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	config_defaults(&c);
	free(c.brokers);
	c.brokers = xstrdup(brokers);
	snprintf(topic, sizeof(topic), "unit-gateway-%d", (int)getpid());
	free(c.gw_topic);
	c.gw_topic = xstrdup(topic);
	free(c.gw_listen);
	c.gw_listen = xstrdup("127.0.0.1:0");
	free(c.gw_metrics_listen);
	c.gw_metrics_listen = xstrdup("");
	c.gw_timeout_ms = 5000;
	c.gw_tokens.v = xmalloc(sizeof(*c.gw_tokens.v));
	c.gw_tokens.v[c.gw_tokens.n++] = xstrdup(TOKEN);
	T_RUN(test_fatal_error_replaces_producer);
	config_free(&c);
	curl_global_cleanup();
	return t_done();
}
