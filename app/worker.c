/* worker.c — the worker loop (see worker.h for what it promises).
 *
 * DESIGN: worker_main is one state machine over the batches in hand; each
 * state is a function that does its step and returns the next state.
 *
 *   POLL ──batch──▶ EVALUATE ──▶ SUBMIT ─────────────────────────────▶ POLL
 *    │ empty: POLL      │ older      │ (pipelined: to the writer thread)
 *    │                  ▼ batch      ▼ (otherwise on this thread)
 *    │               COLLECT ◀─── COMMIT ──committed──▶ STORE_OFFSETS ──▶ POLL
 *    │  write done:  │  │  failed   │  ▲                  ▲   or SUBMIT
 *    │  COLLECT ─────┘  └───────────┤  │backoff over      │
 *    │                    db trouble▼  │                  │
 *    │                            DB_WAIT (partitions paused, consumer served)
 *    │                              │ stop (or stop after a failed COMMIT)
 *    ▼ stop (after COLLECT)         ▼
 *  CLOSE ◀──────────────────────── RELEASE
 *
 * POLL fills a batch from Kafka (at most batch_max messages, batch_ms; an
 * ingest batch ends as soon as nothing more is queued: poll_batch).
 * EVALUATE hands it to the work (ingester.c: decode and run the rules;
 * stateowner.c: feed the state), whose results stay in hand until the batch
 * ends. COMMIT makes one attempt to write them in one transaction.
 *
 * Pipelined work (worker_conf.pipelined: the ingesters) has a writer thread:
 * SUBMIT gives it the evaluated batch and the worker polls and evaluates the
 * next one while the database writes this one. Before it submits the next,
 * COLLECT waits for the write in flight; only when that committed does
 * STORE_OFFSETS store its offsets. So at most two batches are in hand, one
 * writer writes a worker's batches in the order they were read (the order of
 * commits per partition holds), and offsets still follow commits. A write
 * that failed is tried again on the worker's thread, as without a writer.
 * A rebalance that revokes partitions first waits for the write in flight
 * (worker_revoking): committed, its offsets are stored before the
 * partitions go, so the new owner does not read the batch again.
 *
 * When the database is away, DB_WAIT pauses the assigned partitions and keeps
 * calling the consumer poll, which then brings no messages but runs
 * rebalances and shows the group a live member, so an outage longer than
 * max.poll.interval.ms does not evict the worker; COMMIT is tried again with
 * a doubling backoff, and the commit that succeeds resumes the partitions.
 * STORE_OFFSETS stores the offsets after the batch (only now: a failure
 * anywhere before redelivers instead of losing) and releases it; a partition
 * revoked meanwhile is skipped, its new owner reads those messages again. A
 * stop request is seen in POLL (between batches, after the write in flight
 * was collected), and in COMMIT and DB_WAIT while the batch cannot be
 * written: RELEASE then gives the batches in hand back unstored, to be read
 * again after the restart. CLOSE commits the stored offsets and leaves the
 * group, waiting for the broker no longer than the stop's deadline
 * (shutdown_timeout). The batches in hand are never lost and never grow
 * while waiting. */
#include "app/worker.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/obs.h"
#include "base/xmalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAG_TIMEOUT_MS	500	/* committed offsets for kaudit_consumer_lag */
#define BACKOFF_MIN_MS	200	/* first wait after a failed commit; doubles */
#define BACKOFF_MAX_MS	10000
#define SERVE_MS	200	/* longest consumer poll while waiting */
/* Longest poll while a write is in flight: its offsets are stored only when
 * the worker looks, and a poll that finds nothing waits batch_ms. */
#define WRITE_POLL_MS	20

enum wstate {
	W_POLL,
	W_EVALUATE,
	W_SUBMIT,
	W_COLLECT,
	W_COMMIT,
	W_DB_WAIT,
	W_STORE_OFFSETS,
	W_RELEASE,
	W_CLOSE,
};

/* A batch of messages and when it came in hand. */
struct wbatch {
	struct kmsg	*msgs;		/* batch_max */
	int		 n;
	long		 at;		/* monotonic ms */
};

