/* fuzz_json.c — the tokenizer and its string helpers on arbitrary bytes:
 * never crash, and whatever parses is internally consistent. */
#include "base/jtok.h"

#include <stdint.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jdoc d;
	static struct buf b;
	const char *text = (const char *)data;
	char err[128];
	size_t used, n;

	if (size > (1u << 20))
		return 0;
	if (jtok_parse_prefix(&d, text, size, &used, err, sizeof(err)) == 0 && used > size)
		abort();
	if (jtok_parse(&d, text, size, err, sizeof(err)) < 0)
		return 0;
	for (uint32_t t = 0; t < d.ntok; t++) {
		if (d.tok[t].next <= t || d.tok[t].next > d.ntok)
			abort();
		/* the tokenizer validated every escape, so unescaping cannot fail */
		if (d.tok[t].type == JT_STR && jtok_str(&d, (int)t, &b, &n) == NULL)
			abort();
		jtok_raw(&d, (int)t, &n);
	}
	jtok_path(&d, 0, "objectRef.resource");
	jtok_at(&d, 0, 3);
	return 0;
}
