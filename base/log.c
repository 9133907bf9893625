/* log.c — leveled logging with once-per-kind warnings, two formats and
 * redaction of secrets (see log.h).
 *
 * DESIGN: a line is formatted into a stack buffer, redacted and escaped
 * under one lock, then written with one fwrite, so lines of different
 * threads never interleave and the secret list is read while no thread
 * changes it. Redaction works on the finished text, not on the arguments:
 * a secret reaches a line through error strings of libpq, librdkafka and
 * libcurl as easily as through our own format strings. */
#include "base/log.h"
#include "base/buf.h"
#include "base/utf8.h"
#include "base/xmalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_KINDS_MAX	64
#define LOG_SECRETS_MAX	256
#define LOG_SECRET_MIN	4

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_TEXT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	const char	*kind;
	unsigned long	 count;
} kinds[LOG_KINDS_MAX];
static char *secrets[LOG_SECRETS_MAX];
static size_t nsecrets;

/* Words that, as the end of a key, say its value is a secret. */
static const char *const secret_keys[] = { "password", "passwd", "secret", "token",
	"authorization", "api_key", "apikey", "api-key", "oauthbearer.config",
	"private_key", "routing_key", "cookie", NULL };

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

void
log_set_format(enum log_format f)
{
	format = f;
}

int
log_format_parse(const char *s, enum log_format *out)
{
	enum log_format f;

	if (strcmp(s, "text") == 0)
		f = LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		f = LOG_JSON;
	else
		return -1;
	if (out)
		*out = f;
	return 0;
}

void
log_secret(const char *s)
{
	if (s == NULL || strlen(s) < LOG_SECRET_MIN)
		return;
	pthread_mutex_lock(&log_lock);
	if (nsecrets < LOG_SECRETS_MAX)
		secrets[nsecrets++] = xstrdup(s);
	pthread_mutex_unlock(&log_lock);
}

void
log_secrets_clear(void)
{
	pthread_mutex_lock(&log_lock);
	while (nsecrets > 0)
		free(secrets[--nsecrets]);
	pthread_mutex_unlock(&log_lock);
}

/* The length of the registered secret at s, 0 when none starts there. */
static size_t
secret_at(const char *s)
{
	for (size_t k = 0; k < nsecrets; k++) {
		size_t n = strlen(secrets[k]);
		if (strncmp(s, secrets[k], n) == 0)
			return n;
	}
	return 0;
}

/* At s[i] = "://": the userinfo's password, as [*from, *to), when the
 * authority has one. */
static int
url_password(const char *s, size_t i, size_t *from, size_t *to)
{
	size_t start = i + 3, end = start, at = 0, colon = 0;

	for (; s[end] && !strchr("/?#\"'<> \t\r\n", s[end]); end++)
		if (s[end] == '@')
			at = end;
	if (at == 0)
		return 0;
	for (size_t k = start; k < at; k++)
		if (s[k] == ':') {
			colon = k;
			break;
		}
	if (colon == 0 || colon + 1 == at)
		return 0;
	*from = colon + 1;
	*to = at;
	return 1;
}

/* At s[i], a key naming a secret followed by = or : and a value: the
 * value's bounds (an auth scheme such as "Bearer " stays readable). */
static int
key_value(const char *s, size_t i, size_t *from, size_t *to)
{
	size_t j = 0, k;
	char quote = 0;

	for (int w = 0; secret_keys[w]; w++)
		if (strncasecmp(s + i, secret_keys[w], strlen(secret_keys[w])) == 0) {
			j = i + strlen(secret_keys[w]);
			break;
		}
	if (j == 0)
		return 0;
	if (s[j] == '"' || s[j] == '\'')
		j++;
	while (s[j] == ' ')
		j++;
	if (s[j] != '=' && s[j] != ':')
		return 0;
	for (j++; s[j] == ' '; j++)
		;
	if (s[j] == '"' || s[j] == '\'')
		quote = s[j++];
	if (strncasecmp(s + j, "Bearer ", 7) == 0 || strncasecmp(s + j, "Basic ", 6) == 0)
		for (j += s[j + 1] == 'e' || s[j + 1] == 'E' ? 7 : 6; s[j] == ' '; j++)
			;
	for (k = j; s[k] && (quote ? s[k] != quote : !strchr(" \t\r\n,;&})\"'", s[k])); k++)
		;
	if (k == j)
		return 0;
	*from = j;
	*to = k;
	return 1;
}

