/* test_gateway.c — what the gateway takes from a webhook POST (the body
 * check and its cut into events) and what it tells Prometheus (the
 * metrics registry's text exposition). */
#include "base/metrics.h"
#include "ingest/eventlist.h"
#include "tests/unit/t.h"

#include <pthread.h>

#define EV(id) "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"auditID\":\"" id \
	"\",\"stage\":\"ResponseComplete\",\"verb\":\"get\"}"
#define LIST(items) "{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\"," \
	"\"metadata\":{},\"items\":[" items "]}"

static struct eventlist l;
static char err[256];

static long
parse(const char *s)
{
	err[0] = '\0';
	return eventlist_parse(&l, s, strlen(s), err, sizeof(err));
}

static void
test_eventlist(void)
{
	T_INTEQ(parse(LIST(EV("a1") "," EV("b2") "," EV("c3"))), 3);
	T_STREQ(eventlist_id(&l, 0), "a1");
	T_STREQ(eventlist_id(&l, 2), "c3");
	/* each item is the bytes it had in the body, not re-encoded */
	T_INTEQ(l.item[1].len, strlen(EV("b2")));
	T_ASSERT(memcmp(l.item[1].text, EV("b2"), l.item[1].len) == 0);
	T_INTEQ(parse(LIST("")), 0);
	T_INTEQ(parse("{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"items\":null}"), 0);
	/* one Event, and one without kind (a shipper's) */
	T_INTEQ(parse(EV("solo")), 1);
	T_STREQ(eventlist_id(&l, 0), "solo");
	T_INTEQ(parse("{\"auditID\":\"x\",\"verb\":\"list\"}"), 1);
	/* an escaped auditID is the key as it decodes */
	T_INTEQ(parse("{\"auditID\":\"a\\u0062c\",\"verb\":\"list\"}"), 1);
	T_STREQ(eventlist_id(&l, 0), "abc");
	/* the older v1beta1 */
	T_INTEQ(parse("{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1beta1\",\"items\":["
	    "{\"auditID\":\"o\",\"verb\":\"get\"}]}"), 1);
}

static void
test_eventlist_refused(void)
{
	T_INTEQ(parse(""), -1);
	T_ASSERT(strstr(err, "not JSON") != NULL);
	T_INTEQ(parse("{\"kind\":\"EventList\""), -1);
	T_INTEQ(parse("[" EV("a") "]"), -1);
	T_INTEQ(parse(LIST(EV("a")) "x"), -1);
	T_INTEQ(parse("{\"kind\":\"PodList\",\"items\":[]}"), -1);
	T_STREQ(err, "kind is neither EventList nor Event");
	T_INTEQ(parse("{\"kind\":\"EventList\",\"items\":[]}"), -1);	/* no apiVersion */
	T_INTEQ(parse("{\"kind\":\"EventList\",\"apiVersion\":\"v1\",\"items\":[]}"), -1);
	T_INTEQ(parse("{\"kind\":\"EventList\",\"apiVersion\":\"audit.k8s.io/v1\",\"items\":{}}"), -1);
	T_STREQ(err, "items: not a list");
	T_INTEQ(parse(LIST(EV("a") ",{\"verb\":\"get\"}")), -1);
	T_ASSERT(strstr(err, "items[1]: no auditID") != NULL);
	T_INTEQ(parse(LIST(EV("a") ",{\"auditID\":\"\",\"verb\":\"get\"}")), -1);
	T_INTEQ(parse(LIST("{\"auditID\":7,\"verb\":\"get\"}")), -1);
	T_INTEQ(parse(LIST("{\"auditID\":\"a\"}")), -1);
	T_STREQ(err, "items[0]: no verb");
	T_INTEQ(parse(LIST("{\"kind\":\"Pod\",\"auditID\":\"a\",\"verb\":\"get\"}")), -1);
	T_INTEQ(parse(LIST("\"text\"")), -1);
	T_STREQ(err, "items[0]: not an object");
	T_INTEQ(parse("{\"auditID\":\"a\",\"verb\":\"get\",\"apiVersion\":\"other/v1\"}"), -1);
	T_INTEQ(parse("42"), -1);
}

