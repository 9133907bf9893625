/* jstream.c — pieces of whole JSON values from a plain or gzip byte stream
 * (see jstream.h).
 *
 * DESIGN: text holds the bytes not yet handed out. Each call first drops
 * the piece handed out last time, then reads (and inflates) a block at a
 * time, scanning only the new bytes with the state kept from the last
 * scan (depth, inside a string, after a backslash), until the text holds a
 * cut at least JSTREAM_PIECE bytes in, or the source ends. */
#include "ingest/jstream.h"

#include "base/xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define JSTREAM_BLOCK	((size_t)256 << 10)	/* bytes read at once */

/* Text the read-ahead thread read and decompressed, not yet scanned. */
struct jstream_slot {
	char		*text;
	size_t		 len, cap;
	uint64_t	 in_bytes;	/* source bytes read once it was made */
};

/* The read-ahead: a thread fills a jstream of its own (inner) the usual
 * way and moves its text into slots, whole buffers swapped rather than
 * copied; the caller's jstream takes them in order in place of reading,
 * and scans and cuts as usual. Slot k is filled before k + 1. */
struct jstream_ahead {
	struct jstream	 inner;
	pthread_t	 tid;
	int		 started;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* a slot was filled, freed, or the end came */
	struct jstream_slot slot[JSTREAM_AHEAD];
	size_t		 filled, taken;	/* counts; slot k is slot[k % AHEAD] */
	int		 end, quit;
};

struct jstream_priv {
	struct jstream_ahead *ahead;	/* NULL: in the caller's thread */
	jstream_read_fn	 fn;
	void		*arg;
	unsigned char	*in;		/* read, not yet inflated (or copied) */
	size_t		 in_len, in_pos;
	int		 src_eof;
	int		 started;	/* gzip or not decided */
	z_stream	 z;
	int		 zinit;
	int		 in_member;	/* inside a gzip member */
	int		 done;		/* no more text will come */
	char		*text;		/* text[0] is at offset toff, line tline + 1 */
	size_t		 len, cap;
	uint64_t	 toff, tline;
	size_t		 scanned;	/* text[0..scanned) scanned; lines newlines in it */
	uint64_t	 lines;
	size_t		 cut;		/* after the last '\n' at depth 0 (0: none) */
	uint64_t	 cut_lines;
	size_t		 col0;		/* the last '{' or '[' in column 0 (0: none) */
	uint64_t	 col0_lines;
	unsigned long	 depth;
	int		 in_str, esc;
	size_t		 handed;	/* the piece handed out: text[0..handed) */
	uint64_t	 handed_lines;
};

ssize_t
jstream_read_fd(void *arg, void *p, size_t n)
{
	int fd = *(int *)arg;
	ssize_t r;

	while ((r = read(fd, p, n)) < 0 && errno == EINTR)
		;
	return r;
}

void
jstream_init(struct jstream *s, jstream_read_fn fn, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->line = 1;
	s->piece = JSTREAM_PIECE;
	s->stuck = JSTREAM_STUCK;
	s->priv = xcalloc(1, sizeof(*s->priv));
	s->priv->fn = fn;
	s->priv->arg = arg;
	s->priv->in = xmalloc(JSTREAM_BLOCK);
}

static void
jstream_ahead_free(struct jstream_ahead *a)
{
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->quit = 1;
		pthread_cond_broadcast(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->tid, NULL);
	}
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	jstream_free(&a->inner);
	for (size_t i = 0; i < JSTREAM_AHEAD; i++)
		free(a->slot[i].text);
	free(a);
}

void
jstream_free(struct jstream *s)
{
	struct jstream_priv *p = s->priv;

	if (p == NULL)
		return;
	if (p->ahead)
		jstream_ahead_free(p->ahead);
	if (p->zinit)
		inflateEnd(&p->z);
	free(p->in);
	free(p->text);
	free(p);
	s->priv = NULL;
}

static void
jstream_fail(struct jstream *s, const char *what, const char *why)
{
	if (s->err[0] == '\0')
		snprintf(s->err, sizeof(s->err), "%s%s%s", what, why ? ": " : "",
		    why ? why : "");
	s->priv->done = 1;
}

/* Reads the next block when the last one is used up; 0, or -1 after an
 * error. Keeps unread bytes (the gzip magic test needs two). */
static int
jstream_read(struct jstream *s)
{
	struct jstream_priv *p = s->priv;
	ssize_t r;

	if (p->in_pos > 0) {
		memmove(p->in, p->in + p->in_pos, p->in_len - p->in_pos);
		p->in_len -= p->in_pos;
		p->in_pos = 0;
	}
	r = p->fn(p->arg, p->in + p->in_len, JSTREAM_BLOCK - p->in_len);
	if (r < 0) {
		jstream_fail(s, "read error", strerror(errno));
		return -1;
	}
	if (r == 0)
		p->src_eof = 1;
	p->in_len += (size_t)r;
	s->in_bytes += (uint64_t)r;
	return 0;
}

