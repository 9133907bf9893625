/* bench_db.c — the findings write path alone: findings/s, rows/s and bytes
 * through db_write(), in the daemon's batch shape.
 *
 *   bench_db [--findings N] [--fill M] [--batch B] [--hooks K] [--all]
 *            [--sql STATEMENT] FILE
 *
 * FILE is audit traffic as JSON lines (tests/bench/traffic.py). Its events
 * are cycled, each pass with auditIDs of its own, decoded and run through
 * the shipped rules with archive.when at its default, as app/ingester.c
 * does: a batch of B events (ingest.batch_max) becomes the batch's findings
 * (each routed to K webhooks: K outbox rows), its archived events and one
 * db_write() call, until N findings are stored. By default only the events
 * some rule fires on are cycled (a backlog of findings: what the write path
 * alone can do); --all cycles every event (the realistic mix, where the
 * archive is most of the rows). Decoding and evaluation are outside the
 * timing: the figures are db_write()'s, after M findings (--fill, 0 by
 * default) were written the same way untimed, so that the rate of a database
 * already holding rows shows; with its client CPU time, the CPU
 * time of the server process serving the connection (same machine) and the
 * database's growth. Written into a fresh database next to KAUDIT_PG_URL;
 * --sql runs a statement on it once migrated, to weigh a part of the write
 * (DROP INDEX ..., a column left out): how docs/performance.md's profile
 * was made. */
#include "analyze/event.h"
#include "analyze/rules.h"
#include "app/config.h"
#include "app/rulefiles.h"
#include "base/buf.h"
#include "ingest/decode.h"
#include "schema/db.h"
#include "tests/bench_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#define MAX_HOOKS	8

static const char *const hook_names[MAX_HOOKS] = {
	"soc", "pager", "chat", "siem", "ticket", "audit", "lake", "archive"
};

struct batch {
	char		**text;		/* event texts, owned */
	struct decoded	 *dec;
	struct db_event	 *ev;
	struct db_finding *f;
	json_t		**found;
	char		**recv;		/* owned, per finding */
	size_t		  n, nf, capf, nev;
	size_t		  hooks;
	struct eval_scratch *s;
	struct buf	  tmp;
	char		 *evtext;	/* the archived events' times, owned */
};

struct totals {
	long		findings, outbox, archived, batches;
	double		db_s, cpu_s;
	size_t		bytes;		/* finding JSON and event text handed over */
};

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds (user + system) of process pid, from /proc; -1 when unknown. */
static double
proc_cpu_s(int pid)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(line, sizeof(line), fp);
	fclose(fp);
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static char **
read_lines(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, **v = NULL;
	size_t cap = 0, capv = 0;
	ssize_t len;

	*n = 0;
	if (fp == NULL)
		return NULL;
	while ((len = getline(&line, &cap, fp)) > 0) {
		if (len < 2)
			continue;
		if (*n == capv) {
			capv = capv ? capv * 2 : 4096;
			v = realloc(v, capv * sizeof(*v));
		}
		v[(*n)++] = strndup(line, (size_t)len - 1);
	}
	free(line);
	fclose(fp);
	return v;
}

/* The event with its auditID made unique to pass `pass`. */
static char *
fresh_id(const char *text, long pass)
{
	const char *at = strstr(text, "\"auditID\":\"");
	char *out;
	size_t head;

	if (at == NULL)
		return strdup(text);
	head = (size_t)(at - text) + 11;
	out = malloc(strlen(text) + 32);
	snprintf(out, strlen(text) + 32, "%.*sp%ld-%s", (int)head, text, pass, text + head);
	return out;
}

static void
on_found(void *arg, json_t *finding, const struct audit_event *ev, const struct rule *r)
{
	struct batch *b = arg;
	struct db_finding *f;
	const char *s;
	size_t len;

	(void)r;
	if (b->nf == b->capf) {
		b->capf = b->capf ? b->capf * 2 : 1024;
		b->f = realloc(b->f, b->capf * sizeof(*b->f));
		b->found = realloc(b->found, b->capf * sizeof(*b->found));
		b->recv = realloc(b->recv, b->capf * sizeof(*b->recv));
	}
	b->found[b->nf] = finding;
	f = &b->f[b->nf];
	memset(f, 0, sizeof(*f));
	f->finding = finding;
	f->event_json = event_json(ev, &f->event_len);
	f->webhooks = hook_names;
	f->nwebhooks = b->hooks;
	f->topic = "bench";
	buf_reset(&b->tmp);
	s = event_str(ev, EF_RECEIVED_TS, &b->tmp, &len);
	b->recv[b->nf] = s && len <= 64 ? strndup(s, len) : NULL;
	f->received = b->recv[b->nf];
	b->nf++;
}

static void
batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->nf; i++) {
		json_decref(b->found[i]);
		free(b->recv[i]);
	}
	for (size_t i = 0; i < b->n; i++) {
		free(b->text[i]);
		b->text[i] = NULL;
	}
	free(b->evtext);
	b->evtext = NULL;
	b->nf = b->n = b->nev = 0;
}

