/* webhook.c — HTTP delivery of findings with libcurl (see webhook.h), and
 * libcurl's process-wide init (alert.h). */
#include "alert/webhook.h"
#include "alert/delivery.h"
#include "base/clock.h"
#include "alert/alert.h"
#include "alert/sign.h"

#include <strings.h>
#include <sys/time.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "base/log.h"
#include "base/version.h"
#include "base/xmalloc.h"

struct webhook {
	CURL			*curl;
	char			 curl_err[CURL_ERROR_SIZE];
	char			 body[WEBHOOK_BODY_MAX + 1];	/* start of the response */
	size_t			 body_len;
	char			 retry_after[64];	/* the response's, "" none */
	struct curl_slist	*headers;	/* of the request in flight */
	long			 t0;		/* when it started */
	char			*sys_cainfo;	/* libcurl's defaults, restored for a */
	char			*sys_capath;	/* webhook without ca_file; NULL none */
	struct webhook_job	*job;		/* in a multi: NULL when free */
};

struct webhook_multi {
	CURLM		 *multi;
	struct webhook	**h;		/* the pool, max of them */
	int		  max;
	int		  inflight;
};

/* Keeps the Retry-After header of the final response (a line starting
 * with "HTTP/" begins a response). */
static size_t
webhook_header_line(char *p, size_t size, size_t n, void *arg)
{
	struct webhook *w = arg;
	size_t len = size * n, name = sizeof("Retry-After:") - 1, v;

	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		w->retry_after[0] = '\0';
	else if (len > name && strncasecmp(p, "Retry-After:", name) == 0) {
		v = len - name < sizeof(w->retry_after) - 1 ? len - name :
		    sizeof(w->retry_after) - 1;
		memcpy(w->retry_after, p + name, v);
		w->retry_after[v] = '\0';
	}
	return len;
}

int
alert_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
alert_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Keeps the first bytes of the response for the error text, drops the rest. */
static size_t
webhook_body(char *p, size_t size, size_t n, void *arg)
{
	struct webhook *w = arg;
	size_t len = size * n, room = WEBHOOK_BODY_MAX - w->body_len;
	size_t take = len < room ? len : room;

	memcpy(w->body + w->body_len, p, take);
	w->body_len += take;
	w->body[w->body_len] = '\0';
	return len;
}

/* Remembers the trusted CAs libcurl was built with: a handle serves every
 * webhook, and one without ca_file must get the system's back. */
static void
webhook_tls_defaults(struct webhook *w)
{
	char *v = NULL;

	if (curl_easy_getinfo(w->curl, CURLINFO_CAINFO, &v) == CURLE_OK && v != NULL)
		w->sys_cainfo = xstrdup(v);
	v = NULL;
	if (curl_easy_getinfo(w->curl, CURLINFO_CAPATH, &v) == CURLE_OK && v != NULL)
		w->sys_capath = xstrdup(v);
}

/* The webhook's TLS files: its ca_file alone instead of the system's CAs,
 * and its client certificate, or none. libcurl keeps a connection for
 * reuse only with the same settings, so a changed file (a reload) opens a
 * new one. */
static void
webhook_tls(struct webhook *w, const struct webhook_conf *wc)
{
	int own_ca = wc->ca_file != NULL && *wc->ca_file != '\0';
	int cert = wc->client_cert != NULL && *wc->client_cert != '\0';

	curl_easy_setopt(w->curl, CURLOPT_CAINFO, own_ca ? wc->ca_file : w->sys_cainfo);
	curl_easy_setopt(w->curl, CURLOPT_CAPATH, own_ca ? NULL : w->sys_capath);
	curl_easy_setopt(w->curl, CURLOPT_SSLCERT, cert ? wc->client_cert : NULL);
	curl_easy_setopt(w->curl, CURLOPT_SSLKEY, cert ? wc->client_key : NULL);
}

