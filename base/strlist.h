/* strlist.h — owned lists of strings and of key/value string pairs, as
 * configuration hands them to each stage. */
#ifndef KAUDIT_STRLIST_H
#define KAUDIT_STRLIST_H

#include <stddef.h>

struct strlist {
	char	**v;
	size_t	  n;
};

struct kv {
	char	*key;
	char	*value;
};

struct kvlist {
	struct kv	*v;
	size_t		 n;
};

/* Appends a copy of s. */
void	strlist_add(struct strlist *l, const char *s);
/* 1 when s is one of l's strings. */
int	strlist_has(const struct strlist *l, const char *s);
/* Frees every string and leaves l empty. */
void	strlist_free(struct strlist *l);
/* Appends copies of key and value. */
void	kvlist_add(struct kvlist *l, const char *key, const char *value);
void	kvlist_free(struct kvlist *l);

#endif
