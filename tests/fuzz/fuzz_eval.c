/* fuzz_eval.c — the shipped rule pack over arbitrary input decoded as
 * events: every condition, computed field (exec query, proxied path, user
 * agent, CSR subject, ...) and output template meets hostile values, and
 * each finding is built, serialized and freed. The pack is compiled once. */
#include "tests/fuzz/fuzz_eval.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_eval_input("fuzz_eval: the shipped pack", NULL, 0, data, size);
}
