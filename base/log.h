/* log.h — leveled logging to stderr, safe from any thread.
 *
 * log_once() logs the first occurrence of a kind (a short static string such
 * as "ingest.oversize") and counts every occurrence, so a flood of bad input
 * yields one line and a counter rather than a flood of lines.
 *
 * Every line passes through log_redact() before it is written, in either
 * format: a password in a URL, the value of a key that names a secret
 * (password=, sasl.password=, token:, Authorization: Bearer ...) and every
 * string registered with log_secret() (webhook header values, signing
 * secrets) become "REDACTED". A line is at most LOG_LINE_MAX bytes; control
 * characters and invalid UTF-8 are written escaped, so a value from an event
 * cannot forge a line. */
#ifndef KAUDIT_LOG_H
#define KAUDIT_LOG_H

#include <stddef.h>

#define LOG_LINE_MAX	8192	/* bytes of one message, before escaping */
#define LOG_REDACTED	"REDACTED"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

void	 log_set_level(enum log_level lvl);
int	 log_level_parse(const char *s, enum log_level *out);
/* text: "TIME kaudit LEVEL: message"; json: one object per line with
 * time, level and msg. */
void	 log_set_format(enum log_format f);
/* 0 with *out set (out may be NULL: only checks), -1 for an unknown name. */
int	 log_format_parse(const char *s, enum log_format *out);
/* Registers a secret (copied) that no line may show; strings shorter than
 * 4 bytes are ignored (they would redact ordinary words). Up to 256. */
void	 log_secret(const char *s);
/* Forgets every registered secret (a reload registers the new ones). */
void	 log_secrets_clear(void);
/* Redacts s in place (it only shrinks or keeps its length when a secret is
 * at least as long as LOG_REDACTED; the result is cut to cap-1 bytes). */
void	 log_redact(char *s, size_t cap);

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
