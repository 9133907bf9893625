/* alerter.c — the alerter thread: delivers due outbox rows to their webhooks
 * and records every attempt (see alert.h).
 *
 * DESIGN: one thread with its own PostgreSQL connection and a libcurl multi
 * handle with a pool of alert.batch easy handles, kept for the thread's life
 * so connections to each webhook stay open between rounds. A round claims up
 * to alert.batch due rows under a lease (one short statement that commits
 * at once, see schema/outbox.c), POSTs them all at once, and records each
 * attempt as its POST ends (DONE, RETRY with exponential backoff, or DEAD),
 * each in its own short statement that also ends the lease. No transaction
 * is open while a POST runs. A round thus lasts about as long as its slowest
 * POST (at most that webhook's timeout_ms), not the sum of them: a dead
 * webhook costs the others one timeout per round, not one per row.
 *
 * The lease lasts the longest configured timeout_ms plus a margin, so it
 * outlives every POST of the round and its record. Should it run out anyway
 * (a stalled database) and another alerter take the row, the late record
 * changes nothing and is counted as "alert.lease_lost". A crash mid-round
 * leaves the rows pending under a lease that expires, then any alerter
 * claims them again (at least once; X-Kaudit-Delivery lets a receiver spot a
 * repeat). Stopping starts no further POST, lets those in flight end and
 * records them, then releases the leases of rows never sent in one
 * statement, so another process need not wait for them to expire; after a
 * database error the thread does the same once the database answers. The
 * alerter is idle when nothing is due and no lease is running, its own or
 * another alerter's, so `--idle-exit` never leaves while a delivery is in
 * flight or a crashed alerter's rows wait for their lease to expire.
 * Each round first turns due alert groups into outbox rows (alert/groups.h),
 * and the wait after an empty round ends when the next group is due. The
 * alerter is not idle while a group waits for its notification.
 * Between rounds with nothing due, and after database errors, the thread
 * waits on a condition variable so that alerter_stop() wakes it at once.
 * Only this thread touches the database connection. */
#include "alert/alert.h"
#include "alert/format.h"
#include "alert/groups.h"
#include "alert/webhook.h"

#include <sys/random.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/xmalloc.h"
#include "schema/db.h"

/* Longest wait between attempts to reach PostgreSQL again. */
#define ALERTER_DB_BACKOFF_MAX_MS	30000
/* Added to the longest webhook timeout to make the lease: covers the time
 * from the claim to the start of the POSTs and from their end to the
 * records, with room for a slow database. */
#define ALERTER_LEASE_MARGIN_MS		10000

struct alerter {
	const struct alert_opts	*o;
	struct db		*db;
	struct webhook_multi	*wm;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	int			 stop;		/* under lock */
	atomic_int		 idle;
	unsigned int		 seed;		/* jitter */
	char			 owner[128];	/* host:pid:random, in locked_by */
	long			 lease_ms;
	int			 release;	/* leases to end once the db answers */
	long			 group_next_ms;	/* until a group is due; -1: none */
};

static int
alerter_stopping(struct alerter *a)
{
	int stop;

	pthread_mutex_lock(&a->lock);
	stop = a->stop;
	pthread_mutex_unlock(&a->lock);
	return stop;
}

/* Sleeps ms unless asked to stop meanwhile. */
static void
alerter_sleep(struct alerter *a, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->lock);
	while (!a->stop && pthread_cond_timedwait(&a->wake, &a->lock, &until) == 0)
		;
	pthread_mutex_unlock(&a->lock);
}

/* min(backoff * 2^attempts, max) plus up to 10% jitter, so that rows that
 * failed together do not all come back in the same instant. */
