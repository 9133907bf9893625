/* termesc.c — escaping for terminals (see termesc.h). An event's user name
 * or message may hold ESC sequences that move the cursor, retitle the
 * window or hide what follows; a report read on a terminal shows them as
 * text instead. */
#include "base/termesc.h"

#include "base/utf8.h"

int
termesc_unsafe(unsigned long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x180e ||
	    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
	    (cp >= 0xe0000 && cp <= 0xe007f);
}

static unsigned long
termesc_codepoint(const unsigned char *p, size_t len)
{
	static const unsigned char lead[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	unsigned long cp = p[0] & lead[len];

	for (size_t i = 1; i < len; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

void
termesc_append(struct buf *b, const char *s, size_t n, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len, shown = 0;
	unsigned long cp;

	while (i < n) {
		if (max && shown++ == max) {
			buf_puts(b, "...");
			return;
		}
		if ((len = utf8_seq(p + i, n - i)) == 0) {
			buf_printf(b, "\\x%02X", p[i++]);
			continue;
		}
		cp = termesc_codepoint(p + i, len);
		if (cp == '\\')
			buf_puts(b, "\\\\");
		else if (termesc_unsafe(cp))
			buf_printf(b, "\\u{%04lX}", cp);
		else
			buf_append(b, p + i, len);
		i += len;
	}
}
