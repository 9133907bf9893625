/* gateway.c — `kaudit gateway`: the API server's audit webhook, answered
 * 200 only once Kafka holds every event of the POST.
 *
 * DESIGN: libmicrohttpd's threads read a POST (base/httpd.h). The
 * first call of a request checks its path, method and credentials (a
 * bearer token, or a client certificate verified against client_ca) and
 * its Content-Length; the body is then gathered up to max_body_bytes and
 * checked (ingest/eventlist.h). Each event is queued on the idempotent
 * producer, keyed by its auditID, counted on the request's batch; the
 * connection is then suspended and the request joins the pending list.
 *
 * One pump thread serves the producer's delivery reports and walks the
 * pending list: a request whose batch is all acknowledged is answered 200,
 * one with a failed message or past timeout_ms 503, and its connection is
 * resumed to send that answer. A batch whose request was answered 503 may
 * still have messages in librdkafka: it moves to the draining list and is
 * freed once every report is in (or its producer is gone), so a late
 * delivery report never touches freed memory. The API server sends a
 * batch answered 503 again: an event may reach the topic twice, never
 * zero times; `kaudit run` stores each finding once.
 *
 * A fatal producer error (the broker could not keep the idempotence
 * guarantees) ends that producer: the pump purges it, makes a new one
 * (under the write side of plock, while no request is producing), and
 * answers 503 to what waited on the old one. */
#include "app/gateway.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/httpd.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/termesc.h"
#include "base/xmalloc.h"
#include "ingest/eventlist.h"
#include "ingest/producer.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define WEBHOOK_PATH	"/audit"
#define BODY_LOG_BYTES	200	/* of a refused body, kept in the log */
#define STOP_GRACE_MS	2000	/* past timeout_ms, for answers to be sent */
#define TOKEN_HASH	32	/* SHA-256 */
#define RETRY_AFTER_S	"1"	/* seconds, in a 503 */

/* A POST's messages: the producer counts them (pb); gen says which
 * producer they went to. */
struct gw_batch {
	struct producer_batch	 pb;
	unsigned		 gen;	/* a past one: its producer is gone */
	struct gw_batch		*next;	/* draining list */
};

enum gw_state { GW_READING, GW_WAITING, GW_ANSWER };

struct gw_req {
	enum gw_state		 state;
	struct MHD_Connection	*conn;
	struct buf		 body;
	size_t			 seen;		/* body bytes read */
	int			 oversize;
	int			 sent;		/* the answer is queued */
	unsigned		 status;
	struct buf		 answer;	/* the response body, JSON */
	struct gw_batch		*batch;
	long			 nev;
	long			 t0, deadline;	/* ms */
	struct gw_req		*next;		/* pending list */
};

struct gw_metrics {
	struct metrics	*reg;
	struct metric	*requests, *events, *errors, *latency, *restarts, *inflight;
};

struct gateway {
	/* from the configuration */
	size_t			 max_body;
	int			 timeout_ms;
	unsigned char		(*tokens)[TOKEN_HASH];
	size_t			 ntokens;
	int			 need_cert;	/* client_ca set */
	char			*topic, *brokers, *cluster;
	const struct kvlist	*props;

	struct httpd		*web, *mon;
	pthread_rwlock_t	 plock;		/* the producer pointer */
	struct producer		*prod;
	atomic_uint		 gen;		/* producers replaced so far */
	/* mu guards pending; dmu guards draining and active. They are never
	 * held together: libmicrohttpd's own lock is taken under mu (a
	 * suspension) and may be held while it calls gw_done (under dmu). */
	pthread_mutex_t		 mu, dmu;
	struct gw_req		*pending;
	struct gw_batch		*draining;
	int			 active;	/* requests between first call and done */
	pthread_t		 pump;
	atomic_int		 stopping;
	long			 retry_at;	/* ms: next try at a new producer */
	struct gw_metrics	 m;
};

static void
token_hash(const char *s, size_t n, unsigned char out[TOKEN_HASH])
{
	unsigned int len = TOKEN_HASH;

	EVP_Digest(s, n, out, &len, EVP_sha256(), NULL);
}

