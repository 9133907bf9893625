/* fuzz_falco.c — Falco rules over arbitrary input decoded as events: every
 * ka.* and jevt.* field (list fields, JSON pointers, query parameters,
 * per-container values) is read from hostile values, every Falco operator
 * compares them, and every output renders them. The rules are compiled once
 * from the repository (run from its root, as make check and run.sh do). */
#include "analyze/rules.h"
#include "app/rulefiles.h"
#include "ingest/decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
	"tests/fixtures/corpus/falco-k8saudit-rules/k8s_audit_rules.plugins-current.yaml",
	"tests/rules/falco/fields.yaml",
	"tests/rules/falco/semantics.yaml",
};

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
		if ((rs = rulefiles_load(paths, 3, NULL, &errs)) == NULL) {
			fprintf(stderr, "fuzz_falco: %s", buf_cstr(&errs));
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
