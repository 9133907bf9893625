/* log.c — leveled logging with once-per-kind warnings (see log.h). */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_KINDS_MAX 64

static enum log_level min_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char	*kind;
	unsigned long	 count;
} kinds[LOG_KINDS_MAX];

void
log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_vwrite(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *tag[] = { "debug", "info", "warn", "error" };
	char when[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ kaudit %s: ", when, ts.tv_nsec / 1000000, tag[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	log_vwrite(lvl, fmt, ap);
	va_end(ap);
}

void
log_once(const char *kind, const char *fmt, ...)
{
	va_list ap;
	unsigned long n = 0;
	int i;

	pthread_mutex_lock(&log_lock);
	for (i = 0; i < LOG_KINDS_MAX && kinds[i].kind; i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			break;
	if (i < LOG_KINDS_MAX) {
		if (kinds[i].kind == NULL)
			kinds[i].kind = kind;
		n = ++kinds[i].count;
	}
	pthread_mutex_unlock(&log_lock);
	if (n != 1 || LOG_WARN < min_level)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_WARN, fmt, ap);
	va_end(ap);
}

unsigned long
log_count(const char *kind)
{
	unsigned long n = 0;

	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < LOG_KINDS_MAX && kinds[i].kind; i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			n = kinds[i].count;
	pthread_mutex_unlock(&log_lock);
	return n;
}