struct worker {
	pthread_t		 thread;
	struct worker_conf	 wc;
	struct consumer		*kc;
	struct wbatch		 b[2];
	struct wbatch		*fill;		/* being read and evaluated; n 0: none */
	struct wbatch		*old;		/* evaluated, being written; NULL: none */
	int			 failed;
	int			 paused;	/* partitions paused in DB_WAIT */
	long			 backoff_ms;
	long			 retry_at;	/* monotonic ms of the next COMMIT */
	long			 waiting_since;	/* first failed commit of this batch */
	atomic_int		 done;		/* the thread has ended */
	/* the writer thread (pipelined work only) */
	int			 has_writer;
	pthread_t		 writer;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 job;		/* old is the writer's to write */
	int			 wdone;		/* ... and it has: wres is the result */
	int			 wres;
	int			 quit;
	int			 inflight;	/* old is with the writer, uncollected */
	int			 wrc;		/* old's commit result, once collected */
};

/* Runs commit() once, counting its time. */
static int
commit_once(struct worker *w)
{
	long t0 = clock_ms();
	int rc = w->wc.ops->commit(w->wc.impl);

	atomic_fetch_add(&w->wc.st->write_ms, (unsigned long)(clock_ms() - t0));
	return rc;
}

static void *
writer_main(void *arg)
{
	struct worker *w = arg;
	int rc;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->job && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->job)
			break;
		pthread_mutex_unlock(&w->mu);
		rc = commit_once(w);
		pthread_mutex_lock(&w->mu);
		w->job = 0;
		w->wres = rc;
		w->wdone = 1;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Waits for the write in flight; its result, counted as waited for. */
static int
writer_collect(struct worker *w)
{
	long t0 = clock_ms();
	int rc;

	pthread_mutex_lock(&w->mu);
	while (!w->wdone)
		pthread_cond_wait(&w->cv, &w->mu);
	w->wdone = 0;
	rc = w->wres;
	pthread_mutex_unlock(&w->mu);
	w->inflight = 0;
	atomic_fetch_add(&w->wc.st->write_wait_ms, (unsigned long)(clock_ms() - t0));
	return rc;
}

static int
writer_finished(struct worker *w)
{
	int d;

	pthread_mutex_lock(&w->mu);
	d = w->wdone;
	pthread_mutex_unlock(&w->mu);
	return d;
}

/* Ends the older batch (stored or released). */
static void
batch_end(struct worker *w)
{
	w->wc.ops->end(w->wc.impl);
	w->old->n = 0;
	w->old = NULL;
	atomic_store(&w->wc.st->last_message_ms, clock_ms());
	atomic_fetch_sub(&w->wc.st->busy, 1);
}

/* Stores the older batch's offsets: it is committed. */
static void
store_offsets(struct worker *w)
{
	consumer_done(w->kc, w->old->msgs, w->old->n);
	obs_batch((double)(clock_ms() - w->old->at) / 1000.0);
	batch_end(w);
}

/* Called by the consumer before partitions are revoked, on the worker's
 * thread inside a poll: the write in flight is waited for, and when it
 * committed its offsets are stored while its partitions are still ours
 * (the revocation commits them). A failed one stays for COMMIT, whose late
 * offsets the consumer then refuses: the new owner reads it again. */
static void
worker_revoking(void *arg)
{
	struct worker *w = arg;

	if (!w->inflight)
		return;
	if ((w->wrc = writer_collect(w)) == 0)
		store_offsets(w);
}

/* An ingest batch is written as soon as Kafka has nothing more queued: the
 * first message is waited for (ms at most per call), the rest is what
 * the fetches already brought, up to batch_max. Under load the queue fills
 * while the previous batch is written, so batches stay full; a light stream
 * no longer waits batch_ms for a batch that will not fill. A partition
 * revoked between the two calls may leave the first message in the batch:
 * its offset is then dropped and the new owner reads it again, which the
 * findings' unique key absorbs (at least once, as after a crash). State
 * owners, whose batches must hold only partitions they own, keep the one
 * call that fills for batch_ms. */
