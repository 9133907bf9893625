/* log.h — leveled logging to stderr, safe from any thread.
 *
 * log_once() logs the first occurrence of a kind (a short static string such
 * as "ingest.oversize") and counts every occurrence, so a flood of bad input
 * yields one line and a counter rather than a flood of lines. */
#ifndef KAUDIT_LOG_H
#define KAUDIT_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void	 log_set_level(enum log_level lvl);
int	 log_level_parse(const char *s, enum log_level *out);
void	 log_msg(enum log_level lvl, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Logs at WARN the first time `kind` is seen; always counts it. */
void	 log_once(const char *kind, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Count of log_once() calls for kind so far. */
unsigned long log_count(const char *kind);

#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)

#endif
