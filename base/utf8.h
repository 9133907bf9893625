/* utf8.h — UTF-8 validation (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
#ifndef KAUDIT_UTF8_H
#define KAUDIT_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at p, n > 0 bytes left, or 0
 * when it is not one. NUL is a valid one-byte sequence here; callers that
 * cannot store it check for it themselves. */
size_t	utf8_seq(const unsigned char *p, size_t n);

/* 1 when s[0..n) is valid UTF-8 throughout. */
int	utf8_valid(const char *s, size_t n);

#endif
