/* cmd_scan.c — `kaudit scan`: evaluates the rules over audit events read
 * from files or stdin, with no services at all, and prints one finding per
 * line as compact JSON. A request logged at several stages yields one
 * finding per (audit_id, rule), as the database's unique key would keep.
 *
 * DESIGN: a large regular file is cut into chunks at line starts that open
 * a top-level value ('\n', blanks, '{' or '['), each cut made when a thread
 * takes the next chunk, in file order, so a thread on a slower or busier CPU
 * simply takes fewer. Each thread has its own decoder and eval scratch
 * (whose engine-side cache drops repeats of a pair); each chunk keeps its
 * finding lines with their (audit_id, rule) keys, and its signals.
 * Whichever thread finishes a chunk writes every finished chunk at the head
 * of the file order through the one exact de-duplication set, so the output
 * is the same as one thread's (a thread drops a pair only when it saw it in
 * an earlier chunk, which was or will be written first), and at most a few
 * chunks per thread wait in memory.
 *
 * A cut is only sound when one thread's walk over the whole file would also
 * start a value there. That holds unless a value runs past the end of its
 * chunk, which the decoder then reports at the chunk's very end. Such an
 * error, or any error in a chunk after the first (whose lines and offsets
 * would be counted from the chunk), stops the cutting: everything before
 * that chunk has been written exactly as one thread would have, and one
 * thread scans the rest of the file, with lines and offsets counted from
 * the start of the file. */
#include "analyze/rules.h"
#include "analyze/state.h"
#include "app/cmd.h"
#include "app/progress.h"
#include "app/rulefiles.h"
#include "app/scantally.h"
#include "base/hash.h"
#include "base/num.h"
#include "base/siphash.h"
#include "base/termesc.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"
#include "ingest/decode.h"
#include "ingest/jstream.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCAN_FLUSH	(1u << 20)	/* stdout buffer flushed past this */
#define SCAN_DEDUP	(1u << 16)	/* engine-side (audit_id, rule) slots */
#define SCAN_THREADS_MAX 64
#define SCAN_THREADS_AUTO 8		/* default cap on online CPUs */
#define SCAN_SPLIT_MIN	((size_t)4 << 20) /* smaller files: one thread */
#define SCAN_SPLIT_LOOK	((size_t)1 << 20) /* look this far for column 0 */
#define SCAN_CHUNKS	4		/* chunks per thread, for files up to */
#define SCAN_CHUNK_MAX	((size_t)16 << 20) /* this size of chunk, which bounds
					   the output a chunk holds */
#define SCAN_CHUNK_MIN	((size_t)1 << 20) /* smaller only to give each thread one */
#define SCAN_WINDOW	4		/* chunks per thread taken and not written */
#define SCAN_MAPPED	((size_t)16 << 20) /* bytes of the file the chunks taken and
					   not written may span (automatic sizes) */
#define SCAN_CHUNK_FLOOR ((size_t)256 << 10) /* ...unless chunks get smaller than this */
#define SCAN_DROP	((size_t)4 << 20) /* one thread: pages read are given back
					   every this many bytes */
#define NOKEY		((size_t)-1)

struct seen {
	char	**slot;		/* "auditID\0rule" keys, open addressing */
	size_t	  cap, n;
};

/* A signal a chunk keeps for the merge: the strings copied into mem, a
 * reference to the finding and the message. These are never changed once
 * built (the engine changes copies of them), and jansson counts references
 * atomically, so the writing thread may hold them while the chunk's thread
 * drops its own. The event text is left out: scan's engine output
 * (held_finding) never reads it. Kept in memory rather than as
 * signal_encode() text, whose escaping of the whole event and parsing back
 * cost more than the evaluation itself. */
struct ksig {
	struct signal	 sg;
	char		*mem;
};

struct fline {			/* one finding line kept by a chunk */
	size_t	off, len;	/* in the chunk's out */
	size_t	key;		/* "auditID\0rule\0" in keys, or NOKEY */
	size_t	rule;		/* "rule\0" in keys, or NOKEY (for the summary) */
	int	sev;
};

/* What the responder asked to see, shared by the scan of every input and
 * chunk: how findings are written, which are, and who counts them. */
struct scan_view {
	int		  table;	/* --format table */
	int		  min_sev;	/* enum severity: --min-severity */
	int		  window;	/* --since or --until given */
	int64_t		  since, until;	/* ms: events in [since, until) */
	int		  rule_width;	/* of the table's rule column */
	struct scantally *tally;	/* NULL: no summary */
	struct progress	 *prog;		/* NULL: no progress line */
	uint64_t	  prog_base;	/* input bytes of the inputs before */
	int		  prog_text;	/* the text's offsets are input bytes */
};

struct scan {
	const struct ruleset	*rs;
	struct eval_scratch	*scratch;	/* a chunk's: its worker's */
	struct seen		*seen;		/* NULL in a chunk: the merge decides */
	struct buf		 out;
	struct buf		 errs;	/* error lines not yet printed */
	const char		*file;
	size_t			 base_off, base_line;	/* see error_line() */
	unsigned long		 events, findings, errors;
	unsigned long		 outside;	/* events left out by --since/--until */
	struct scan_view	*view;
	struct buf		 tmp;		/* an event's time, unescaped */
	int			 write_failed;
	/* a chunk of a parallel scan keeps its output for the merge */
	int			 chunked;
	size_t			 err_end;	/* 1 + largest error offset */
	struct fline		*line;
	size_t			 nline, capline;
	struct buf		 keys;
	/* memory across events: one engine for the whole scan, fed in file
	 * order (a chunk keeps its signals until it is written) */
	struct scan_state	*ss;
	struct ksig		*sig;
	size_t			 nsig, capsig;
	/* one thread over a mapped file: the pages behind it are given back */
	const char		*map;
	size_t			 dropped;	/* bytes of map given back */
	size_t			 drop_every;
};

/* The signals the engine was fed, as keyed hashes of (auditID, kind, step,
 * rule): an event read twice (the same auditID) feeds it once, whichever
 * thread read each copy and however far apart they are, as its findings
 * are written once. 16 bytes a signal at most, where the strings would take
 * a hundred; the key is random, so no event's author can aim a collision
 * at another event's signal. */
struct sigset {
	uint64_t		*slot;	/* 0: empty */
	size_t			 cap, n;
	struct siphash_key	 key;
};

/* The state engine of a scan and the findings it made, held until the end:
 * later events may still count on them (repeats, a growing correlation). */
struct scan_state {
	struct state	*st;
	struct state_held held;
	struct state_out out;
	struct sigset	 fed;
};

