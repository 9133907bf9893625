/* webhook.c — HTTP delivery of findings with libcurl (see webhook.h), and
 * libcurl's process-wide init (alert.h). */
#include "alert/webhook.h"
#include "core/clock.h"
#include "alert/alert.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/log.h"
#include "core/version.h"
#include "core/xmalloc.h"

struct webhook {
	CURL	*curl;
	char	 curl_err[CURL_ERROR_SIZE];
	char	 body[WEBHOOK_BODY_MAX + 1];	/* start of the response */
	size_t	 body_len;
};

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
	curl_easy_setopt(w->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	return w;
}

void
webhook_free(struct webhook *w)
{
	if (w == NULL)
		return;
	curl_easy_cleanup(w->curl);
	free(w);
}

enum webhook_result
webhook_classify(int status)
{
	if (status >= 200 && status <= 299)
		return WEBHOOK_OK;
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

static struct curl_slist *
webhook_headers(const struct webhook_conf *wc, int64_t delivery_id)
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

	if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(err, errlen, "timeout after %d ms: %s", wc->timeout_ms, detail);
	else
		snprintf(err, errlen, "%s", detail);
	/* A URL curl cannot use will not work on the next try either. */
	if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
		return WEBHOOK_DROP;
	return WEBHOOK_RETRY;
}

enum webhook_result
webhook_post(struct webhook *w, const struct webhook_conf *wc, int64_t delivery_id,
    const char *payload, size_t len, int *status, char *err, size_t errlen,
    long *duration_ms)
{
	struct curl_slist *headers = webhook_headers(wc, delivery_id);
	enum webhook_result res;
	long code = 0, t0 = clock_ms();
	CURLcode rc;

	w->body_len = 0;
	w->body[0] = '\0';
	w->curl_err[0] = '\0';
	err[0] = '\0';
	curl_easy_setopt(w->curl, CURLOPT_URL, wc->url);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)wc->timeout_ms);
	curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)wc->timeout_ms);
	rc = curl_easy_perform(w->curl);
	*duration_ms = clock_ms() - t0;
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
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
