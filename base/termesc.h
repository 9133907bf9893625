/* termesc.h — text from events made safe to print on a terminal. */
#ifndef KAUDIT_TERMESC_H
#define KAUDIT_TERMESC_H

#include <stddef.h>

#include "base/buf.h"

/* Appends s[0..n) with what a terminal could act on or hide written out:
 * a backslash as \\, C0 and C1 controls, DEL and the format characters
 * that reorder or hide text (bidi controls, zero-width ones, tags) as
 * \u{XXXX}, a byte that is not UTF-8 as \xHH. After max characters (0: no
 * limit), "..." and nothing more. */
void	termesc_append(struct buf *b, const char *s, size_t n, size_t max);

/* 1 when a terminal may act on or hide the code point cp. */
int	termesc_unsafe(unsigned long cp);

#endif
