/* fuzz_json.c — the tokenizer and its string helpers on arbitrary bytes:
 * never crash, and whatever parses is internally consistent: every string
 * reads as valid UTF-8 equal to itself, and a key found is the last of its
 * object that reads the same. */
#include "base/jtok.h"
#include "base/utf8.h"

#include <string.h>

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
		/* the tokenizer validated every escape, so decoding cannot fail */
		if (d.tok[t].type == JT_STR) {
			const char *s = jtok_str(&d, (int)t, &b, &n);
			if (s == NULL || !utf8_valid(s, n) || !jtok_str_eq(&d, (int)t, s, n))
				abort();
		}
		if (d.tok[t].type == JT_OBJ && d.tok[t].size > 0) {
			int last = -1, k;
			const char *key = jtok_str(&d, (int)t + 1, &b, &n);
			for (k = jtok_first(&d, (int)t); k >= 0; k = jtok_next(&d, (int)t, k))
				if (jtok_str_eq(&d, k, key, n))
					last = k + 1;
			if (jtok_get(&d, (int)t, key, n) != last ||
			    (last != (int)t + 2 && !(d.tok[t].flags & JTOK_DUPKEYS)))
				abort();
		}
		jtok_raw(&d, (int)t, &n);
	}
	jtok_path(&d, 0, "objectRef.resource");
	jtok_at(&d, 0, 3);
	return 0;
}