struct chunk {
	struct scan		 sc;
	const char		*text;	/* into the file */
	size_t			 len;
	size_t			 index;	/* in file order */
	int			 done;
};

struct par;

/* A thread of a parallel scan and what it carries from chunk to chunk. */
struct worker {
	struct par		*par;
	struct eval_scratch	*scratch;
	struct decoded		 work;
	pthread_t		 tid;
	int			 started;
};

/* The parallel scan of one file. Everything below mu is under it. */
struct par {
	const struct ruleset	*rs;
	const struct decode_opts *dec;
	struct worker		*w;
	size_t			 nw;
	struct chunk		*ring;	/* chunk k is ring[k % nring] */
	size_t			 nring;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;	/* a chunk was written or cutting stopped */
	struct scan		*out;	/* the file's scan: chunks are written to it */
	const char		*text;
	size_t			 len;
	size_t			 chunk_len;	/* the size aimed at */
	size_t			 next;		/* where the next chunk starts */
	size_t			 taken, written;	/* chunks */
	int			 stopped;
	size_t			 resume;	/* when stopped: where one thread goes on */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kaudit scan [--rules PATH]... [--platform NAME]... [--stats]\n"
	    "                   [--cluster NAME] [--envelope FIELD] [--max-bytes N] [--threads N]\n"
	    "                   [--split-min BYTES] [--chunk-bytes N] [--lateness DURATION]\n"
	    "                   [--format json|table] [--min-severity SEVERITY]\n"
	    "                   [--since TIME] [--until TIME] [--[no-]progress] [--[no-]summary]\n"
	    "                   [FILE|-]...\n"
	    "\n"
	    "Evaluates the rules over audit events in FILEs (or stdin for - or no FILE)\n"
	    "and prints each finding as one JSON line (a table at a terminal). Inputs\n"
	    "may be JSON lines, pretty-printed events, EventLists, JSON arrays, AKS or\n"
	    "GKE records, and any of these gzip-compressed (read as a stream, whatever\n"
	    "the file's name).\n"
	    "A tar archive is refused: tar -xzOf FILE | kaudit scan -\n"
	    "\n"
	    "  --format F         json: one JSON object per line; table: a line per finding\n"
	    "                     (time, severity, rule, message), values escaped for a\n"
	    "                     terminal (default: table when stdout is a terminal, else json)\n"
	    "  --min-severity S   only findings of severity S or above (info, low, medium,\n"
	    "                     high, critical; default info: all)\n"
	    "  --since TIME       only events at or after TIME, by stageTimestamp (else\n"
	    "  --until TIME       requestReceivedTimestamp); --until: before TIME. TIME is\n"
	    "                     RFC 3339 (2026-10-01T09:00:00Z), a date (2026-10-01, UTC\n"
	    "                     midnight) or a duration back from now (24h, 7d). Events\n"
	    "                     without a time are left out when either is given\n"
	    "  --progress         a progress line on stderr: bytes, events, findings, rate\n"
	    "  --no-progress      and time left (default: only when stderr is a terminal)\n"
	    "  --summary          at the end, findings by severity and rule on stderr\n"
	    "  --no-summary       (default: only when stderr is a terminal)\n"
	    "\n"
	    "  --rules PATH       rule file or folder (repeatable; default: shipped rules)\n"
	    "  --platform NAME    the cluster runs on this managed platform (openshift, gke,\n"
	    "                     eks, aks): trust its control-plane identities (repeatable;\n"
	    "                     default: none, plain upstream Kubernetes)\n"
	    "  --stats            print events, findings, errors, throughput and peak\n"
	    "                     resident memory (peak_mb) to stderr\n"
	    "  --cluster NAME     cluster recorded on findings (default \"default\")\n"
	    "  --envelope FIELD   events are wrapped in this field of a shipper envelope\n"
	    "  --max-bytes N      a top-level document larger than N bytes is an error\n"
	    "                     (default and 0: no limit)\n"
	    "  --threads N        threads per file, 1-%d (default: online CPUs, at most %d);\n"
	    "                     the output is the same for every N\n"
	    "  --split-min BYTES  files smaller than this are read by one thread\n"
	    "                     (default %zu; stdin always is)\n"
	    "  --chunk-bytes N    bytes per chunk of a file read by several threads, at\n"
	    "                     least 1 (default: a quarter of the file per thread,\n"
	    "                     1-16 MiB, and at most 16 MiB for the chunks in flight);\n"
	    "                     with one thread, how often the pages read are given back\n"
	    "                     (default 4 MiB)\n"
	    "  --lateness D       how far behind the newest event time an event may come and\n"
	    "                     still count for memory across events (stateful.lateness;\n"
	    "                     default 10m); stateful findings are written at the end\n"
	    "\n"
	    "Numbers are whole and decimal: no sign, unit, exponent or leading zero.\n"
	    "Several threads read plain files; stdin, pipes and gzip files are read as a\n"
	    "stream, decompressed by one thread while another decodes (one with\n"
	    "--threads 1); offsets in their errors count uncompressed bytes.\n"
	    "\n"
	    "Exit status: 0 when every input was read and decoded (findings or not),\n"
	    "1 when an input could not be read, had decode errors, was a tar archive or\n"
	    "held gzip data that was corrupt or cut short (each reported on stderr as\n"
	    "FILE: offset N: message), 2 on usage or rule errors. Stderr is otherwise\n"
	    "quiet unless it is a terminal (or --progress, --summary, --stats).\n",
	    SCAN_THREADS_MAX, SCAN_THREADS_AUTO, SCAN_SPLIT_MIN);
}

/* Hash of the key "auditID\0rule". */
static uint64_t
seen_key_hash(const char *audit_id, size_t la, const char *rule, size_t lr)
{
	return fnv1a64(fnv1a64(FNV1A64_INIT, audit_id, la + 1), rule, lr);
}

static void
seen_grow(struct seen *s)
{
	struct seen big = { xcalloc(s->cap ? s->cap * 2 : 1024, sizeof(char *)),
	    s->cap ? s->cap * 2 : 1024, s->n };
	size_t i, la;

	for (size_t k = 0; k < s->cap; k++) {
		if (s->slot[k] == NULL)
			continue;
		la = strlen(s->slot[k]);
		for (i = seen_key_hash(s->slot[k], la, s->slot[k] + la + 1,
		    strlen(s->slot[k] + la + 1)) & (big.cap - 1); big.slot[i];
		    i = (i + 1) & (big.cap - 1))
			;
		big.slot[i] = s->slot[k];
	}
	free(s->slot);
	*s = big;
}

