/* fuzz_eventlist.c — the gateway's webhook body check on arbitrary bytes:
 * every event it hands out lies inside the body and has an auditID. */
#include "ingest/eventlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct eventlist l;
	const char *body = (const char *)data;
	char err[256];
	long n;

	if (size > (1u << 20))
		return 0;
	if ((n = eventlist_parse(&l, body, size, err, sizeof(err))) < 0)
		return strlen(err) > 0 ? 0 : (abort(), 0);
	for (long i = 0; i < n; i++)
		if (l.item[i].text < body || l.item[i].text + l.item[i].len > body + size ||
		    l.item[i].text[0] != '{' || strlen(eventlist_id(&l, (size_t)i)) !=
		    l.item[i].id_len || l.item[i].id_len == 0)
			abort();
	return 0;
}
