/* progress.h — the progress line of a long command (kaudit scan): bytes
 * read, events, findings, rate and time left, redrawn on stderr by a
 * thread of its own while the work updates three counters. */
#ifndef KAUDIT_PROGRESS_H
#define KAUDIT_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

struct progress {
	/* set by the work, any thread (relaxed: the line is a glimpse) */
	_Atomic uint64_t bytes, events, findings;
	/* private */
	FILE		*f;
	uint64_t	 total;		/* bytes expected; 0 when unknown */
	int		 tty;		/* redraw in place; else a line a second */
	double		 t0;
	pthread_t	 tid;
	pthread_mutex_t	 mu;		/* the stream and the line on it */
	pthread_cond_t	 cv;
	int		 stop, started, shown;
};

/* Starts drawing on f: in place every quarter second when tty, else one
 * line a second. total is the input size when known (time left), else 0. */
void	progress_start(struct progress *p, FILE *f, int tty, uint64_t total);
/* Stops the thread and prints the last line, ended by a newline. */
void	progress_stop(struct progress *p);
/* Around other writes to the same stream: the line is cleared first and
 * redrawn at the next tick. NULL p does nothing. */
void	progress_hold(struct progress *p);
void	progress_release(struct progress *p);

#endif
