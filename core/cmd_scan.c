/* cmd_scan.c — `kaudit scan`: evaluates the rules over audit events read
 * from files or stdin, with no services at all, and prints one finding per
 * line as compact JSON. A request logged at several stages yields one
 * finding per (audit_id, rule), as the database's unique key would keep. */
#include "analyze/rules.h"
#include "core/cmd.h"
#include "core/rulefiles.h"
#include "core/xmalloc.h"
#include "ingest/decode.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCAN_FLUSH	(1u << 20)	/* stdout buffer flushed past this */

struct seen {
	char	**slot;		/* "auditID\0rule" keys, open addressing */
	size_t	  cap, n;
};

struct scan {
	const struct ruleset	*rs;
	struct eval_scratch	*scratch;
	struct seen		 seen;
	struct buf		 out;
	const char		*file;
	unsigned long		 events, findings, errors;
	int			 write_failed;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kaudit scan [--rules PATH]... [--stats] [--cluster NAME]\n"
	    "                   [--envelope FIELD] [--max-bytes N] [FILE|-]...\n"
	    "\n"
	    "Evaluates the rules over audit events in FILEs (or stdin for - or no FILE)\n"
	    "and prints each finding as one JSON line. Inputs may be JSON lines,\n"
	    "pretty-printed events, EventLists, JSON arrays, AKS or GKE records.\n"
	    "\n"
	    "  --rules PATH       rule file or folder (repeatable; default: shipped rules)\n"
	    "  --stats            print events, findings, errors and throughput to stderr\n"
	    "  --cluster NAME     cluster recorded on findings (default \"default\")\n"
	    "  --envelope FIELD   events are wrapped in this field of a shipper envelope\n"
	    "  --max-bytes N      a top-level document larger than N bytes is an error\n"
	    "\n"
	    "Exit status: 0 when every input was read and decoded (findings or not),\n"
	    "1 when an input could not be read or had decode errors (each reported on\n"
	    "stderr as FILE: offset N: message), 2 on usage or rule errors.\n");
}

static uint64_t
seen_hash(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	return h;
}

/* Returns 1 the first time (audit_id, rule) is seen. */
static int
seen_add(struct seen *s, const char *audit_id, const char *rule)
{
	size_t la = strlen(audit_id), lr = strlen(rule), i;
	char *key;

	if (s->n * 2 >= s->cap) {
		struct seen big = { xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(char *)),
		    s->cap ? s->cap * 2 : 1024, s->n };
		for (size_t k = 0; k < s->cap; k++) {
			if (s->slot[k] == NULL)
				continue;
			size_t l = strlen(s->slot[k]) + 1;
			l += strlen(s->slot[k] + l);
			for (i = seen_hash(s->slot[k], l) & (big.cap - 1); big.slot[i];
			    i = (i + 1) & (big.cap - 1))
				;
			big.slot[i] = s->slot[k];
		}
		free(s->slot);
		*s = big;
	}
	key = xmalloc(la + lr + 2);
	memcpy(key, audit_id, la + 1);
	memcpy(key + la + 1, rule, lr + 1);
	for (i = seen_hash(key, la + lr + 1) & (s->cap - 1); s->slot[i];
	    i = (i + 1) & (s->cap - 1)) {
		if (memcmp(s->slot[i], key, la + lr + 2) == 0) {
			free(key);
			return 0;
		}
	}
	s->slot[i] = key;
	s->n++;
	return 1;
}

static void
seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
}

static void
scan_flush(struct scan *sc)
{
	if (sc->out.len && fwrite(sc->out.data, 1, sc->out.len, stdout) != sc->out.len)
		sc->write_failed = 1;
	buf_reset(&sc->out);
}

static void
write_esc(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	switch (c) {
	case '"': buf_append(b, "\\\"", 2); break;
	case '\\': buf_append(b, "\\\\", 2); break;
	case '\n': buf_append(b, "\\n", 2); break;
	case '\r': buf_append(b, "\\r", 2); break;
	case '\t': buf_append(b, "\\t", 2); break;
	default: buf_append(b, e, 6); break;
	}
}

/* buf_putc() without the call when there is room (hot in write_json()). */
static inline void
put1(struct buf *b, char c)
{
	if (b->len + 1 < b->cap) {
		b->data[b->len++] = c;
		b->data[b->len] = '\0';
	} else {
		buf_putc(b, c);
	}
}

/* A JSON string, copying the runs that need no escape in one go. */
static void
write_str(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, run;

	put1(b, '"');
	while (i < n) {
		for (run = i; run < n; run++) {
			unsigned char c = (unsigned char)s[run];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
		}
		buf_append(b, s + i, run - i);
		if (run == n)
			break;
		write_esc(b, (unsigned char)s[run]);
		i = run + 1;
	}
	put1(b, '"');
}

/* Compact JSON in the object's own key order: what json_dumps(JSON_COMPACT)
 * prints, several times faster (findings are most of scan's output work). */
static void
write_json(struct buf *b, json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	char num[64];

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		put1(b, '{');
		i = 0;
		json_object_foreach(j, k, v) {
			if (i++)
				put1(b, ',');
			write_str(b, k, strlen(k));
			put1(b, ':');
			write_json(b, v);
		}
		put1(b, '}');
		break;
	case JSON_ARRAY:
		put1(b, '[');
		json_array_foreach(j, i, v) {
			if (i)
				put1(b, ',');
			write_json(b, v);
		}
		put1(b, ']');
		break;
	case JSON_STRING:
		write_str(b, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		buf_puts(b, num);
		break;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(j));
		if (strpbrk(num, ".eEn") == NULL)
			strcat(num, ".0");
		buf_puts(b, num);
		break;
	case JSON_TRUE: buf_puts(b, "true"); break;
	case JSON_FALSE: buf_puts(b, "false"); break;
	default: buf_puts(b, "null"); break;
	}
}

