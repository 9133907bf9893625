/* fuzz_eval.c — the shipped rule pack over arbitrary input decoded as
 * events: every condition, computed field (exec query, proxied path, user
 * agent, CSR subject, ...) and output template meets hostile values, and
 * each finding is built, serialized and freed. The pack is compiled once. */
#include "analyze/rules.h"
#include "app/rulefiles.h"
#include "ingest/decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
emit(void *arg, json_t *finding, const struct audit_event *ev)
{
	char *text = json_dumps(finding, JSON_COMPACT);

	if (text == NULL)
		abort();	/* a finding must always serialize */
	free(text);
	json_decref(finding);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ruleset *rs;
	static struct eval_scratch *s;
	static struct decoded out;
	struct decode_opts o = { 1u << 20, "log", NULL };
	struct buf errs;

	if (size > (1u << 20))
		return 0;
	if (rs == NULL) {
		buf_init(&errs);
		if ((rs = rulefiles_load(NULL, 0, NULL, &errs)) == NULL) {
			fprintf(stderr, "fuzz_eval: the shipped pack: %s", buf_cstr(&errs));
			abort();
		}
		buf_free(&errs);
		s = eval_scratch_new(rs);
	}
	decode_message(&out, (const char *)data, size, &o);
	for (size_t i = 0; i < out.nev; i++)
		ruleset_eval(rs, &out.ev[i], s, emit, NULL);
	return 0;
}