struct webhook *
webhook_new(void)
{
	struct webhook *w = xcalloc(1, sizeof(*w));

	if ((w->curl = curl_easy_init()) == NULL) {
		free(w);
		return NULL;
	}
	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "kaudit/" KAUDIT_VERSION);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, w->curl_err);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, webhook_body);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, webhook_header_line);
	curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w->curl, CURLOPT_PRIVATE, w);
	webhook_tls_defaults(w);
	return w;
}

void
webhook_free(struct webhook *w)
{
	if (w == NULL)
		return;
	curl_easy_cleanup(w->curl);
	free(w->sys_cainfo);
	free(w->sys_capath);
	free(w);
}

enum webhook_result
webhook_classify(int status)
{
	if (status >= 200 && status <= 299)
		return WEBHOOK_OK;
	if (status == 410)
		return WEBHOOK_GONE;
	if (status == 408 || status == 429 || status >= 500 || status < 100)
		return WEBHOOK_RETRY;
	return WEBHOOK_DROP;
}

/* A header line "Name: value", or NULL when it would break the request. */
static char *
webhook_header(const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
		log_once("alert.bad_header", "webhook header \"%s\" contains a "
		    "line break or colon: not sent", name);
		return NULL;
	}
	return xasprintf("%s: %s", name, value);
}

/* Standard Webhooks headers, signed now: a retry carries a fresh
 * timestamp (receivers refuse old ones) and the same webhook-id. */
static struct curl_slist *
webhook_sign(struct curl_slist *h, const struct webhook_conf *wc, int64_t delivery_id,
    const char *payload, size_t len)
{
	long long now = (long long)time(NULL);
	char id[32], *line;
	struct buf sig;

	snprintf(id, sizeof(id), "%lld", (long long)delivery_id);
	buf_init(&sig);
	if (sign_webhook(&wc->secrets, id, now, payload, len, &sig) == -1) {
		log_once("alert.sign", "webhook %s: cannot sign the request (a secret does "
		    "not decode, or libcrypto failed): sent unsigned", wc->name);
		buf_free(&sig);
		return h;
	}
	line = xasprintf("webhook-id: %s", id);
	h = curl_slist_append(h, line);
	free(line);
	line = xasprintf("webhook-timestamp: %lld", now);
	h = curl_slist_append(h, line);
	free(line);
	line = xasprintf("webhook-signature: %s", buf_cstr(&sig));
	h = curl_slist_append(h, line);
	free(line);
	buf_free(&sig);
	return h;
}

static struct curl_slist *
webhook_headers(const struct webhook_conf *wc, int64_t delivery_id, const char *payload,
    size_t len)
{
	struct curl_slist *h = NULL;
	char *line;

	h = curl_slist_append(h, "Content-Type: application/json");
	/* No 100-continue round trip before large bodies. */
	h = curl_slist_append(h, "Expect:");
	line = xasprintf("X-Kaudit-Delivery: %lld", (long long)delivery_id);
	h = curl_slist_append(h, line);
	free(line);
	for (size_t i = 0; i < wc->headers.n; i++) {
		line = webhook_header(wc->headers.v[i].key, wc->headers.v[i].value);
		if (line != NULL)
			h = curl_slist_append(h, line);
		free(line);
	}
	if (wc->secrets.n > 0)
		h = webhook_sign(h, wc, delivery_id, payload, len);
	return h;
}

/* The response body on one line, for the error text. */
static void
webhook_snippet(struct webhook *w)
{
	size_t n = w->body_len;

	while (n > 0 && (w->body[n - 1] == '\n' || w->body[n - 1] == '\r' ||
	    w->body[n - 1] == ' '))
		n--;
	w->body[n] = '\0';
	w->body_len = n;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)w->body[i] < 0x20 || w->body[i] == 0x7f)
			w->body[i] = ' ';
}

