/* b64.c — base64 decoding and encoding (see b64.h). */
#include "base/b64.h"

#include <stdint.h>

int
b64_digit(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || (url && c == '-'))
		return 62;
	if (c == '/' || (url && c == '_'))
		return 63;
	return -1;
}

long
b64_decode_strict(const char *s, size_t n, unsigned char *out, size_t max)
{
	size_t pad = 0, len = 0;
	unsigned int acc = 0;
	int bits = 0, d;

	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((d = b64_digit((unsigned char)s[i], 0)) < 0)
			return -1;
		acc = (acc << 6) | (unsigned int)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == max)
				return -1;
			out[len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	return (long)len;
}

void
b64_decode_lenient(const char *s, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	int bits = 0;

	buf_reset(out);
	for (size_t i = 0; i < n; i++) {
		int v = b64_digit((unsigned char)s[i], 1);
		if (v < 0) {
			if (s[i] == '\n' || s[i] == '\r' || s[i] == ' ' || s[i] == '\t')
				continue;
			break;
		}
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf_putc(out, (char)(acc >> bits & 0xff));
		}
	}
}

void
b64_encode(const unsigned char *s, size_t n, struct buf *out)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		buf_putc(out, digits[(v >> 18) & 63]);
		buf_putc(out, digits[(v >> 12) & 63]);
		buf_putc(out, left > 1 ? digits[(v >> 6) & 63] : '=');
		buf_putc(out, left > 2 ? digits[v & 63] : '=');
	}
}
