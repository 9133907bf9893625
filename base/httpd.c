/* httpd.c — the libmicrohttpd server (see httpd.h). */
#include "base/httpd.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define PEM_MAX		(1u << 20)	/* a certificate, key or CA file */
#define CHAIN_MAX	16		/* certificates a client may present */

struct httpd {
	struct MHD_Daemon		*d;
	gnutls_x509_trust_list_t	 trust;	/* from ca_file, or NULL */
	char				*cert, *key, *ca;	/* PEM, kept while d runs */
	unsigned			 port;
};

static void
on_mhd_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];

	(void)arg;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

/* HOST:PORT or [V6]:PORT into an address; -1 with a reason. */
static int
listen_addr(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res = NULL;
	size_t hl;
	int rc;

	if (colon == NULL || colon[1] == '\0' || (hl = (size_t)(colon - listen)) >= sizeof(host)) {
		snprintf(err, errlen, "listen \"%s\": expected HOST:PORT", listen);
		return -1;
	}
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	if ((rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen \"%s\": %s", listen, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static char *
pem_load(const char *path, const char *what, char *err, size_t errlen)
{
	struct buf b;
	char why[256];

	buf_init(&b);
	if (file_read(path, PEM_MAX, &b, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, why);
		buf_free(&b);
		return NULL;
	}
	buf_append(&b, "", 0);
	return b.data;
}

static int
trust_load(struct httpd *h, const char *ca_file, char *err, size_t errlen)
{
	int n;

	if (gnutls_x509_trust_list_init(&h->trust, 0) < 0) {
		snprintf(err, errlen, "client_ca: cannot make a trust list");
		return -1;
	}
	n = gnutls_x509_trust_list_add_trust_file(h->trust, ca_file, NULL,
	    GNUTLS_X509_FMT_PEM, 0, 0);
	if (n <= 0) {
		snprintf(err, errlen, "client_ca %s: %s", ca_file,
		    n < 0 ? gnutls_strerror(n) : "no certificate in it");
		return -1;
	}
	return 0;
}

static int
tls_load(struct httpd *h, const struct httpd_opts *o, char *err, size_t errlen)
{
	if (o->key_file == NULL || *o->key_file == '\0') {
		snprintf(err, errlen, "tls_cert needs tls_key");
		return -1;
	}
	if ((h->cert = pem_load(o->cert_file, "tls_cert", err, errlen)) == NULL ||
	    (h->key = pem_load(o->key_file, "tls_key", err, errlen)) == NULL)
		return -1;
	if (o->ca_file && *o->ca_file &&
	    ((h->ca = pem_load(o->ca_file, "client_ca", err, errlen)) == NULL ||
	    trust_load(h, o->ca_file, err, errlen) < 0))
		return -1;
	return 0;
}

static struct MHD_Daemon *
daemon_start(struct httpd *h, const struct httpd_opts *o, const struct sockaddr_storage *ss)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG | (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) |
	    (h->cert ? MHD_USE_TLS : 0);
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL },
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)ss },
		{ MHD_OPTION_THREAD_POOL_SIZE, o->threads > 1 ? o->threads : 1, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, o->max_conns ? o->max_conns : 64, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, o->idle_s ? o->idle_s : 30, NULL },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)o->done, o->arg },
		{ h->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->cert },
		{ h->cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, h->key },
		{ h->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, h->ca },
		{ MHD_OPTION_END, 0, NULL },
	};
	size_t n = sizeof(opts) / sizeof(opts[0]);

	/* the TLS options are dropped (moved past the end) when not wanted */
	for (size_t i = 0; i + 1 < n; i++)
		if (opts[i].option == MHD_OPTION_END) {
			memmove(&opts[i], &opts[i + 1], (n - i - 1) * sizeof(opts[0]));
			n--;
			i--;
		}
	return MHD_start_daemon(flags, 0, NULL, NULL, o->handler, o->arg,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

struct httpd *
httpd_start(const struct httpd_opts *o, char *err, size_t errlen)
{
	struct httpd *h = xcalloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;

	memset(&ss, 0, sizeof(ss));
	if (listen_addr(o->listen, &ss, err, errlen) < 0)
		goto fail;
	if (o->cert_file && *o->cert_file && tls_load(h, o, err, errlen) < 0)
		goto fail;
	if ((h->d = daemon_start(h, o, &ss)) == NULL) {
		snprintf(err, errlen, "cannot listen on %s (in use, or a certificate or key "
		    "that does not load)", o->listen);
		goto fail;
	}
	if ((di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT)) != NULL)
		h->port = di->port;
	return h;
fail:
	httpd_stop(h);
	return NULL;
}