/* Returns 1 the first time (audit_id, rule) is seen. */
static int
seen_add(struct seen *s, const char *audit_id, const char *rule)
{
	size_t la = strlen(audit_id), lr = strlen(rule), i;
	char *key;

	if (s->n * 2 >= s->cap)
		seen_grow(s);
	for (i = seen_key_hash(audit_id, la, rule, lr) & (s->cap - 1); s->slot[i];
	    i = (i + 1) & (s->cap - 1)) {
		key = s->slot[i];
		if (strcmp(key, audit_id) == 0 && strcmp(key + la + 1, rule) == 0)
			return 0;
	}
	key = xmalloc(la + lr + 2);
	memcpy(key, audit_id, la + 1);
	memcpy(key + la + 1, rule, lr + 1);
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

/* Writes out the findings. The progress line is cleared first, as stdout
 * and stderr are often the same terminal. */
static void
scan_flush(struct scan *sc)
{
	if (sc->out.len == 0)
		return;
	progress_hold(sc->view->prog);
	if (fwrite(sc->out.data, 1, sc->out.len, stdout) != sc->out.len || fflush(stdout) != 0)
		sc->write_failed = 1;
	progress_release(sc->view->prog);
	buf_reset(&sc->out);
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
			buf_json_str(b, k, strlen(k));
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
		buf_json_str(b, json_string_value(j), json_string_length(j));
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

/* A chunk keeps the line and its key; the merge decides whether it is new. */
static void
line_add(struct scan *sc, const char *id, const char *rule, int sev)
{
	struct fline *l;

	if (sc->nline == sc->capline) {
		sc->capline = sc->capline ? sc->capline * 2 : 256;
		sc->line = xrealloc(sc->line, sc->capline * sizeof(*sc->line));
	}
	l = &sc->line[sc->nline++];
	l->off = sc->out.len;
	l->key = l->rule = NOKEY;
	l->sev = sev;
	if (id && rule) {
		l->key = sc->keys.len;
		buf_append(&sc->keys, id, strlen(id) + 1);
		l->rule = sc->keys.len;
		buf_append(&sc->keys, rule, strlen(rule) + 1);
	} else if (rule && sc->view->tally) {
		l->rule = sc->keys.len;
		buf_append(&sc->keys, rule, strlen(rule) + 1);
	}
}

/* The finding's severity (enum severity); info when it has none. */
static int
finding_sev(json_t *finding)
{
	enum severity sev = SEV_INFO;
	const char *s = json_string_value(json_object_get(finding, "severity"));

	if (s)
		(void)severity_parse(s, &sev);
	return (int)sev;
}

/* Pads b with blanks to `to` bytes after `from`, at least two. */
static void
pad(struct buf *b, size_t from, size_t to)
{
	size_t n = b->len - from;

	for (n = n < to ? to - n : 0, n += 2; n > 0; n--)
		buf_putc(b, ' ');
}

static void
cell(struct buf *b, json_t *finding, const char *key, size_t width)
{
	const char *v = json_string_value(json_object_get(finding, key));
	size_t from = b->len;

	if (v == NULL)
		v = "-";
	termesc_append(b, v, strlen(v), 0);
	pad(b, from, width);
}

/* An event's time: RFC 3339 as the API server writes it, or as some
 * exports rewrite it ("2022-11-29 00:09:04.38": a blank for the T, and
 * UTC without a zone). */
static int
event_time(const char *t, size_t n, int64_t *ms)
{
	char fix[64];

	if (time_parse_ms(t, n, ms) == 0)
		return 0;
	if (n < 19 || n + 2 > sizeof(fix) || t[10] != ' ')
		return -1;
	memcpy(fix, t, n);
	fix[10] = 'T';
	if (memchr(fix + 19, 'Z', n - 19) == NULL && memchr(fix + 19, '+', n - 19) == NULL &&
	    memchr(fix + 19, '-', n - 19) == NULL)
		fix[n++] = 'Z';
	return time_parse_ms(fix, n, ms);
}

#define TABLE_TIME	20	/* 2026-10-01T09:00:00Z */
#define TABLE_SEV	8	/* critical */

/* The finding's time to the second, in UTC (the JSON keeps the rest), or
 * as it was written when it does not read as a time. */
static void
time_cell(struct buf *b, json_t *finding)
{
	const char *t = json_string_value(json_object_get(finding, "time"));
	size_t from = b->len;
	int64_t ms;
	time_t secs;
	struct tm tm;
	char out[32];

	if (t && event_time(t, strlen(t), &ms) == 0) {
		secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
		gmtime_r(&secs, &tm);
		strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_puts(b, out);
	} else {
		termesc_append(b, t ? t : "-", t ? strlen(t) : 1, 0);
	}
	pad(b, from, TABLE_TIME);
}

static void
table_header(struct buf *b, int rule_width)
{
	buf_printf(b, "%-*s  %-*s  %-*s  MESSAGE\n", TABLE_TIME, "TIME", TABLE_SEV, "SEVERITY",
	    rule_width, "RULE");
}

/* A finding as the table's line: every value from an event is escaped,
 * so that none can move the cursor or hide what follows. */
static void
table_row(struct buf *b, json_t *finding, int rule_width)
{
	const char *msg = json_string_value(json_object_get(finding, "message"));
	json_int_t repeats = json_integer_value(json_object_get(finding, "repeats"));

	time_cell(b, finding);
	cell(b, finding, "severity", TABLE_SEV);
	cell(b, finding, "rule", (size_t)rule_width);
	if (msg)
		termesc_append(b, msg, strlen(msg), 0);
	if (repeats > 0)
		buf_printf(b, " (and %" JSON_INTEGER_FORMAT " more times)", repeats);
	buf_putc(b, '\n');
}

static void
write_finding(struct scan *sc, json_t *finding)
{
	if (sc->view->table) {
		table_row(&sc->out, finding, sc->view->rule_width);
		return;
	}
	write_json(&sc->out, finding);
	buf_putc(&sc->out, '\n');
}

/* What the progress line shows; offset is where the scan is in the text
 * of the input (ignored unless that counts input bytes). */
static void
scan_progress(struct scan *sc, uint64_t offset)
{
	struct progress *p = sc->view->prog;

	if (p == NULL)
		return;
	if (sc->view->prog_text)
		atomic_store_explicit(&p->bytes, sc->view->prog_base + offset, memory_order_relaxed);
	atomic_store_explicit(&p->events, sc->events, memory_order_relaxed);
	atomic_store_explicit(&p->findings, sc->findings, memory_order_relaxed);
}

static void
on_finding(void *arg, json_t *finding, const struct audit_event *ev, const struct rule *r)
{
	struct scan *sc = arg;
	const char *id = json_string_value(json_object_get(finding, "audit_id"));
	const char *rule = json_string_value(json_object_get(finding, "rule"));
	int sev = SEV_INFO;

	(void)ev;
	(void)r;
	if (sc->view->min_sev > SEV_INFO || sc->view->tally) {
		sev = finding_sev(finding);
		if (sev < sc->view->min_sev)
			goto out;
	}
	if (id && rule && sc->seen && !seen_add(sc->seen, id, rule))
		goto out;
	if (sc->chunked)
		line_add(sc, id, rule, sev);
	write_finding(sc, finding);
	sc->findings++;
	if (sc->chunked) {
		sc->line[sc->nline - 1].len = sc->out.len - sc->line[sc->nline - 1].off;
		goto out;
	}
	if (sc->view->tally)
		scantally_add(sc->view->tally, rule, sev);
	if (sc->out.len > SCAN_FLUSH)
		scan_flush(sc);
out:
	json_decref(finding);
}

static void
sigset_grow(struct sigset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 4096, i;
	uint64_t *slot = xcalloc(cap, sizeof(*slot));

	for (size_t k = 0; k < set->cap; k++) {
		if (set->slot[k] == 0)
			continue;
		for (i = set->slot[k] & (cap - 1); slot[i]; i = (i + 1) & (cap - 1))
			;
		slot[i] = set->slot[k];
	}
	free(set->slot);
	set->slot = slot;
	set->cap = cap;
}

/* 1 the first time sg's (auditID, kind, step, rule) comes; signals without
 * an auditID always pass. */
static int
signal_fresh(struct sigset *set, const struct signal *sg)
{
	char small[512], *key = small;
	const char *rule = sg->rule ? rule_id(sg->rule) : "";
	size_t la, n, i;
	uint64_t h;

	if (sg->audit_id == NULL)
		return 1;
	la = strlen(sg->audit_id);
	n = la + strlen(rule) + 32;
	if (n > sizeof(small))
		key = xmalloc(n);
	n = la + 1 + (size_t)snprintf(key + la + 1, n - la - 1, "%d %d %s", (int)sg->kind,
	    sg->step, rule);
	memcpy(key, sg->audit_id, la + 1);
	h = siphash24(&set->key, key, n);
	if (key != small)
		free(key);
	h += h == 0;
	if (set->n * 2 >= set->cap)
		sigset_grow(set);
	for (i = h & (set->cap - 1); set->slot[i]; i = (i + 1) & (set->cap - 1))
		if (set->slot[i] == h)
			return 0;
	set->slot[i] = h;
	set->n++;
	return 1;
}

static void
held_finding(void *arg, json_t *finding, const char *dedup, const struct rule *r,
    const char *event, size_t len)
{
	struct scan_state *ss = arg;

	(void)event;
	(void)len;
	state_held_add(&ss->held, finding, r, dedup);
}

static void
held_update(void *arg, const struct rule *r, const char *dedup, json_t *set)
{
	struct scan_state *ss = arg;

	(void)state_held_update(&ss->held, r, dedup, set);
}

/* A copy of n bytes at p into *at, NUL-terminated; NULL for NULL. */
static const char *
ksig_str(char **at, const char *p, size_t n)
{
	char *q = *at;

	if (p == NULL)
		return NULL;
	memcpy(q, p, n);
	q[n] = '\0';
	*at = q + n + 1;
	return q;
}

static void
on_signal(void *arg, const struct signal *sg)
{
	struct scan *sc = arg;
	size_t la = sg->audit_id ? strlen(sg->audit_id) : 0;
	struct ksig *k;
	char *at;

	if (!sc->chunked) {
		if (signal_fresh(&sc->ss->fed, sg))
			state_feed(sc->ss->st, 0, sg, &sc->ss->out);
		return;
	}
	if (sc->nsig == sc->capsig) {
		sc->capsig = sc->capsig ? sc->capsig * 2 : 256;
		sc->sig = xrealloc(sc->sig, sc->capsig * sizeof(*sc->sig));
	}
	k = &sc->sig[sc->nsig++];
	k->sg = *sg;
	at = k->mem = xmalloc(sg->keylen + la + sg->valuelen + 3);
	k->sg.key = ksig_str(&at, sg->key, sg->keylen);
	k->sg.audit_id = ksig_str(&at, sg->audit_id, la);
	k->sg.value = ksig_str(&at, sg->value, sg->valuelen);
	k->sg.finding = json_incref(sg->finding);
	k->sg.message = json_incref(sg->message);
	k->sg.event = NULL;
	k->sg.eventlen = 0;
}

static void
ksig_clear(struct scan *sc)
{
	for (size_t i = 0; i < sc->nsig; i++) {
		json_decref(sc->sig[i].sg.finding);
		json_decref(sc->sig[i].sg.message);
		free(sc->sig[i].mem);
	}
	sc->nsig = 0;
}

/* Feeds a written chunk's signals to the scan's engine, in file order. */
static void
signals_replay(struct scan_state *ss, const struct scan *c)
{
	for (size_t i = 0; i < c->nsig; i++)
		if (signal_fresh(&ss->fed, &c->sig[i].sg))
			state_feed(ss->st, 0, &c->sig[i].sg, &ss->out);
}

/* The end of the input: spans still open fire as far as the events went,
 * and the engine's findings are written with their final counts. */
static void
held_write(struct scan *sc)
{
	struct scan_state *ss = sc->ss;
	size_t i;
	json_t *f;

	state_tick(ss->st, 0, 1, &ss->out);
	json_array_foreach(ss->held.list, i, f) {
		int sev = finding_sev(f);

		if (sev < sc->view->min_sev)
			continue;
		write_finding(sc, f);
		sc->findings++;
		if (sc->view->tally)
			scantally_add(sc->view->tally, json_string_value(json_object_get(f, "rule")), sev);
		if (sc->out.len > SCAN_FLUSH)
			scan_flush(sc);
	}
}

/* One error line. The decoder's message starts with line and offset when it
 * has them; when decoding resumed halfway through the file (at base_off,
 * on line base_line), they are counted from the start of the file instead,
 * and the message is cut at the length the decoder would have cut it at. */
static void
error_line(struct scan *sc, const struct decode_error *e)
{
	char msg[sizeof(e->msg)];
	unsigned long long line, off;
	char *end;

	if (strncmp(e->msg, "line ", 5) != 0) {
		buf_printf(&sc->errs, "%s: offset %zu: %s\n", sc->file, e->offset + sc->base_off,
		    e->msg);
		return;
	}
	if (sc->base_off == 0)
		goto plain;
	line = strtoull(e->msg + 5, &end, 10);
	if (strncmp(end, ": offset ", 9) != 0)
		goto plain;
	off = strtoull(end + 9, &end, 10);
	if (strncmp(end, ": ", 2) != 0)
		goto plain;
	snprintf(msg, sizeof(msg), "line %llu: offset %llu: %s",
	    line + sc->base_line - 1, off + sc->base_off, end + 2);
	buf_printf(&sc->errs, "%s: %s\n", sc->file, msg);
	return;
plain:
	buf_printf(&sc->errs, "%s: %s\n", sc->file, e->msg);
}

/* Whether the event's time is in [since, until): stageTimestamp, else
 * requestReceivedTimestamp; an event without either is not. */
static int
in_window(struct scan *sc, const struct audit_event *ev)
{
	const char *t;
	size_t n;
	int64_t ms;

	t = event_str(ev, EF_STAGE_TS, &sc->tmp, &n);
	if (t == NULL)
		t = event_str(ev, EF_RECEIVED_TS, &sc->tmp, &n);
	if (t == NULL || event_time(t, n, &ms) < 0)
		return 0;
	return ms >= sc->view->since && ms < sc->view->until;
}

/* Gives back the pages of text[from..to) to the kernel: the mapping is
 * private and never written, so a page read again (the first one may hold
 * the end of what came before) comes back from the file as it was; until
 * then it no longer counts in the process's memory. The page that holds
 * `to` stays. */
static void
map_drop(const char *text, size_t from, size_t to)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)text + from) & ~(page - 1);
	uintptr_t b = ((uintptr_t)text + to) & ~(page - 1);

	if (b > a)
		(void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* One thread over a mapped file: what lies before pos was decoded. */
static void
map_behind(struct scan *sc, size_t pos)
{
	if (sc->map == NULL || pos < sc->dropped + sc->drop_every)
		return;
	map_drop(sc->map, sc->dropped, pos);
	sc->dropped = pos;
}

static void
on_part(void *arg, const struct decoded *part)
{
	struct scan *sc = arg;

	for (size_t i = 0; i < part->nerr; i++) {
		const struct decode_error *e = &part->err[i];
		error_line(sc, e);
		if (e->offset + 1 > sc->err_end)
			sc->err_end = e->offset + 1;
		sc->errors++;
	}
	if (!sc->chunked && sc->errs.len) {
		progress_hold(sc->view->prog);
		fputs(sc->errs.data, stderr);
		progress_release(sc->view->prog);
		buf_reset(&sc->errs);
	}
	for (size_t i = 0; i < part->nev; i++) {
		struct eval_out out = { on_finding, on_signal, sc };
		if (sc->view->window && !in_window(sc, &part->ev[i])) {
			sc->outside++;
			continue;
		}
		sc->events++;
		ruleset_eval_out(sc->rs, &part->ev[i], sc->scratch, &out);
	}
	if (!sc->chunked && part->nev) {
		scan_progress(sc, sc->base_off + part->ev[part->nev - 1].offset);
		map_behind(sc, sc->base_off + part->ev[part->nev - 1].offset);
	}
}

/* --- parallel scan of one mapped file ------------------------------------ */

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Start of the first line after `from` that opens a value: a newline, then
 * blanks, then '{' or '['. Pretty-printers indent nested values, so a bracket
 * in column 0 is preferred when one comes within SCAN_SPLIT_LOOK bytes.
 * Returns len when there is no such line. */
static size_t
split_at(const char *t, size_t len, size_t from)
{
	size_t indented = len, p = from, q;
	const char *nl;

	while (p < len && (nl = memchr(t + p, '\n', len - p)) != NULL) {
		q = p = (size_t)(nl - t) + 1;
		while (q < len && is_blank(t[q]))
			q++;
		if (q < len && (t[q] == '{' || t[q] == '[')) {
			if (t[q - 1] == '\n')
				return q;
			if (indented == len)
				indented = p;
		}
		if (indented < len && q - from > SCAN_SPLIT_LOOK)
			break;
		p = q;	/* no newline in between can do better */
	}
	return indented;
}

static void
chunk_reset(struct chunk *c, const struct ruleset *rs, const char *file)
{
	struct scan *sc = &c->sc;

	sc->rs = rs;
	sc->chunked = 1;
	buf_reset(&sc->out);
	buf_reset(&sc->errs);
	buf_reset(&sc->keys);
	ksig_clear(sc);
	sc->nline = 0;
	sc->events = sc->findings = sc->errors = sc->outside = 0;
	sc->err_end = 0;
	sc->file = file;
	c->done = 0;
}

/* Forgets the pairs of an earlier file: a chunk that was never written
 * must not hide a pair from the rest of the file. */
static void
worker_reset(struct worker *w)
{
	eval_scratch_dedup(w->scratch, SCAN_DEDUP);
}

/* Cuts the next chunk; NULL when the file is all handed out or cutting
 * stopped. Waits while SCAN_WINDOW chunks per thread are not written. */
static struct chunk *
chunk_take(struct par *par)
{
	struct chunk *c;
	size_t end;

	while (!par->stopped && par->next < par->len &&
	    par->taken - par->written >= par->nring)
		pthread_cond_wait(&par->cv, &par->mu);
	if (par->stopped || par->next >= par->len)
		return NULL;
	if (par->len - par->next <= par->chunk_len + par->chunk_len / 2)
		end = par->len;
	else
		end = split_at(par->text, par->len, par->next + par->chunk_len);
	c = &par->ring[par->taken % par->nring];
	chunk_reset(c, par->rs, par->out->file);
	c->sc.ss = par->out->ss;
	c->sc.view = par->out->view;
	c->text = par->text + par->next;
	c->len = end - par->next;
	c->index = par->taken++;
	par->next = end;
	return c;
}

/* Whether one thread's walk over the whole file would have begun a value
 * at the chunk's start and at its end (see DESIGN above). */
static int
chunk_sound(const struct par *par, const struct chunk *c)
{
	if (c->index > 0 && c->sc.errors)
		return 0;
	return c->text + c->len == par->text + par->len || c->sc.err_end <= c->len;
}

/* Writes the chunk's lines through the exact (audit_id, rule) set. */
static void
chunk_write(struct par *par, const struct chunk *ch)
{
	struct scan *sc = par->out;
	const struct scan *c = &ch->sc;

	if (c->errs.len) {
		progress_hold(sc->view->prog);
		fputs(c->errs.data, stderr);
		progress_release(sc->view->prog);
	}
	sc->errors += c->errors;
	sc->events += c->events;
	sc->outside += c->outside;
	for (size_t k = 0; k < c->nline; k++) {
		const struct fline *l = &c->line[k];
		const char *id = l->key == NOKEY ? NULL : c->keys.data + l->key;
		if (id && !seen_add(sc->seen, id, id + strlen(id) + 1))
			continue;
		buf_append(&sc->out, c->out.data + l->off, l->len);
		sc->findings++;
		if (sc->view->tally)
			scantally_add(sc->view->tally, l->rule == NOKEY ? NULL : c->keys.data + l->rule,
			    l->sev);
		if (sc->out.len > SCAN_FLUSH)
			scan_flush(sc);
	}
	signals_replay(sc->ss, c);
	scan_progress(sc, (uint64_t)(ch->text - par->text) + ch->len);
}

/* Writes the finished chunks at the head of the file order; the first one
 * that cannot stand stops the cutting. */
static void
chunks_write(struct par *par)
{
	struct chunk *c;

	while (!par->stopped && par->written < par->taken) {
		c = &par->ring[par->written % par->nring];
		if (!c->done)
			break;
		if (!chunk_sound(par, c)) {
			par->stopped = 1;
			par->resume = (size_t)(c->text - par->text);
			break;
		}
		chunk_write(par, c);
		ksig_clear(&c->sc);	/* now, not when the slot comes round */
		map_drop(c->text, 0, c->len);
		par->written++;
	}
	pthread_cond_broadcast(&par->cv);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct par *par = w->par;
	struct chunk *c;

	pthread_mutex_lock(&par->mu);
	while ((c = chunk_take(par)) != NULL) {
		pthread_mutex_unlock(&par->mu);
		c->sc.scratch = w->scratch;
		c->sc.seen = NULL;
		decode_stream(&w->work, c->text, c->len, par->dec, on_part, &c->sc);
		pthread_mutex_lock(&par->mu);
		c->done = 1;
		chunks_write(par);
	}
	pthread_mutex_unlock(&par->mu);
	return NULL;
}

/* Scans text with every thread; returns where one thread must go on (len
 * when all of it was written). */
static size_t
scan_parallel(struct scan *sc, struct par *par, const char *text, size_t len,
    size_t chunk_bytes)
{
	size_t chunk = len / (par->nw * SCAN_CHUNKS);

	if (chunk < SCAN_CHUNK_MIN)
		chunk = len / par->nw < SCAN_CHUNK_MIN ? len / par->nw : SCAN_CHUNK_MIN;
	if (chunk > SCAN_CHUNK_MAX)
		chunk = SCAN_CHUNK_MAX;
	/* the pages of the chunks in flight are what the file costs in memory */
	if (chunk > SCAN_MAPPED / par->nring)
		chunk = SCAN_MAPPED / par->nring;
	if (chunk < SCAN_CHUNK_FLOOR && len / par->nw >= SCAN_CHUNK_FLOOR)
		chunk = SCAN_CHUNK_FLOOR;
	par->chunk_len = chunk_bytes ? chunk_bytes : chunk ? chunk : 1;
	par->out = sc;
	par->text = text;
	par->len = len;
	par->next = par->taken = par->written = 0;
	par->stopped = 0;
	par->resume = len;
	for (size_t i = 0; i < par->nw; i++)
		worker_reset(&par->w[i]);
	for (size_t i = 1; i < par->nw; i++)
		par->w[i].started = pthread_create(&par->w[i].tid, NULL, worker_run,
		    &par->w[i]) == 0;
	worker_run(&par->w[0]);	/* and the chunks of threads that could not start */
	for (size_t i = 1; i < par->nw; i++) {
		if (par->w[i].started)
			pthread_join(par->w[i].tid, NULL);
		par->w[i].started = 0;
	}
	return par->resume;
}

static struct par *
par_new(const struct ruleset *rs, const struct decode_opts *o, size_t nthreads)
{
	struct par *par = xcalloc(1, sizeof(*par));

	par->rs = rs;
	par->dec = o;
	par->nw = nthreads;
	par->w = xcalloc(nthreads, sizeof(*par->w));
	for (size_t i = 0; i < nthreads; i++) {
		par->w[i].par = par;
		par->w[i].scratch = eval_scratch_new(rs);
		decoded_init(&par->w[i].work);
	}
	par->nring = nthreads * SCAN_WINDOW;
	par->ring = xcalloc(par->nring, sizeof(*par->ring));
	pthread_mutex_init(&par->mu, NULL);
	pthread_cond_init(&par->cv, NULL);
	return par;
}

static void
scan_free(struct scan *sc)
{
	buf_free(&sc->out);
	buf_free(&sc->errs);
	buf_free(&sc->keys);
	ksig_clear(sc);
	free(sc->sig);
	buf_free(&sc->tmp);
	free(sc->line);
}

static void
par_free(struct par *par)
{
	if (par == NULL)
		return;
	for (size_t i = 0; i < par->nw; i++) {
		eval_scratch_free(par->w[i].scratch);
		decoded_free(&par->w[i].work);
	}
	for (size_t i = 0; i < par->nring; i++)
		scan_free(&par->ring[i].sc);
	pthread_mutex_destroy(&par->mu);
	pthread_cond_destroy(&par->cv);
	free(par->w);
	free(par->ring);
	free(par);
}

static size_t
count_lines(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	size_t n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* --- the command ---------------------------------------------------------- */

/* The sum of the inputs' sizes when each is a regular file, else 0. */
static uint64_t
inputs_size(int argc, char **argv)
{
	struct stat st;
	uint64_t total = 0;

	if (optind >= argc)
		return 0;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0 || stat(argv[i], &st) < 0 || !S_ISREG(st.st_mode))
			return 0;
		total += (uint64_t)st.st_size;
	}
	return total;
}