static int
poll_batch(struct worker *w, struct kmsg *msgs, int ms)
{
	int n;

	if (w->wc.kafka.own != NULL || w->wc.batch_max == 1)
		return consumer_poll_batch(w->kc, msgs, w->wc.batch_max, ms);
	if ((n = consumer_poll_batch(w->kc, msgs, 1, ms)) == 0)
		return 0;
	return n + consumer_poll_batch(w->kc, msgs + 1, w->wc.batch_max - 1, 0);
}

static enum wstate
st_poll(struct worker *w)
{
	int ms = w->wc.batch_ms;

	if (w->old != NULL && (!w->inflight || writer_finished(w) || atomic_load(w->wc.stop)))
		return W_COLLECT;
	if (atomic_load(w->wc.stop))
		return W_CLOSE;
	if (w->inflight && ms > WRITE_POLL_MS)
		ms = WRITE_POLL_MS;
	w->fill->n = poll_batch(w, w->fill->msgs, ms);
	if (consumer_assigned(w->kc))
		atomic_store(&w->wc.st->assigned, 1);
	if (w->fill->n == 0)
		return W_POLL;
	atomic_fetch_add(&w->wc.st->busy, 1);
	atomic_store(&w->wc.st->last_message_ms, clock_ms());
	atomic_fetch_add(&w->wc.st->messages, (unsigned long)w->fill->n);
	w->fill->at = clock_ms();
	return W_EVALUATE;
}

static enum wstate
st_evaluate(struct worker *w)
{
	w->wc.ops->evaluate(w->wc.impl, w->fill->msgs, w->fill->n);
	return w->old != NULL ? W_COLLECT : W_SUBMIT;
}

/* The evaluated batch becomes the older one: written by the writer while
 * the next is read, or right here. */
static enum wstate
st_submit(struct worker *w)
{
	w->old = w->fill;
	w->fill = w->old == &w->b[0] ? &w->b[1] : &w->b[0];
	w->backoff_ms = BACKOFF_MIN_MS;
	if (!w->has_writer)
		return W_COMMIT;
	pthread_mutex_lock(&w->mu);
	w->job = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	w->inflight = 1;
	return W_POLL;
}

/* A commit failed: pause, and try again after the backoff. */
static enum wstate
commit_trouble(struct worker *w)
{
	if (atomic_load(w->wc.stop))
		return W_RELEASE;
	if (!w->paused) {
		/* Fetching more would only queue messages that cannot be
		 * written; the group must still see us polling. */
		log_warn("%s %d: cannot commit; holding %d message(s), pausing the "
		    "partitions until the batch commits", w->wc.name, w->wc.id,
		    w->old->n + w->fill->n);
		consumer_pause(w->kc);
		w->paused = 1;
		w->waiting_since = clock_ms();
	}
	w->retry_at = clock_ms() + w->backoff_ms;
	w->backoff_ms = w->backoff_ms < BACKOFF_MAX_MS / 2 ? w->backoff_ms * 2 : BACKOFF_MAX_MS;
	return W_DB_WAIT;
}

/* The writer's result for the older batch (waited for when needed). */
static enum wstate
st_collect(struct worker *w)
{
	if (w->inflight)
		w->wrc = writer_collect(w);
	return w->wrc == 0 ? W_STORE_OFFSETS : commit_trouble(w);
}

static enum wstate
st_commit(struct worker *w)
{
	long t0 = clock_ms();
	int rc = commit_once(w);

	atomic_fetch_add(&w->wc.st->write_wait_ms, (unsigned long)(clock_ms() - t0));
	if (rc != 0)
		return commit_trouble(w);
	w->wrc = 0;
	if (w->paused) {
		log_info("%s %d: batch committed after %ld s of trouble; resuming",
		    w->wc.name, w->wc.id, (clock_ms() - w->waiting_since) / 1000);
		consumer_resume(w->kc);
		w->paused = 0;
	}
	return W_STORE_OFFSETS;
}

static enum wstate
st_db_wait(struct worker *w)
{
	long left = w->retry_at - clock_ms();

	if (atomic_load(w->wc.stop))
		return W_RELEASE;
	if (left <= 0)
		return W_COMMIT;
	consumer_serve(w->kc, left < SERVE_MS ? (int)left : SERVE_MS);
	return W_DB_WAIT;
}

