/* url.c — query strings and paths read as Go's net/url and path read them
 * (see url.h for the rules and why). */
#include "base/url.h"

#include <string.h>

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
url_unescape(const char *s, size_t n, int plus, struct buf *out)
{
	size_t start = out->len;

	buf_append(out, "", 0);		/* data is never NULL from here on */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			/* Go: i+2 >= len(s) or a non-hex digit is an EscapeError */
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
				out->len = start;
				out->data[start] = '\0';
				return -1;
			}
			buf_putc(out, (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2])));
			i += 2;
		} else if (s[i] == '+' && plus) {
			buf_putc(out, ' ');
		} else {
			buf_putc(out, s[i]);
		}
	}
	return 0;
}

void
url_query_init(struct url_query *q, const char *s, size_t n)
{
	q->p = s;
	q->end = s ? s + n : s;
	q->dropped = 0;
}

int
url_query_next(struct url_query *q, struct buf *name, struct buf *value)
{
	while (q->p < q->end) {
		const char *pair = q->p, *amp, *pend, *eq;
		amp = memchr(pair, '&', (size_t)(q->end - pair));
		pend = amp ? amp : q->end;
		q->p = amp ? amp + 1 : q->end;
		if (memchr(pair, ';', (size_t)(pend - pair)) != NULL) {
			q->dropped++;
			continue;
		}
		if (pend == pair)
			continue;
		eq = memchr(pair, '=', (size_t)(pend - pair));
		buf_reset(name);
		buf_reset(value);
		if (url_unescape(pair, (size_t)((eq ? eq : pend) - pair), 1, name) < 0 ||
		    url_unescape(eq ? eq + 1 : pend, eq ? (size_t)(pend - eq - 1) : 0,
		    1, value) < 0) {
			q->dropped++;
			continue;
		}
		return 1;
	}
	return 0;
}

void
url_path_clean(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;

	buf_reset(out);
	buf_append(out, "", 0);		/* data is never NULL from here on */
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '/')
			j++;
		if (j - i == 2 && s[i] == '.' && s[i + 1] == '.') {
			while (out->len > 0 && out->data[out->len - 1] != '/')
				out->len--;
			if (out->len > 0)
				out->len--;	/* the '/' before the dropped segment */
			out->data[out->len] = '\0';
		} else if (j > i && !(j - i == 1 && s[i] == '.')) {
			buf_putc(out, '/');
			buf_append(out, s + i, j - i);
		}
		i = j + 1;
	}
	if (out->len == 0)
		buf_putc(out, '/');
}