/* Compares the presented token with every configured one, each in
 * constant time over hashes of the same length, without stopping at a
 * match: the time says nothing of which token or how much of it matched. */
static int
token_ok(const struct gateway *g, const char *tok, size_t n)
{
	unsigned char h[TOKEN_HASH];
	int ok = 0;

	token_hash(tok, n, h);
	for (size_t i = 0; i < g->ntokens; i++)
		ok |= CRYPTO_memcmp(h, g->tokens[i], TOKEN_HASH) == 0;
	return ok;
}

static void
peer_addr(struct MHD_Connection *c, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	socklen_t sl = sizeof(struct sockaddr_in6);

	snprintf(out, outlen, "?");
	if (ci && ci->client_addr) {
		if (ci->client_addr->sa_family == AF_INET)
			sl = sizeof(struct sockaddr_in);
		getnameinfo(ci->client_addr, sl, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
	}
}

/* 0 when the request may go on; otherwise the reason it may not (a
 * presented certificate that does not verify is refused even with a good
 * token: a wrong certificate is never overlooked). */
static const char *
gw_auth(struct gateway *g, struct MHD_Connection *c, char *why, size_t whylen)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	char who[256], err[256];
	int v = 0;

	if (g->need_cert && (v = httpd_peer_verify(g->web, c, who, sizeof(who), err,
	    sizeof(err))) < 0) {
		snprintf(why, whylen, "client certificate %.200s: %.200s", who, err);
		return "bad_certificate";
	}
	if (v == 1)
		return NULL;
	if (h && g->ntokens && strncasecmp(h, "Bearer ", 7) == 0 &&
	    token_ok(g, h + 7, strlen(h + 7)))
		return NULL;
	snprintf(why, whylen, "%s", h ? "the bearer token is not one of gateway.tokens" :
	    "no client certificate and no bearer token");
	return h ? "bad_token" : "no_credentials";
}

/* Sets r's answer: status and a JSON body {"error": why} or, for 200,
 * {"events": N}. Counts it. */
static void
gw_answer(struct gateway *g, struct gw_req *r, unsigned status, const char *reason,
    const char *why)
{
	char code[8];

	r->state = GW_ANSWER;
	r->status = status;
	buf_reset(&r->answer);
	if (status == MHD_HTTP_OK) {
		buf_printf(&r->answer, "{\"events\":%ld}\n", r->nev);
	} else {
		buf_puts(&r->answer, "{\"error\":");
		buf_json_str(&r->answer, why, strlen(why));
		buf_puts(&r->answer, "}\n");
	}
	snprintf(code, sizeof(code), "%u", status);
	metric_add(g->m.requests, code, 1);
	if (reason)
		metric_add(g->m.errors, reason, 1);
}

/* A 503 carries Retry-After: the API server's webhook client retries a
 * 500, 504, 429 or a reset connection by itself, and any other answer
 * only when Retry-After asks it to (k8s.io/apiserver util/webhook); a 503
 * without it would drop the batch. */
static enum MHD_Result
gw_send(struct gw_req *r)
{
	static const char *const retry[] = { MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_S, NULL };

	r->sent = 1;
	return httpd_respond_hdrs(r->conn, r->status, "application/json", r->answer.data,
	    r->answer.len, r->status == MHD_HTTP_SERVICE_UNAVAILABLE ? retry : NULL);
}

/* Path, method and credentials: an answer in r when they do not do. */
static void
gw_admit(struct gateway *g, struct gw_req *r, const char *url, const char *method)
{
	const char *reason;
	char why[512], addr[64];

	if (strcmp(url, WEBHOOK_PATH) != 0) {
		gw_answer(g, r, MHD_HTTP_NOT_FOUND, "not_found", "the webhook is POST " WEBHOOK_PATH);
		return;
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		gw_answer(g, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "only POST");
		return;
	}
	if ((reason = gw_auth(g, r->conn, why, sizeof(why))) != NULL) {
		peer_addr(r->conn, addr, sizeof(addr));
		log_once("gateway.unauthorized", "gateway: 401 to %s: %s (further refusals are "
		    "counted in kaudit_gateway_errors_total)", addr, why);
		log_debug("gateway: 401 to %s: %s", addr, why);
		gw_answer(g, r, MHD_HTTP_UNAUTHORIZED, reason, "unauthorized");
	}
}

