/* opsmetrics.c — /metrics, /healthz and /readyz of `kaudit run` (see
 * opsmetrics.h).
 *
 * DESIGN: libmicrohttpd's thread answers from state the supervisor sets
 * (three atomic flags) and from the registry, which has its own lock; no
 * request waits on Kafka or PostgreSQL, so a scrape answers in
 * microseconds even while both are away. */
#include "app/opsmetrics.h"
#include "base/buf.h"
#include "base/httpd.h"
#include "base/obs.h"
#include "base/xmalloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opsmetrics {
	struct httpd	*web;
	atomic_int	 joined, db, rules;
};

static enum MHD_Result
ops_ready(struct opsmetrics *o, struct MHD_Connection *c)
{
	struct buf b;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;

	buf_init(&b);
	if (!atomic_load(&o->joined))
		buf_puts(&b, "not ready: the consumer group has not assigned partitions yet\n");
	if (!atomic_load(&o->db))
		buf_puts(&b, "not ready: PostgreSQL is not reachable\n");
	if (!atomic_load(&o->rules))
		buf_puts(&b, "not ready: no rules loaded\n");
	if (b.len > 0)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else
		buf_puts(&b, "ready\n");
	ret = httpd_respond(c, status, "text/plain", buf_cstr(&b), b.len);
	buf_free(&b);
	return ret;
}

static enum MHD_Result
ops_handle(void *arg, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *data, size_t *size, void **con_cls)
{
	struct opsmetrics *o = arg;
	struct buf b;
	enum MHD_Result ret;

	(void)version;
	(void)data;
	(void)con_cls;
	if (*size > 0 || (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0))
		return httpd_respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
	if (strcmp(url, "/healthz") == 0)
		return httpd_respond(c, MHD_HTTP_OK, "text/plain", "ok\n", 3);
	if (strcmp(url, "/readyz") == 0)
		return ops_ready(o, c);
	if (strcmp(url, "/metrics") != 0)
		return httpd_respond(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 10);
	buf_init(&b);
	obs_expose(&b);
	ret = httpd_respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4", buf_cstr(&b), b.len);
	buf_free(&b);
	return ret;
}

struct opsmetrics *
opsmetrics_start(const char *listen, char *err, size_t errlen)
{
	struct opsmetrics *o = xcalloc(1, sizeof(*o));
	struct httpd_opts ho = { .listen = listen, .threads = 1, .max_conns = 16,
	    .idle_s = 10, .handler = ops_handle, .arg = o };
	char why[512];

	if ((o->web = httpd_start(&ho, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "metrics.listen: %s", why);
		free(o);
		return NULL;
	}
	return o;
}

unsigned
opsmetrics_port(const struct opsmetrics *o)
{
	return httpd_port(o->web);
}

void
opsmetrics_ready(struct opsmetrics *o, int joined, int db_reachable, int rules_loaded)
{
	atomic_store(&o->joined, joined);
	atomic_store(&o->db, db_reachable);
	atomic_store(&o->rules, rules_loaded);
}

void
opsmetrics_stop(struct opsmetrics *o)
{
	if (o == NULL)
		return;
	httpd_stop(o->web);
	free(o);
}
