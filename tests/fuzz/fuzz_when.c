/* fuzz_when.c — `when:` conditions (analyze/fcond.c) from arbitrary text,
 * evaluated on a hostile finding and on arbitrary JSON. The input is the
 * condition, then optionally a NUL byte and a finding. A condition compiles
 * or reports why; evaluating it never crashes, answers 0 or 1, answers the
 * same twice and leaves the finding as it was. */
#include "analyze/fcond.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Values that look like condition syntax, NULs, types other than the
 * contract's, and nesting for any/all to walk. */
static const char hostile[] =
    "{\"rule\":\"k8s.exec.pod\\\" or true or \\\"\",\"severity\":\"high\\u0000\","
    "\"category\":\"exec) or (category = exec\",\"tags\":[\"T1609\",1,null,[\"T1609\"],{}],"
    "\"namespace\":\"prod\\\\\",\"user\":\"%{rule} ${HOME}\",\"groups\":\"devs\","
    "\"code\":\"101\",\"repeats\":1e308,\"source_ip\":\"10.0.0.1/8\","
    "\"evidence\":{\"objectRef.name\":[[[\"x\"]]],\"\":null},"
    "\"correlation\":{\"kind\":\"value_count\",\"count\":-1,\"key\":{\"user.username\":{}},"
    "\"audit_ids\":[\"a\",\"\\u0000\"],\"tuple\":[[[[[[[[[[[[[[[[\"deep\"]]]]]]]]]]]]]]]]}}";

static void
eval_twice(const struct finding_cond *fc, json_t *f)
{
	char *before = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY);
	char *after;
	int r = fcond_eval(fc, f);

	if ((r != 0 && r != 1) || fcond_eval(fc, f) != r)
		abort();
	after = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY);
	if ((before == NULL) != (after == NULL) || (before && strcmp(before, after) != 0))
		abort();
	free(before);
	free(after);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = size ? memchr(text, '\0', size) : NULL;
	size_t tlen = nul ? (size_t)(nul - text) : size;
	struct finding_cond *fc;
	struct buf errs;
	json_t *f;

	if (size > 8192)
		return 0;
	buf_init(&errs);
	fc = fcond_compile(text, tlen, "fuzz.yaml", 1, "when", &errs);
	if (fc == NULL && errs.len == 0)
		abort();	/* a failure must say why */
	if (fc != NULL) {
		if ((f = json_loads(hostile, JSON_ALLOW_NUL, NULL)) == NULL)
			abort();
		eval_twice(fc, f);
		json_decref(f);
		if (nul && (f = json_loadb(nul + 1, size - tlen - 1,
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)) != NULL) {
			eval_twice(fc, f);
			json_decref(f);
		}
		fcond_free(fc);
	}
	buf_free(&errs);
	return 0;
}
