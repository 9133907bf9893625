/* webhook.h — one HTTP POST of a finding to a webhook, with an explicit
 * OK / RETRY / DROP answer. Private to alert/; the only user of libcurl. */
#ifndef KAUDIT_WEBHOOK_H
#define KAUDIT_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

enum webhook_result {
	WEBHOOK_OK,	/* 2xx: delivered */
	WEBHOOK_RETRY,	/* 408, 429, 5xx, no connection, timeout: try later */
	WEBHOOK_DROP,	/* any other answer: retrying cannot help */
};

/* Bytes of a response body kept for the error text. */
#define WEBHOOK_BODY_MAX	256

/* One libcurl easy handle, reused for every POST of one thread so that
 * connections stay open between deliveries (keep-alive). */
struct webhook;

struct webhook *webhook_new(void);
void	webhook_free(struct webhook *w);

/* POSTs payload[0..len) to wc->url with Content-Type: application/json,
 * User-Agent: kaudit/VERSION, X-Kaudit-Delivery: delivery_id and wc's
 * headers; redirects are not followed. *status receives the HTTP status (0
 * when there was no response), err a one-line reason ("" when OK), and
 * *duration_ms the time taken. */
enum webhook_result webhook_post(struct webhook *w, const struct webhook_conf *wc,
	    int64_t delivery_id, const char *payload, size_t len, int *status,
	    char *err, size_t errlen, long *duration_ms);

/* The decision for an HTTP status. */
enum webhook_result webhook_classify(int status);

#endif
