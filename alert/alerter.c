/* alerter.c — the alerter thread: delivers due outbox rows to their webhooks
 * and records every attempt (see alert.h).
 *
 * DESIGN: one thread with its own PostgreSQL connection and a libcurl multi
 * handle with a pool of alert.batch easy handles, kept for the thread's life
 * so connections to each webhook stay open. The thread is an event loop
 * that waits, in one poll, on the POSTs in flight, on its database
 * connection (where it LISTENs on kaudit_outbox, so a transaction that adds
 * outbox rows wakes it when it commits) and on a wakeup for stop. Each turn
 * it records the POSTs that ended (one statement for all of them, which also
 * moves their destinations' circuits) and, when woken by a notification, by
 * a POST ending while rows were left behind, or by the time the next row is
 * due (looked up in the database) or alert.poll_ms at the latest, claims
 * what its free transfer slots can take: at most a webhook's concurrency
 * minus its POSTs in flight per webhook, and within the rate limits and
 * circuits kept in kaudit.webhooks (see schema/outbox.c). Claimed rows start
 * at once, so a POST never waits for another: a webhook that is slow or
 * down holds its own slots only, and the healthy ones keep theirs. No
 * transaction is open while a POST runs.
 *
 * The lease lasts the longest configured timeout_ms plus a margin, so it
 * outlives every POST and its record. Should it run out anyway (a stalled
 * database) and another alerter take the row, the late record changes
 * nothing and is counted as "alert.lease_lost". A crash leaves rows pending
 * under a lease that expires, then any alerter claims them again (at least
 * once; X-Kaudit-Delivery and webhook-id let a receiver spot a repeat). After
 * a database error the thread keeps its POSTs going, records them once the
 * database answers, and (as a claim's answer may have been lost) releases
 * every lease it holds once none of its POSTs is in flight. Stopping starts
 * no further POST, lets those in flight end and records them. The alerter
 * is idle when nothing is due, nothing is in flight and no lease is
 * running, its own or another alerter's, so `--idle-exit` never leaves while
 * a delivery is in flight or a crashed alerter's rows wait for their lease
 * to expire. Only this thread touches the database connection. */
#include "alert/alert.h"
#include "alert/delivery.h"
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

#include "base/clock.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"
#include "schema/db.h"

/* Longest wait between attempts to reach PostgreSQL again. */
#define ALERTER_DB_BACKOFF_MAX_MS	30000
/* Added to the longest webhook timeout to make the lease: covers the time
 * from the claim to the start of the POST and from its end to the record,
 * with room for a slow database. */
#define ALERTER_LEASE_MARGIN_MS		10000
/* Consecutive failures that open a destination's circuit: more than the
 * default concurrency, so that one unlucky burst (a receiver restarting
 * resets the few connections in flight) does not open it, and few enough
 * that a dead receiver costs a handful of timeouts before only probes go. */
#define ALERTER_OPEN_AFTER		5
/* How often held rows of the configured webhooks are taken back, for
 * processes sharing the outbox with different configurations. */
#define ALERTER_SYNC_MS			30000
/* Shortest wait after a claim that took nothing while a row looked due
 * (another process was claiming it): no busy loop. */
#define ALERTER_MIN_WAIT_MS		10

/* One configured webhook, as this alerter sees it. */
struct alerter_dest {
	const struct webhook_conf *wc;
	int		 inflight;	/* POSTs to it in flight */
};

/* A claimed row and its POST. */
struct alerter_job {
	struct webhook_job	 job;		/* first: the job is the alerter_job */
	struct alerter_dest	*dest;
	struct outbox_item	 it;		/* owns webhook and payload */
	long			 claimed_ms;	/* clock_ms() at the claim */
	struct outbox_attempt	 at;		/* decided when the POST ended */
	char			 why[700];	/* the error recorded */
	struct alerter_job	*next;		/* in the ended list */
};

struct alerter {
	const struct alert_opts	*o;
	struct db		*db;
	struct webhook_multi	*wm;
	pthread_t		 thread;
	atomic_int		 stop;
	atomic_int		 idle;
	unsigned int		 seed;		/* jitter */
	char			 owner[128];	/* host:pid:random, in locked_by */
	long			 lease_ms;
	struct alerter_dest	*dests;		/* o->nwebhooks of them */
	struct outbox_dest	*claim;		/* scratch for claims and looks */
	struct alerter_job	*ended, **ended_tail;	/* ended, not recorded */
	long			 probe_wait[DELIVERY_STEPS];
	struct outbox_circuit	 circuit;
	int			 wake;		/* claim at the next turn */
	int			 more;		/* the last claim took all it could */
	int			 freed;		/* a POST ended since the last claim */
	long			 next_claim;	/* clock_ms(): claim then anyway */
	int			 synced;	/* held rows taken back at start */
	long			 next_sync;
	int			 release;	/* leases to end once nothing is in flight */
	int			 db_down;
	long			 db_backoff, db_retry_at;
};