static void
gw_log_refused(struct gw_req *r, const char *why)
{
	struct buf b;
	char addr[64];

	buf_init(&b);
	termesc_append(&b, r->body.data ? r->body.data : "", r->body.len, BODY_LOG_BYTES);
	peer_addr(r->conn, addr, sizeof(addr));
	log_warn("gateway: 400 to %s: %s; %zu bytes, the first: %s", addr, why, r->body.len,
	    buf_cstr(&b));
	buf_free(&b);
}

/* Queues every event of l on the producer. 0, or the status to answer. */
static unsigned
gw_queue(struct gateway *g, struct gw_req *r, const struct eventlist *l, char *why,
    size_t whylen)
{
	unsigned status = 0;

	pthread_rwlock_rdlock(&g->plock);
	r->batch->gen = atomic_load(&g->gen);
	for (size_t i = 0; i < l->n && status == 0; i++) {
		int rc = producer_send(g->prod, &r->batch->pb, eventlist_id(l, i),
		    l->item[i].id_len, l->item[i].text, l->item[i].len, why, whylen);
		if (rc == -2)
			status = MHD_HTTP_CONTENT_TOO_LARGE;
		else if (rc < 0)
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	pthread_rwlock_unlock(&g->plock);
	return status;
}

/* The body is in: check it, produce its events, wait (suspended) for
 * Kafka. */
static void
gw_produce(struct gateway *g, struct gw_req *r)
{
	struct eventlist l;
	char why[256];
	unsigned status;

	eventlist_init(&l);
	if ((r->nev = eventlist_parse(&l, r->body.data ? r->body.data : "", r->body.len, why,
	    sizeof(why))) < 0) {
		gw_log_refused(r, why);
		gw_answer(g, r, MHD_HTTP_BAD_REQUEST, "bad_body", why);
		goto out;
	}
	r->batch = xcalloc(1, sizeof(*r->batch));
	r->t0 = clock_ms();
	r->deadline = r->t0 + g->timeout_ms;
	if ((status = gw_queue(g, r, &l, why, sizeof(why))) != 0) {
		log_warn("gateway: %u: %s", status, why);
		gw_answer(g, r, status, status == MHD_HTTP_CONTENT_TOO_LARGE ? "event_too_large" :
		    "kafka_error", why);
		goto out;
	}
	pthread_mutex_lock(&g->mu);
	r->state = GW_WAITING;
	r->next = g->pending;
	g->pending = r;
	/* under mu: the pump, which finds r under mu, resumes it only after */
	MHD_suspend_connection(r->conn);
	pthread_mutex_unlock(&g->mu);
out:
	eventlist_free(&l);
}

/* Keeps the body while it fits max_body_bytes; once it does not, or once
 * the request is refused, the rest is read and dropped, so that the answer
 * reaches a client that has finished sending (an answer in the middle of
 * an upload reaches it as a reset connection). Returns 1 when so much was
 * dropped (max_body_bytes past the limit) that the answer goes now and the
 * connection closes after it. */
static int
gw_body(struct gateway *g, struct gw_req *r, const char *data, size_t *size)
{
	r->seen += *size;
	if (r->state == GW_READING && !r->oversize && r->seen > g->max_body) {
		r->oversize = 1;
		buf_free(&r->body);
	}
	if (r->state == GW_READING && !r->oversize)
		buf_append(&r->body, data, *size);
	*size = 0;
	return r->seen > 2 * g->max_body;
}

static void
gw_too_large(struct gateway *g, struct gw_req *r)
{
	gw_answer(g, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
	    "the body is larger than gateway.max_body_bytes");
}

/* The first call of a request, its headers read. A request refused here
 * is answered once its body is read, unless it announced one larger than
 * max_body_bytes: that is answered now (a client that sent Expect:
 * 100-continue then sends nothing). */
static enum MHD_Result
gw_first(struct gateway *g, struct gw_req *r, const char *url, const char *method)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;

	pthread_mutex_lock(&g->dmu);
	g->active++;
	pthread_mutex_unlock(&g->dmu);
	if (strcmp(url, "/healthz") == 0 && strcmp(method, MHD_HTTP_METHOD_GET) == 0) {
		r->sent = 1;
		return httpd_respond(r->conn, MHD_HTTP_OK, "text/plain", "ok\n", 3);
	}
	gw_admit(g, r, url, method);
	if (cl && sscanf(cl, "%llu", &n) == 1 && n > g->max_body) {
		if (r->state == GW_READING)
			gw_too_large(g, r);
		return gw_send(r);
	}
	return MHD_YES;
}