struct scan_opts {
	const char	**rules;
	size_t		  nrules;
	const char	**platforms;
	size_t		  nplatforms;
	int		  stats;
	size_t		  threads;
	size_t		  split_min;
	size_t		  chunk_bytes;	/* 0 = automatic */
	struct decode_opts dec;
	struct state_opts state;
	int		  format;	/* -1: by stdout; 0 json; 1 table */
	int		  progress;	/* -1: by stderr; 0 off; 1 on */
	int		  summary;	/* the same */
	int		  min_sev;
	int		  window;
	int64_t		  since, until;
};

struct scan_run {
	struct scan	 sc;
	struct seen	 seen;
	struct decoded	 work;
	struct par	*par;		/* made on first use */
	const struct scan_opts *so;
	size_t		 bytes;
};

/* A regular file, not compressed, mapped whole: its chunks go to several
 * threads, and from where cutting stopped one thread goes on. */
static int
scan_mapped(struct scan_run *r, int fd, size_t len)
{
	struct scan *sc = &r->sc;
	size_t from = 0;
	char *text = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);

	if (text == MAP_FAILED)
		return -1;
	sc->view->prog_text = 1;
	sc->map = text;
	sc->dropped = 0;
	sc->drop_every = r->so->chunk_bytes ? r->so->chunk_bytes : SCAN_DROP;
	if (r->so->threads > 1 && len >= r->so->split_min) {
		if (r->par == NULL)
			r->par = par_new(sc->rs, &r->so->dec, r->so->threads);
		from = scan_parallel(sc, r->par, text, len, r->so->chunk_bytes);
	}
	if (from < len) {
		sc->base_off = from;
		sc->base_line = 1 + count_lines(text, from);
		decode_stream(&r->work, text + from, len - from, &r->so->dec, on_part, sc);
		sc->base_off = 0;
	}
	sc->view->prog_text = 0;
	sc->map = NULL;
	r->bytes += len;
	sc->view->prog_base += len;
	munmap(text, len);
	return 0;
}