unsigned
httpd_port(const struct httpd *h)
{
	return h->port;
}

void
httpd_quiesce(struct httpd *h)
{
	MHD_socket fd;

	if (h->d && (fd = MHD_quiesce_daemon(h->d)) != MHD_INVALID_SOCKET)
		close(fd);
}

void
httpd_stop(struct httpd *h)
{
	if (h == NULL)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->trust)
		gnutls_x509_trust_list_deinit(h->trust, 1);
	free(h->cert);
	if (h->key)
		explicit_bzero(h->key, strlen(h->key));
	free(h->key);
	free(h->ca);
	free(h);
}

enum MHD_Result
httpd_respond(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body,
    size_t len)
{
	return httpd_respond_hdrs(c, status, ctype, body, len, NULL);
}

enum MHD_Result
httpd_respond_hdrs(struct MHD_Connection *c, unsigned status, const char *ctype,
    const char *body, size_t len, const char *const *hdrs)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	for (size_t i = 0; hdrs && hdrs[i] && hdrs[i + 1]; i += 2)
		MHD_add_response_header(r, hdrs[i], hdrs[i + 1]);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The subject DN of crt into who. */
static void
subject_of(gnutls_x509_crt_t crt, char *who, size_t wholen)
{
	gnutls_datum_t dn = { NULL, 0 };

	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		snprintf(who, wholen, "%.*s", (int)dn.size, (const char *)dn.data);
		gnutls_free(dn.data);
	} else {
		snprintf(who, wholen, "?");
	}
}

static int
chain_verify(const struct httpd *h, gnutls_x509_crt_t *chain, unsigned n, char *err,
    size_t errlen)
{
	gnutls_typed_vdata_st purpose = { GNUTLS_DT_KEY_PURPOSE_OID,
	    (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0 };
	gnutls_datum_t why = { NULL, 0 };
	unsigned status = 0;
	int rc;

	rc = gnutls_x509_trust_list_verify_crt2(h->trust, chain, n, &purpose, 1, 0,
	    &status, NULL);
	if (rc == 0 && status == 0)
		return 1;
	if (rc < 0)
		snprintf(err, errlen, "%s", gnutls_strerror(rc));
	else if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
	    &why, 0) == 0) {
		snprintf(err, errlen, "%.*s", (int)why.size, (const char *)why.data);
		gnutls_free(why.data);
	} else
		snprintf(err, errlen, "not trusted (status 0x%x)", status);
	return -1;
}

int
httpd_peer_verify(const struct httpd *h, struct MHD_Connection *c, char *who, size_t wholen,
    char *err, size_t errlen)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t chain[CHAIN_MAX];
	unsigned n = 0, have = 0;
	int rc = -1;

	snprintf(who, wholen, "-");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (h->trust == NULL || ci == NULL || ci->tls_session == NULL ||
	    (certs = gnutls_certificate_get_peers(ci->tls_session, &n)) == NULL || n == 0)
		return 0;
	if (n > CHAIN_MAX) {
		snprintf(err, errlen, "a chain of %u certificates (at most %d)", n, CHAIN_MAX);
		return -1;
	}
	for (have = 0; have < n; have++) {
		if (gnutls_x509_crt_init(&chain[have]) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (gnutls_x509_crt_import(chain[have], &certs[have], GNUTLS_X509_FMT_DER) < 0) {
			snprintf(err, errlen, "certificate %u does not parse", have + 1);
			have++;
			goto out;
		}
	}
	subject_of(chain[0], who, wholen);
	rc = chain_verify(h, chain, n, err, errlen);
out:
	for (unsigned i = 0; i < have; i++)
		gnutls_x509_crt_deinit(chain[i]);
	return rc;
}
