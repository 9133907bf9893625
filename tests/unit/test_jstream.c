/* test_jstream.c — the stream reader of kaudit scan: pieces of a plain or
 * gzip stream put back together give the text, every cut falls where a
 * value ends, decoding the pieces gives the events of the whole, and a
 * gzip stream cut short, corrupt or followed by junk says so. */
#include "base/termesc.h"
#include "ingest/decode.h"
#include "ingest/jstream.h"
#include "tests/unit/t.h"

#include <zlib.h>

/* A source that hands out at most `step` bytes per read (pipes do). */
struct src {
	const char	*p;
	size_t		 len, pos, step;
};

static ssize_t
src_read(void *arg, void *out, size_t n)
{
	struct src *s = arg;
	size_t k = s->len - s->pos;

	if (k > n)
		k = n;
	if (k > s->step)
		k = s->step;
	memcpy(out, s->p + s->pos, k);
	s->pos += k;
	return (ssize_t)k;
}

static void
gz_append(struct buf *out, const char *text, size_t len)
{
	z_stream z;
	unsigned char chunk[4096];
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	z.next_in = (Bytef *)text;
	z.avail_in = (uInt)len;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		buf_append(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc == Z_OK);
	deflateEnd(&z);
}

/* JSON lines and pretty-printed events, with braces and quotes in strings. */
static void
make_text(struct buf *b, int n)
{
	for (int i = 0; i < n; i++) {
		if (i % 7 == 3)
			buf_printf(b, "{\n  \"auditID\": \"p%d\",\n  \"verb\": \"get\",\n"
			    "  \"requestURI\": \"/api/v1/x?q={[\\\"\\\\\"\n}\n", i);
		else if (i % 11 == 5)
			buf_printf(b, "[{\"auditID\":\"a%d\",\"verb\":\"list\"},\n{\"auditID\":\"b%d\","
			    "\"verb\":\"list\"}]\n", i, i);
		else
			buf_printf(b, "{\"auditID\":\"e%d\",\"verb\":\"create\",\"user\":{\"username\":"
			    "\"}{][\"},\"objectRef\":{\"name\":\"x\\\"{\"}}\n", i);
	}
}

struct whole {
	struct buf	 text;
	uint64_t	 next_off, next_line;
	int		 bad_cut, bad_pos;
	size_t		 pieces, events;
};

static void
count_part(void *arg, const struct decoded *part)
{
	*(size_t *)arg += part->nev;
}

/* Reads src through a jstream; checks positions and cuts as it goes. */
static int ahead;	/* read_all() with jstream_ahead() */

static void
read_all(struct src *src, size_t piece, size_t stuck, struct whole *w, struct jstream *js)
{
	struct decoded d;
	const char *p;
	size_t n;

	decoded_init(&d);
	buf_init(&w->text);
	w->next_off = 0;
	w->next_line = 1;
	jstream_init(js, src_read, src);
	js->piece = piece;
	js->stuck = stuck;
	if (ahead)
		jstream_ahead(js);
	while (jstream_next(js, &p, &n)) {
		if (js->off != w->next_off || js->line != w->next_line)
			w->bad_pos++;
		if (n == 0 || (p[n - 1] != '\n' && js->out_bytes != js->off + n))
			w->bad_cut++;
		buf_append(&w->text, p, n);
		for (size_t i = 0; i < n; i++)
			w->next_line += p[i] == '\n';
		w->next_off += n;
		w->pieces++;
		decode_stream(&d, p, n, NULL, count_part, &w->events);
	}
	decoded_free(&d);
}

static size_t
events_of(const char *text, size_t len)
{
	struct decoded d;
	size_t n = 0;

	decoded_init(&d);
	decode_stream(&d, text, len, NULL, count_part, &n);
	decoded_free(&d);
	return n;
}