/* The registered secrets first, over the whole line, so that none hides in
 * the text the patterns keep (a URL's user name); then the patterns. */
static void
redact_pass(const char *s, struct buf *o, int secrets_pass)
{
	size_t i = 0, from, to, n;

	while (s[i]) {
		if (secrets_pass && (n = secret_at(s + i)) > 0) {
			buf_puts(o, LOG_REDACTED);
			i += n;
		} else if (!secrets_pass && ((strncmp(s + i, "://", 3) == 0 &&
		    url_password(s, i, &from, &to)) || key_value(s, i, &from, &to))) {
			buf_append(o, s + i, from - i);
			buf_puts(o, LOG_REDACTED);
			i = to;
		} else {
			buf_putc(o, s[i++]);
		}
	}
}

/* Called with log_lock held. */
static void
redact_locked(char *s, size_t cap)
{
	struct buf a, b;
	size_t n;

	buf_init(&a);
	buf_init(&b);
	redact_pass(s, &a, 1);
	redact_pass(buf_cstr(&a), &b, 0);
	n = b.len < cap - 1 ? b.len : cap - 1;
	memcpy(s, buf_cstr(&b), n);
	s[n] = '\0';
	buf_free(&a);
	buf_free(&b);
}

void
log_redact(char *s, size_t cap)
{
	pthread_mutex_lock(&log_lock);
	redact_locked(s, cap);
	pthread_mutex_unlock(&log_lock);
}

/* The message as text or a JSON string's contents: controls and invalid
 * UTF-8 escaped, so one call is one line whatever the message holds. */
static void
put_escaped(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), len;

	for (size_t i = 0; i < n; i += len) {
		len = utf8_seq(p + i, n - i);
		if (len == 0) {
			len = 1;
			if (format == LOG_JSON)
				buf_puts(b, "\\ufffd");
			else
				buf_printf(b, "\\x%02x", p[i]);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			if (p[i] == '\n')
				buf_puts(b, "\\n");
			else if (p[i] == '\t')
				buf_puts(b, "\\t");
			else
				buf_printf(b, format == LOG_JSON ? "\\u%04x" : "\\x%02x", p[i]);
		} else if (format == LOG_JSON && (p[i] == '"' || p[i] == '\\')) {
			buf_putc(b, '\\');
			buf_putc(b, (char)p[i]);
		} else {
			buf_append(b, s + i, len);
		}
	}
}

static void
log_vwrite(enum log_level lvl, const char *fmt, va_list ap)
{
	static const char *tag[] = { "debug", "info", "warn", "error" };
	char when[32], msg[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	struct buf line;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (size_t n = strlen(msg); n > 0 && isspace((unsigned char)msg[n - 1]); n--)
		msg[n - 1] = '\0';	/* libpq ends its messages with a newline */
	buf_init(&line);
	pthread_mutex_lock(&log_lock);
	redact_locked(msg, sizeof(msg));
	if (format == LOG_JSON)
		buf_printf(&line, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", when,
		    ts.tv_nsec / 1000000, tag[lvl]);
	else
		buf_printf(&line, "%s.%03ldZ kaudit %s: ", when, ts.tv_nsec / 1000000, tag[lvl]);
	put_escaped(&line, msg);
	buf_puts(&line, format == LOG_JSON ? "\"}\n" : "\n");
	fwrite(line.data, 1, line.len, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
	buf_free(&line);
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