static long
alerter_backoff(struct alerter *a, int attempts)
{
	long d = a->o->backoff_ms, max = a->o->max_backoff_ms;

	for (int i = 0; i < attempts && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	return d + (long)(rand_r(&a->seed) % (unsigned long)(d / 10 + 1));
}

static const struct webhook_conf *
alerter_webhook(const struct alert_opts *o, const char *name)
{
	for (size_t i = 0; i < o->nwebhooks; i++)
		if (strcmp(o->webhooks[i].name, name) == 0)
			return &o->webhooks[i];
	return NULL;
}

/* The jobs of one round and the rows they deliver. */
struct alerter_round {
	struct alerter			 *a;
	struct webhook_job		 *jobs;
	const struct outbox_item	**rows;		/* rows[k] is sent by jobs[k] */
	struct buf			 *bodies;	/* jobs[k].payload is bodies[k] */
	size_t				  njobs;
};

/* The row's payload rendered for wc's format into body; -1 with why when
 * it cannot be (the row is then dead: no retry would render it). */
static int
alerter_render(const struct webhook_conf *wc, const struct outbox_item *it,
    struct buf *body, char *why, size_t whylen)
{
	json_error_t je;
	json_t *payload;
	char err[400];
	int rc;

	if ((payload = json_loads(it->payload, 0, &je)) == NULL) {
		snprintf(why, whylen, "payload is not JSON: %s", je.text);
		return -1;
	}
	rc = alert_render(wc, it->id, payload, body, err, sizeof(err));
	json_decref(payload);
	if (rc == -1)
		snprintf(why, whylen, "cannot render the payload as %s: %s",
		    alert_format_name(wc->format), err);
	return rc;
}

/* Records the attempt on a claimed row; -1 on database error. A lease lost
 * meanwhile is counted and skipped: the row is another alerter's now. */
static int
alerter_record(struct alerter *a, const struct outbox_item *it, enum webhook_result res,
    int status, const char *why, long ms)
{
	enum outbox_result out = OUTBOX_DONE;
	long retry_ms = 0;
	char err[512];
	int rc;

	if (res == WEBHOOK_DROP ||
	    (res == WEBHOOK_RETRY && it->attempts + 1 >= a->o->max_attempts))
		out = OUTBOX_DEAD;
	else if (res == WEBHOOK_RETRY)
		out = OUTBOX_RETRY;
	if (out == OUTBOX_RETRY)
		retry_ms = alerter_backoff(a, it->attempts);
	rc = db_outbox_record(a->db, a->owner, it->id, out, status,
	    out == OUTBOX_DONE ? NULL : why, ms, retry_ms, err, sizeof(err));
	if (rc == -1) {
		log_once("alert.db_record", "alerter: %s", err);
		return -1;
	}
	if (rc == 1)
		log_once("alert.lease_lost", "webhook %s: delivery %lld: the lease "
		    "ran out before the attempt was recorded and another alerter "
		    "took the row; this attempt is not recorded", it->webhook,
		    (long long)it->id);
	else if (out == OUTBOX_DEAD)
		log_once("alert.dead", "webhook %s: delivery %lld gave up after %d "
		    "attempt(s): %s", it->webhook, (long long)it->id, it->attempts + 1, why);
	else if (out == OUTBOX_RETRY)
		log_once("alert.retry", "webhook %s: delivery %lld failed, retrying "
		    "in %ld ms: %s", it->webhook, (long long)it->id, retry_ms, why);
	return 0;
}

static int
alerter_job_done(void *arg, struct webhook_job *job)
{
	struct alerter_round *r = arg;

	return alerter_record(r->a, r->rows[job - r->jobs], job->res, job->status,
	    job->err, job->duration_ms);
}

static int
alerter_job_stop(void *arg)
{
	struct alerter_round *r = arg;

	return alerter_stopping(r->a);
}

/* Renders the claimed rows for their webhooks' formats (alert/format.h),
 * sends them concurrently and records each attempt; rows for a webhook no
 * longer configured, or whose payload cannot be rendered, are dead at once.
 * -1 on database error. */
static int
alerter_deliver(struct alerter *a, const struct outbox_item *items, size_t n)
{
	struct alerter_round r = { a, NULL, NULL, NULL, 0 };
	const struct webhook_conf *wc;
	char why[512];
	int rc = 0;

	r.jobs = xcalloc(n ? n : 1, sizeof(*r.jobs));
	r.rows = xcalloc(n ? n : 1, sizeof(*r.rows));
	r.bodies = xcalloc(n ? n : 1, sizeof(*r.bodies));
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((wc = alerter_webhook(a->o, items[i].webhook)) == NULL) {
			snprintf(why, sizeof(why), "webhook %s no longer configured",
			    items[i].webhook);
			rc = alerter_record(a, &items[i], WEBHOOK_DROP, 0, why, 0);
			continue;
		}
		if (alerter_render(wc, &items[i], &r.bodies[r.njobs], why, sizeof(why)) == -1) {
			rc = alerter_record(a, &items[i], WEBHOOK_DROP, 0, why, 0);
			continue;
		}
		r.jobs[r.njobs] = (struct webhook_job){ .wc = wc, .delivery_id = items[i].id,
		    .payload = buf_cstr(&r.bodies[r.njobs]), .len = r.bodies[r.njobs].len };
		r.rows[r.njobs++] = &items[i];
	}
	if (rc == 0)
		rc = webhook_multi_run(a->wm, r.jobs, r.njobs, alerter_job_done,
		    alerter_job_stop, &r);
	for (size_t i = 0; i < n; i++)
		buf_free(&r.bodies[i]);
	free(r.bodies);
	free(r.jobs);
	free(r.rows);
	return rc;
}

/* Ends the leases this alerter holds on rows it will not send; -1 on
 * database error. */
static int
alerter_release(struct alerter *a)
{
	char err[512];
	long n;

	if (db_outbox_release(a->db, a->owner, &n, err, sizeof(err)) == -1) {
		log_once("alert.db_release", "alerter: %s", err);
		return -1;
	}
	a->release = 0;
	if (n > 0)
		log_info("alerter: released %ld unsent deliveries", n);
	return 0;
}

