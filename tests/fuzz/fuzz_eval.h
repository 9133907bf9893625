/* fuzz_eval.h — what fuzz_eval and fuzz_falco share: a rule set compiled
 * once (paths, or the shipped pack when n is 0), then every event decoded
 * from the input evaluated, each finding serialized and freed. Included by
 * one fuzz target each, so the statics are the target's own. */
#ifndef KAUDIT_FUZZ_EVAL_H
#define KAUDIT_FUZZ_EVAL_H

#include "analyze/rules.h"
#include "app/rulefiles.h"
#include "ingest/decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void
fuzz_emit(void *arg, json_t *finding, const struct audit_event *ev)
{
	char *text = json_dumps(finding, JSON_COMPACT);

	(void)arg;
	(void)ev;
	if (text == NULL)
		abort();	/* a finding must always serialize */
	free(text);
	json_decref(finding);
}

static int
fuzz_eval_input(const char *who, const char *const *paths, size_t n, const uint8_t *data,
    size_t size)
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
		if ((rs = rulefiles_load(paths, n, NULL, &errs)) == NULL) {
			fprintf(stderr, "%s: %s", who, buf_cstr(&errs));
			abort();
		}
		buf_free(&errs);
		s = eval_scratch_new(rs);
	}
	decode_message(&out, (const char *)data, size, &o);
	for (size_t i = 0; i < out.nev; i++)
		ruleset_eval(rs, &out.ev[i], s, fuzz_emit, NULL);
	return 0;
}

#endif
