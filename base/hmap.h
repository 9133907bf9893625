/* hmap.h — a hash map from byte-string keys to pointers (open addressing,
 * linear probing, deletion by backward shift). Keys are copied; values are
 * the caller's. Keys come from events, so the hash is seeded per map from
 * the process's random seed: an attacker who chooses user names cannot aim
 * them at one chain. Not thread-safe. */
#ifndef KAUDIT_HMAP_H
#define KAUDIT_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
	char		*key;	/* NULL: empty */
	size_t		 klen;
	uint64_t	 hash;
	void		*val;
};

struct hmap {
	struct hmap_slot *slot;
	size_t		  cap;	/* a power of two, or 0 */
	size_t		  n;
	uint64_t	  seed;
};

void	hmap_init(struct hmap *m);
/* Frees the keys and the table, not the values. */
void	hmap_free(struct hmap *m);
/* The value for key, or NULL. */
void	*hmap_get(const struct hmap *m, const char *key, size_t klen);
/* The slot of key, added (with a NULL value and *added = 1) when missing.
 * The pointer is valid until the next hmap_put or hmap_del. */
struct hmap_slot *hmap_put(struct hmap *m, const char *key, size_t klen, int *added);
/* Removes key; returns its value, or NULL when it was not there. */
void	*hmap_del(struct hmap *m, const char *key, size_t klen);

/* for (size_t i = 0; i < m->cap; i++) if (m->slot[i].key) ... visits every
 * entry; do not put or delete while iterating. */

#endif
