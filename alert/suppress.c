/* suppress.c — the daemon's shared set of suppressions and the thread that
 * keeps it current (see suppress.h).
 *
 * DESIGN: readers are the ingest workers and state owners, once per finding;
 * the writer is the watcher, a few times a minute at most. A read-write lock
 * lets readers in together; the watcher compiles a new set outside the lock
 * and holds it only to swap the pointers, then frees the old set once no
 * reader can hold it. An empty set is answered without the lock. */
#include "alert/suppress.h"
#include "analyze/fcond.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUPPRESS_WAKE_MS	100	/* longest wait before the watcher checks for stop:
					 * each stop and reload waits for it */

struct suppress_entry {
	int64_t			 id;
	int64_t			 expires_ms;	/* 0: never */
	struct finding_cond	*cond;
};

struct suppress_set {
	pthread_rwlock_t	 lock;
	struct suppress_entry	*v;
	size_t			 n;
	atomic_size_t		 live;		/* n, read without the lock */
};

struct suppress_watch {
	struct suppress_set	*s;
	struct db		*db;
	long			 refresh_ms;
	atomic_int		 stop;
	pthread_t		 thread;
};

struct suppress_set *
suppress_new(void)
{
	struct suppress_set *s = xcalloc(1, sizeof(*s));

	pthread_rwlock_init(&s->lock, NULL);
	return s;
}

static void
suppress_entries_free(struct suppress_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fcond_free(v[i].cond);
	free(v);
}

void
suppress_free(struct suppress_set *s)
{
	if (s == NULL)
		return;
	suppress_entries_free(s->v, s->n);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

int64_t
suppress_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when the ids of v[0..n) are those of the current set: nothing to say. */
static int
suppress_same(struct suppress_set *s, const struct db_suppression *v, size_t n)
{
	int same = 1;

	pthread_rwlock_rdlock(&s->lock);
	if (n != s->n)
		same = 0;
	for (size_t i = 0; same && i < n; i++)
		same = s->v[i].id == v[i].id && s->v[i].expires_ms == v[i].expires_ms;
	pthread_rwlock_unlock(&s->lock);
	return same;
}

int
suppress_replace(struct suppress_set *s, const struct db_suppression *rows, size_t nrows)
{
	struct suppress_entry *v, *old;
	size_t n = 0, nold;
	struct buf errs;
	char what[48];
	int quiet = suppress_same(s, rows, nrows);

	buf_init(&errs);
	v = xcalloc(nrows + 1, sizeof(*v));
	for (size_t i = 0; i < nrows; i++) {
		snprintf(what, sizeof(what), "suppression %lld", (long long)rows[i].id);
		buf_reset(&errs);
		v[n].cond = fcond_compile(rows[i].condition, strlen(rows[i].condition),
		    "kaudit.suppressions", 1, what, &errs);
		if (v[n].cond == NULL) {
			if (!quiet)
				log_warn("%s (left out: lift it and make it again)",
				    buf_cstr(&errs));
			continue;
		}
		v[n].id = rows[i].id;
		v[n].expires_ms = rows[i].expires_ms;
		n++;
	}
	buf_free(&errs);
	pthread_rwlock_wrlock(&s->lock);
	old = s->v;
	nold = s->n;
	s->v = v;
	s->n = n;
	atomic_store(&s->live, n);
	pthread_rwlock_unlock(&s->lock);
	suppress_entries_free(old, nold);
	if (!quiet)
		log_info("suppressions: %zu live", n);
	return (int)n;
}

int
suppress_load(struct suppress_set *s, struct db *db, char *err, size_t errlen)
{
	struct db_suppression *rows = NULL;
	size_t nrows = 0;
	int n;

	if (db_suppressions_live(db, &rows, &nrows, err, errlen) == -1)
		return -1;
	n = suppress_replace(s, rows, nrows);
	db_suppressions_free(rows, nrows);
	return n;
}

int64_t
suppress_match(struct suppress_set *s, const json_t *finding, int64_t now_ms)
{
	int64_t id = 0;

	if (s == NULL || atomic_load(&s->live) == 0)
		return 0;
	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->n && id == 0; i++) {
		if (s->v[i].expires_ms != 0 && s->v[i].expires_ms <= now_ms)
			continue;
		if (fcond_eval(s->v[i].cond, finding))
			id = s->v[i].id;
	}
	pthread_rwlock_unlock(&s->lock);
	return id;
}

/* Waits up to ms for a notification: their number, 0 on timeout, -1 when
 * the connection is broken. */
static int
suppress_wait(struct suppress_watch *w, long ms)
{
	struct pollfd pfd = { db_socket(w->db), POLLIN, 0 };
	int n;

	if (pfd.fd < 0) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return -1;
	}
	if ((n = db_notifications(w->db)) != 0)
		return n;
	if (poll(&pfd, 1, (int)ms) <= 0)
		return 0;
	return db_notifications(w->db);
}

static void *
suppress_watch_main(void *arg)
{
	struct suppress_watch *w = arg;
	long last = clock_ms();
	char err[512];
	int got;

	while (!atomic_load(&w->stop)) {
		got = suppress_wait(w, SUPPRESS_WAKE_MS);
		if (got == 0 && clock_ms() - last < w->refresh_ms)
			continue;
		last = clock_ms();
		if (!db_ok(w->db))
			log_once("suppress.db", "suppressions: database away, keeping the last "
			    "ones");
		else if (suppress_load(w->s, w->db, err, sizeof(err)) == -1)
			log_once("suppress.load", "suppressions: cannot reload, keeping the "
			    "last ones: %s", err);
	}
	return NULL;
}

struct suppress_watch *
suppress_watch_start(struct suppress_set *s, const char *url, long refresh_ms, char *err,
    size_t errlen)
{
	struct suppress_watch *w = xcalloc(1, sizeof(*w));

	w->s = s;
	w->refresh_ms = refresh_ms;
	if ((w->db = db_connect(url, err, errlen)) == NULL)
		goto fail;
	if (db_listen(w->db, DB_SUPPRESS_CHANNEL, err, errlen) == -1 ||
	    suppress_load(s, w->db, err, errlen) == -1)
		goto fail;
	if (pthread_create(&w->thread, NULL, suppress_watch_main, w) != 0) {
		snprintf(err, errlen, "cannot start the suppression watcher: %s",
		    strerror(errno));
		goto fail;
	}
	return w;
fail:
	if (w->db)
		db_close(w->db);
	free(w);
	return NULL;
}

void
suppress_watch_stop(struct suppress_watch *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stop, 1);
	pthread_join(w->thread, NULL);
	db_close(w->db);
	free(w);
}