static char *
jstream_room(struct jstream_priv *p, size_t n)
{
	if (p->cap - p->len < n + 1) {
		p->cap = p->len + n + 1 > p->cap * 2 ? p->len + n + 1 : p->cap * 2;
		p->text = xrealloc(p->text, p->cap);
	}
	return p->text + p->len;
}

/* Inflates what input there is into text, at most JSTREAM_PIECE bytes. */
static void
jstream_inflate(struct jstream *s)
{
	struct jstream_priv *p = s->priv;
	int rc;

	if (p->in_pos == p->in_len) {
		if (p->in_member)
			jstream_fail(s, "gzip data cut short (unexpected end of file)", NULL);
		else
			p->done = 1;	/* every member ended: a clean end */
		return;
	}
	if (!p->in_member) {
		if (p->in_len - p->in_pos < 2 && !p->src_eof)
			return;		/* read on for the magic bytes */
		if (p->in_len - p->in_pos < 2 || p->in[p->in_pos] != 0x1f ||
		    p->in[p->in_pos + 1] != 0x8b) {
			jstream_fail(s, "data after the end of the gzip data", NULL);
			return;
		}
		if (inflateReset(&p->z) != Z_OK) {
			jstream_fail(s, "gzip", p->z.msg);
			return;
		}
		p->in_member = 1;
	}
	p->z.next_in = p->in + p->in_pos;
	p->z.avail_in = (uInt)(p->in_len - p->in_pos);
	p->z.next_out = (Bytef *)jstream_room(p, JSTREAM_PIECE);
	p->z.avail_out = (uInt)JSTREAM_PIECE;
	rc = inflate(&p->z, Z_NO_FLUSH);
	p->len += JSTREAM_PIECE - p->z.avail_out;
	p->in_pos = p->in_len - p->z.avail_in;
	if (rc == Z_STREAM_END)
		p->in_member = 0;	/* another member may follow (cat a.gz b.gz) */
	else if (rc != Z_OK && rc != Z_BUF_ERROR)
		jstream_fail(s, "gzip data corrupt", p->z.msg ? p->z.msg : "inflate failed");
}

/* Adds what the source gives next to text; sets done at its end. */
static void
jstream_fill(struct jstream *s)
{
	struct jstream_priv *p = s->priv;

	if (p->in_pos == p->in_len || (!p->started && p->in_len < 2) ||
	    (s->gzip && p->in_len - p->in_pos < 2 && !p->in_member)) {
		if (!p->src_eof && jstream_read(s) < 0)
			return;
	}
	if (!p->started) {
		if (p->in_len < 2 && !p->src_eof)
			return;
		p->started = 1;
		if (p->in_len >= 2 && p->in[0] == 0x1f && p->in[1] == 0x8b) {
			s->gzip = 1;
			if (inflateInit2(&p->z, 15 + 16) != Z_OK) {
				jstream_fail(s, "gzip", "cannot start the decompressor");
				return;
			}
			p->zinit = 1;
		}
	}
	if (s->gzip) {
		if (p->src_eof || p->in_pos < p->in_len)
			jstream_inflate(s);
		return;
	}
	if (p->in_pos == p->in_len) {
		if (p->src_eof)
			p->done = 1;
		return;
	}
	memcpy(jstream_room(p, p->in_len - p->in_pos), p->in + p->in_pos, p->in_len - p->in_pos);
	p->len += p->in_len - p->in_pos;
	p->in_pos = p->in_len;
}

/* Scans text[scanned..len) for cuts: newlines with every value closed. */
static void
jstream_scan(struct jstream_priv *p)
{
	const char *t = p->text;
	unsigned long depth = p->depth;
	int in_str = p->in_str, esc = p->esc;
	uint64_t lines = p->lines;
	size_t i;

	for (i = p->scanned; i < p->len; i++) {
		char c = t[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			if (c != '\n')
				continue;
			in_str = esc = 0;	/* not JSON: a string ends at its line */
		}
		switch (c) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			if (i > 0 && t[i - 1] == '\n') {
				p->col0 = i;
				p->col0_lines = lines;
			}
			depth++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		case '\n':
			lines++;
			if (depth == 0) {
				p->cut = i + 1;
				p->cut_lines = lines;
			}
			break;
		default:
			break;
		}
	}
	p->scanned = i;
	p->depth = depth;
	p->in_str = in_str;
	p->esc = esc;
	p->lines = lines;
}

/* Forgets the piece handed out last time. */
static void
jstream_drop(struct jstream_priv *p)
{
	size_t n = p->handed;

	if (n == 0)
		return;
	memmove(p->text, p->text + n, p->len - n);
	p->len -= n;
	p->toff += n;
	p->tline += p->handed_lines;
	p->scanned -= n;
	p->lines -= p->handed_lines;
	p->cut = 0;
	p->cut_lines = 0;
	if (p->col0 > n) {
		p->col0 -= n;
		p->col0_lines -= p->handed_lines;
	} else {
		p->col0 = 0;
	}
	p->handed = 0;
	p->handed_lines = 0;
}

