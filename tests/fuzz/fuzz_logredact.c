/* fuzz_logredact.c — the log's redaction on arbitrary text (a log line may
 * quote any value of an event): no read outside the line, the result ends
 * within its buffer, and a registered secret never survives it. */
#include "base/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	char s[LOG_LINE_MAX];

	if (!once++)
		log_secret("Fuzz-Secret-1");
	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	log_redact(s, sizeof(s));
	if (strlen(s) >= sizeof(s) || strstr(s, "Fuzz-Secret-1") != NULL)
		abort();
	return 0;
}
