/* fuzz_jstream.c — the stream reader of kaudit scan on arbitrary bytes,
 * plain or gzip (inputs starting 1f 8b), read in pieces of a size the
 * first byte picks: no read outside the input, positions that add up,
 * and plain input given back byte for byte, every cut after a newline. */
#include "ingest/jstream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
	const uint8_t	*p;
	size_t		 len, pos, step;
};

static ssize_t
src_read(void *arg, void *out, size_t n)
{
	struct src *s = arg;
	size_t k = s->len - s->pos;

	if (k > n)
		k = n;
	if (k > s->step)
		k = s->step;
	memcpy(out, s->p + s->pos, k);
	s->pos += k;
	return (ssize_t)k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s;
	struct jstream js;
	const char *p;
	size_t n, total = 0;

	if (size < 1 || size > 65536)
		return 0;
	s = (struct src){ data + 1, size - 1, 0, 1 + data[0] % 64 };
	jstream_init(&js, src_read, &s);
	js.piece = 1 + data[0] / 4;
	js.stuck = 64 + data[0];
	while (jstream_next(&js, &p, &n)) {
		if (n == 0 || js.off != total)
			abort();
		if (!js.gzip && memcmp(p, s.p + total, n) != 0)
			abort();	/* plain text comes back as it was */
		if (p[n - 1] != '\n' && js.off + n != js.out_bytes)
			abort();
		total += n;
	}
	if (!js.gzip && (total != s.len || js.err[0]) && strncmp(js.err, "a tar archive", 13) != 0)
		abort();
	if (js.in_bytes > s.len)
		abort();
	jstream_free(&js);
	return 0;
}
