/* fuzz_url.c — the query-string and path readers on arbitrary bytes: no
 * read outside the input, and what they return keeps its promises (every
 * pair is accounted for, a cleaned path is clean and stays so). */
#include "base/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_clean(const struct buf *p)
{
	static struct buf again;

	if (p->len == 0 || p->data[0] != '/' || (p->len > 1 && p->data[p->len - 1] == '/') ||
	    memmem(p->data, p->len, "//", 2) || memmem(p->data, p->len, "/./", 3) ||
	    memmem(p->data, p->len, "/../", 4))
		abort();
	url_path_clean(p->data, p->len, &again);
	if (again.len != p->len || memcmp(again.data, p->data, p->len) != 0)
		abort();	/* cleaning is idempotent */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf name, value, path;
	const char *s = (const char *)data;
	struct url_query q;
	size_t kept = 0, pairs = 1;

	if (size > 65536)
		return 0;
	url_query_init(&q, s, size);
	while (url_query_next(&q, &name, &value)) {
		if (name.data == NULL || value.data == NULL)
			abort();
		kept++;
	}
	for (size_t i = 0; i < size; i++)
		pairs += s[i] == '&';
	if (kept + q.dropped > pairs)
		abort();
	url_path_clean(s, size, &path);
	check_clean(&path);
	buf_reset(&path);
	if (url_unescape(s, size, 0, &path) == 0 && path.len > size)
		abort();	/* unescaping never grows the text */
	return 0;
}
