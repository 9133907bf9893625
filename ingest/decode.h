/* decode.h — turn one message (a Kafka payload, a file, a line) into events.
 *
 * Accepted shapes, detected from the text itself:
 *   - an audit Event (audit.k8s.io/v1 or v1beta1; objects with no apiVersion
 *     are accepted when they look like one: auditID and verb present)
 *   - an EventList ({"kind":"EventList","items":[...]})
 *   - a JSON array of any of these
 *   - JSON lines / concatenated JSON values, each any of these
 *   - AKS diagnostic records: {"records":[{"properties":{"log": ...}}]} with
 *     log as a JSON string or an object (a bare record is accepted too)
 *   - GKE Cloud Logging entries (protoPayload with serviceName k8s.io),
 *     mapped onto audit fields
 *   - a shipper envelope: an object whose field `envelope_field` holds the
 *     event as a JSON string or an object
 * A UTF-8 byte order mark is skipped.
 *
 * Nothing here is fatal: an undecodable part becomes a struct decode_error
 * (offset + message) and decoding goes on with the next line or element;
 * past DECODE_MAX_ERRORS errors are only counted.
 * No I/O; the decoder owns every buffer that events point into until the
 * next decode_message() or decoded_free(). */
#ifndef KAUDIT_DECODE_H
#define KAUDIT_DECODE_H

#include <stddef.h>

#include "analyze/event.h"

struct decode_opts {
	size_t		 max_bytes;	/* larger messages are one error; 0 = no cap */
	const char	*envelope_field; /* NULL or "" = none */
	const char	*cluster;	/* default cluster name; NULL = "default" */
};

struct decode_error {
	size_t	offset;		/* byte offset in the message */
	int	oversize;	/* 1: over ingest.max_message_bytes; 0: malformed */
	char	msg[192];	/* e.g. "line 3: offset 17: expected ':'" */
};

/* A message keeps at most this many errors: one broken value can cost an
 * error per line after it (a truncated pretty-printed event, hundreds), and
 * each is a row in kaudit.ingest_errors. The last one kept then ends with
 * "(and N more errors in this message)". */
#define DECODE_MAX_ERRORS	8

struct decoded {
	struct audit_event	*ev;
	size_t			 nev;
	struct decode_error	*err;
	size_t			 nerr;
	size_t			 nerr_more;	/* errors past DECODE_MAX_ERRORS */
	struct decoded_priv	*priv;	/* documents and owned text */
};

void	decoded_init(struct decoded *out);
void	decoded_free(struct decoded *out);

/* Resets out and decodes buf[0..len). Returns out->nev. */
size_t	decode_message(struct decoded *out, const char *buf, size_t len,
	    const struct decode_opts *o);

/* For files of any size (kaudit scan): calls fn once per top-level JSON
 * value of buf (a line of JSON lines, a pretty-printed document, one element
 * of concatenated values) with the events and errors decoded from it.
 * Memory is reused between calls: fn must not keep pointers into part.
 * Error offsets are relative to buf. Returns the total number of events. */
typedef void (*decode_fn)(void *arg, const struct decoded *part);
size_t	decode_stream(struct decoded *work, const char *buf, size_t len,
	    const struct decode_opts *o, decode_fn fn, void *arg);

#endif
