/* webhook.h — HTTP POSTs of findings to webhooks, with an explicit
 * OK / RETRY / DROP answer: one at a time (webhook_post) or a batch sent
 * concurrently (webhook_multi_run). Private to alert/; the only user of
 * libcurl. */
#ifndef KAUDIT_WEBHOOK_H
#define KAUDIT_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "alert/alert.h"

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
 * headers, plus, when wc has secrets, the Standard Webhooks headers
 * (webhook-id: delivery_id, webhook-timestamp and webhook-signature,
 * computed as the POST starts); redirects are not followed. *status receives the HTTP status (0
 * when there was no response), err a one-line reason ("" when OK), and
 * *duration_ms the time taken. */
enum webhook_result webhook_post(struct webhook *w, const struct webhook_conf *wc,
	    int64_t delivery_id, const char *payload, size_t len, int *status,
	    char *err, size_t errlen, long *duration_ms);

/* One POST of a batch: the request (set by the caller) and its outcome
 * (set by webhook_multi_run, with the meanings of webhook_post's). */
struct webhook_job {
	const struct webhook_conf *wc;
	int64_t		 delivery_id;
	const char	*payload;
	size_t		 len;
	int		 started;	/* 0: never sent (stopped before its turn) */
	enum webhook_result res;
	int		 status;
	long		 duration_ms;
	char		 err[512];
};

/* A libcurl multi handle with a pool of easy handles, kept for a thread's
 * life so that connections to each host stay open between batches. At most
 * max_transfers POSTs are in flight at once. */
struct webhook_multi;

struct webhook_multi *webhook_multi_new(int max_transfers);
void	webhook_multi_free(struct webhook_multi *m);

/* Sends jobs[0..n) concurrently and returns when every started job has
 * ended, so a batch takes about as long as its slowest POST. done(arg, job)
 * runs in the calling thread as each job ends; when it returns -1 the
 * transfers still in flight are abandoned (started, not done) and the run
 * returns -1. stop(arg), asked before each job starts, ends the batch
 * without starting the rest: the transfers in flight still finish. */
int	webhook_multi_run(struct webhook_multi *m, struct webhook_job *jobs, size_t n,
	    int (*done)(void *arg, struct webhook_job *job), int (*stop)(void *arg),
	    void *arg);

/* The decision for an HTTP status. */
enum webhook_result webhook_classify(int status);

#endif
