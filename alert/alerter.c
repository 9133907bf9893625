/* alerter.c — the alerter thread: delivers due outbox rows to their webhooks
 * and records every attempt (see alert.h).
 *
 * DESIGN: one thread with its own PostgreSQL connection and a libcurl multi
 * handle with a pool of alert.batch easy handles, kept for the thread's life
 * so connections to each webhook stay open. The thread is an event loop
 * that waits, in one poll, on the POSTs in flight, on its database
 * connection and on a wakeup for stop. Its statements are sent without
 * waiting for their answer, one at a time, so POSTs start and end while the
 * database works: a record of every POST that ended (one statement for all
 * of them, which also moves their destinations' circuits), and a claim
 * when woken by a notification (it LISTENs on kaudit_outbox, so a
 * transaction that adds outbox rows wakes it when it commits), by POSTs
 * ending while rows were left behind, by the time the next row is due
 * (looked up in the database after a claim that left nothing behind), or
 * by alert.poll_ms at the latest. A claim takes, per webhook, what its
 * concurrency has free and as much again to wait in a queue of its own, so
 * that a slot freed is filled at once, without a round trip; a webhook that
 * failed last gets no queue, only its free slots. Rate limits and circuits
 * are taken care of by the claim (schema/outbox.c). A webhook that is slow
 * or down holds its own slots only: the healthy ones keep theirs. No
 * transaction is open while a POST runs.
 *
 * The lease lasts twice the longest configured timeout_ms plus a margin: a
 * queued row waits at most for one POST of its webhook, then takes one. A
 * lease that runs out anyway (a stalled database) lets another alerter take
 * the row; the late record changes nothing and is counted as
 * "alert.lease_lost". A crash leaves rows pending under a lease that
 * expires, then any alerter claims them again (at least once;
 * X-Kaudit-Delivery and webhook-id let a receiver spot a repeat). After a
 * database error the thread keeps its POSTs going, records them once the
 * database answers, and (as a claim's answer may have been lost) forgets its
 * queues and releases every lease it holds once none of its POSTs is in
 * flight. Stopping starts no further POST, lets those in flight end and
 * records them, and releases the leases of the rows queued. The alerter is
 * idle when nothing is due, nothing is in flight or queued and no lease is
 * running, its own or another alerter's, so `--idle-exit` never leaves while
 * a delivery is in flight or a crashed alerter's rows wait for their lease
 * to expire. Each payload is rendered for its webhook's format
 * (alert/format.h) when its row is queued; one that cannot be is recorded
 * dead without a POST.
 *
 * With grouped webhooks (group_by), due alert groups become outbox rows
 * (alert/groups.h) in a statement of their own, run when nothing else is
 * in flight on the connection: when a notification says a batch committed
 * (it may have opened a group) and when the next group is due. The
 * alerter is not idle while a group waits for its notification.
 * Only this thread touches the database connection. */
#include "alert/alert.h"
#include "alert/delivery.h"
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

#include "base/clock.h"
#include "base/log.h"
#include "base/obs.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"
#include "schema/db.h"

/* Waits between attempts to reach PostgreSQL again: from the first, a
 * connection killed under a running server is back at once, doubling to
 * the longest. */
#define ALERTER_DB_BACKOFF_MIN_MS	100
#define ALERTER_DB_BACKOFF_MAX_MS	30000
/* Added to twice the longest webhook timeout to make the lease: covers the
 * time from the claim to the start of the POST and from its end to the
 * record, with room for a slow database. */
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
	int		 nqueued;	/* claimed rows waiting for a slot */
	struct alerter_job *queue, **queue_tail;
	int		 healthy;	/* its last answer was no failure */
};

/* A claimed row and its POST. */
struct alerter_job {
	struct webhook_job	 job;		/* first: the job is the alerter_job */
	struct alerter_dest	*dest;
	struct outbox_item	 it;		/* owns webhook and payload */
	long			 claimed_ms;	/* clock_ms() at the claim */
	struct buf		 body;		/* the payload rendered: what is POSTed */
	struct outbox_attempt	 at;		/* decided when the POST ended */
	char			 why[700];	/* the error recorded */
	struct alerter_job	*next;		/* in a queue or list */
};

/* The statement in flight on the connection. */
enum alerter_stmt { STMT_NONE, STMT_CLAIM, STMT_RECORD, STMT_LOOK };