static double
alerter_random(struct alerter *a)
{
	return (double)rand_r(&a->seed) / ((double)RAND_MAX + 1.0);
}

/* After a database error: no claim until the database answers again. */
static void
alerter_db_error(struct alerter *a, const char *kind, const char *err)
{
	log_once(kind, "alerter: %s", err);
	atomic_store(&a->idle, 0);
	a->db_down = 1;
	a->db_backoff = a->db_backoff ? a->db_backoff * 2 : a->o->poll_ms;
	if (a->db_backoff > ALERTER_DB_BACKOFF_MAX_MS)
		a->db_backoff = ALERTER_DB_BACKOFF_MAX_MS;
	a->db_retry_at = clock_ms() + a->db_backoff;
}

/* 1 when the database may be used now; reconnects when it is time to. A
 * notification sent while the connection was down is lost, so the first
 * turn after it claims anyway. */
static int
alerter_db_usable(struct alerter *a, long now)
{
	if (!a->db_down)
		return 1;
	if (now < a->db_retry_at)
		return 0;
	if (!db_ok(a->db)) {
		alerter_db_error(a, "alert.db_connect", "PostgreSQL is unreachable; retrying");
		return 0;
	}
	a->db_down = 0;
	a->db_backoff = 0;
	a->wake = 1;
	return 1;
}

/* The decision on an ended POST, from its answer and the row's history. */
static void
alerter_decide(struct alerter *a, struct alerter_job *j)
{
	const struct alert_opts *o = a->o;
	struct webhook_job *job = &j->job;
	struct outbox_attempt *at = &j->at;
	int n = j->it.attempts + 1;
	int64_t left = o->max_age_ms - (j->it.age_ms + (clock_ms() - j->claimed_ms));
	char age[TIME_TEXT_MAX];
	long wait;

	*at = (struct outbox_attempt){ .id = j->it.id, .probe = j->it.probe,
	    .http_status = job->status, .duration_ms = job->duration_ms,
	    .error = job->res == WEBHOOK_OK ? NULL : j->why };
	snprintf(j->why, sizeof(j->why), "%s", job->err);
	switch (job->res) {
	case WEBHOOK_OK:
		at->res = OUTBOX_DONE;
		at->health = OUTBOX_SUCCESS;
		return;
	case WEBHOOK_GONE:
		at->res = OUTBOX_GONE;
		return;
	case WEBHOOK_DROP:
		at->res = OUTBOX_DEAD;
		return;
	default:
		break;
	}
	/* A 429 says the receiver is up and busy: not a failure of it. */
	at->health = job->status == 429 ? OUTBOX_NEUTRAL : OUTBOX_FAILURE;
	if (o->max_attempts > 0 && n >= o->max_attempts) {
		at->res = OUTBOX_DEAD;
		snprintf(j->why, sizeof(j->why), "gave up after %d attempts "
		    "(alert.max_attempts): %s", n, job->err);
		return;
	}
	if (left <= 0) {
		duration_format(o->max_age_ms, age);
		at->res = OUTBOX_DEAD;
		snprintf(j->why, sizeof(j->why), "gave up after %d attempts in "
		    "alert.max_age %s: %s", n, age, job->err);
		return;
	}
	wait = job->retry_after_ms >= 0 ? (job->retry_after_ms > o->max_backoff_ms ?
	    o->max_backoff_ms : job->retry_after_ms) :
	    delivery_wait_jitter(o, n, alerter_random(a));
	at->res = OUTBOX_RETRY;
	/* The last attempt comes when max_age runs out, not after. */
	at->retry_ms = wait < left ? wait : (long)left;
}

/* webhook_multi_perform()'s callback: a POST ended. */
static void
alerter_job_done(void *arg, struct webhook_job *job)
{
	struct alerter *a = arg;
	struct alerter_job *j = (struct alerter_job *)job;

	j->dest->inflight--;
	a->freed = 1;
	alerter_decide(a, j);
	j->next = NULL;
	*a->ended_tail = j;
	a->ended_tail = &j->next;
}

