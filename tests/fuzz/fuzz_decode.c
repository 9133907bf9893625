/* fuzz_decode.c — message decoding (every shape, envelopes, GKE mapping) on
 * arbitrary bytes, as one message and as a stream. */
#include "ingest/decode.h"

#include <stdint.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_part(void *arg, const struct decoded *part)
{
	size_t n;

	for (size_t i = 0; i < part->nev; i++)
		if (event_json(&part->ev[i], &n) == NULL || part->ev[i].cluster == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct decoded out;
	static struct buf scratch;
	struct decode_opts o = { 1u << 20, "log", NULL };
	size_t n;

	if (size > (1u << 20))
		return 0;
	decode_message(&out, (const char *)data, size, &o);
	for (size_t i = 0; i < out.nev; i++) {
		for (int f = 0; f < EF_COUNT; f++)
			event_str(&out.ev[i], (enum event_field)f, &scratch, &n);
		event_code(&out.ev[i]);
	}
	decode_stream(&out, (const char *)data, size, NULL, fuzz_part, NULL);
	return 0;
}