/* After a claim that found nothing due: idle unless some delivery is still
 * under a lease, here or in another process. -1 on database error. */
static int
alerter_check_idle(struct alerter *a)
{
	char err[512];
	long leased;

	if (db_outbox_leased(a->db, &leased, err, sizeof(err)) == -1) {
		log_once("alert.db_claim", "alerter: %s", err);
		return -1;
	}
	atomic_store(&a->idle, leased == 0 && a->group_next_ms < 0);
	return 0;
}

/* One claim and its deliveries. Returns the rows claimed, or -1 on a
 * database error. */
static int
alerter_round(struct alerter *a)
{
	struct outbox_item *items = NULL;
	size_t n = 0;
	char err[512];
	int rc = 0;

	if (!db_ok(a->db)) {
		log_once("alert.db_connect", "alerter: PostgreSQL is unreachable; retrying");
		return -1;
	}
	if (a->release && alerter_release(a) == -1)
		return -1;
	/* Due groups become outbox rows first, claimed in this round. */
	if (alert_groups_flush(a->db, a->o, &a->group_next_ms) == -1)
		return -1;
	if (db_outbox_claim(a->db, a->owner, a->o->batch, a->lease_ms, &items, &n,
	    err, sizeof(err)) == -1) {
		/* The claim may have committed with its answer lost. */
		a->release = 1;
		log_once("alert.db_claim", "alerter: %s", err);
		return -1;
	}
	if (n == 0)
		rc = alerter_check_idle(a);
	else
		atomic_store(&a->idle, 0);
	if (n > 0 && !alerter_stopping(a))
		rc = alerter_deliver(a, items, n);
	db_outbox_items_free(items, n);
	if (rc == -1) {
		a->release = 1;
		return -1;
	}
	return (int)n;
}

/* The wait after a round that found nothing due: poll_ms, or less when a
 * group is due sooner (at least 10 ms: a due group another alerter is
 * flushing shows as due now until that alerter commits). */
static long
alerter_idle_wait(const struct alerter *a)
{
	long ms = a->o->poll_ms;

	if (a->group_next_ms >= 0 && a->group_next_ms < ms)
		ms = a->group_next_ms > 10 ? a->group_next_ms : 10;
	return ms;
}

static void *
alerter_main(void *arg)
{
	struct alerter *a = arg;
	long backoff = 0;
	int n;

	while (!alerter_stopping(a)) {
		n = alerter_round(a);
		if (n == -1) {
			atomic_store(&a->idle, 0);
			backoff = backoff ? backoff * 2 : a->o->poll_ms;
			if (backoff > ALERTER_DB_BACKOFF_MAX_MS)
				backoff = ALERTER_DB_BACKOFF_MAX_MS;
			alerter_sleep(a, backoff);
			continue;
		}
		backoff = 0;
		if (n == 0)
			alerter_sleep(a, alerter_idle_wait(a));
	}
	/* Rows claimed but never sent; when this fails their leases expire. */
	alerter_release(a);
	return NULL;
}

/* A name for locked_by that no other alerter uses, here or elsewhere. */
static void
alerter_name(struct alerter *a)
{
	char host[64];
	unsigned int r;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)rand_r(&a->seed);
	snprintf(a->owner, sizeof(a->owner), "%s:%ld:%08x", host, (long)getpid(), r);
}

/* The longest POST of a round plus the margin. */
static long
alerter_lease(const struct alert_opts *o)
{
	long max = 0;

	for (size_t i = 0; i < o->nwebhooks; i++)
		if (o->webhooks[i].timeout_ms > max)
			max = o->webhooks[i].timeout_ms;
	return max + ALERTER_LEASE_MARGIN_MS;
}

struct alerter *
alerter_start(const char *pg_url, const struct alert_opts *o, char *err, size_t errlen)
{
	struct alerter *a = xcalloc(1, sizeof(*a));
	pthread_condattr_t ca;

	a->o = o;
	a->group_next_ms = -1;
	a->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)a;
	a->lease_ms = alerter_lease(o);
	alerter_name(a);
	if ((a->db = db_connect(pg_url, err, errlen)) == NULL)
		goto fail;
	if ((a->wm = webhook_multi_new(o->batch)) == NULL) {
		snprintf(err, errlen, "cannot create the libcurl handles");
		goto fail;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&a->thread, NULL, alerter_main, a) != 0) {
		snprintf(err, errlen, "cannot start the alerter thread");
		pthread_cond_destroy(&a->wake);
		pthread_mutex_destroy(&a->lock);
		goto fail;
	}
	return a;
fail:
	webhook_multi_free(a->wm);
	db_close(a->db);
	free(a);
	return NULL;
}

void
alerter_stop(struct alerter *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = 1;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	webhook_multi_free(a->wm);
	db_close(a->db);
	free(a);
}

int
alerter_idle(struct alerter *a)
{
	return atomic_load(&a->idle);
}
