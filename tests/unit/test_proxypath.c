/* test_proxypath.c — ka.proxy.path: the path a proxy subresource request
 * reaches, decoded and cleaned as the API server does, so that encoded and
 * dotted paths cannot pass for another endpoint. */
#include "analyze/proxypath.h"
#include "base/buf.h"
#include "tests/unit/t.h"

#include <string.h>

/* The forwarded path of uri, or "(none)". */
static const char *
fwd(const char *uri)
{
	static struct buf tmp, out;

	if (proxy_path(uri, strlen(uri), &tmp, &out) < 0)
		return "(none)";
	return buf_cstr(&out);
}

static void
test_plain(void)
{
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics/cadvisor"), "/metrics/cadvisor");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics/cadvisor?timeout=10s"), "/metrics/cadvisor");
	T_STREQ(fwd("/api/v1/nodes/n1:10250/proxy/metrics"), "/metrics");
	T_STREQ(fwd("/api/v1/nodes/https:n1:10250/proxy/stats/summary"), "/stats/summary");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/logs/a+b.log"), "/logs/a+b.log");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics/"), "/metrics/");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy"), "/");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/"), "/");
	T_STREQ(fwd("/api/v1/namespaces/shop/pods/web-0:8080/proxy/admin/reload"), "/admin/reload");
	T_STREQ(fwd("/api/v1/namespaces/mon/services/http:grafana:3000/proxy/api/users"), "/api/users");
	T_STREQ(fwd("/apis/g.example/v1/namespaces/ns/things/t1/proxy/a"), "/a");
	T_STREQ(fwd("/api/v1/watch/nodes/n1/proxy/x"), "/x");
}

/* Every way to dress /exec up as something else ends at /exec. */
static void
test_disguised(void)
{
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics/../exec/ns/p/c?command=id"), "/exec/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics%2F..%2Fexec/ns/p/c"), "/exec/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics%2f..%2fexec/ns/p/c"), "/exec/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/%2e%2e/%65xec/ns/p/c"), "/exec/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy//exec/ns/p/c"), "/exec/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/./exec/ns/p/c"), "/exec/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/../../../exec/ns/p/c"), "/exec/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/stats/summary/../../run/ns/p/c"), "/run/ns/p/c");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics%3F/../exec/x"), "/exec/x");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics/..?/exec"), "/");
	/* the node name's slash decoded: the server splits after decoding */
	T_STREQ(fwd("/api/v1/nodes/n1%2Fproxy%2Fexec/ns/p/c"), "/exec/ns/p/c");
	/* a double encoding is decoded once: %2F reaches the kubelet as text */
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/metrics%252F..%252Fexec"), "/metrics%2F..%2Fexec");
}

static void
test_not_proxy(void)
{
	T_STREQ(fwd("/api/v1/nodes/n1/status"), "(none)");
	T_STREQ(fwd("/api/v1/nodes/n1"), "(none)");
	T_STREQ(fwd("/api/v1/namespaces/ns/finalize"), "(none)");
	T_STREQ(fwd("/api/v1/namespaces/proxy/x"), "(none)");
	T_STREQ(fwd("/api/v1/proxy/nodes/n1/exec/ns/p/c"), "(none)");
	T_STREQ(fwd("/apis/v1/nodes/n1/proxy/x"), "(none)");
	T_STREQ(fwd("/healthz"), "(none)");
	T_STREQ(fwd("/"), "(none)");
	T_STREQ(fwd("*"), "(none)");
	T_STREQ(fwd(""), "(none)");
	T_STREQ(fwd("?/api/v1/nodes/n1/proxy/x"), "(none)");
	/* escapes Go refuses with 400 */
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/%zz"), "(none)");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/%4"), "(none)");
	T_STREQ(fwd("/api/v1/nodes/n1/proxy/%"), "(none)");
}

int
main(void)
{
	T_RUN(test_plain);
	T_RUN(test_disguised);
	T_RUN(test_not_proxy);
	return t_done();
}