/* stdin, a pipe or a gzip file: piece by piece as the stream gives them
 * (see ingest/jstream.h), decoded by one thread while another reads and
 * decompresses ahead (unless --threads 1). */
static int
scan_streamed(struct scan_run *r, int fd)
{
	struct scan *sc = &r->sc;
	struct progress *p = sc->view->prog;
	struct jstream js;
	const char *text;
	size_t len;
	int rc = 0;

	jstream_init(&js, jstream_read_fd, &fd);
	if (r->so->threads > 1)
		jstream_ahead(&js);	/* decompress while decoding */
	while (jstream_next(&js, &text, &len)) {
		sc->base_off = js.off;
		sc->base_line = js.line;
		decode_stream(&r->work, text, len, &r->so->dec, on_part, sc);
		if (p)
			atomic_store_explicit(&p->bytes, sc->view->prog_base + js.in_bytes,
			    memory_order_relaxed);
	}
	sc->base_off = 0;
	if (js.err[0]) {
		progress_hold(p);
		fprintf(stderr, "kaudit scan: %s: offset %llu: %s\n", sc->file,
		    (unsigned long long)js.out_bytes, js.err);
		progress_release(p);
		rc = -1;
	}
	r->bytes += js.out_bytes;
	sc->view->prog_base += js.in_bytes;
	jstream_free(&js);
	return rc;
}