static enum MHD_Result
gw_handle(void *arg, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *data, size_t *size, void **con_cls)
{
	struct gateway *g = arg;
	struct gw_req *r = *con_cls;

	(void)version;
	if (r == NULL) {
		r = *con_cls = xcalloc(1, sizeof(*r));
		r->conn = c;
		buf_init(&r->body);
		buf_init(&r->answer);
		return gw_first(g, r, url, method);
	}
	if (r->sent) {
		*size = 0;
		return MHD_YES;
	}
	if (*size > 0) {
		if (!gw_body(g, r, data, size))
			return MHD_YES;
		if (r->state == GW_READING)
			gw_too_large(g, r);
		return gw_send(r);
	}
	if (r->state == GW_READING && r->oversize)
		gw_too_large(g, r);
	else if (r->state == GW_READING)
		gw_produce(g, r);
	if (r->state == GW_ANSWER)
		return gw_send(r);
	return MHD_YES;		/* suspended until Kafka answers */
}

/* A request's end: its batch, when Kafka may still report on it, drains. */
static void
gw_done(void *arg, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gateway *g = arg;
	struct gw_req *r = *con_cls;
	struct gw_batch *b;

	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	pthread_mutex_lock(&g->dmu);
	if ((b = r->batch) != NULL) {
		b->next = g->draining;
		g->draining = b;
	}
	g->active--;
	pthread_mutex_unlock(&g->dmu);
	buf_free(&r->body);
	buf_free(&r->answer);
	free(r);
	*con_cls = NULL;
}

/* 1 when r has its answer: all acknowledged (200), a failure or its
 * producer gone (its generation past), or past its deadline (503). */
static int
gw_settle(struct gateway *g, struct gw_req *r, long now)
{
	struct producer_batch *pb = &r->batch->pb;
	long queued = atomic_load(&pb->queued), acked = atomic_load(&pb->acked);
	long failed = atomic_load(&pb->failed);

	if (acked == queued) {
		metric_observe(g->m.latency, (double)(now - r->t0) / 1000.0);
		metric_add(g->m.events, NULL, (double)acked);
		gw_answer(g, r, MHD_HTTP_OK, NULL, NULL);
	} else if (failed > 0 || r->batch->gen != atomic_load(&g->gen)) {
		gw_answer(g, r, MHD_HTTP_SERVICE_UNAVAILABLE, "kafka_error",
		    "Kafka did not take every event; send the batch again");
	} else if (now >= r->deadline) {
		gw_answer(g, r, MHD_HTTP_SERVICE_UNAVAILABLE, "kafka_timeout",
		    "Kafka did not acknowledge every event within gateway.timeout_ms; "
		    "send the batch again");
	} else {
		return 0;
	}
	if (r->status != MHD_HTTP_OK)
		log_once("gateway.503", "gateway: 503: Kafka acknowledged %ld of %ld events "
		    "(%ld failed) (further ones are counted in kaudit_gateway_errors_total)",
		    acked, queued, failed);
	return 1;
}

/* Answers the pending requests that are settled, and frees the draining
 * batches Kafka is done with. */
