/* jstream.h — a byte stream of JSON values (a pipe, a gzip file) handed out
 * in pieces that each hold whole top-level values, for decode_stream().
 *
 * A gzip stream cannot be cut into chunks by offset, and stdin cannot be
 * mapped: both are read block by block, and each block decompressed (when
 * the stream starts with the gzip magic bytes; several concatenated gzip
 * members are one stream, as gzip -d reads them) is cut after the last
 * newline at which every value before it is closed. A light scan of the
 * bytes (brackets outside strings, strings with their escapes) finds those
 * newlines; memory holds one piece and the value that runs past it.
 *
 * On well-formed input each cut is where decoding the whole stream would
 * begin a value, so the pieces decode to exactly the same events. On broken
 * input the scan may stay inside a value the decoder gave up on: the piece
 * then grows until the brackets close, the end of the stream, or
 * JSTREAM_STUCK bytes, after which a newline followed by '{' or '[' in
 * column 0 is taken as a cut (where the decoder resumes on JSON lines).
 * No decoding here, and nothing is fatal: a read or gzip error ends the
 * stream after the bytes that came before it. A tar archive (an export
 * tarball) ends it at once, saying so. */
#ifndef KAUDIT_JSTREAM_H
#define KAUDIT_JSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"

#define JSTREAM_PIECE	((size_t)1 << 20)	/* hand out pieces from this size */
#define JSTREAM_STUCK	((size_t)64 << 20)	/* see above */

/* Reads up to n bytes into p; returns the count, 0 at the end, -1 with
 * errno on an error. */
typedef ssize_t (*jstream_read_fn)(void *arg, void *p, size_t n);

struct jstream_priv;

struct jstream {
	uint64_t	 in_bytes;	/* bytes read from the source so far */
	uint64_t	 off;		/* offset of the last piece in the text */
	uint64_t	 line;		/* its first line, from 1 */
	uint64_t	 out_bytes;	/* bytes of text handed out so far */
	int		 gzip;		/* the source is gzip (known after the first piece) */
	char		 err[160];	/* why the stream ended early, or "" */
	size_t		 piece, stuck;	/* JSTREAM_PIECE, JSTREAM_STUCK after init;
					   tests set them smaller */
	struct jstream_priv *priv;
};

/* Reads from fn(arg, ...); the stream owns no descriptor. */
void	jstream_init(struct jstream *s, jstream_read_fn fn, void *arg);
void	jstream_free(struct jstream *s);

/* The next piece (*p, *len), valid until the next call: 1, or 0 at the end
 * of the text. After 0, s->err says whether the source failed or the gzip
 * data was corrupt or cut short. */
int	jstream_next(struct jstream *s, const char **p, size_t *len);

/* From the next jstream_next() on, reading, decompressing and cutting run
 * in a thread of their own, up to JSTREAM_AHEAD pieces ahead of the
 * caller, who decodes meanwhile (each piece is then copied once). The
 * pieces are the same. */
#define JSTREAM_AHEAD	3
void	jstream_ahead(struct jstream *s);

/* A jstream_read_fn over a file descriptor (arg points to the int). */
ssize_t	jstream_read_fd(void *arg, void *p, size_t n);

#endif