static void
test_plain_pieces(void)
{
	struct buf t;
	struct whole w = { 0 };
	struct jstream js;
	struct src s;

	buf_init(&t);
	make_text(&t, 3000);
	s = (struct src){ t.data, t.len, 0, 7 };
	read_all(&s, 512, 1 << 20, &w, &js);
	T_STREQ(js.err, "");
	T_INTEQ(js.gzip, 0);
	T_INTEQ(w.text.len, t.len);
	T_ASSERT(w.text.len == t.len && memcmp(w.text.data, t.data, t.len) == 0);
	T_ASSERT(w.pieces > 100);
	T_INTEQ(w.bad_pos, 0);
	T_INTEQ(w.bad_cut, 0);
	T_INTEQ(w.events, events_of(t.data, t.len));
	T_ASSERT(w.events > 3000);
	T_INTEQ(js.in_bytes, t.len);
	jstream_free(&js);
	buf_free(&w.text);
	buf_free(&t);
}

static void
test_gzip_members(void)
{
	struct buf t, z;
	struct whole w = { 0 };
	struct jstream js;
	struct src s;
	size_t half;

	buf_init(&t);
	buf_init(&z);
	make_text(&t, 5000);
	half = t.len / 2;
	gz_append(&z, t.data, half);		/* cat a.gz b.gz: one stream */
	gz_append(&z, t.data + half, t.len - half);
	s = (struct src){ z.data, z.len, 0, 1000 };
	read_all(&s, 4096, 1 << 20, &w, &js);
	T_STREQ(js.err, "");
	T_INTEQ(js.gzip, 1);
	T_ASSERT(w.text.len == t.len && memcmp(w.text.data, t.data, t.len) == 0);
	T_INTEQ(w.bad_pos, 0);
	T_INTEQ(w.events, events_of(t.data, t.len));
	T_INTEQ(js.in_bytes, z.len);
	T_INTEQ(js.out_bytes, t.len);
	jstream_free(&js);
	buf_free(&w.text);
	buf_free(&z);
	buf_free(&t);
}

static void
test_gzip_broken(void)
{
	struct buf t, z;
	struct whole w = { 0 };
	struct jstream js;
	struct src s;

	buf_init(&t);
	buf_init(&z);
	make_text(&t, 2000);
	gz_append(&z, t.data, t.len);
	/* cut short: the text before is still read */
	s = (struct src){ z.data, z.len - 10, 0, 333 };
	read_all(&s, 4096, 1 << 20, &w, &js);
	T_ASSERT(strstr(js.err, "cut short") != NULL);
	T_ASSERT(w.text.len > 0 && w.text.len <= t.len && memcmp(w.text.data, t.data, w.text.len) == 0);
	jstream_free(&js);
	buf_free(&w.text);
	/* junk after the last member */
	buf_append(&z, "junk\n", 5);
	s = (struct src){ z.data, z.len, 0, 4096 };
	memset(&w, 0, sizeof(w));
	read_all(&s, 4096, 1 << 20, &w, &js);
	T_ASSERT(strstr(js.err, "data after the end of the gzip data") != NULL);
	T_INTEQ(w.text.len, t.len);
	jstream_free(&js);
	buf_free(&w.text);
	/* a corrupt byte in the compressed data */
	z.len -= 5;
	z.data[z.len / 2] ^= 0x55;
	z.data[z.len / 2 + 1] ^= 0x55;
	s = (struct src){ z.data, z.len, 0, 4096 };
	memset(&w, 0, sizeof(w));
	read_all(&s, 4096, 1 << 20, &w, &js);
	T_ASSERT(js.err[0] != '\0');
	jstream_free(&js);
	buf_free(&w.text);
	buf_free(&z);
	buf_free(&t);
}

/* A value that never closes: the piece is cut where a line opens a value
 * once it is `stuck` bytes long, and the events after it are not lost. */
