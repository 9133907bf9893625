/* httpd.h — an HTTP(S) server on libmicrohttpd: start and stop, TLS from
 * PEM files, an optional client certificate checked against a CA of our
 * own, suspend and resume, small responses.
 *
 * libmicrohttpd (Debian's is built with GnuTLS) runs the listener and the
 * connections on its own threads and calls the handler for each request,
 * several times while a body arrives. With ca_file set it asks the client
 * for a certificate during the handshake but does not judge it: a server
 * that relies on it calls httpd_peer_verify(), which checks the chain
 * against ca_file's CAs with a GnuTLS trust list (validity dates and the
 * TLS client purpose included).
 *
 * Nothing here runs before httpd_start(): a command that serves no HTTP
 * pays nothing for it. */
#ifndef KAUDIT_HTTPD_H
#define KAUDIT_HTTPD_H

#include <stddef.h>

#include <microhttpd.h>

struct httpd;

struct httpd_opts {
	const char	*listen;	/* HOST:PORT or [V6]:PORT; port 0: any free one */
	const char	*cert_file;	/* PEM; NULL or "": plain HTTP */
	const char	*key_file;	/* PEM, with cert_file */
	const char	*ca_file;	/* PEM CAs a client certificate must chain to;
					   NULL or "": none is asked for */
	unsigned	 threads;	/* connection threads (0: 1) */
	unsigned	 max_conns;	/* concurrent connections (0: 64) */
	unsigned	 idle_s;	/* an idle connection is closed after it (0: 30) */
	MHD_AccessHandlerCallback	 handler;
	MHD_RequestCompletedCallback	 done;	/* may be NULL */
	void		*arg;		/* for handler and done */
};

/* Listens and serves. NULL with a reason in err (a file that does not
 * load, an address in use). */
struct httpd *httpd_start(const struct httpd_opts *o, char *err, size_t errlen);
/* The port it listens on (the one picked when listen asked for 0). */
unsigned httpd_port(const struct httpd *h);
/* Stops accepting connections; those open are served on. */
void	httpd_quiesce(struct httpd *h);
/* Closes every connection and frees h. No connection may be suspended. */
void	httpd_stop(struct httpd *h);

/* Queues a response with body[0..len) (copied) and, when ctype is not
 * NULL, a Content-Type. MHD_YES or MHD_NO as the handler returns it. */
enum MHD_Result httpd_respond(struct MHD_Connection *c, unsigned status, const char *ctype,
	    const char *body, size_t len);
/* The same with more headers: hdrs holds name, value, name, value...,
 * then NULL. */
enum MHD_Result httpd_respond_hdrs(struct MHD_Connection *c, unsigned status,
	    const char *ctype, const char *body, size_t len, const char *const *hdrs);

/* The client certificate of c's TLS session, checked against ca_file:
 * 1 when it chains to one of its CAs and is valid now for TLS client
 * authentication (its subject DN in who); 0 when the client sent none or
 * there is no TLS; -1 when it does not verify (why in err). */
int	httpd_peer_verify(const struct httpd *h, struct MHD_Connection *c, char *who,
	    size_t wholen, char *err, size_t errlen);

#endif
