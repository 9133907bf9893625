/* url.h — a request URI's query string and path, read exactly as the
 * Kubernetes API server reads them. The API server is a Go program: a
 * request means what Go's net/url (1.17 and later) and path packages make
 * of it, whatever the audit log's requestURI looks like, so every rule
 * field taken from the URI goes through these. */
#ifndef KAUDIT_URL_H
#define KAUDIT_URL_H

#include <stddef.h>

#include "base/buf.h"

/* Go's unescape: %XX with two hex digits is that byte; '+' is a space
 * when plus is set (url.QueryUnescape) and stays '+' when not
 * (url.PathUnescape). Appends to out. On a bad escape ('%' not followed by
 * two hex digits) returns -1 and leaves out as it was. */
int	url_unescape(const char *s, size_t n, int plus, struct buf *out);

/* url.ParseQuery, one pair at a time:
 *   - pairs are split on '&' only; an empty pair is skipped;
 *   - a pair holding a ';' is dropped (Go reports an error and keeps the
 *     rest);
 *   - the name ends at the first '=': a pair without '=' is a name with an
 *     empty value;
 *   - name and value are unescaped with url_unescape(plus = 1); a bad
 *     escape in either drops the whole pair (Go reports an error).
 * Values keep their order, so repeated names read as Go's url.Values
 * lists them. */
struct url_query {
	const char	*p, *end;	/* what is left to read */
	size_t		 dropped;	/* pairs dropped with an error so far */
};

void	url_query_init(struct url_query *q, const char *s, size_t n);
/* The next pair Go keeps: its decoded name and value replace the contents
 * of name and value, whose data is then never NULL. Returns 0 when no pair
 * is left. */
int	url_query_next(struct url_query *q, struct buf *name, struct buf *value);

/* Go's path.Clean of a rooted path: s with a '/' put in front, repeated
 * slashes made one, "." segments removed, each ".." removed with the
 * segment before it (and at the root, alone). Replaces out's contents;
 * the result starts with '/' and ends with one only when it is "/". */
void	url_path_clean(const char *s, size_t n, struct buf *out);

#endif
