/* b64.h — base64 (RFC 4648) decoding: strict, for secrets whose every bit
 * counts, and lenient, for what an event carries (a CSR's PEM body in
 * either alphabet, with line breaks); and encoding, for rule values that
 * name the encoded form of a text (Sigma's base64 modifiers). */
#ifndef KAUDIT_B64_H
#define KAUDIT_B64_H

#include <stddef.h>

#include "base/buf.h"

/* The value of a base64 digit, or -1: the standard alphabet, plus '-' and
 * '_' (the URL alphabet's 62 and 63) when url is set. */
int	b64_digit(unsigned char c, int url);

/* Strict: the standard alphabet, '=' padding optional but only at the end
 * and only as much as the length allows, leftover bits zero (so that no two
 * texts decode alike). Writes at most max bytes to out; returns their
 * count, or -1. */
long	b64_decode_strict(const char *s, size_t n, unsigned char *out, size_t max);

/* Lenient: either alphabet, whitespace skipped, stops at padding or
 * anything else. Replaces out's contents. */
void	b64_decode_lenient(const char *s, size_t n, struct buf *out);

/* Appends the standard-alphabet encoding of s[0..n), with '=' padding. */
void	b64_encode(const unsigned char *s, size_t n, struct buf *out);

#endif