struct alerter {
	const struct alert_opts	*o;
	struct db		*db;
	struct webhook_multi	*wm;
	pthread_t		 thread;
	atomic_int		 stop;
	atomic_long		 deadline;	/* of a stop, clock_ms(); 0: none */
	atomic_int		 ended_run;	/* the thread has returned */
	atomic_int		 idle;
	unsigned int		 seed;		/* jitter */
	char			 owner[128];	/* host:pid:random, in locked_by */
	long			 lease_ms;
	struct alerter_dest	*dests;		/* o->nwebhooks of them */
	size_t			 next_dest;	/* where filling slots starts */
	struct outbox_dest	*claim;		/* scratch for claims and looks */
	struct alerter_job	*ended, **ended_tail;	/* ended, not recorded */
	struct alerter_job	*recording;	/* the record in flight's */
	struct outbox_attempt	*at;		/* its attempts */
	size_t			 nat;
	enum alerter_stmt	 stmt, last;
	size_t			 claimed;	/* rows the last claim took */
	long			 probe_wait[DELIVERY_STEPS];
	struct outbox_circuit	 circuit;
	int			 wake;		/* claim at the next turn */
	int			 more;		/* the last claim took all it could */
	int			 freed;		/* a slot or queue place freed since */
	long			 next_claim;	/* clock_ms(): claim then anyway */
	int			 synced;	/* held rows taken back at start */
	long			 next_sync;
	int			 release;	/* leases to end once nothing is in flight */
	int			 db_down;
	long			 db_backoff, db_retry_at;
	int			 grouped;	/* a webhook has group_by */
	long			 group_due;	/* clock_ms() when a group is due; -1: none */
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
	a->db_backoff = a->db_backoff ? a->db_backoff * 2 : ALERTER_DB_BACKOFF_MIN_MS;
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

/* The outcome label of kaudit_deliveries_total. */
static const char *
alerter_outcome(enum outbox_result r)
{
	switch (r) {
	case OUTBOX_DONE:	return "done";
	case OUTBOX_RETRY:	return "retry";
	case OUTBOX_DEAD:	return "dead";
	case OUTBOX_GONE:	return "gone";
	}
	return "other";
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
	obs_delivery(j->it.webhook, alerter_outcome(j->at.res), (double)job->duration_ms / 1000.0);
	if (j->at.health != OUTBOX_NEUTRAL)
		j->dest->healthy = j->at.health == OUTBOX_SUCCESS;
	j->next = NULL;
	*a->ended_tail = j;
	a->ended_tail = &j->next;
}

static void
alerter_job_free(struct alerter_job *j)
{
	free(j->it.webhook);
	free(j->it.payload);
	buf_free(&j->body);
	free(j);
}

/* A POST still in flight when a stop's deadline came: its row's lease was
 * released, and the job goes with the alerter. */
static void
alerter_job_abandoned(void *arg, struct webhook_job *job)
{
	(void)arg;
	alerter_job_free((struct alerter_job *)job);
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

/* Sends the record of every ended POST; -1 on database error, when they
 * stay listed for the next try. */
static int
alerter_record_send(struct alerter *a)
{
	struct alerter_job *j;
	char err[512];
	size_t k = 0;

	a->nat = 0;
	for (j = a->ended; j != NULL; j = j->next)
		a->nat++;
	a->at = xcalloc(a->nat, sizeof(*a->at));
	for (j = a->ended; j != NULL; j = j->next)
		a->at[k++] = j->at;
	if (db_outbox_record_send(a->db, a->owner, a->at, a->nat, &a->circuit, err,
	    sizeof(err)) == -1) {
		free(a->at);
		a->at = NULL;
		alerter_db_error(a, "alert.db_record", err);
		return -1;
	}
	a->recording = a->ended;
	a->ended = NULL;
	a->ended_tail = &a->ended;
	a->stmt = a->last = STMT_RECORD;
	return 0;
}

/* The record's answer: logs each attempt and frees it. On error the
 * attempts go back to the ended list, to be recorded once the database
 * answers. */
static void
alerter_record_recv(struct alerter *a)
{
	struct alerter_job *j, *next, *last = NULL;
	char err[512];
	size_t k = 0;

	a->stmt = STMT_NONE;
	if (db_outbox_record_recv(a->db, a->at, a->nat, err, sizeof(err)) == -1) {
		for (j = a->recording; j != NULL; j = j->next)
			last = j;
		if (last != NULL) {
			last->next = a->ended;
			if (a->ended == NULL)
				a->ended_tail = &last->next;
			a->ended = a->recording;
		}
		alerter_db_error(a, "alert.db_record", err);
	} else {
		for (j = a->recording; j != NULL; j = next, k++) {
			next = j->next;
			j->at.recorded = a->at[k].recorded;
			/* A retry, or the next probe of a circuit, may come
			 * before the next claim planned: look again. */
			if (j->at.res == OUTBOX_RETRY)
				a->wake = 1;
			alerter_log_attempt(j);
			alerter_job_free(j);
		}
	}
	a->recording = NULL;
	free(a->at);
	a->at = NULL;
}

/* Forgets the rows queued and not sent: their leases are released next. */
static void
alerter_drop_queues(struct alerter *a)
{
	struct alerter_job *j, *next;

	for (size_t i = 0; i < a->o->nwebhooks; i++) {
		for (j = a->dests[i].queue; j != NULL; j = next) {
			next = j->next;
			alerter_job_free(j);
		}
		a->dests[i].queue = NULL;
		a->dests[i].queue_tail = &a->dests[i].queue;
		a->dests[i].nqueued = 0;
	}
}

/* Ends the leases this alerter holds, once none of its POSTs is in flight
 * (so that no row is released while its POST runs) and its queues are
 * forgotten; -1 on database error. */
static int
alerter_release(struct alerter *a)
{
	char err[512];
	long n;

	alerter_drop_queues(a);
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

/* The row's payload rendered for its webhook's format into j->body; -1
 * with the reason in j->why when it cannot be. */
static int
alerter_render(struct alerter_job *j)
{
	const struct webhook_conf *wc = j->dest->wc;
	json_error_t je;
	json_t *payload;
	char err[400];
	int rc;

	if ((payload = json_loads(j->it.payload, 0, &je)) == NULL) {
		snprintf(j->why, sizeof(j->why), "payload is not JSON: %s", je.text);
		return -1;
	}
	rc = alert_render(wc, j->it.id, payload, &j->body, err, sizeof(err));
	json_decref(payload);
	if (rc == -1)
		snprintf(j->why, sizeof(j->why), "cannot render the payload as %s: %s",
		    alert_format_name(wc->format), err);
	return rc;
}

/* Queues a claimed row for its webhook; takes it. */
static void
alerter_queue(struct alerter *a, struct outbox_item *it, long now)
{
	struct alerter_job *j = xcalloc(1, sizeof(*j));

	j->it = *it;
	j->claimed_ms = now;
	if ((j->dest = alerter_dest(a, it->webhook)) == NULL) {
		/* The claim takes configured webhooks only; should one slip
		 * through, its lease is released, unsent. */
		a->release = 1;
		alerter_job_free(j);
		return;
	}
	if (alerter_render(j) == -1) {
		/* no retry would render it: dead at once, without a POST */
		j->at = (struct outbox_attempt){ .id = it->id, .probe = it->probe,
		    .res = OUTBOX_DEAD, .health = OUTBOX_NEUTRAL, .error = j->why };
		*a->ended_tail = j;
		a->ended_tail = &j->next;
		return;
	}
	j->job = (struct webhook_job){ .wc = j->dest->wc, .delivery_id = it->id,
	    .payload = buf_cstr(&j->body), .len = j->body.len, .retry_after_ms = -1 };
	*j->dest->queue_tail = j;
	j->dest->queue_tail = &j->next;
	j->dest->nqueued++;
}

/* Starts the head of d's queue; 0, or -1 when no transfer slot is free. */
static int
alerter_start_one(struct alerter *a, struct alerter_dest *d)
{
	struct alerter_job *j = d->queue;
	int rc;

	if ((rc = webhook_multi_add(a->wm, &j->job)) == -1)
		return -1;
	if ((d->queue = j->next) == NULL)
		d->queue_tail = &d->queue;
	j->next = NULL;
	d->nqueued--;
	d->inflight++;
	a->freed = 1;
	if (rc == 1)		/* libcurl refused it: it ended at once */
		alerter_job_done(a, &j->job);
	return 0;
}

/* Fills the free slots from the queues, one webhook after the other. */
static void
alerter_fill(struct alerter *a)
{
	size_t n = a->o->nwebhooks, idle = 0;

	while (n > 0 && idle < n) {
		struct alerter_dest *d = &a->dests[a->next_dest];

		a->next_dest = (a->next_dest + 1) % n;
		if (d->queue == NULL || d->inflight >= d->wc->concurrency) {
			idle++;
			continue;
		}
		if (alerter_start_one(a, d) == -1)
			return;
		idle = 0;
	}
}

static int
alerter_queued(const struct alerter *a)
{
	int n = 0;

	for (size_t i = 0; i < a->o->nwebhooks; i++)
		n += a->dests[i].nqueued;
	return n;
}

/* What each destination can take now: its free slots, and as many again
 * to queue when its last answer was no failure. The total in *limit. */
static void
alerter_capacity(struct alerter *a, int *limit)
{
	for (size_t i = 0; i < a->o->nwebhooks; i++) {
		struct alerter_dest *d = &a->dests[i];
		int cap = d->wc->concurrency * (d->healthy ? 2 : 1) - d->inflight - d->nqueued;

		a->claim[i] = (struct outbox_dest){ d->wc->name, cap > 0 ? cap : 0,
		    d->wc->rate_limit };
	}
	*limit = 2 * a->o->batch - webhook_multi_inflight(a->wm) - alerter_queued(a);
}

static int
alerter_claim_send(struct alerter *a)
{
	char err[512];
	int limit;

	a->wake = 0;
	a->freed = 0;
	alerter_capacity(a, &limit);
	if (limit <= 0) {
		a->more = 1;
		return 0;
	}
	if (db_outbox_claim_send(a->db, a->owner, limit, a->lease_ms, a->claim,
	    a->o->nwebhooks, err, sizeof(err)) == -1) {
		a->release = 1;		/* it may have committed, its answer lost */
		alerter_db_error(a, "alert.db_claim", err);
		return -1;
	}
	a->stmt = a->last = STMT_CLAIM;
	return 0;
}

/* The claim's answer: queues the rows, and when nothing was left behind
 * asks when to look again. */
static void
alerter_claim_recv(struct alerter *a, long now)
{
	struct outbox_item *items = NULL;
	size_t n = 0, i;
	int limit, more = 0, *taken;
	char err[512];

	a->stmt = STMT_NONE;
	if (db_outbox_claim_recv(a->db, &items, &n, err, sizeof(err)) == -1) {
		a->release = 1;
		alerter_db_error(a, "alert.db_claim", err);
		return;
	}
	/* a->claim still holds what the claim was asked for */
	limit = 2 * a->o->batch - webhook_multi_inflight(a->wm) - alerter_queued(a);
	taken = xcalloc(a->o->nwebhooks + 1, sizeof(*taken));
	for (i = 0; i < n; i++) {
		struct alerter_dest *d = alerter_dest(a, items[i].webhook);
		if (d != NULL)
			taken[d - a->dests]++;
		alerter_queue(a, &items[i], now);
	}
	free(items);	/* the jobs own the strings now */
	/* A destination that took all it could, or had no room, may have more
	 * rows due: the next POST to end claims again. */
	for (i = 0; i < a->o->nwebhooks; i++)
		more |= taken[i] >= a->claim[i].cap;
	free(taken);
	a->more = more || (int)n >= limit;
	a->claimed = n;
	if (n > 0)
		atomic_store(&a->idle, 0);
	if (a->more) {
		a->next_claim = now + a->o->poll_ms;
		return;
	}
	if (db_outbox_look_send(a->db, a->claim, a->o->nwebhooks, err, sizeof(err)) == -1) {
		alerter_db_error(a, "alert.db_claim", err);
		return;
	}
	a->stmt = STMT_LOOK;
}

/* When to claim again, and whether the alerter is idle. */
static void
alerter_look_recv(struct alerter *a, long now)
{
	struct outbox_look l;
	char err[512];
	long wait = a->o->poll_ms;

	a->stmt = STMT_NONE;
	if (db_outbox_look_recv(a->db, &l, err, sizeof(err)) == -1) {
		alerter_db_error(a, "alert.db_claim", err);
		return;
	}
	if (l.next_ms >= 0 && l.next_ms < wait)
		wait = l.next_ms;
	if (wait < ALERTER_MIN_WAIT_MS && a->claimed == 0)
		wait = ALERTER_MIN_WAIT_MS;
	a->next_claim = now + wait;
	atomic_store(&a->idle, a->claimed == 0 && webhook_multi_inflight(a->wm) == 0 &&
	    alerter_queued(a) == 0 && a->ended == NULL && !l.due && l.leased == 0 &&
	    a->group_due < 0);
}

/* The answer of the statement in flight, when it is in. */
static void
alerter_answer(struct alerter *a, long now)
{
	switch (db_result_ready(a->db)) {
	case 0:
		return;
	case -1:
		/* The answer is lost with the connection; db_recv() says so. */
	default:
		break;
	}
	if (a->stmt == STMT_RECORD)
		alerter_record_recv(a);
	else if (a->stmt == STMT_CLAIM)
		alerter_claim_recv(a, now);
	else if (a->stmt == STMT_LOOK)
		alerter_look_recv(a, now);
}

/* Notifications of committed outbox rows: claim at once. */
static void
alerter_notifications(struct alerter *a)
{
	int n;

	if ((n = db_notifications(a->db)) > 0)
		a->wake = 1;
	else if (n == -1)
		alerter_db_error(a, "alert.db_connect", "PostgreSQL is unreachable; retrying");
}

/* Turns due groups into outbox rows and learns when the next is due. */
static int
alerter_groups(struct alerter *a, long now)
{
	long next;

	if (alert_groups_flush(a->db, a->o, &next) == -1) {
		alerter_db_error(a, "alert.db_groups", "flushing alert groups failed");
		return -1;
	}
	/* a due group another alerter is flushing shows as due now until it
	 * commits: no busy loop */
	a->group_due = next < 0 ? -1 : now + (next > ALERTER_MIN_WAIT_MS ? next :
	    ALERTER_MIN_WAIT_MS);
	return 0;
}

/* One turn of the loop's database work: takes the answer in, then sends
 * the next statement: the record and the claim by turns when both wait. */
static void
alerter_turn(struct alerter *a, int stopping)
{
	long now = clock_ms();
	int record, claim;

	if (!alerter_db_usable(a, now))
		return;
	if (a->stmt != STMT_NONE) {
		alerter_answer(a, now);
		if (a->stmt != STMT_NONE || a->db_down)
			return;
	}
	alerter_notifications(a);
	if (a->db_down)
		return;
	if (a->release && webhook_multi_inflight(a->wm) == 0 && a->ended == NULL &&
	    alerter_release(a) == -1)
		return;
	if (!stopping && (!a->synced || now >= a->next_sync) && alerter_sync(a) == -1)
		return;
	if (!stopping && a->grouped && (a->wake || (a->group_due >= 0 && now >= a->group_due)) &&
	    alerter_groups(a, now) == -1)
		return;
	record = a->ended != NULL;
	claim = !stopping && !a->release &&
	    (a->wake || now >= a->next_claim || (a->more && a->freed));
	if (record && (!claim || a->last != STMT_RECORD))
		alerter_record_send(a);
	else if (claim)
		alerter_claim_send(a);
}

/* How long the loop may wait for something to happen. */
static int
alerter_timeout(struct alerter *a, int stopping)
{
	long now = clock_ms(), t;

	if (a->db_down)
		t = a->db_retry_at - now;
	else if (a->stmt != STMT_NONE)
		t = a->o->poll_ms;	/* the answer wakes the wait */
	else if (a->ended != NULL || (!stopping && (a->wake || (a->more && a->freed))))
		t = 0;
	else if (stopping)
		t = 1000;	/* libcurl's own timers end the wait sooner */
	else
		t = a->next_claim - now;
	if (!stopping && a->synced && !a->db_down && a->next_sync - now < t)
		t = a->next_sync - now;
	if (!stopping && !a->db_down && a->group_due >= 0 && a->group_due - now < t)
		t = a->group_due - now;
	return t < 0 ? 0 : t > a->o->poll_ms ? a->o->poll_ms : (int)t;
}

/* At the end: the answer in flight, the last records, and the leases of
 * the rows queued; when the database does not answer, their leases
 * expire. */
static void
alerter_finish(struct alerter *a)
{
	if (a->stmt != STMT_NONE)
		alerter_answer(a, clock_ms());
	while (a->stmt == STMT_LOOK)	/* a claim's answer sent a look */
		alerter_answer(a, clock_ms());
	if (!db_ok(a->db))
		return;
	a->db_down = 0;
	if (a->ended != NULL && alerter_record_send(a) == 0)
		alerter_record_recv(a);
	alerter_release(a);
}

/* Whether a stop's deadline has come with deliveries still in flight: they
 * are abandoned, and alerter_finish releases their leases with the others,
 * so that the next alerter sends them again at once under the same
 * delivery id (at least once, never lost). */
static int
alerter_past_deadline(struct alerter *a)
{
	long deadline = atomic_load(&a->deadline);

	if (deadline == 0 || clock_ms() < deadline)
		return 0;
	log_warn("alerter: shutdown_timeout reached with %d delivery(ies) in flight; "
	    "they are released and sent again later, with the same delivery id",
	    webhook_multi_inflight(a->wm));
	return 1;
}

static void *
alerter_main(void *arg)
{
	struct alerter *a = arg;
	char err[512];
	int stopping, ready;

	db_generic_plans(a->db);
	if (db_listen(a->db, DB_OUTBOX_CHANNEL, err, sizeof(err)) == -1)
		log_warn("alerter: %s; polling every %d ms instead", err, a->o->poll_ms);
	a->wake = 1;
	for (;;) {
		stopping = atomic_load(&a->stop);
		if (stopping && webhook_multi_inflight(a->wm) == 0 && a->stmt != STMT_RECORD &&
		    (a->ended == NULL || a->db_down))
			break;
		if (stopping && alerter_past_deadline(a))
			break;
		if (!stopping)
			alerter_fill(a);
		alerter_turn(a, stopping);
		/* the claim's answer may have queued rows */
		if (!stopping)
			alerter_fill(a);
		webhook_multi_wait(a->wm, a->db_down ? -1 : db_socket(a->db),
		    alerter_timeout(a, stopping), &ready);
		webhook_multi_perform(a->wm, alerter_job_done, a);
	}
	alerter_finish(a);
	atomic_store(&a->ended_run, 1);
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

/* Twice the longest POST (a queued row waits for one, then takes one)
 * plus the margin. */
static long
alerter_lease(const struct alert_opts *o)
{
	long max = 0;

	for (size_t i = 0; i < o->nwebhooks; i++)
		if (o->webhooks[i].timeout_ms > max)
			max = o->webhooks[i].timeout_ms;
	return 2 * max + ALERTER_LEASE_MARGIN_MS;
}

static void
alerter_free(struct alerter *a)
{
	struct alerter_job *j, *next;

	webhook_multi_abandon(a->wm, alerter_job_abandoned, NULL);
	webhook_multi_free(a->wm);
	for (j = a->ended; j != NULL; j = next) {
		next = j->next;
		alerter_job_free(j);
	}
	for (j = a->recording; j != NULL; j = next) {
		next = j->next;
		alerter_job_free(j);
	}
	if (a->dests != NULL && a->o != NULL)
		alerter_drop_queues(a);
	free(a->at);
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
	a->group_due = -1;
	a->dests = xcalloc(o->nwebhooks + 1, sizeof(*a->dests));
	a->claim = xcalloc(o->nwebhooks + 1, sizeof(*a->claim));
	for (size_t i = 0; i < o->nwebhooks; i++) {
		a->dests[i].wc = &o->webhooks[i];
		a->dests[i].queue_tail = &a->dests[i].queue;
		a->dests[i].healthy = 1;
		a->grouped |= o->webhooks[i].group_by.n > 0;
	}
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
	(void)alerter_stop_by(a, 0);
}

/* The thread finishes its last statement after the deadline at most one
 * database round later; one that still runs a second past it is waiting on
 * a database that does not answer, and is left to the exiting process. */
int
alerter_stop_by(struct alerter *a, long deadline_ms)
{
	if (a == NULL)
		return 0;
	atomic_store(&a->deadline, deadline_ms);
	atomic_store(&a->stop, 1);
	webhook_multi_wakeup(a->wm);
	while (deadline_ms != 0 && !atomic_load(&a->ended_run)) {
		if (clock_ms() > deadline_ms + 1000) {
			log_warn("alerter: still waiting on the database %ld ms after "
			    "shutdown_timeout; left to the exiting process", clock_ms() - deadline_ms);
			return -2;
		}
		usleep(10 * 1000);
	}
	pthread_join(a->thread, NULL);
	alerter_free(a);
	return 0;
}

int
alerter_idle(struct alerter *a)
{
	return atomic_load(&a->idle);
}