/* Whether the file starts with the gzip magic bytes. */
static int
is_gzip(int fd)
{
	unsigned char m[2];

	return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

static int
scan_file(struct scan_run *r, const char *path)
{
	struct scan *sc = &r->sc;
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int rc;

	sc->file = strcmp(path, "-") == 0 ? "(stdin)" : path;
	if (fd < 0)
		goto fail;
	if (fd > 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    !is_gzip(fd)) {
		if (scan_mapped(r, fd, (size_t)st.st_size) < 0)
			goto fail;	/* mmap: says why in errno */
		rc = 0;
	} else {
		rc = scan_streamed(r, fd);	/* says why itself */
	}
	if (fd > 0)
		close(fd);
	return rc;
fail:
	rc = errno;
	progress_hold(sc->view->prog);
	fprintf(stderr, "kaudit scan: %s: %s\n", sc->file, strerror(rc));
	progress_release(sc->view->prog);
	if (fd > 0)
		close(fd);
	return -1;
}

static size_t
scan_threads_auto(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > SCAN_THREADS_AUTO ? SCAN_THREADS_AUTO : (size_t)n;
}

/* A whole-number option value in [min, max] (see base/num.h); -1 after
 * saying why. */
static int
scan_size_arg(const char *name, const char *s, uint64_t min, uint64_t max, size_t *out)
{
	char err[160];
	uint64_t v;

	if (num_parse_u64(s, min, max, &v, err, sizeof(err)) < 0) {
		fprintf(stderr, "kaudit scan: --%s: %s\n", name, err);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

/* --since/--until: RFC 3339, a date (UTC midnight) or a duration back
 * from now; -1 after saying why. */
static int
scan_time_arg(const char *name, const char *s, int64_t *ms)
{
	char day[32];
	struct timespec ts;
	int64_t d;

	if (time_parse_ms(s, strlen(s), ms) == 0)
		return 0;
	if (strlen(s) == 10 && snprintf(day, sizeof(day), "%sT00:00:00Z", s) > 0 &&
	    time_parse_ms(day, strlen(day), ms) == 0)
		return 0;
	if (duration_parse(s, &d) == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		*ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - d;
		return 0;
	}
	fprintf(stderr, "kaudit scan: --%s: expected an RFC 3339 time (2026-10-01T09:00:00Z), "
	    "a date (2026-10-01) or a duration back from now (24h), got \"%s\"\n", name, s);
	return -1;
}

static int
scan_args(int argc, char **argv, struct scan_opts *so)
{
	static const struct option opts[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "platform", required_argument, NULL, 'p' },
		{ "stats", no_argument, NULL, 's' },
		{ "cluster", required_argument, NULL, 'c' },
		{ "envelope", required_argument, NULL, 'e' },
		{ "max-bytes", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "split-min", required_argument, NULL, 'S' },
		{ "chunk-bytes", required_argument, NULL, 'C' },
		{ "lateness", required_argument, NULL, 'L' },
		{ "format", required_argument, NULL, 'f' },
		{ "min-severity", required_argument, NULL, 'M' },
		{ "since", required_argument, NULL, 'b' },
		{ "until", required_argument, NULL, 'u' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'Q' },
		{ "summary", no_argument, NULL, 'Y' },
		{ "no-summary", no_argument, NULL, 'Z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			so->rules = xrealloc(so->rules, sizeof(*so->rules) * (so->nrules + 1));
			so->rules[so->nrules++] = optarg;
			break;
		case 'p':
			so->platforms = xrealloc(so->platforms,
			    sizeof(*so->platforms) * (so->nplatforms + 1));
			so->platforms[so->nplatforms++] = optarg;
			break;
		case 's': so->stats = 1; break;
		case 'c': so->dec.cluster = optarg; break;
		case 'e': so->dec.envelope_field = optarg; break;
		case 'm':
			if (scan_size_arg("max-bytes", optarg, 0, SIZE_MAX, &so->dec.max_bytes) < 0)
				return 2;
			break;
		case 't':
			if (scan_size_arg("threads", optarg, 1, SCAN_THREADS_MAX, &so->threads) < 0)
				return 2;
			break;
		case 'S':
			if (scan_size_arg("split-min", optarg, 0, SIZE_MAX, &so->split_min) < 0)
				return 2;
			break;
		case 'C':
			if (scan_size_arg("chunk-bytes", optarg, 1, SIZE_MAX, &so->chunk_bytes) < 0)
				return 2;
			break;
		case 'L':
			if (duration_parse(optarg, &so->state.lateness_ms) < 0 ||
			    so->state.lateness_ms > 7 * 86400000LL) {
				fprintf(stderr, "kaudit scan: --lateness: expected a duration "
				    "such as 90s, 10m or 2h, at most 7d, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'f':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0) {
				fprintf(stderr, "kaudit scan: --format: expected json or table, "
				    "got \"%s\"\n", optarg);
				return 2;
			}
			so->format = strcmp(optarg, "table") == 0;
			break;
		case 'M': {
			enum severity sev;

			if (severity_parse(optarg, &sev) < 0) {
				fprintf(stderr, "kaudit scan: --min-severity: expected info, low, "
				    "medium, high or critical, got \"%s\"\n", optarg);
				return 2;
			}
			so->min_sev = (int)sev;
			break;
		}
		case 'b':
		case 'u':
			if (scan_time_arg(ch == 'b' ? "since" : "until", optarg,
			    ch == 'b' ? &so->since : &so->until) < 0)
				return 2;
			so->window = 1;
			break;
		case 'P': so->progress = 1; break;
		case 'Q': so->progress = 0; break;
		case 'Y': so->summary = 1; break;
		case 'Z': so->summary = 0; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (so->window && so->since >= so->until) {
		fprintf(stderr, "kaudit scan: --since must come before --until\n");
		return 2;
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

/* The defaults that depend on where the output goes: a table, a progress
 * line and a summary for a person at a terminal; for a script, JSON lines
 * and a quiet stderr (an error is then the only thing on it). */
static void
view_setup(struct scan_view *v, struct scan_opts *so, const struct ruleset *rs)
{
	size_t w = 4, n;

	if (so->format < 0)
		so->format = isatty(1);
	if (so->progress < 0)
		so->progress = isatty(2);
	if (so->summary < 0)
		so->summary = isatty(2);
	v->table = so->format;
	v->min_sev = so->min_sev;
	v->window = so->window;
	v->since = so->since;
	v->until = so->until;
	for (size_t i = 0; i < ruleset_count(rs); i++)
		if ((n = strlen(rule_id(ruleset_rule(rs, i)))) > w)
			w = n;
	v->rule_width = w > 44 ? 44 : (int)w;	/* longer ids push their message on */
}

int
cmd_scan(int argc, char **argv)
{
	struct scan_opts so = {
		.dec = { .cluster = "default" },
		.threads = scan_threads_auto(),
		.split_min = SCAN_SPLIT_MIN,
		.state = { .lateness_ms = 10 * 60000LL },
		.format = -1, .progress = -1, .summary = -1,
		.since = INT64_MIN, .until = INT64_MAX,
	};
	struct scan_run r = { .so = &so };
	struct scan_state ss = { 0 };
	struct scan *sc = &r.sc;
	struct rules_options ro = { .origin = "(command line)" };
	struct scan_view view = { 0 };
	struct scantally tally;
	struct progress prog;
	struct buf errs;
	double t0;
	int rc, failed = 0;

	sc->seen = &r.seen;
	sc->view = &view;
	if ((rc = scan_args(argc, argv, &so)) >= 0)
		goto out;
	buf_init(&errs);
	ro.platforms = so.platforms;
	ro.nplatforms = so.nplatforms;
	sc->rs = rulefiles_load(so.rules, so.nrules, &ro, &errs);
	if (sc->rs == NULL) {
		fprintf(stderr, "%s", buf_cstr(&errs));
		buf_free(&errs);
		rc = 2;
		goto out;
	}
	buf_free(&errs);
	sc->scratch = eval_scratch_new(sc->rs);
	/* most repeats never get built; seen_add() stays exact past 64K pairs */
	eval_scratch_dedup(sc->scratch, SCAN_DEDUP);
	ss.st = state_new(sc->rs, &so.state);
	state_held_init(&ss.held);
	siphash_key_random(&ss.fed.key);
	ss.out = (struct state_out){ held_finding, held_update, &ss };
	sc->ss = &ss;
	decoded_init(&r.work);
	view_setup(&view, &so, sc->rs);
	if (view.table)
		table_header(&sc->out, view.rule_width);
	if (so.summary)
		scantally_init(view.tally = &tally);
	if (so.progress) {
		progress_start(&prog, stderr, isatty(2), inputs_size(argc, argv));
		view.prog = &prog;
	}
	t0 = now();
	if (optind >= argc)
		failed |= scan_file(&r, "-") < 0;
	for (int i = optind; i < argc; i++)
		failed |= scan_file(&r, argv[i]) < 0;
	held_write(sc);
	scan_flush(sc);
	fflush(stdout);
	if (view.prog) {
		scan_progress(sc, 0);
		atomic_store_explicit(&prog.bytes, view.prog_base, memory_order_relaxed);
		progress_stop(&prog);
	}
	if (view.tally) {
		scantally_print(&tally, stderr, sc->events, sc->outside, sc->errors, now() - t0);
		scantally_free(&tally);
	}
	if (so.stats) {
		double secs = now() - t0;
		double div = secs > 0 ? secs : 1e-9;
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);	/* ru_maxrss: KiB on Linux */
		fprintf(stderr, "events %lu findings %lu errors %lu seconds %.3f events/s %.0f MB/s %.1f"
		    " peak_mb %.1f\n", sc->events, sc->findings, sc->errors, secs, sc->events / div,
		    r.bytes / div / 1e6, ru.ru_maxrss / 1024.0);
	}
	rc = failed || sc->errors || sc->write_failed ? 1 : 0;
	state_free(ss.st);
	state_held_free(&ss.held);
	free(ss.fed.slot);
	decoded_free(&r.work);
	par_free(r.par);
	eval_scratch_free(sc->scratch);
	seen_free(&r.seen);
	scan_free(sc);
	ruleset_free((struct ruleset *)sc->rs);
out:
	free(so.rules);
	free(so.platforms);
	return rc;
}