static void
alerter_job_free(struct alerter_job *j)
{
	free(j->it.webhook);
	free(j->it.payload);
	free(j);
}

static void
alerter_log_attempt(const struct alerter_job *j)
{
	const struct outbox_attempt *at = &j->at;
	const char *hook = j->it.webhook;
	long long id = (long long)j->it.id;

	if (!at->recorded)
		log_once("alert.lease_lost", "webhook %s: delivery %lld: the lease "
		    "ran out before the attempt was recorded and another alerter "
		    "took the row; this attempt is not recorded", hook, id);
	else if (at->res == OUTBOX_GONE)
		log_warn("webhook %s answered 410 Gone: disabled until `kaudit alerts "
		    "enable %s`; its deliveries wait in the outbox", hook, hook);
	else if (at->res == OUTBOX_DEAD)
		log_once("alert.dead", "webhook %s: delivery %lld is dead after %d "
		    "attempt(s): %s", hook, id, j->it.attempts + 1, at->error);
	else if (at->res == OUTBOX_RETRY)
		log_once("alert.retry", "webhook %s: delivery %lld failed, retrying "
		    "in %ld ms: %s", hook, id, at->retry_ms, at->error);
}

/* Records every ended POST in one statement; -1 on database error, when
 * they stay listed for the next try. */
static int
alerter_flush(struct alerter *a)
{
	struct outbox_attempt *at;
	struct alerter_job *j, *next;
	size_t n = 0, k = 0;
	char err[512];
	int rc;

	for (j = a->ended; j != NULL; j = j->next)
		n++;
	if (n == 0)
		return 0;
	at = xcalloc(n, sizeof(*at));
	for (j = a->ended; j != NULL; j = j->next)
		at[k++] = j->at;
	rc = db_outbox_record(a->db, a->owner, at, n, &a->circuit, err, sizeof(err));
	if (rc == -1) {
		free(at);
		alerter_db_error(a, "alert.db_record", err);
		return -1;
	}
	for (j = a->ended, k = 0; j != NULL; j = next, k++) {
		next = j->next;
		j->at.recorded = at[k].recorded;
		/* A retry, or the next probe of a circuit, may come before the
		 * next claim planned: look again. */
		if (j->at.res == OUTBOX_RETRY)
			a->wake = 1;
		alerter_log_attempt(j);
		alerter_job_free(j);
	}
	free(at);
	a->ended = NULL;
	a->ended_tail = &a->ended;
	return 0;
}

/* Ends the leases this alerter holds; -1 on database error. Only called
 * with nothing in flight, so no row is released while its POST runs. */
static int
alerter_release(struct alerter *a)
{
	char err[512];
	long n;

	if (db_outbox_release(a->db, a->owner, &n, err, sizeof(err)) == -1) {
		alerter_db_error(a, "alert.db_release", err);
		return -1;
	}
	a->release = 0;
	if (n > 0)
		log_info("alerter: released %ld unsent deliveries", n);
	return 0;
}

/* Makes the destinations' rows, takes back the held rows of the configured
 * webhooks and, at start, holds those of the others. */
static int
alerter_sync(struct alerter *a)
{
	const char **names = xcalloc(a->o->nwebhooks + 1, sizeof(*names));
	long held = 0, back = 0;
	char err[512];
	int rc;

	for (size_t i = 0; i < a->o->nwebhooks; i++)
		names[i] = a->o->webhooks[i].name;
	rc = db_outbox_sync(a->db, a->owner, names, a->o->nwebhooks, !a->synced,
	    &held, &back, err, sizeof(err));
	free(names);
	if (rc == -1) {
		alerter_db_error(a, "alert.db_sync", err);
		return -1;
	}
	if (held > 0)
		log_warn("alerter: %ld pending deliveries are held: their webhook is not in "
		    "the configuration (`kaudit alerts list --state held`)", held);
	if (back > 0)
		log_info("alerter: %ld held deliveries are pending again", back);
	a->synced = 1;
	a->next_sync = clock_ms() + ALERTER_SYNC_MS;
	return 0;
}

static struct alerter_dest *
alerter_dest(struct alerter *a, const char *name)
{
	for (size_t i = 0; i < a->o->nwebhooks; i++)
		if (strcmp(a->dests[i].wc->name, name) == 0)
			return &a->dests[i];
	return NULL;
}