static void
gw_sweep(struct gateway *g)
{
	struct gw_req *ready = NULL, **rp, *r;
	struct gw_batch **bp, *b;
	long now = clock_ms();
	int n = 0;

	pthread_mutex_lock(&g->mu);
	for (rp = &g->pending; (r = *rp) != NULL; ) {
		if (gw_settle(g, r, now)) {
			*rp = r->next;
			r->next = ready;
			ready = r;
		} else {
			rp = &r->next;
			n++;
		}
	}
	pthread_mutex_unlock(&g->mu);
	metric_set(g->m.inflight, n);
	/* r is freed by gw_done once its answer is sent: next is read first */
	for (; ready; ready = r) {
		r = ready->next;
		MHD_resume_connection(ready->conn);
	}
	pthread_mutex_lock(&g->dmu);
	for (bp = &g->draining; (b = *bp) != NULL; ) {
		if (b->gen != atomic_load(&g->gen) ||
		    atomic_load(&b->pb.acked) + atomic_load(&b->pb.failed) >=
		    atomic_load(&b->pb.queued)) {
			*bp = b->next;
			free(b);
		} else {
			bp = &b->next;
		}
	}
	pthread_mutex_unlock(&g->dmu);
}

static struct producer *
gw_producer_new(const struct gateway *g, char *err, size_t errlen)
{
	struct producer_opts po = { .brokers = g->brokers, .props = g->props,
	    .topic = g->topic, .client_id = "kaudit-gateway",
	    .header_key = *g->cluster ? "kaudit-cluster" : NULL, .header_value = g->cluster };

	return producer_new(&po, err, errlen);
}

/* After a fatal error: the old producer's messages fail, it is freed, and
 * with the generation moved on, the requests and batches that counted on
 * it are let go (answered 503, freed) by the next sweep. */
static void
gw_replace_producer(struct gateway *g, const char *why)
{
	struct producer *np;
	char err[512];

	log_error("gateway: kafka producer: fatal error: %s; making a new producer", why);
	pthread_rwlock_wrlock(&g->plock);
	producer_purge(g->prod);
	if ((np = gw_producer_new(g, err, sizeof(err))) == NULL) {
		pthread_rwlock_unlock(&g->plock);
		log_error("gateway: a new kafka producer: %s (trying again)", err);
		return;
	}
	producer_free(g->prod);
	g->prod = np;
	atomic_fetch_add(&g->gen, 1);
	pthread_rwlock_unlock(&g->plock);
	metric_add(g->m.restarts, NULL, 1);
}

static int
gw_waiting(struct gateway *g)
{
	int any;

	pthread_mutex_lock(&g->mu);
	any = g->pending != NULL;
	pthread_mutex_unlock(&g->mu);
	return any;
}

/* Until stopped and nothing waits: every request has a deadline, so a
 * stop takes at most timeout_ms. */
static void *
gw_pump(void *arg)
{
	struct gateway *g = arg;
	char why[512];
	int fatal;

	while (!atomic_load(&g->stopping) || gw_waiting(g)) {
		pthread_rwlock_rdlock(&g->plock);
		producer_poll(g->prod, 10);
		fatal = producer_fatal(g->prod, why, sizeof(why));
		pthread_rwlock_unlock(&g->plock);
		if (fatal && clock_ms() >= g->retry_at) {
			g->retry_at = clock_ms() + 1000;
			gw_replace_producer(g, why);
		}
		gw_sweep(g);
	}
	return NULL;
}

static void
gw_metrics_init(struct gw_metrics *m)
{
	static const double secs[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	    0.5, 1, 2.5, 5, 10, 30 };

	m->reg = metrics_new();
	m->requests = metrics_counter(m->reg, "kaudit_gateway_requests_total",
	    "Webhook requests answered, by HTTP status.", "code");
	m->events = metrics_counter(m->reg, "kaudit_gateway_events_produced_total",
	    "Events Kafka acknowledged for a request answered 200.", NULL);
	m->errors = metrics_counter(m->reg, "kaudit_gateway_errors_total",
	    "Requests not answered 200, by reason.", "reason");
	m->latency = metrics_histogram(m->reg, "kaudit_gateway_produce_seconds",
	    "From the first event of a request queued to the last acknowledged by Kafka.",
	    secs, sizeof(secs) / sizeof(secs[0]));
	m->restarts = metrics_counter(m->reg, "kaudit_gateway_producer_restarts_total",
	    "Producers replaced after a fatal (idempotence) error.", NULL);
	m->inflight = metrics_gauge(m->reg, "kaudit_gateway_requests_waiting",
	    "Requests waiting for Kafka's acknowledgements.");
}

