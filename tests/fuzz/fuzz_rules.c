/* fuzz_rules.c — the rule compiler on arbitrary YAML: every input either
 * compiles or yields `file:line: message` errors; never a crash, a leak or
 * an unbounded recursion (aliases, deep nesting, cyclic macros). */
#include "analyze/rules.h"

#include <stdint.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule_source src = { "fuzz.yaml", (const char *)data, size };
	struct buf errs;
	struct ruleset *rs;

	if (size > (64u << 10))
		return 0;
	buf_init(&errs);
	rs = ruleset_compile(&src, 1, NULL, &errs);
	if (rs == NULL && errs.len == 0)
		abort();	/* a failure must say why */
	ruleset_free(rs);
	buf_free(&errs);
	return 0;
}
