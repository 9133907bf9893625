/* test_siphash.c — SipHash-2-4 against the reference vectors of its
 * authors (key 00..0f; messages 00..n-1), and keys drawn at random differ. */
#include "base/siphash.h"
#include "tests/unit/t.h"

#include <stdint.h>

static const struct siphash_key ref_key = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

static uint64_t
ref_hash(size_t n)
{
	unsigned char m[64];

	for (size_t i = 0; i < n; i++)
		m[i] = (unsigned char)i;
	return siphash24(&ref_key, m, n);
}

static void
test_reference_vectors(void)
{
	T_ASSERT(ref_hash(0) == 0x726fdb47dd0e0e31ull);		/* the empty message */
	T_ASSERT(ref_hash(15) == 0xa129ca6149be45e5ull);	/* the paper's example */
}

static void
test_lengths_differ(void)
{
	/* the length is hashed: a message and its zero-padded form differ */
	unsigned char z[16] = { 0 };

	for (size_t n = 0; n < 16; n++)
		T_ASSERT(siphash24(&ref_key, z, n) != siphash24(&ref_key, z, n + 1));
}

static void
test_random_keys(void)
{
	struct siphash_key a, b;

	siphash_key_random(&a);
	siphash_key_random(&b);
	T_ASSERT(a.k0 != b.k0 || a.k1 != b.k1);
	T_ASSERT(siphash24(&a, "audit-1", 7) != siphash24(&b, "audit-1", 7));
}

int
main(void)
{
	T_RUN(test_reference_vectors);
	T_RUN(test_lengths_differ);
	T_RUN(test_random_keys);
	return t_done();
}
