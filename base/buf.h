/* buf.h — a growable byte buffer (always NUL-terminated). */
#ifndef KAUDIT_BUF_H
#define KAUDIT_BUF_H

#include <stddef.h>

struct buf {
	char	*data;	/* NUL-terminated; NULL until first append */
	size_t	 len;
	size_t	 cap;
};

void	 buf_init(struct buf *b);
void	 buf_free(struct buf *b);
void	 buf_reset(struct buf *b);		/* len = 0, keeps memory */
void	 buf_append(struct buf *b, const void *p, size_t n);
void	 buf_puts(struct buf *b, const char *s);
void	 buf_putc(struct buf *b, char c);
void	 buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Appends the JSON escape of c: one of " \\ or a control character. */
void	 buf_json_esc(struct buf *b, unsigned char c);
/* Appends s as a JSON string literal, quotes included. */
void	 buf_json_str(struct buf *b, const char *s, size_t n);
/* Returns data, or "" when nothing was appended. */
const char *buf_cstr(const struct buf *b);

#endif