/* Starts the POST of a claimed row; takes it. */
static void
alerter_start_job(struct alerter *a, struct outbox_item *it, long now)
{
	struct alerter_job *j = xcalloc(1, sizeof(*j));
	int rc;

	j->it = *it;
	j->claimed_ms = now;
	if ((j->dest = alerter_dest(a, it->webhook)) == NULL) {
		/* The claim takes configured webhooks only; should one slip
		 * through, its lease is released, unsent. */
		a->release = 1;
		alerter_job_free(j);
		return;
	}
	j->job = (struct webhook_job){ .wc = j->dest->wc, .delivery_id = it->id,
	    .payload = it->payload, .len = strlen(it->payload), .retry_after_ms = -1 };
	if ((rc = webhook_multi_add(a->wm, &j->job)) == 0) {
		j->dest->inflight++;
		return;
	}
	if (rc == 1) {		/* libcurl refused it: it ended at once */
		j->dest->inflight++;
		alerter_job_done(a, &j->job);
		return;
	}
	a->release = 1;		/* no free slot: cannot happen, claims fit */
	alerter_job_free(j);
}

/* What each destination can take now; the total in *limit. */
static void
alerter_capacity(struct alerter *a, int *limit)
{
	for (size_t i = 0; i < a->o->nwebhooks; i++) {
		const struct webhook_conf *wc = a->dests[i].wc;
		int cap = wc->concurrency - a->dests[i].inflight;

		a->claim[i] = (struct outbox_dest){ wc->name, cap > 0 ? cap : 0, wc->rate_limit };
	}
	*limit = a->o->batch - webhook_multi_inflight(a->wm);
}

/* After a claim that left nothing behind: when to look again, and whether
 * the alerter is idle. */
static int
alerter_look(struct alerter *a, size_t claimed, long now)
{
	struct outbox_look l;
	char err[512];
	long wait = a->o->poll_ms;

	if (db_outbox_look(a->db, a->claim, a->o->nwebhooks, &l, err, sizeof(err)) == -1) {
		alerter_db_error(a, "alert.db_claim", err);
		return -1;
	}
	if (l.next_ms >= 0 && l.next_ms < wait)
		wait = l.next_ms;
	if (wait < ALERTER_MIN_WAIT_MS && claimed == 0)
		wait = ALERTER_MIN_WAIT_MS;
	a->next_claim = now + wait;
	atomic_store(&a->idle, claimed == 0 && webhook_multi_inflight(a->wm) == 0 &&
	    a->ended == NULL && !l.due && l.leased == 0);
	return 0;
}

/* Claims what the free slots can take and starts it. */
static int
alerter_claim(struct alerter *a, long now)
{
	struct outbox_item *items = NULL;
	size_t n = 0, i;
	int limit, more = 0, *taken;
	char err[512];

	a->wake = 0;
	a->freed = 0;
	alerter_capacity(a, &limit);
	if (limit <= 0) {
		a->more = 1;
		return 0;
	}
	if (db_outbox_claim(a->db, a->owner, limit, a->lease_ms, a->claim, a->o->nwebhooks,
	    &items, &n, err, sizeof(err)) == -1) {
		a->release = 1;		/* it may have committed, its answer lost */
		alerter_db_error(a, "alert.db_claim", err);
		return -1;
	}
	taken = xcalloc(a->o->nwebhooks + 1, sizeof(*taken));
	for (i = 0; i < n; i++) {
		struct alerter_dest *d = alerter_dest(a, items[i].webhook);
		if (d != NULL)
			taken[d - a->dests]++;
		alerter_start_job(a, &items[i], now);
	}
	free(items);	/* the jobs own the strings now */
	/* A destination that took all it could, or had no slot left, may have
	 * more rows due: the next POST to end claims again. */
	for (i = 0; i < a->o->nwebhooks; i++)
		more |= taken[i] >= a->claim[i].cap;
	free(taken);
	a->more = more || (int)n >= limit;
	if (n > 0)
		atomic_store(&a->idle, 0);
	if (a->more) {
		a->next_claim = now + a->o->poll_ms;
		return 0;
	}
	return alerter_look(a, n, now);
}

/* One turn of the loop's database work. */
static void
alerter_turn(struct alerter *a, int stopping)
{
	long now = clock_ms();

	if (!alerter_db_usable(a, now))
		return;
	if (a->ended != NULL && alerter_flush(a) == -1)
		return;
	if (a->release && webhook_multi_inflight(a->wm) == 0 && alerter_release(a) == -1)
		return;
	if (stopping)
		return;
	if ((!a->synced || now >= a->next_sync) && alerter_sync(a) == -1)
		return;
	if (a->release)
		return;
	if (a->wake || now >= a->next_claim || (a->more && a->freed))
		alerter_claim(a, now);
}

