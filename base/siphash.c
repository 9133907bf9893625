/* siphash.c — SipHash-2-4: two compression rounds per 8-byte word, four
 * finalization rounds; the message is read little-endian, its length's low
 * byte in the last word. */
#include "base/siphash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
	uint64_t	v0, v1, v2, v3;
};

static void
sip_round(struct sip *s)
{
	s->v0 += s->v1; s->v1 = ROTL(s->v1, 13); s->v1 ^= s->v0; s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3; s->v3 = ROTL(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = ROTL(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = ROTL(s->v1, 17); s->v1 ^= s->v2; s->v2 = ROTL(s->v2, 32);
}

static uint64_t
le64(const unsigned char *p, size_t n)
{
	uint64_t w = 0;

	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

static void
sip_word(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t
siphash24(const struct siphash_key *k, const void *p, size_t n)
{
	const unsigned char *b = p;
	struct sip s = {
		k->k0 ^ 0x736f6d6570736575ull, k->k1 ^ 0x646f72616e646f6dull,
		k->k0 ^ 0x6c7967656e657261ull, k->k1 ^ 0x7465646279746573ull,
	};
	size_t i;

	for (i = 0; i + 8 <= n; i += 8)
		sip_word(&s, le64(b + i, 8));
	sip_word(&s, le64(b + i, n - i) | ((uint64_t)(n & 0xff) << 56));
	s.v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

void
siphash_key_random(struct siphash_key *k)
{
	if (getrandom(k, sizeof(*k), 0) != (ssize_t)sizeof(*k)) {
		/* no kernel source: a key from the clock, still not known in
		 * advance to whoever wrote the events */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		k->k0 = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)k;
		k->k1 = (uint64_t)ts.tv_sec ^ 0xc2b2ae3d27d4eb4full;
	}
}