/* An archived event as ingester.c keeps it: the times and first source IP
 * are copied into one block, filled in by archive_fix() once it stops
 * growing. */
static void
archive_add(struct batch *b, const struct audit_event *ev, struct buf *times,
    size_t *offs)
{
	static const int fields[2] = { EF_STAGE_TS, EF_RECEIVED_TS };
	struct db_event *a = &b->ev[b->nev];
	const char *s;
	size_t len;

	memset(a, 0, sizeof(*a));
	a->json = event_json(ev, &a->len);
	a->cluster = "bench";
	a->topic = "bench";
	for (int k = 0; k < 2; k++) {
		buf_reset(&b->tmp);
		s = event_str(ev, fields[k], &b->tmp, &len);
		offs[2 * b->nev + k] = s && len <= 64 ? times->len : (size_t)-1;
		if (s && len <= 64) {
			buf_append(times, s, len);
			buf_putc(times, '\0');
		}
	}
	b->nev++;
}

static void
archive_fix(struct batch *b, struct buf *times, const size_t *offs)
{
	b->evtext = times->data;
	for (size_t i = 0; i < b->nev; i++) {
		b->ev[i].time = offs[2 * i] == (size_t)-1 ? NULL : b->evtext + offs[2 * i];
		b->ev[i].received = offs[2 * i + 1] == (size_t)-1 ? NULL :
		    b->evtext + offs[2 * i + 1];
	}
}

/* Makes batch b from the next events of lines[pick[...]]. */
static void
batch_make(struct batch *b, const struct ruleset *rs, char **lines, const size_t *pick,
    size_t npick, size_t size, size_t *k)
{
	struct eval_out out = { on_found, NULL, b };
	struct buf times;
	size_t *offs = calloc(2 * size, sizeof(*offs));

	buf_init(&times);
	for (b->n = 0; b->n < size; b->n++, (*k)++) {
		struct decoded *d = &b->dec[b->n];
		char *t = fresh_id(lines[pick[*k % npick]], (long)(*k / npick));
		b->text[b->n] = t;
		decode_message(d, t, strlen(t), NULL);
		for (size_t j = 0; j < d->nev; j++) {
			ruleset_eval_out(rs, &d->ev[j], b->s, &out);
			if (ruleset_archive(rs, &d->ev[j], b->s))
				archive_add(b, &d->ev[j], &times, offs);
		}
	}
	archive_fix(b, &times, offs);
	free(offs);
}