/* How long the loop may wait for something to happen. */
static int
alerter_timeout(struct alerter *a, int stopping)
{
	long now = clock_ms(), t;

	if (stopping)
		return 1000;	/* libcurl's own timers end the wait sooner */
	if (a->db_down)
		t = a->db_retry_at - now;
	else if (a->wake || (a->more && a->freed) || a->ended != NULL)
		t = 0;
	else
		t = a->next_claim - now;
	if (a->synced && !a->db_down && a->next_sync - now < t)
		t = a->next_sync - now;
	return t < 0 ? 0 : t > a->o->poll_ms ? a->o->poll_ms : (int)t;
}

/* Notifications of committed outbox rows: claim at once. */
static void
alerter_notifications(struct alerter *a)
{
	int n;

	if (a->db_down)
		return;
	if ((n = db_notifications(a->db)) > 0)
		a->wake = 1;
	else if (n == -1)
		alerter_db_error(a, "alert.db_connect", "PostgreSQL is unreachable; retrying");
}

static void *
alerter_main(void *arg)
{
	struct alerter *a = arg;
	char err[512];
	int stopping, ready;

	if (db_listen(a->db, DB_OUTBOX_CHANNEL, err, sizeof(err)) == -1)
		log_warn("alerter: %s; polling every %d ms instead", err, a->o->poll_ms);
	a->wake = 1;
	for (;;) {
		stopping = atomic_load(&a->stop);
		if (stopping && webhook_multi_inflight(a->wm) == 0)
			break;
		alerter_turn(a, stopping);
		alerter_notifications(a);
		webhook_multi_wait(a->wm, a->db_down ? -1 : db_socket(a->db),
		    alerter_timeout(a, stopping), &ready);
		if (ready)
			alerter_notifications(a);
		webhook_multi_perform(a->wm, alerter_job_done, a);
	}
	/* The last POSTs' records, and the leases of rows never sent; when the
	 * database does not answer, their leases expire. */
	if (db_ok(a->db)) {
		a->db_down = 0;
		alerter_flush(a);
		alerter_release(a);
	}
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

/* The longest POST plus the margin. */
static long
alerter_lease(const struct alert_opts *o)
{
	long max = 0;

	for (size_t i = 0; i < o->nwebhooks; i++)
		if (o->webhooks[i].timeout_ms > max)
			max = o->webhooks[i].timeout_ms;
	return max + ALERTER_LEASE_MARGIN_MS;
}

static void
alerter_free(struct alerter *a)
{
	struct alerter_job *j, *next;

	webhook_multi_free(a->wm);
	for (j = a->ended; j != NULL; j = next) {
		next = j->next;
		alerter_job_free(j);
	}
	db_close(a->db);
	free(a->dests);
	free(a->claim);
	free(a);
}

struct alerter *
alerter_start(const char *pg_url, const struct alert_opts *o, char *err, size_t errlen)
{
	struct alerter *a = xcalloc(1, sizeof(*a));

	a->o = o;
	a->seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)a;
	a->lease_ms = alerter_lease(o);
	a->ended_tail = &a->ended;
	a->dests = xcalloc(o->nwebhooks + 1, sizeof(*a->dests));
	a->claim = xcalloc(o->nwebhooks + 1, sizeof(*a->claim));
	for (size_t i = 0; i < o->nwebhooks; i++)
		a->dests[i].wc = &o->webhooks[i];
	a->circuit = (struct outbox_circuit){ ALERTER_OPEN_AFTER, a->probe_wait,
	    delivery_schedule(o, a->probe_wait, DELIVERY_STEPS), o->max_age_ms };
	alerter_name(a);
	if ((a->db = db_connect(pg_url, err, errlen)) == NULL)
		goto fail;
	if ((a->wm = webhook_multi_new(o->batch)) == NULL) {
		snprintf(err, errlen, "cannot create the libcurl handles");
		goto fail;
	}
	if (pthread_create(&a->thread, NULL, alerter_main, a) != 0) {
		snprintf(err, errlen, "cannot start the alerter thread");
		goto fail;
	}
	return a;
fail:
	alerter_free(a);
	return NULL;
}

void
alerter_stop(struct alerter *a)
{
	if (a == NULL)
		return;
	atomic_store(&a->stop, 1);
	webhook_multi_wakeup(a->wm);
	pthread_join(a->thread, NULL);
	alerter_free(a);
}

int
alerter_idle(struct alerter *a)
{
	return atomic_load(&a->idle);
}
