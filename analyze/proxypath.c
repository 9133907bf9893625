/* proxypath.c — the path behind a proxy subresource (see proxypath.h).
 *
 * Each step is the API server's, because an attacker who can make the
 * rules read one path while the kubelet serves another (`metrics/../exec`,
 * `metrics%2F..%2Fexec`, `%65xec`) turns a command into a metrics scrape:
 *   1. requestURI is the escaped path, then '?' and the query. Go's URL
 *      parser decodes the path once (%XX only; '+' stays '+') and answers
 *      400 to a bad escape.
 *   2. The request-info parser trims the slashes at both ends of the decoded
 *      path and splits it at every '/', keeping empty parts: api/VERSION or
 *      apis/GROUP/VERSION, then an optional watch/ prefix (the old proxy/
 *      prefix has no subresource), then namespaces/NS/ unless status or
 *      finalize follows, then RESOURCE/NAME/SUBRESOURCE/rest.
 *   3. The connect handler joins rest with '/' behind a '/', adding one at
 *      the end when the decoded path ended with one; the proxy joins that to
 *      the target with path.Join, which resolves empty, `.` and `..`
 *      segments (never above the root), and puts the trailing slash back. */
#include "analyze/proxypath.h"

#include <string.h>

#include "base/url.h"

/* The parts of a trimmed path, one at a time. */
struct parts {
	const char	*p;
	size_t		 n, pos;
	int		 done;
};

static int
part_next(struct parts *w, const char **s, size_t *len)
{
	const char *slash;

	if (w->done)
		return 0;
	*s = w->p + w->pos;
	slash = memchr(*s, '/', w->n - w->pos);
	if (slash == NULL) {
		*len = w->n - w->pos;
		w->pos = w->n;
		w->done = 1;
	} else {
		*len = (size_t)(slash - *s);
		w->pos += *len + 1;
	}
	return 1;
}

static int
is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* Step 2: reads up to the subresource; 0 with w at the rest when it is
 * proxy, -1 otherwise. */
static int
proxy_parts(struct parts *w)
{
	const char *s;
	size_t n;

	if (!part_next(w, &s, &n) || !(is(s, n, "api") || is(s, n, "apis")))
		return -1;
	if (is(s, n, "apis") && !part_next(w, &s, &n))		/* the group */
		return -1;
	if (!part_next(w, &s, &n) || !part_next(w, &s, &n))	/* the version */
		return -1;
	if (is(s, n, "proxy") || (is(s, n, "watch") && !part_next(w, &s, &n)))
		return -1;
	if (is(s, n, "namespaces") && (!part_next(w, &s, &n) ||
	    !part_next(w, &s, &n) || is(s, n, "status") || is(s, n, "finalize")))
		return -1;
	/* s is the resource; then its name and the subresource */
	if (!part_next(w, &s, &n) || !part_next(w, &s, &n) || !is(s, n, "proxy"))
		return -1;
	return 0;
}

/* Drops the last segment written to out (a `..`); at the root, nothing. */
static void
path_pop(struct buf *out)
{
	char *slash = out->len ? memrchr(out->data, '/', out->len) : NULL;

	if (slash) {
		out->len = (size_t)(slash - out->data);
		out->data[out->len] = '\0';
	}
}

/* Step 3: "/" + rest, cleaned, with the trailing slash kept. */
static void
path_clean(const char *p, size_t n, int trailing, struct buf *out)
{
	size_t i = 0;

	while (i < n) {
		const char *slash = memchr(p + i, '/', n - i);
		size_t len = (slash ? (size_t)(slash - p) : n) - i;
		if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
			path_pop(out);
		} else if (len > 0 && !(len == 1 && p[i] == '.')) {
			buf_putc(out, '/');
			buf_append(out, p + i, len);
		}
		i += len + 1;
	}
	if (out->len == 0 || (trailing && out->data[out->len - 1] != '/'))
		buf_putc(out, '/');
}

int
proxy_path(const char *uri, size_t n, struct buf *tmp, struct buf *out)
{
	const char *q = memchr(uri, '?', n);
	size_t len = q ? (size_t)(q - uri) : n, a, b;
	struct parts w;

	buf_reset(tmp);
	buf_reset(out);
	if (len == 0 || uri[0] != '/' || url_unescape(uri, len, 0, tmp) < 0)
		return -1;
	for (a = 0; a < tmp->len && tmp->data[a] == '/'; a++)
		;
	for (b = tmp->len; b > a && tmp->data[b - 1] == '/'; b--)
		;
	w = (struct parts){ tmp->data + a, b - a, 0, a == b };
	if (proxy_parts(&w) < 0)
		return -1;
	path_clean(w.p + w.pos, w.n - w.pos, tmp->data[tmp->len - 1] == '/', out);
	return 0;
}