static void
on_finding(void *arg, json_t *finding, const struct audit_event *ev)
{
	struct scan *sc = arg;
	const char *id = json_string_value(json_object_get(finding, "audit_id"));
	const char *rule = json_string_value(json_object_get(finding, "rule"));

	(void)ev;
	if (id && rule && !seen_add(&sc->seen, id, rule))
		goto out;
	write_json(&sc->out, finding);
	buf_putc(&sc->out, '\n');
	sc->findings++;
	if (sc->out.len > SCAN_FLUSH)
		scan_flush(sc);
out:
	json_decref(finding);
}

static void
on_part(void *arg, const struct decoded *part)
{
	struct scan *sc = arg;

	for (size_t i = 0; i < part->nerr; i++) {
		const struct decode_error *e = &part->err[i];
		/* the decoder's message starts with line and offset when it has them */
		if (strncmp(e->msg, "line ", 5) == 0)
			fprintf(stderr, "%s: %s\n", sc->file, e->msg);
		else
			fprintf(stderr, "%s: offset %zu: %s\n", sc->file, e->offset, e->msg);
		sc->errors++;
	}
	for (size_t i = 0; i < part->nev; i++) {
		sc->events++;
		ruleset_eval(sc->rs, &part->ev[i], sc->scratch, on_finding, sc);
	}
}

/* Whole input in memory: mmap for regular files, read() otherwise. Sets
 * *mapped when munmap is needed rather than free. */
static char *
read_input(const char *path, size_t *len, int *mapped)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *p = NULL;
	size_t cap = 0, n = 0;
	ssize_t r;

	*mapped = 0;
	if (fd < 0)
		return NULL;
	if (fd > 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return NULL;
		*mapped = 1;
		*len = (size_t)st.st_size;
		return p;
	}
	for (;;) {
		if (n == cap)
			p = xrealloc(p, (cap = cap ? cap * 2 : 1 << 16) + 1);
		if ((r = read(fd, p + n, cap - n)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (fd > 0)
		close(fd);
	if (r < 0) {
		free(p);
		return NULL;
	}
	*len = n;
	return p ? p : xstrdup("");
}

static int
scan_file(struct scan *sc, struct decoded *work, const struct decode_opts *o,
    const char *path, size_t *bytes)
{
	size_t len = 0;
	int mapped;
	char *text = read_input(path, &len, &mapped);

	sc->file = strcmp(path, "-") == 0 ? "(stdin)" : path;
	if (text == NULL) {
		fprintf(stderr, "kaudit scan: %s: %s\n", sc->file, strerror(errno));
		return -1;
	}
	decode_stream(work, text, len, o, on_part, sc);
	*bytes += len;
	if (mapped)
		munmap(text, len);
	else
		free(text);
	return 0;
}

struct scan_opts {
	const char	**rules;
	size_t		  nrules;
	int		  stats;
	struct decode_opts dec;
};

static int
scan_args(int argc, char **argv, struct scan_opts *so)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "stats", no_argument, NULL, 's' },
		{ "cluster", required_argument, NULL, 'c' },
		{ "envelope", required_argument, NULL, 'e' },
		{ "max-bytes", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	char *end;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			so->rules = xrealloc(so->rules, sizeof(*so->rules) * (so->nrules + 1));
			so->rules[so->nrules++] = optarg;
			break;
		case 's': so->stats = 1; break;
		case 'c': so->dec.cluster = optarg; break;
		case 'e': so->dec.envelope_field = optarg; break;
		case 'm':
			errno = 0;
			so->dec.max_bytes = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg) {
				fprintf(stderr, "kaudit scan: --max-bytes: not a number: %s\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	return -1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
cmd_scan(int argc, char **argv)
{
	struct scan_opts so = { .dec = { .cluster = "default" } };
	struct scan sc = { 0 };
	struct decoded work;
	struct buf errs;
	size_t bytes = 0;
	double t0;
	int rc, failed = 0;

	if ((rc = scan_args(argc, argv, &so)) >= 0)
		goto out;
	buf_init(&errs);
	sc.rs = rulefiles_load(so.rules, so.nrules, NULL, &errs);
	if (sc.rs == NULL) {
		fprintf(stderr, "%s", buf_cstr(&errs));
		buf_free(&errs);
		rc = 2;
		goto out;
	}
	buf_free(&errs);
	sc.scratch = eval_scratch_new(sc.rs);
	/* most repeats never get built; seen_add() stays exact past 64K pairs */
	eval_scratch_dedup(sc.scratch, 1u << 16);
	decoded_init(&work);
	t0 = now();
	if (optind >= argc)
		failed |= scan_file(&sc, &work, &so.dec, "-", &bytes) < 0;
	for (int i = optind; i < argc; i++)
		failed |= scan_file(&sc, &work, &so.dec, argv[i], &bytes) < 0;
	scan_flush(&sc);
	fflush(stdout);
	if (so.stats) {
		double secs = now() - t0;
		double div = secs > 0 ? secs : 1e-9;
		fprintf(stderr, "events %lu findings %lu errors %lu seconds %.3f events/s %.0f MB/s %.1f\n",
		    sc.events, sc.findings, sc.errors, secs, sc.events / div, bytes / div / 1e6);
	}
	rc = failed || sc.errors || sc.write_failed ? 1 : 0;
	decoded_free(&work);
	eval_scratch_free(sc.scratch);
	ruleset_free((struct ruleset *)sc.rs);
	seen_free(&sc.seen);
	buf_free(&sc.out);
out:
	free(so.rules);
	return rc;
}
