/* utf8.c — UTF-8 validation (see utf8.h). */
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong three- and four-byte forms, surrogates, above U+10FFFF */
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return len;
}

/* ASCII goes sixteen bytes at a time: long strings with a few non-ASCII
 * bytes (names, messages) are validated at the speed of a copy. */
int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;
	uint64_t w[2];

	while (i < n) {
		if (p[i] < 0x80) {
			while (i + 16 <= n) {
				memcpy(w, p + i, 16);
				if ((w[0] | w[1]) & 0x8080808080808080ull)
					break;
				i += 16;
			}
			while (i < n && p[i] < 0x80)
				i++;
			continue;
		}
		if ((l = utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}
