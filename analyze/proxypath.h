/* proxypath.h — the path a request through a proxy subresource
 * (nodes/NAME/proxy/..., pods/.../proxy/..., services/.../proxy/...) is
 * forwarded to, worked out from its request URI the way the API server
 * does: the path percent-decoded once and split into parts as the server's
 * request-info parser splits it, the parts after `proxy` joined, then
 * cleaned (empty, `.` and `..` segments resolved) with a trailing slash
 * kept. So `/api/v1/nodes/n1/proxy/metrics%2F..%2Fexec/ns/p/c?command=id`
 * reaches the kubelet as `/exec/ns/p/c`, and that is what the rules see. */
#ifndef KAUDIT_PROXYPATH_H
#define KAUDIT_PROXYPATH_H

#include <stddef.h>

#include "base/buf.h"

/* Writes the forwarded path (starting with '/') to out, using tmp as
 * scratch. Returns 0, or -1 when uri is not a request to a proxy
 * subresource or its percent-encoding is invalid (the server answers 400
 * to those). out and tmp are reset first. */
int	proxy_path(const char *uri, size_t n, struct buf *tmp, struct buf *out);

#endif
