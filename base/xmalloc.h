/* xmalloc.h — allocation that aborts on failure.
 *
 * Out-of-memory is not a condition kaudit can recover from mid-batch, so every
 * allocation goes through these wrappers and callers never check for NULL.
 * Inputs are bounded by hard caps instead (message size, token count, depth). */
#ifndef KAUDIT_XMALLOC_H
#define KAUDIT_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Makes room for element n of an array of n elements of size bytes whose
 * capacity doubles at powers of two (so no capacity is stored): call it
 * before writing v[n]. */
void *xgrow(void *v, size_t n, size_t size);
/* printf into a new allocation; aborts on failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
