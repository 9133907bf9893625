/* buf.c — growable byte buffer. */
#include "base/buf.h"
#include "base/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static void
buf_grow(struct buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	size_t cap = b->cap ? b->cap : 64;

	if (need <= b->cap)
		return;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	/* Print straight into the spare room; grow and print again only when
	 * it did not fit. */
	buf_grow(b, 128);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->data[b->len] = '\0';
		return;
	}
	if ((size_t)n >= room) {
		buf_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
buf_json_esc(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	switch (c) {
	case '"':  buf_append(b, "\\\"", 2); break;
	case '\\': buf_append(b, "\\\\", 2); break;
	case '\n': buf_append(b, "\\n", 2); break;
	case '\r': buf_append(b, "\\r", 2); break;
	case '\t': buf_append(b, "\\t", 2); break;
	default:   buf_append(b, u, 6); break;
	}
}

void
buf_json_str(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, run;

	/* room for the common case, no escapes, so runs copy without growing */
	buf_grow(b, n + 2);
	b->data[b->len++] = '"';
	while (i < n) {
		for (run = i; run < n; run++) {
			unsigned char c = (unsigned char)s[run];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
		}
		buf_append(b, s + i, run - i);
		if (run == n)
			break;
		buf_json_esc(b, (unsigned char)s[run]);
		i = run + 1;
	}
	buf_putc(b, '"');
}

const char *
buf_cstr(const struct buf *b)
{
	return b->data ? b->data : "";
}
