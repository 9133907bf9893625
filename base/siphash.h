/* siphash.h — SipHash-2-4 (Aumasson and Bernstein), a keyed 64-bit hash:
 * without the key, nobody can choose inputs that collide. For sets that
 * keep a value's hash instead of the value, where a collision an event's
 * author could aim would hide another event (scan's signal set). */
#ifndef KAUDIT_SIPHASH_H
#define KAUDIT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t	k0, k1;
};

/* A key from the kernel's random source (getrandom). */
void	 siphash_key_random(struct siphash_key *k);
/* The hash of p[0..n) under k. */
uint64_t siphash24(const struct siphash_key *k, const void *p, size_t n);

#endif