static void
test_eventlist_long_id(void)
{
	char body[1024], id[EVENTLIST_MAX_ID + 2];

	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"auditID\":\"%s\",\"verb\":\"get\"}", id);
	T_INTEQ(parse(body), -1);
	id[EVENTLIST_MAX_ID] = '\0';
	snprintf(body, sizeof(body), "{\"auditID\":\"%s\",\"verb\":\"get\"}", id);
	T_INTEQ(parse(body), 1);
}

static void
test_metrics_exposition(void)
{
	static const double b[] = { 0.01, 0.1, 1 };
	struct metrics *m = metrics_new();
	struct metric *req = metrics_counter(m, "x_requests_total", "Requests, by code.", "code");
	struct metric *ev = metrics_counter(m, "x_events_total", "Events\\n and \"more\"\nnext", NULL);
	struct metric *g = metrics_gauge(m, "x_waiting", "Waiting.");
	struct metric *h = metrics_histogram(m, "x_seconds", "Latency.", b, 3);
	struct buf out;

	metric_add(req, "200", 1);
	metric_add(req, "503", 2);
	metric_add(req, "200", 1);
	metric_add(ev, NULL, 300);
	metric_set(g, 2.5);
	metric_observe(h, 0.005);
	metric_observe(h, 0.01);	/* le is inclusive */
	metric_observe(h, 0.5);
	metric_observe(h, 7);
	buf_init(&out);
	metrics_expose(m, &out);
	T_STREQ(buf_cstr(&out),
	    "# HELP x_requests_total Requests, by code.\n"
	    "# TYPE x_requests_total counter\n"
	    "x_requests_total{code=\"200\"} 2\n"
	    "x_requests_total{code=\"503\"} 2\n"
	    "# HELP x_events_total Events\\\\n and \"more\"\\nnext\n"
	    "# TYPE x_events_total counter\n"
	    "x_events_total 300\n"
	    "# HELP x_waiting Waiting.\n"
	    "# TYPE x_waiting gauge\n"
	    "x_waiting 2.5\n"
	    "# HELP x_seconds Latency.\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{le=\"0.01\"} 2\n"
	    "x_seconds_bucket{le=\"0.1\"} 2\n"
	    "x_seconds_bucket{le=\"1\"} 3\n"
	    "x_seconds_bucket{le=\"+Inf\"} 4\n"
	    "x_seconds_sum 7.515\n"
	    "x_seconds_count 4\n");
	T_INTEQ(metric_value(req, "200"), 2);
	T_INTEQ(metric_value(h, NULL), 4);
	buf_free(&out);
	metrics_free(m);
}

/* A hostile label value is escaped; past METRICS_MAX_LABELS values the
 * rest count under "other". */
static void
test_metrics_labels(void)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "y_total", "Y.", "reason");
	struct buf out;
	char v[32];

	metric_add(c, "a\"b\\c\nd", 1);
	for (int i = 0; i < 200; i++) {
		snprintf(v, sizeof(v), "r%d", i);
		metric_add(c, v, 1);
	}
	buf_init(&out);
	metrics_expose(m, &out);
	T_ASSERT(strstr(buf_cstr(&out), "y_total{reason=\"a\\\"b\\\\c\\nd\"} 1\n") != NULL);
	T_ASSERT(strstr(buf_cstr(&out), "y_total{reason=\"r61\"} 1\n") != NULL);
	T_ASSERT(strstr(buf_cstr(&out), "r62") == NULL);
	T_INTEQ(metric_value(c, "other"), 200 - 62);
	buf_free(&out);
	metrics_free(m);
}

static struct metric *shared;

static void *
adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		metric_add(shared, i % 2 ? "odd" : "even", 1);
	return NULL;
}

static void
test_metrics_threads(void)
{
	struct metrics *m = metrics_new();
	pthread_t t[4];

	shared = metrics_counter(m, "z_total", "Z.", "k");
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, adder, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	T_INTEQ(metric_value(shared, "odd"), 200000);
	T_INTEQ(metric_value(shared, "even"), 200000);
	metrics_free(m);
}

int
main(void)
{
	eventlist_init(&l);
	T_RUN(test_eventlist);
	T_RUN(test_eventlist_refused);
	T_RUN(test_eventlist_long_id);
	T_RUN(test_metrics_exposition);
	T_RUN(test_metrics_labels);
	T_RUN(test_metrics_threads);
	eventlist_free(&l);
	return t_done();
}
