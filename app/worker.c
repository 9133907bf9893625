/* worker.c — the worker loop (see worker.h for what it promises).
 *
 * DESIGN: worker_main is one state machine over the batch in hand; each state
 * is a function that does its step and returns the next state.
 *
 *   POLL ──batch──▶ EVALUATE ──▶ COMMIT ──committed──▶ STORE_OFFSETS ──▶ POLL
 *    │ empty: POLL                │  ▲
 *    │                  db trouble│  │backoff over
 *    │                            ▼  │
 *    │                          DB_WAIT (partitions paused, consumer served)
 *    │                            │ stop (or stop after a failed COMMIT)
 *    ▼ stop                       ▼
 *  CLOSE ◀──────────────────── RELEASE
 *
 * POLL fills a batch from Kafka (at most batch_max messages, batch_ms; an
 * ingest batch ends as soon as nothing more is queued: poll_batch).
 * EVALUATE hands it to the work (ingester.c: decode and run the rules;
 * stateowner.c: feed the state), whose results stay in hand until the batch
 * ends. COMMIT makes one attempt to write them in one transaction. When the database is away, DB_WAIT pauses the
 * assigned partitions and keeps calling the consumer poll, which then brings
 * no messages but runs rebalances and shows the group a live member, so an
 * outage longer than max.poll.interval.ms does not evict the worker; COMMIT
 * is tried again with a doubling backoff, and the commit that succeeds
 * resumes the partitions. STORE_OFFSETS stores the offsets after the batch
 * (only now: a failure anywhere before redelivers instead of losing) and
 * releases it; a partition revoked meanwhile is skipped, its new owner reads
 * those messages again. A stop request is seen in POLL (between batches),
 * and in COMMIT and DB_WAIT while the batch cannot be written: RELEASE then
 * gives the batch back unstored, to be read again after the restart. CLOSE
 * commits the stored offsets and leaves the group, waiting for the broker
 * no longer than the stop's deadline (shutdown_timeout). The batch in hand is
 * never lost and never grows while waiting. */
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

enum wstate {
	W_POLL,
	W_EVALUATE,
	W_COMMIT,
	W_DB_WAIT,
	W_STORE_OFFSETS,
	W_RELEASE,
	W_CLOSE,
};

struct worker {
	pthread_t		 thread;
	struct worker_conf	 wc;
	struct consumer		*kc;
	struct kmsg		*msgs;		/* batch_max */
	int			 n;		/* messages in hand */
	int			 failed;
	int			 paused;	/* partitions paused in DB_WAIT */
	long			 backoff_ms;
	long			 retry_at;	/* monotonic ms of the next COMMIT */
	long			 waiting_since;	/* first failed commit of this batch */
	long			 batch_at;	/* monotonic ms the batch came in hand */
	atomic_int		 done;		/* the thread has ended */
};

/* Ends the batch in hand (stored or released). */
static enum wstate
batch_end(struct worker *w, enum wstate next)
{
	w->wc.ops->end(w->wc.impl);
	w->n = 0;
	atomic_store(&w->wc.st->last_message_ms, clock_ms());
	atomic_fetch_sub(&w->wc.st->busy, 1);
	return next;
}

/* An ingest batch is written as soon as Kafka has nothing more queued: the
 * first message is waited for (batch_ms at most per call), the rest is what
 * the fetches already brought, up to batch_max. Under load the queue fills
 * while the previous batch is written, so batches stay full; a light stream
 * no longer waits batch_ms for a batch that will not fill. A partition
 * revoked between the two calls may leave the first message in the batch:
 * its offset is then dropped and the new owner reads it again, which the
 * findings' unique key absorbs (at least once, as after a crash). State
 * owners, whose batches must hold only partitions they own, keep the one
 * call that fills for batch_ms. */
static int
poll_batch(struct worker *w)
{
	int n;

	if (w->wc.kafka.own != NULL || w->wc.batch_max == 1)
		return consumer_poll_batch(w->kc, w->msgs, w->wc.batch_max, w->wc.batch_ms);
	if ((n = consumer_poll_batch(w->kc, w->msgs, 1, w->wc.batch_ms)) == 0)
		return 0;
	return n + consumer_poll_batch(w->kc, w->msgs + 1, w->wc.batch_max - 1, 0);
}

static enum wstate
st_poll(struct worker *w)
{
	if (atomic_load(w->wc.stop))
		return W_CLOSE;
	w->n = poll_batch(w);
	if (consumer_assigned(w->kc))
		atomic_store(&w->wc.st->assigned, 1);
	if (w->n == 0)
		return W_POLL;
	atomic_fetch_add(&w->wc.st->busy, 1);
	atomic_store(&w->wc.st->last_message_ms, clock_ms());
	atomic_fetch_add(&w->wc.st->messages, (unsigned long)w->n);
	w->batch_at = clock_ms();
	return W_EVALUATE;
}

static enum wstate
st_evaluate(struct worker *w)
{
	w->wc.ops->evaluate(w->wc.impl, w->msgs, w->n);
	w->backoff_ms = BACKOFF_MIN_MS;
	return W_COMMIT;
}

static enum wstate
st_commit(struct worker *w)
{
	if (w->wc.ops->commit(w->wc.impl) == 0) {
		if (w->paused) {
			log_info("%s %d: batch committed after %ld s of trouble; resuming",
			    w->wc.name, w->wc.id, (clock_ms() - w->waiting_since) / 1000);
			consumer_resume(w->kc);
			w->paused = 0;
		}
		return W_STORE_OFFSETS;
	}
	if (atomic_load(w->wc.stop))
		return W_RELEASE;
	if (!w->paused) {
		/* Fetching more would only queue messages that cannot be
		 * written; the group must still see us polling. */
		log_warn("%s %d: cannot commit; holding %d message(s), pausing the "
		    "partitions until the batch commits", w->wc.name, w->wc.id, w->n);
		consumer_pause(w->kc);
		w->paused = 1;
		w->waiting_since = clock_ms();
	}
	w->retry_at = clock_ms() + w->backoff_ms;
	w->backoff_ms = w->backoff_ms < BACKOFF_MAX_MS / 2 ? w->backoff_ms * 2 : BACKOFF_MAX_MS;
	return W_DB_WAIT;
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
	consumer_done(w->kc, w->msgs, w->n);
	obs_batch((double)(clock_ms() - w->batch_at) / 1000.0);
	return batch_end(w, W_POLL);
}

/* Stop requested while the batch could not commit: its offsets stay where
 * they are, so the next start reads these messages again. */
static enum wstate
st_release(struct worker *w)
{
	log_warn("%s %d: stopping with %d uncommitted message(s); they are read again "
	    "on the next start", w->wc.name, w->wc.id, w->n);
	consumer_release(w->msgs, w->n);
	w->failed = 1;
	return batch_end(w, W_CLOSE);
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
	if (w->wc.impl)
		w->wc.ops->free(w->wc.impl);
	free(w->msgs);
	free(w);
}

struct worker *
worker_start(const struct worker_conf *wc, char *err, size_t errlen)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->wc = *wc;
	w->msgs = xcalloc((size_t)wc->batch_max, sizeof(*w->msgs));
	if ((w->kc = consumer_new(&wc->kafka, err, errlen)) == NULL)
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
