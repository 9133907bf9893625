/* fuzz_cond.c — the condition parser on arbitrary text: it compiles or
 * reports one error with a position; never a crash or a stack overflow. */
#include "analyze/rules_impl.h"

#include <stdint.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf errs;

	if (size > 4096)
		return 0;
	buf_init(&errs);
	if (cond_check((const char *)data, size, &errs) < 0 && errs.len == 0)
		abort();	/* a failure must say why */
	buf_free(&errs);
	return 0;
}