/* The metrics listener: GET /metrics and /healthz, nothing else. */
static enum MHD_Result
gw_monitor(void *arg, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *data, size_t *size, void **con_cls)
{
	struct gateway *g = arg;
	struct buf b;
	enum MHD_Result ret;

	(void)version;
	(void)data;
	(void)con_cls;
	if (*size > 0 || strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return httpd_respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
	if (strcmp(url, "/healthz") == 0)
		return httpd_respond(c, MHD_HTTP_OK, "text/plain", "ok\n", 3);
	if (strcmp(url, "/metrics") != 0)
		return httpd_respond(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10);
	buf_init(&b);
	metrics_expose(g->m.reg, &b);
	ret = httpd_respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf_cstr(&b), b.len);
	buf_free(&b);
	return ret;
}

/* A loopback address: where a token may travel without TLS. */
static int
loopback(const char *listen)
{
	return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0 ||
	    strncmp(listen, "localhost:", 10) == 0;
}

int
gateway_check(const struct config *c, struct buf *errs)
{
	size_t n = errs->len;

	if (c->gw_tokens.n == 0 && *c->gw_client_ca == '\0')
		buf_printf(errs, "%s: gateway: neither tokens nor client_ca: the gateway takes "
		    "no request without credentials\n", c->path);
	if (*c->gw_client_ca && *c->gw_tls_cert == '\0')
		buf_printf(errs, "%s: gateway: client_ca needs tls_cert and tls_key\n", c->path);
	if ((*c->gw_tls_cert == '\0') != (*c->gw_tls_key == '\0'))
		buf_printf(errs, "%s: gateway: tls_cert and tls_key go together\n", c->path);
	if (*c->gw_tls_cert == '\0' && !loopback(c->gw_listen))
		buf_printf(errs, "%s: gateway: listen %s without tls_cert: plain HTTP is only "
		    "served on a loopback address\n", c->path, c->gw_listen);
	for (size_t i = 0; i < c->gw_tokens.n; i++)
		if (strlen(c->gw_tokens.v[i]) < 16)
			buf_printf(errs, "%s: gateway: tokens[%zu]: shorter than 16 characters\n",
			    c->path, i);
	return errs->len > n ? -1 : 0;
}

static void
gw_config(struct gateway *g, const struct config *c)
{
	g->max_body = c->gw_max_body;
	g->timeout_ms = c->gw_timeout_ms;
	g->ntokens = c->gw_tokens.n;
	g->tokens = xcalloc(g->ntokens + 1, sizeof(*g->tokens));
	for (size_t i = 0; i < g->ntokens; i++)
		token_hash(c->gw_tokens.v[i], strlen(c->gw_tokens.v[i]), g->tokens[i]);
	g->need_cert = *c->gw_client_ca != '\0';
	g->topic = xstrdup(*c->gw_topic ? c->gw_topic : c->topics.v[0]);
	g->brokers = xstrdup(c->brokers);
	g->cluster = xstrdup(c->gw_cluster);
	g->props = &c->kafka_props;
}

