/* progress.c — a progress line on stderr (see progress.h).
 *
 * DESIGN: the work only stores counters; a thread wakes on a timer, reads
 * them and writes the line, so the work never waits for a terminal. The
 * thread and anyone else writing to the stream take mu, so an error line
 * is never printed into the middle of the progress line. */
#include "app/progress.h"

#include <string.h>
#include <time.h>

static double
progress_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1234567890 as "1.2 GB": the unit changes at 1000. */
static void
progress_size(char *out, size_t n, double v)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1000;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

/* Writes the line; under mu. */
static void
progress_draw(struct progress *p, int last)
{
	uint64_t bytes = atomic_load_explicit(&p->bytes, memory_order_relaxed);
	uint64_t events = atomic_load_explicit(&p->events, memory_order_relaxed);
	uint64_t findings = atomic_load_explicit(&p->findings, memory_order_relaxed);
	double secs = progress_now() - p->t0, rate = secs > 0 ? bytes / secs : 0;
	char done[32], total[32], speed[32], left[48] = "";

	progress_size(done, sizeof(done), (double)bytes);
	progress_size(speed, sizeof(speed), rate);
	if (p->total) {
		progress_size(total, sizeof(total), (double)p->total);
		if (!last && rate > 0 && bytes < p->total) {
			unsigned long s = (unsigned long)((p->total - bytes) / rate);
			snprintf(left, sizeof(left), ", %lu:%02lu:%02lu left", s / 3600, s / 60 % 60, s % 60);
		}
		fprintf(p->f, "%sscan: %s of %s (%.0f%%), %llu events, %llu findings, %s/s, %.0f events/s%s%s",
		    p->tty ? "\r" : "", done, total,
		    bytes >= p->total ? 100.0 : 100.0 * (double)bytes / (double)p->total,
		    (unsigned long long)events, (unsigned long long)findings, speed,
		    secs > 0 ? events / secs : 0.0, left, p->tty ? "\033[K" : "\n");
	} else {
		fprintf(p->f, "%sscan: %s, %llu events, %llu findings, %s/s, %.0f events/s%s",
		    p->tty ? "\r" : "", done, (unsigned long long)events,
		    (unsigned long long)findings, speed, secs > 0 ? events / secs : 0.0,
		    p->tty ? "\033[K" : "\n");
	}
	p->shown = p->tty;
	fflush(p->f);
}

static void *
progress_run(void *arg)
{
	struct progress *p = arg;
	struct timespec ts;
	long step = p->tty ? 250000000L : 1000000000L;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += step;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (!p->stop)
			progress_draw(p, 0);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
progress_start(struct progress *p, FILE *f, int tty, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	atomic_init(&p->bytes, 0);
	atomic_init(&p->events, 0);
	atomic_init(&p->findings, 0);
	p->f = f;
	p->tty = tty;
	p->total = total;
	p->t0 = progress_now();
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->started = pthread_create(&p->tid, NULL, progress_run, p) == 0;
}

void
progress_stop(struct progress *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->tid, NULL);
	progress_draw(p, 1);
	if (p->tty)
		fputc('\n', p->f);
	fflush(p->f);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

void
progress_hold(struct progress *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->shown) {
		fputs("\r\033[K", p->f);
		p->shown = 0;
	}
}

void
progress_release(struct progress *p)
{
	if (p == NULL)
		return;
	fflush(p->f);
	pthread_mutex_unlock(&p->mu);
}