static enum webhook_result
webhook_transport_error(struct webhook *w, CURLcode rc, const struct webhook_conf *wc,
    char *err, size_t errlen)
{
	const char *detail = w->curl_err[0] ? w->curl_err : curl_easy_strerror(rc);
	const char *ca = wc->ca_file ? wc->ca_file : "";

	if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, errlen, "timeout after %d ms: %s", wc->timeout_ms, detail);
	else if (rc == CURLE_PEER_FAILED_VERIFICATION)
		snprintf(err, errlen, "TLS: the receiver's certificate does not verify (%s%s): %s",
		    *ca ? "ca_file " : "the system's CAs", ca, detail);
	else if (rc == CURLE_SSL_CERTPROBLEM)
		snprintf(err, errlen, "TLS: client certificate %s or key %s: %s",
		    wc->client_cert, wc->client_key, detail);
	else if (strstr(detail, "alert certificate required") != NULL)
		snprintf(err, errlen, "TLS: the receiver requires a client certificate%s: %s",
		    wc->client_cert && *wc->client_cert ? "" : " (set client_cert and client_key)",
		    detail);
	else if (rc == CURLE_SSL_CACERT_BADFILE)
		snprintf(err, errlen, "TLS: ca_file %s: %s", ca, detail);
	else
		snprintf(err, errlen, "%s", detail);
	/* A URL curl cannot use will not work on the next try either. */
	if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
		return WEBHOOK_DROP;
	return WEBHOOK_RETRY;
}

/* Sets up w for one POST; webhook_finish() ends it. */
static void
webhook_prepare(struct webhook *w, const struct webhook_conf *wc, int64_t delivery_id,
    const char *payload, size_t len)
{
	w->headers = webhook_headers(wc, delivery_id, payload, len);
	w->body_len = 0;
	w->body[0] = '\0';
	w->curl_err[0] = '\0';
	w->retry_after[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_URL, wc->url);
	webhook_tls(w, wc);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)wc->timeout_ms);
	curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)wc->timeout_ms);
	w->t0 = clock_ms();
}

/* The wait a 429 or 503 asked for with Retry-After, or -1. */
static long
webhook_retry_after(const struct webhook *w, int status)
{
	struct timeval now;
	long ms;

	if ((status != 429 && status != 503) || w->retry_after[0] == '\0')
		return -1;
	gettimeofday(&now, NULL);
	if (delivery_retry_after(w->retry_after, (int64_t)now.tv_sec * 1000 +
	    now.tv_usec / 1000, &ms) == -1) {
		log_once("alert.retry_after", "webhook: a Retry-After that is neither "
		    "seconds nor an HTTP date: the schedule applies");
		return -1;
	}
	return ms;
}

/* The outcome of the POST set up by webhook_prepare(), which ended with rc. */
static enum webhook_result
webhook_finish(struct webhook *w, CURLcode rc, const struct webhook_conf *wc,
    int *status, char *err, size_t errlen, long *duration_ms)
{
	enum webhook_result res;
	long code = 0;

	*duration_ms = clock_ms() - w->t0;
	err[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(w->headers);
	w->headers = NULL;
	if (rc != CURLE_OK) {
		*status = 0;
		return webhook_transport_error(w, rc, wc, err, errlen);
	}
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &code);
	*status = (int)code;
	res = webhook_classify(*status);
	if (res != WEBHOOK_OK) {
		webhook_snippet(w);
		snprintf(err, errlen, "HTTP %d%s%s%s", *status,
		    code >= 300 && code < 400 ? " (redirects are not followed)" : "",
		    w->body_len ? ": " : "", w->body);
	}
	return res;
}

enum webhook_result
webhook_post(struct webhook *w, const struct webhook_conf *wc, int64_t delivery_id,
    const char *payload, size_t len, int *status, char *err, size_t errlen,
    long *duration_ms)
{
	CURLcode rc;

	webhook_prepare(w, wc, delivery_id, payload, len);
	rc = curl_easy_perform(w->curl);
	return webhook_finish(w, rc, wc, status, err, errlen, duration_ms);
}