static enum wstate
st_store_offsets(struct worker *w)
{
	store_offsets(w);
	return w->fill->n > 0 ? W_SUBMIT : W_POLL;
}

/* Stop requested while the older batch could not commit: its offsets and
 * those of the evaluated batch behind it stay where they are, so the next
 * start reads these messages again. */
static enum wstate
st_release(struct worker *w)
{
	log_warn("%s %d: stopping with %d uncommitted message(s); they are read again "
	    "on the next start", w->wc.name, w->wc.id, w->old->n + w->fill->n);
	consumer_release(w->old->msgs, w->old->n);
	batch_end(w);
	if (w->fill->n > 0) {
		consumer_release(w->fill->msgs, w->fill->n);
		w->old = w->fill;
		batch_end(w);
	}
	w->failed = 1;
	return W_CLOSE;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	enum wstate s = W_POLL;

	while (s != W_CLOSE) {
		switch (s) {
		case W_POLL:		s = st_poll(w); break;
		case W_EVALUATE:	s = st_evaluate(w); break;
		case W_SUBMIT:		s = st_submit(w); break;
		case W_COLLECT:		s = st_collect(w); break;
		case W_COMMIT:		s = st_commit(w); break;
		case W_DB_WAIT:		s = st_db_wait(w); break;
		case W_STORE_OFFSETS:	s = st_store_offsets(w); break;
		case W_RELEASE:		s = st_release(w); break;
		case W_CLOSE:		break;
		}
	}
	consumer_close(w->kc, atomic_load(w->wc.deadline));
	w->kc = NULL;
	atomic_store(&w->done, 1);
	return NULL;
}

static void
worker_free(struct worker *w)
{
	if (w->kc)
		consumer_close(w->kc, clock_ms() + 10000);
	if (w->has_writer) {
		pthread_mutex_lock(&w->mu);
		w->quit = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->writer, NULL);
	}
	if (w->wc.impl)
		w->wc.ops->free(w->wc.impl);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->b[0].msgs);
	free(w->b[1].msgs);
	free(w);
}

struct worker *
worker_start(const struct worker_conf *wc, char *err, size_t errlen)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->wc = *wc;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (int i = 0; i < 2; i++)
		w->b[i].msgs = xcalloc((size_t)wc->batch_max, sizeof(*w->b[i].msgs));
	w->fill = &w->b[0];
	if (wc->pipelined) {
		w->wc.kafka.revoking = worker_revoking;
		w->wc.kafka.revoking_arg = w;
		if (pthread_create(&w->writer, NULL, writer_main, w) != 0) {
			snprintf(err, errlen, "cannot start the writer of %s %d", wc->name, wc->id);
			goto fail;
		}
		w->has_writer = 1;
	}
	if ((w->kc = consumer_new(&w->wc.kafka, err, errlen)) == NULL)
		goto fail;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		snprintf(err, errlen, "cannot start %s thread", wc->name);
		goto fail;
	}
	return w;
fail:
	worker_free(w);
	return NULL;
}

int
worker_caught_up(struct worker *w)
{
	return w->kc != NULL && consumer_caught_up(w->kc, 5000);
}

int
worker_member(const struct worker *w)
{
	return w->kc != NULL && consumer_member(w->kc);
}

int
worker_group_drained(struct worker *w)
{
	return w->kc != NULL && consumer_group_drained(w->kc, 5000);
}

int
worker_watermarks(struct worker *w, const char *topic, int64_t *hi, int *n, int max)
{
	return w->kc != NULL ? consumer_watermarks(w->kc, topic, hi, n, max, 5000) : -1;
}

int
worker_lag(struct worker *w, void (*each)(void *arg, const char *topic, int32_t partition,
    int64_t lag), void *arg)
{
	return w->kc != NULL ? consumer_lag(w->kc, each, arg, LAG_TIMEOUT_MS) : -1;
}

int
worker_done(struct worker *w)
{
	return atomic_load(&w->done);
}

int
worker_join(struct worker *w)
{
	int failed;

	pthread_join(w->thread, NULL);
	failed = w->failed;
	worker_free(w);
	return failed ? -1 : 0;
}