static int
gw_listen(struct gateway *g, const struct config *c, char *err, size_t errlen)
{
	struct httpd_opts wo = { .listen = c->gw_listen, .cert_file = c->gw_tls_cert,
	    .key_file = c->gw_tls_key, .ca_file = c->gw_client_ca, .threads = 2,
	    .max_conns = (unsigned)c->gw_max_conns, .handler = gw_handle, .done = gw_done,
	    .arg = g };
	struct httpd_opts mo = { .listen = c->gw_metrics_listen, .threads = 1,
	    .max_conns = 16, .handler = gw_monitor, .arg = g };
	char why[512];

	if ((g->web = httpd_start(&wo, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "gateway: %s", why);
		return -1;
	}
	if (*c->gw_metrics_listen && (g->mon = httpd_start(&mo, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "gateway: metrics_listen: %s", why);
		return -1;
	}
	return 0;
}

struct gateway *
gateway_start(const struct config *c, char *err, size_t errlen)
{
	struct gateway *g = xcalloc(1, sizeof(*g));
	struct buf errs;
	char why[512];

	buf_init(&errs);
	pthread_rwlock_init(&g->plock, NULL);
	pthread_mutex_init(&g->mu, NULL);
	pthread_mutex_init(&g->dmu, NULL);
	gw_metrics_init(&g->m);
	if (gateway_check(c, &errs) < 0) {
		snprintf(err, errlen, "%s", buf_cstr(&errs));
		goto fail;
	}
	gw_config(g, c);
	if ((g->prod = gw_producer_new(g, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "gateway: kafka producer: %s", why);
		goto fail;
	}
	if (pthread_create(&g->pump, NULL, gw_pump, g) != 0) {
		snprintf(err, errlen, "gateway: cannot start a thread");
		goto fail;
	}
	if (gw_listen(g, c, err, errlen) < 0) {
		gateway_stop(g);
		g = NULL;
	}
	buf_free(&errs);
	return g;
fail:
	buf_free(&errs);
	g->pump = 0;
	gateway_stop(g);
	return NULL;
}

unsigned
gateway_port(const struct gateway *g)
{
	return httpd_port(g->web);
}

unsigned
gateway_metrics_port(const struct gateway *g)
{
	return g->mon ? httpd_port(g->mon) : 0;
}

/* Waits, bounded, for the requests in flight to be answered and sent. */
static void
gw_drain(struct gateway *g)
{
	long end = clock_ms() + g->timeout_ms + STOP_GRACE_MS;
	int active = 1;

	while (active && clock_ms() < end) {
		pthread_mutex_lock(&g->dmu);
		active = g->active;
		pthread_mutex_unlock(&g->dmu);
		if (active)
			usleep(20 * 1000);
	}
	if (active)
		log_warn("gateway: %d requests still open after %d ms; closing them", active,
		    g->timeout_ms + STOP_GRACE_MS);
}

void
gateway_stop(struct gateway *g)
{
	struct gw_batch *b;
	char line[512];

	if (g == NULL)
		return;
	if (g->web)
		httpd_quiesce(g->web);
	if (g->pump)
		gw_drain(g);
	atomic_store(&g->stopping, 1);
	if (g->pump) {
		pthread_join(g->pump, NULL);
		gateway_stats(g, line, sizeof(line));
		log_info("gateway: stopped; %s", line);
	}
	httpd_stop(g->web);
	httpd_stop(g->mon);
	producer_free(g->prod);		/* flushes what a 503 left queued */
	while ((b = g->draining) != NULL) {
		g->draining = b->next;
		free(b);
	}
	metrics_free(g->m.reg);
	pthread_rwlock_destroy(&g->plock);
	pthread_mutex_destroy(&g->mu);
	pthread_mutex_destroy(&g->dmu);
	free(g->tokens);
	free(g->topic);
	free(g->brokers);
	free(g->cluster);
	free(g);
}

void
gateway_stats(struct gateway *g, char *out, size_t outlen)
{
	snprintf(out, outlen, "requests 200 %.0f 400 %.0f 401 %.0f 413 %.0f 503 %.0f "
	    "events %.0f producer-restarts %.0f",
	    metric_value(g->m.requests, "200"), metric_value(g->m.requests, "400"),
	    metric_value(g->m.requests, "401"), metric_value(g->m.requests, "413"),
	    metric_value(g->m.requests, "503"), metric_value(g->m.events, NULL),
	    metric_value(g->m.restarts, NULL));
}

long
gateway_restarts(struct gateway *g)
{
	return (long)metric_value(g->m.restarts, NULL);
}

void
gateway_test_fatal(struct gateway *g)
{
	pthread_rwlock_rdlock(&g->plock);
	producer_test_fatal(g->prod);
	pthread_rwlock_unlock(&g->plock);
}
