/* hash.h — FNV-1a, 64 bits: the one string hash of kaudit (rule index,
 * candidate cache, de-duplication sets, synthetic auditIDs). Not for
 * anything an attacker must not steer: tables that hash event values bound
 * their probing or grow. */
#ifndef KAUDIT_HASH_H
#define KAUDIT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT	1469598103934665603ull

/* Continues the hash h over p[0..n); start with FNV1A64_INIT. */
static inline uint64_t
fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

#endif
