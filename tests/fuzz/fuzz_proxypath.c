/* fuzz_proxypath.c — ka.proxy.path on arbitrary request URIs: never a read
 * outside the input, and what it returns is a clean path: it starts with
 * '/', holds no empty, `.` or `..` segment, and is no longer than the
 * decoded input plus the two slashes it may add. */
#include "analyze/proxypath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
clean(const char *p, size_t n)
{
	if (n == 0 || p[0] != '/')
		return 0;
	for (size_t i = 1; i < n; ) {
		const char *slash = memchr(p + i, '/', n - i);
		size_t len = (slash ? (size_t)(slash - p) : n) - i;
		if (slash && len == 0)
			return 0;	/* "//" */
		if ((len == 1 && p[i] == '.') || (len == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i += len + 1;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf tmp, out;

	if (size > 8192)
		return 0;
	buf_init(&tmp);
	buf_init(&out);
	if (proxy_path((const char *)data, size, &tmp, &out) == 0 &&
	    (!clean(out.data, out.len) || out.len > size + 2))
		abort();
	buf_free(&tmp);
	buf_free(&out);
	return 0;
}
