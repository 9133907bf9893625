/* hmap.c — string-keyed hash map (see hmap.h). */
#include "base/hmap.h"
#include "base/hash.h"
#include "base/xmalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static uint64_t
hmap_process_seed(void)
{
	static uint64_t seed;

	if (seed == 0 && (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed) ||
	    seed == 0))
		seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&seed;
	return seed;
}

static uint64_t
hmap_hash(const struct hmap *m, const char *key, size_t klen)
{
	uint64_t h = fnv1a64(FNV1A64_INIT ^ m->seed, key, klen);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

void
hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof(*m));
	m->seed = hmap_process_seed();
}

void
hmap_free(struct hmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slot[i].key);
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}

static size_t
hmap_find(const struct hmap *m, uint64_t h, const char *key, size_t klen)
{
	size_t mask = m->cap - 1, i;

	for (i = h & mask; m->slot[i].key; i = (i + 1) & mask)
		if (m->slot[i].hash == h && m->slot[i].klen == klen &&
		    memcmp(m->slot[i].key, key, klen) == 0)
			return i;
	return i;
}

void *
hmap_get(const struct hmap *m, const char *key, size_t klen)
{
	size_t i;

	if (m->n == 0)
		return NULL;
	i = hmap_find(m, hmap_hash(m, key, klen), key, klen);
	return m->slot[i].key ? m->slot[i].val : NULL;
}

static void
hmap_grow(struct hmap *m)
{
	struct hmap_slot *old = m->slot;
	size_t oldcap = m->cap;

	m->cap = m->cap ? m->cap * 2 : 16;
	m->slot = xcalloc(m->cap, sizeof(*m->slot));
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;
		if (old[i].key == NULL)
			continue;
		for (j = old[i].hash & (m->cap - 1); m->slot[j].key; j = (j + 1) & (m->cap - 1))
			;
		m->slot[j] = old[i];
	}
	free(old);
}

struct hmap_slot *
hmap_put(struct hmap *m, const char *key, size_t klen, int *added)
{
	uint64_t h;
	size_t i;

	if ((m->n + 1) * 4 > m->cap * 3)
		hmap_grow(m);
	h = hmap_hash(m, key, klen);
	i = hmap_find(m, h, key, klen);
	*added = m->slot[i].key == NULL;
	if (*added) {
		m->slot[i].key = xmalloc(klen + 1);
		memcpy(m->slot[i].key, key, klen);
		m->slot[i].key[klen] = '\0';
		m->slot[i].klen = klen;
		m->slot[i].hash = h;
		m->slot[i].val = NULL;
		m->n++;
	}
	return &m->slot[i];
}

void *
hmap_del(struct hmap *m, const char *key, size_t klen)
{
	size_t mask = m->cap - 1, i, j;
	void *val;

	if (m->n == 0)
		return NULL;
	i = hmap_find(m, hmap_hash(m, key, klen), key, klen);
	if (m->slot[i].key == NULL)
		return NULL;
	val = m->slot[i].val;
	free(m->slot[i].key);
	m->slot[i].key = NULL;
	m->n--;
	/* backward shift: move later members of the run into the hole when
	 * their home slot does not lie between the hole and them */
	for (j = (i + 1) & mask; m->slot[j].key; j = (j + 1) & mask) {
		size_t home = m->slot[j].hash & mask;
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->slot[i] = m->slot[j];
			m->slot[j].key = NULL;
			i = j;
		}
	}
	return val;
}