static int
jstream_hand(struct jstream *s, size_t n, uint64_t lines, const char **text, size_t *len)
{
	struct jstream_priv *p = s->priv;

	/* An export is often a tarball: its first block is a tar header
	 * ("ustar" at 257), which would decode to an error per line. */
	if (p->toff == 0 && p->len >= 262 && memcmp(p->text + 257, "ustar", 5) == 0) {
		jstream_fail(s, "a tar archive, not JSON: extract its files first "
		    "(tar -xzOf FILE | kaudit scan -)", NULL);
		p->len = p->scanned = 0;
		p->cut = p->col0 = 0;
		p->lines = p->cut_lines = p->col0_lines = 0;
		return 0;
	}

	p->handed = n;
	p->handed_lines = lines;
	s->off = p->toff;
	s->line = p->tline + 1;
	s->out_bytes = p->toff + n;
	*text = p->text;
	*len = n;
	return 1;
}

static void *
jstream_ahead_run(void *arg)
{
	struct jstream_ahead *a = arg;
	struct jstream_priv *in = a->inner.priv;
	struct jstream_slot *sl;
	char *t;
	size_t cap;
	int done;

	for (;;) {
		jstream_fill(&a->inner);
		done = in->done;
		if (in->len == 0 && !done)
			continue;
		pthread_mutex_lock(&a->mu);
		while (!a->quit && in->len > 0 && a->filled - a->taken >= JSTREAM_AHEAD)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->quit) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		pthread_mutex_unlock(&a->mu);
		if (in->len > 0) {
			/* the slot is free: no lock needed to swap buffers with it */
			sl = &a->slot[a->filled % JSTREAM_AHEAD];
			t = sl->text;
			cap = sl->cap;
			sl->text = in->text;
			sl->cap = in->cap;
			sl->len = in->len;
			sl->in_bytes = a->inner.in_bytes;
			in->text = t;
			in->cap = cap;
			in->len = 0;
			pthread_mutex_lock(&a->mu);
			a->filled++;
			pthread_cond_broadcast(&a->cv);
			pthread_mutex_unlock(&a->mu);
		}
		if (done)
			break;
	}
	pthread_mutex_lock(&a->mu);
	a->end = 1;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

void
jstream_ahead(struct jstream *s)
{
	struct jstream_priv *p = s->priv;
	struct jstream_ahead *a;

	if (p->ahead)
		return;
	a = xcalloc(1, sizeof(*a));
	jstream_init(&a->inner, p->fn, p->arg);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	p->ahead = a;
}

/* jstream_fill() with read-ahead: the next slot's text, once filled. */
static void
jstream_ahead_fill(struct jstream *s)
{
	struct jstream_priv *p = s->priv;
	struct jstream_ahead *a = p->ahead;
	struct jstream_slot *sl;

	if (!a->started) {
		a->started = pthread_create(&a->tid, NULL, jstream_ahead_run, a) == 0;
		if (!a->started) {
			jstream_fail(s, "cannot start the read-ahead thread", NULL);
			return;
		}
	}
	pthread_mutex_lock(&a->mu);
	while (a->taken == a->filled && !a->end)
		pthread_cond_wait(&a->cv, &a->mu);
	s->gzip = a->inner.gzip;	/* decided before any text, or final */
	if (a->taken == a->filled) {
		pthread_mutex_unlock(&a->mu);
		/* the thread has ended: its stream's fields are final */
		s->in_bytes = a->inner.in_bytes;
		memcpy(s->err, a->inner.err, sizeof(s->err));
		p->done = 1;
		return;
	}
	sl = &a->slot[a->taken % JSTREAM_AHEAD];
	pthread_mutex_unlock(&a->mu);
	/* the thread leaves slot `taken` alone until it is counted taken */
	memcpy(jstream_room(p, sl->len), sl->text, sl->len);
	p->len += sl->len;
	s->in_bytes = sl->in_bytes;
	pthread_mutex_lock(&a->mu);
	a->taken++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

int
jstream_next(struct jstream *s, const char **text, size_t *len)
{
	struct jstream_priv *p = s->priv;
	size_t n;

	jstream_drop(p);
	for (;;) {
		if (p->cut >= s->piece)
			return jstream_hand(s, p->cut, p->cut_lines, text, len);
		if (p->done) {
			if (p->len == 0)
				return 0;
			return jstream_hand(s, p->len, p->lines, text, len);
		}
		if (p->len - p->cut >= s->stuck && p->cut > 0)
			return jstream_hand(s, p->cut, p->cut_lines, text, len);
		if (p->cut == 0 && p->len >= s->stuck && p->col0 > 0) {
			/* the scan lost its way in a broken value: resume where a
			 * line opens one, as the decoder does, and scan again */
			n = p->col0;
			if (!jstream_hand(s, n, p->col0_lines, text, len))
				return 0;	/* a tar archive */
			p->scanned = n;
			p->lines = p->col0_lines;
			p->depth = 0;
			p->in_str = p->esc = 0;
			p->col0 = 0;
			return 1;
		}
		if (p->ahead)
			jstream_ahead_fill(s);
		else
			jstream_fill(s);
		jstream_scan(p);
	}
}
