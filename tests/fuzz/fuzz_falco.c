/* fuzz_falco.c — Falco rules over arbitrary input decoded as events: every
 * ka.* and jevt.* field (list fields, JSON pointers, query parameters,
 * per-container values) is read from hostile values, every Falco operator
 * compares them, and every output renders them. The rules are compiled once
 * from the repository (run from its root, as make check and run.sh do). */
#include "tests/fuzz/fuzz_eval.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
	"tests/fixtures/corpus/falco-k8saudit-rules/k8s_audit_rules.plugins-current.yaml",
	"tests/rules/falco/fields.yaml",
	"tests/rules/falco/semantics.yaml",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_eval_input("fuzz_falco", paths, sizeof(paths) / sizeof(*paths), data, size);
}
