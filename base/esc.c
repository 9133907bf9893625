/* esc.c — escaping for HTML, Markdown and CSV (see esc.h); controls and
 * format characters are those base/termesc.c hides from terminals. */
#include "base/esc.h"

#include <string.h>

#include "base/termesc.h"
#include "base/utf8.h"

static unsigned long
esc_codepoint(const unsigned char *p, size_t len)
{
	static const unsigned char lead[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	unsigned long cp = p[0] & lead[len];

	for (size_t i = 1; i < len; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

void
esc_html(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len;
	unsigned long cp;

	while (i < n) {
		if ((len = utf8_seq(p + i, n - i)) == 0) {
			buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		cp = esc_codepoint(p + i, len);
		switch (cp) {
		case '&': buf_puts(b, "&amp;"); break;
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&#39;"); break;
		default:
			if (termesc_unsafe(cp))
				buf_printf(b, "\\u{%04lX}", cp);
			else
				buf_append(b, p + i, len);
		}
		i += len;
	}
}

void
esc_md(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len;
	unsigned long cp;

	while (i < n) {
		if ((len = utf8_seq(p + i, n - i)) == 0) {
			buf_printf(b, "\\\\x%02X", p[i++]);
			continue;
		}
		cp = esc_codepoint(p + i, len);
		if (cp < 0x80 && cp != 0 && strchr("\\`*_[]()<>#!|~&${}", (int)cp) != NULL) {
			buf_putc(b, '\\');
			buf_putc(b, (char)cp);
		} else if (cp == '\n') {
			buf_puts(b, "\\\\n");
		} else if (termesc_unsafe(cp)) {
			buf_printf(b, "\\\\u\\{%04lX\\}", cp);
		} else {
			buf_append(b, p + i, len);
		}
		i += len;
	}
}

void
esc_csv(struct buf *b, const char *s, int numeric)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, len;
	int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');

	quote = quote || strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		buf_putc(b, '"');
	if (!numeric && n > 0 && strchr("=+-@\t\r", s[0]) != NULL)
		buf_putc(b, '\'');
	while (i < n) {
		if ((len = utf8_seq(p + i, n - i)) == 0) {
			buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		if (p[i] == '"')
			buf_putc(b, '"');
		buf_append(b, p + i, len);
		i += len;
	}
	if (quote)
		buf_putc(b, '"');
}
