/* webhook.h — HTTP POSTs of findings to webhooks, with an explicit
 * OK / RETRY / GONE / DROP answer: one at a time (webhook_post) or many in
 * flight at once, started and reaped as they come (webhook_multi_*).
 * Private to alert/; the only user of libcurl. */
#ifndef KAUDIT_WEBHOOK_H
#define KAUDIT_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "alert/alert.h"

enum webhook_result {
	WEBHOOK_OK,	/* 2xx: delivered */
	WEBHOOK_RETRY,	/* 408, 429, 5xx, no connection, timeout: try later */
	WEBHOOK_GONE,	/* 410: the destination is gone for good: disable it */
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
 * headers, plus, when wc has secrets, the Standard Webhooks headers
 * (webhook-id: delivery_id, webhook-timestamp and webhook-signature,
 * computed as the POST starts); redirects are not followed. An https URL's
 * certificate is checked against wc->ca_file, or the system's CAs when it is
 * "", and wc->client_cert with wc->client_key is presented when set; a
 * handshake that fails is WEBHOOK_RETRY with err starting "TLS: " when the
 * cause is known. *status receives the HTTP status (0
 * when there was no response), err a one-line reason ("" when OK), and
 * *duration_ms the time taken. */
enum webhook_result webhook_post(struct webhook *w, const struct webhook_conf *wc,
	    int64_t delivery_id, const char *payload, size_t len, int *status,
	    char *err, size_t errlen, long *duration_ms);

/* One POST in a multi: the request (set by the caller) and its outcome
 * (set when it ends, with the meanings of webhook_post's). */
struct webhook_job {
	const struct webhook_conf *wc;
	int64_t		 delivery_id;
	const char	*payload;
	size_t		 len;
	enum webhook_result res;
	int		 status;
	long		 duration_ms;
	long		 retry_after_ms;	/* of a 429 or 503; -1: none or unreadable */
	char		 err[512];
};

/* A libcurl multi handle with a pool of easy handles, kept for a thread's
 * life so that connections to each host stay open (keep-alive). At most
 * max_transfers POSTs are in flight at once. */
struct webhook_multi;

struct webhook_multi *webhook_multi_new(int max_transfers);
/* Abandons the transfers still in flight. */
void	webhook_multi_free(struct webhook_multi *m);
/* Stops each transfer still in flight and hands its job to each(arg, job),
 * whose owner may then free it (a stop's deadline that came first). */
void	webhook_multi_abandon(struct webhook_multi *m,
	    void (*each)(void *arg, struct webhook_job *job), void *arg);

/* Starts job, which must stay put until it ends. Returns 0 when it is in
 * flight, 1 when it ended at once (libcurl refused it: job->res is set), -1
 * when every transfer slot is taken (nothing happened). */
int	webhook_multi_add(struct webhook_multi *m, struct webhook_job *job);
int	webhook_multi_inflight(const struct webhook_multi *m);
/* Moves the transfers on and calls done(arg, job), in the calling thread,
 * for each that ended. */
void	webhook_multi_perform(struct webhook_multi *m,
	    void (*done)(void *arg, struct webhook_job *job), void *arg);
/* Waits at most timeout_ms for a transfer to need attention, fd (-1: none)
 * to be readable (*fd_ready then 1) or webhook_multi_wakeup(). */
void	webhook_multi_wait(struct webhook_multi *m, int fd, int timeout_ms, int *fd_ready);
/* From any thread: ends the wait in progress, or the next one, at once. */
void	webhook_multi_wakeup(struct webhook_multi *m);

/* The decision for an HTTP status. */
enum webhook_result webhook_classify(int status);

#endif