static int
batch_write(struct db *db, struct batch *b, struct totals *t)
{
	struct db_batch_in in = { b->f, b->nf, b->ev, b->nev, NULL, 0, NULL, NULL };
	struct db_batch_out out;
	char err[512];
	double t0, c0;

	for (size_t i = 0; i < b->nf; i++)
		t->bytes += b->f[i].event_len;
	for (size_t i = 0; i < b->nev; i++)
		t->bytes += b->ev[i].len;
	t0 = bench_now();
	c0 = cpu_s();
	if (db_write(db, &in, &out, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_db: %s\n", err);
		return -1;
	}
	t->cpu_s += cpu_s() - c0;
	t->db_s += bench_now() - t0;
	t->findings += (long)out.inserted;
	t->outbox += (long)out.inserted * (long)b->hooks;
	t->archived += (long)out.archived;
	t->batches++;
	return 0;
}

static void
drop_found(void *arg, json_t *finding, const struct audit_event *ev)
{
	(void)arg;
	(void)ev;
	json_decref(finding);
}

/* The indexes of the lines some rule fires on. */
static size_t *
firing_lines(const struct ruleset *rs, struct eval_scratch *s, char **lines, size_t n,
    size_t *nfiring)
{
	size_t *v = calloc(n ? n : 1, sizeof(*v));
	struct decoded d;

	decoded_init(&d);
	*nfiring = 0;
	for (size_t i = 0; i < n; i++) {
		decode_message(&d, lines[i], strlen(lines[i]), NULL);
		for (size_t j = 0; j < d.nev; j++) {
			if (ruleset_eval(rs, &d.ev[j], s, drop_found, NULL) > 0) {
				v[(*nfiring)++] = i;
				break;
			}
		}
	}
	decoded_free(&d);
	return v;
}

static void
report(const char *what, const struct totals *t, double server_s, long long grew)
{
	long rows = t->findings + t->outbox + t->archived;

	printf("%s: %ld findings, %ld outbox rows, %ld archived events in %ld batches\n",
	    what, t->findings, t->outbox, t->archived, t->batches);
	printf("  db_write: %.2f s: %.0f findings/s, %.0f rows/s, %.1f MB/s of event text\n",
	    t->db_s, t->findings / t->db_s, rows / t->db_s, t->bytes / t->db_s / 1e6);
	printf("  CPU: client %.2f s, server %.2f s; database grew %.1f MB (%.0f bytes/finding"
	    " with its outbox and archive share)\n", t->cpu_s, server_s, grew / 1e6,
	    t->findings ? (double)grew / t->findings : 0.0);
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_db [--findings N] [--fill M] [--batch B] [--hooks K] "
	    "[--all] [--sql STATEMENT] FILE\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "findings", required_argument, NULL, 'f' },
		{ "fill", required_argument, NULL, 'F' },
		{ "batch", required_argument, NULL, 'b' },
		{ "hooks", required_argument, NULL, 'k' },
		{ "all", no_argument, NULL, 'a' },
		{ "sql", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct rules_options ro = { 0 };
	struct totals t = { 0 };
	struct batch b;
	struct buf errs;
	struct ruleset *rs;
	struct db *db;
	char err[512], size0[32], size1[32], **lines, *url;
	const char *pg = getenv("KAUDIT_PG_URL"), *sql = NULL;
	long findings = 100000, fill = 0, batch = 500, hooks = 1;
	size_t nlines, npick, *pick, k = 0;
	int ch, all = 0;
	double srv0;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': findings = atol(optarg); break;
		case 'F': fill = atol(optarg); break;
		case 'b': batch = atol(optarg); break;
		case 'k': hooks = atol(optarg); break;
		case 'a': all = 1; break;
		case 's': sql = optarg; break;
		default: return usage();
		}
	}
	if (optind + 1 != argc || batch < 1 || hooks < 0 || hooks > MAX_HOOKS)
		return usage();
	if (pg == NULL) {
		fprintf(stderr, "bench_db: KAUDIT_PG_URL is not set (env=$(tests/services/up.sh);"
		    " . $env)\n");
		return 2;
	}
	if ((lines = read_lines(argv[optind], &nlines)) == NULL || nlines == 0) {
		fprintf(stderr, "bench_db: no events in %s\n", argv[optind]);
		return 2;
	}
	buf_init(&errs);
	ro.archive_when = ARCHIVE_WHEN_DEFAULT;
	if ((rs = rulefiles_load(NULL, 0, &ro, &errs)) == NULL) {
		fputs(buf_cstr(&errs), stderr);
		return 1;
	}
	memset(&b, 0, sizeof(b));
	b.s = eval_scratch_new(rs);
	b.hooks = (size_t)hooks;
	buf_init(&b.tmp);
	if (all) {
		npick = nlines;
		pick = calloc(nlines, sizeof(*pick));
		for (size_t i = 0; i < nlines; i++)
			pick[i] = i;
	} else {
		pick = firing_lines(rs, b.s, lines, nlines, &npick);
	}
	if (npick == 0) {
		fprintf(stderr, "bench_db: no rule fires on the events of %s\n", argv[optind]);
		return 2;
	}
	bench_admin("bench_db", pg, "DROP DATABASE IF EXISTS kaudit_bench_db WITH (FORCE)",
	    NULL, 0);
	if (bench_admin("bench_db", pg, "CREATE DATABASE kaudit_bench_db", NULL, 0) != 0)
		return 1;
	url = bench_url_for(pg, "kaudit_bench_db");
	if ((db = db_connect(url, err, sizeof(err))) == NULL ||
	    db_migrate(db, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_db: %s\n", err);
		return 1;
	}
	if (sql != NULL && bench_admin("bench_db", url, sql, NULL, 0) != 0)
		return 1;
	b.text = calloc((size_t)batch, sizeof(*b.text));
	b.dec = calloc((size_t)batch, sizeof(*b.dec));
	b.ev = calloc((size_t)batch, sizeof(*b.ev));
	for (long i = 0; i < batch; i++)
		decoded_init(&b.dec[i]);
	printf("%zu events in %s, %zu cycled; batches of %ld events, %ld webhook(s) per "
	    "finding, archive.when at its default\n", nlines, argv[optind], npick, batch, hooks);
	while (t.findings < fill) {
		batch_make(&b, rs, lines, pick, npick, (size_t)batch, &k);
		if (batch_write(db, &b, &t) != 0)
			return 1;
		batch_clear(&b);
	}
	if (fill > 0)
		printf("filled: %ld findings, %ld archived events, at %.0f findings/s\n",
		    t.findings, t.archived, t.findings / t.db_s);
	memset(&t, 0, sizeof(t));
	bench_admin("bench_db", url, "SELECT pg_database_size(current_database())", size0,
	    sizeof(size0));
	srv0 = proc_cpu_s(db_backend_pid(db));
	while (t.findings < findings) {
		batch_make(&b, rs, lines, pick, npick, (size_t)batch, &k);
		if (batch_write(db, &b, &t) != 0)
			return 1;
		batch_clear(&b);
	}
	bench_admin("bench_db", url, "SELECT pg_database_size(current_database())", size1,
	    sizeof(size1));
	report(all ? "all traffic" : "firing events", &t,
	    proc_cpu_s(db_backend_pid(db)) - srv0, atoll(size1) - atoll(size0));
	db_close(db);
	for (long i = 0; i < batch; i++)
		decoded_free(&b.dec[i]);
	free(b.text);
	free(b.dec);
	free(b.ev);
	free(b.f);
	free(b.found);
	free(b.recv);
	buf_free(&b.tmp);
	buf_free(&errs);
	eval_scratch_free(b.s);
	ruleset_free(rs);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
	free(pick);
	free(url);
	return 0;
}