struct webhook_multi *
webhook_multi_new(int max_transfers)
{
	struct webhook_multi *m = xcalloc(1, sizeof(*m));

	m->max = max_transfers > 0 ? max_transfers : 1;
	m->h = xcalloc((size_t)m->max, sizeof(*m->h));
	if ((m->multi = curl_multi_init()) == NULL)
		goto fail;
	/* Keep one open connection per transfer slot between POSTs. */
	curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)m->max);
	for (int i = 0; i < m->max; i++)
		if ((m->h[i] = webhook_new()) == NULL)
			goto fail;
	return m;
fail:
	webhook_multi_free(m);
	return NULL;
}

/* Takes w out of the multi handle and back into the pool. */
static void
webhook_multi_release(struct webhook_multi *m, struct webhook *w)
{
	curl_multi_remove_handle(m->multi, w->curl);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(w->headers);
	w->headers = NULL;
	w->job = NULL;
	m->inflight--;
}

void
webhook_multi_abandon(struct webhook_multi *m, void (*each)(void *arg, struct webhook_job *job),
    void *arg)
{
	struct webhook_job *job;

	for (int i = 0; m != NULL && i < m->max; i++) {
		if (m->h[i] == NULL || (job = m->h[i]->job) == NULL)
			continue;
		webhook_multi_release(m, m->h[i]);
		each(arg, job);
	}
}

void
webhook_multi_free(struct webhook_multi *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < m->max; i++) {
		if (m->h[i] == NULL)
			continue;
		if (m->h[i]->job != NULL)
			webhook_multi_release(m, m->h[i]);
		webhook_free(m->h[i]);
	}
	if (m->multi != NULL)
		curl_multi_cleanup(m->multi);
	free(m->h);
	free(m);
}

static struct webhook *
webhook_multi_idle(struct webhook_multi *m)
{
	for (int i = 0; i < m->max; i++)
		if (m->h[i]->job == NULL)
			return m->h[i];
	return NULL;
}

/* Sets job's outcome from the POST on w, which ended with rc. */
static void
webhook_job_end(struct webhook *w, CURLcode rc, struct webhook_job *job)
{
	job->res = webhook_finish(w, rc, job->wc, &job->status, job->err,
	    sizeof(job->err), &job->duration_ms);
	job->retry_after_ms = webhook_retry_after(w, job->status);
}

int
webhook_multi_add(struct webhook_multi *m, struct webhook_job *job)
{
	struct webhook *w;

	if ((w = webhook_multi_idle(m)) == NULL)
		return -1;
	webhook_prepare(w, job->wc, job->delivery_id, job->payload, job->len);
	if (curl_multi_add_handle(m->multi, w->curl) != CURLM_OK) {
		webhook_job_end(w, CURLE_FAILED_INIT, job);
		return 1;
	}
	w->job = job;
	m->inflight++;
	return 0;
}

int
webhook_multi_inflight(const struct webhook_multi *m)
{
	return m->inflight;
}

void
webhook_multi_perform(struct webhook_multi *m,
    void (*done)(void *arg, struct webhook_job *job), void *arg)
{
	struct webhook_job *job;
	struct webhook *w;
	CURLMsg *msg;
	int running, left;

	if (m->inflight == 0)
		return;
	curl_multi_perform(m->multi, &running);
	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
		job = w->job;
		webhook_job_end(w, msg->data.result, job);
		webhook_multi_release(m, w);
		done(arg, job);
	}
}

void
webhook_multi_wait(struct webhook_multi *m, int fd, int timeout_ms, int *fd_ready)
{
	struct curl_waitfd wfd = { fd, CURL_WAIT_POLLIN, 0 };
	int numfds;

	*fd_ready = 0;
	curl_multi_poll(m->multi, fd >= 0 ? &wfd : NULL, fd >= 0 ? 1 : 0,
	    timeout_ms < 0 ? 0 : timeout_ms, &numfds);
	*fd_ready = fd >= 0 && (wfd.revents & CURL_WAIT_POLLIN) != 0;
}

void
webhook_multi_wakeup(struct webhook_multi *m)
{
	curl_multi_wakeup(m->multi);
}