static void
test_stuck(void)
{
	struct buf t;
	struct whole w = { 0 };
	struct jstream js;
	struct src s;

	buf_init(&t);
	buf_puts(&t, "{\"auditID\":\"x\",\"verb\":[\"get\",\n");
	make_text(&t, 4000);
	s = (struct src){ t.data, t.len, 0, 4096 };
	read_all(&s, 1024, 8192, &w, &js);
	T_STREQ(js.err, "");
	T_ASSERT(w.text.len == t.len && memcmp(w.text.data, t.data, t.len) == 0);
	T_ASSERT(w.pieces > 10);
	T_INTEQ(w.bad_pos, 0);
	/* the whole text decodes the same: the decoder resumes on line 2 */
	T_INTEQ(w.events, events_of(t.data, t.len));
	jstream_free(&js);
	buf_free(&w.text);
	buf_free(&t);
}

static void
test_empty(void)
{
	struct whole w = { 0 };
	struct jstream js;
	struct src s = { "", 0, 0, 1 };

	read_all(&s, 16, 64, &w, &js);
	T_INTEQ(w.pieces, 0);
	T_STREQ(js.err, "");
	jstream_free(&js);
	buf_free(&w.text);
	/* one byte that could start the gzip magic, then the end */
	s = (struct src){ "\x1f", 1, 0, 1 };
	memset(&w, 0, sizeof(w));
	read_all(&s, 16, 64, &w, &js);
	T_INTEQ(js.gzip, 0);
	T_INTEQ(w.text.len, 1);
	jstream_free(&js);
	buf_free(&w.text);
}

/* A tarball (a managed service's export) is refused with what to do. */
static void
test_tar(void)
{
	struct buf t, z;
	struct whole w = { 0 };
	struct jstream js;
	struct src s;

	buf_init(&t);
	buf_init(&z);
	buf_append(&t, "audit.log", 9);
	while (t.len < 257)
		buf_putc(&t, '\0');
	buf_append(&t, "ustar\00000", 8);
	while (t.len < 512)
		buf_putc(&t, '\0');
	make_text(&t, 100);
	gz_append(&z, t.data, t.len);
	s = (struct src){ z.data, z.len, 0, 4096 };
	read_all(&s, 4096, 1 << 20, &w, &js);
	T_INTEQ(w.pieces, 0);
	T_ASSERT(strstr(js.err, "a tar archive") != NULL);
	jstream_free(&js);
	buf_free(&w.text);
	buf_free(&z);
	buf_free(&t);
}

static void
test_termesc(void)
{
	struct buf b;
	const char in[] = "a\033]0;x\a\\b\xc2\x9b\xe2\x80\xae\xff\n\0z";

	buf_init(&b);
	termesc_append(&b, in, sizeof(in) - 1, 0);
	T_STREQ(buf_cstr(&b), "a\\u{001B}]0;x\\u{0007}\\\\b\\u{009B}\\u{202E}\\xFF\\u{000A}\\u{0000}z");
	buf_reset(&b);
	termesc_append(&b, "héllo", 6, 2);
	T_STREQ(buf_cstr(&b), "hé...");
	buf_free(&b);
}

static void test_ahead_plain_pieces(void) { test_plain_pieces(); }
static void test_ahead_gzip_members(void) { test_gzip_members(); }
static void test_ahead_gzip_broken(void) { test_gzip_broken(); }
static void test_ahead_stuck(void) { test_stuck(); }
static void test_ahead_empty(void) { test_empty(); }
static void test_ahead_tar(void) { test_tar(); }

int
main(void)
{
	T_RUN(test_plain_pieces);
	T_RUN(test_gzip_members);
	T_RUN(test_gzip_broken);
	T_RUN(test_stuck);
	T_RUN(test_empty);
	T_RUN(test_tar);
	T_RUN(test_termesc);
	ahead = 1;		/* the same through the read-ahead thread */
	T_RUN(test_ahead_plain_pieces);
	T_RUN(test_ahead_gzip_members);
	T_RUN(test_ahead_gzip_broken);
	T_RUN(test_ahead_stuck);
	T_RUN(test_ahead_empty);
	T_RUN(test_ahead_tar);
	return t_done();
}
