/* bench_archive.c — the event archive's write rate, and the loader of the
 * forensic data set.
 *
 * Audit events of the corpus (files given on the command line: JSON lines,
 * or one JSON document per file) are cycled with fresh auditIDs and times
 * spread over the last --days days, decoded and run through the shipped
 * rules as the daemon does, and written through db_write() (the daemon's
 * batch write: findings, outbox rows and archived events in one
 * transaction) in batches of --batch events.
 *
 *   bench:  bench_archive [--events N] FILE...     (make bench-archive)
 *     into a fresh database next to KAUDIT_PG_URL; prints archive rows/s
 *     with the archive alone, then with the findings of the same events.
 *   load:   bench_archive --load --url URL --events 5000000 --findings 1000000 FILE...
 *     migrates URL and writes until both counts are reached (events past
 *     --events are evaluated, not archived), printing progress; the data
 *     set the cookbook queries are timed on. */
#include "analyze/rules.h"
#include "app/rulefiles.h"
#include "base/buf.h"
#include "ingest/decode.h"
#include "schema/db.h"
#include "tests/bench_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

struct gen {
	json_t		**base;		/* corpus events */
	size_t		  nbase, capbase;
	size_t		 *firing;	/* indexes of base events a rule fires on */
	size_t		  nfiring;
	int		  only_firing;	/* draw from those alone */
	long		  k;		/* events made so far */
	long		  days;
	time_t		  now;
};

struct batch {
	char		**text;		/* event texts, owned */
	struct decoded	 *dec;
	struct db_event	 *ev;
	struct db_finding *f;
	json_t		**found;
	char		**recv;
	char		 tbuf[2][64];
	size_t		  n, nf, capf;
	int		  want_findings;
	const struct decoded *cur;
	char		 *cur_recv;
};

static const char *const hooks[] = { "soc" };
static double	db_s;	/* time spent in db_write() */

static void
gen_add(struct gen *g, json_t *o)
{
	if (!json_is_object(o) || json_object_get(o, "auditID") == NULL ||
	    json_object_get(o, "verb") == NULL) {
		json_decref(o);
		return;
	}
	if (g->nbase == g->capbase) {
		g->capbase = g->capbase ? g->capbase * 2 : 256;
		g->base = realloc(g->base, g->capbase * sizeof(*g->base));
	}
	g->base[g->nbase++] = o;
}

static int
gen_load(struct gen *g, const char *path)
{
	json_error_t je;
	json_t *o = json_load_file(path, 0, &je);
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;

	if (o != NULL) {
		if (json_is_array(json_object_get(o, "items"))) {
			size_t i;
			json_t *it;
			json_array_foreach(json_object_get(o, "items"), i, it)
				gen_add(g, json_incref(it));
			json_decref(o);
		} else {
			gen_add(g, o);
		}
		return 0;
	}
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (getline(&line, &cap, fp) > 0)
		gen_add(g, json_loads(line, 0, NULL));
	free(line);
	fclose(fp);
	return 0;
}

static void
fmt_time(char *out, size_t len, time_t t, long us)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
}

/* The next event: a corpus event with a fresh auditID, received at a time
 * spread over the last g->days days, its stage 40 ms later. */
static char *
gen_next(struct gen *g)
{
	json_t *o = json_deep_copy(g->only_firing ?
	    g->base[g->firing[g->k % (long)g->nfiring]] : g->base[g->k % (long)g->nbase]);
	char id[96], t[64];
	long span = g->days * 86400;
	time_t at = g->now - span + (time_t)((g->k * 7919L) % span);
	char *text;

	snprintf(id, sizeof(id), "%s-g%ld", json_string_value(json_object_get(o, "auditID")) ?
	    json_string_value(json_object_get(o, "auditID")) : "x", g->k);
	json_object_set_new(o, "auditID", json_string(id));
	fmt_time(t, sizeof(t), at, (g->k * 31) % 1000000);
	json_object_set_new(o, "requestReceivedTimestamp", json_string(t));
	fmt_time(t, sizeof(t), at, ((g->k * 31) % 1000000 + 40000) % 1000000);
	json_object_set_new(o, "stageTimestamp", json_string(t));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	g->k++;
	return text;
}

static void
count_found(void *arg, json_t *finding, const struct audit_event *ev)
{
	(*(size_t *)arg)++;
	json_decref(finding);
}

/* Which base events some rule fires on: the findings of --load come from
 * them once the archive has its events. */
static void
gen_firing(struct gen *g, const struct ruleset *rs, struct eval_scratch *s)
{
	struct decoded d;

	decoded_init(&d);
	g->firing = calloc(g->nbase, sizeof(*g->firing));
	for (size_t i = 0; i < g->nbase; i++) {
		char *text = json_dumps(g->base[i], JSON_COMPACT);
		size_t n = 0;
		decode_message(&d, text, strlen(text), NULL);
		if (d.nev > 0)
			ruleset_eval(rs, &d.ev[0], s, count_found, &n);
		if (n > 0)
			g->firing[g->nfiring++] = i;
		free(text);
	}
	decoded_free(&d);
}

static void
on_found(void *arg, json_t *finding, const struct audit_event *ev)
{
	struct batch *b = arg;

	if (!b->want_findings) {
		json_decref(finding);
		return;
	}
	if (b->nf == b->capf) {
		b->capf = b->capf ? b->capf * 2 : 1024;
		b->f = realloc(b->f, b->capf * sizeof(*b->f));
		b->found = realloc(b->found, b->capf * sizeof(*b->found));
	}
	b->found[b->nf] = finding;
	memset(&b->f[b->nf], 0, sizeof(b->f[b->nf]));
	b->f[b->nf].finding = finding;
	b->f[b->nf].event_json = event_json(ev, &b->f[b->nf].event_len);
	b->f[b->nf].webhooks = hooks;
	b->f[b->nf].nwebhooks = 1;
	b->f[b->nf].received = b->cur_recv;
	b->nf++;
}

static void
batch_clear(struct batch *b, size_t n)
{
	for (size_t i = 0; i < b->nf; i++)
		json_decref(b->found[i]);
	for (size_t i = 0; i < n; i++) {
		free(b->text[i]);
		free(b->recv[i]);
		b->text[i] = NULL;
		b->recv[i] = NULL;
	}
	b->nf = 0;
	b->n = 0;
}

/* Makes, evaluates and writes one batch of n events; archives them when
 * archive is set. Returns 0, counts added to *ev and *fi. */
static int
batch_run(struct db *db, struct gen *g, const struct ruleset *rs, struct eval_scratch *s,
    struct batch *b, size_t n, int archive, int findings, long *nev, long *nfi)
{
	struct db_batch_in in;
	struct db_batch_out out;
	char err[512];
	size_t m = 0;
	int rc;

	b->want_findings = findings;
	for (size_t i = 0; i < n; i++) {
		struct decoded *d = &b->dec[i];
		const char *r;
		b->text[i] = gen_next(g);
		decode_message(d, b->text[i], strlen(b->text[i]), NULL);
		if (d->nev == 0)
			continue;
		r = strstr(b->text[i], "\"requestReceivedTimestamp\":\"");
		b->recv[i] = r ? strndup(r + 28, 27) : NULL;
		b->cur_recv = b->recv[i];
		ruleset_eval(rs, &d->ev[0], s, on_found, b);
		if (!archive)
			continue;
		memset(&b->ev[m], 0, sizeof(b->ev[m]));
		b->ev[m].json = event_json(&d->ev[0], &b->ev[m].len);
		b->ev[m].received = b->recv[i];
		b->ev[m].time = NULL;
		b->ev[m].cluster = "bench";
		m++;
	}
	in = (struct db_batch_in){ b->f, b->nf, b->ev, m, NULL, 0, NULL, NULL };
	db_s -= bench_now();
	rc = db_write(db, &in, &out, err, sizeof(err));
	db_s += bench_now();
	if (rc != 0) {
		fprintf(stderr, "bench_archive: %s\n", err);
		batch_clear(b, n);
		return -1;
	}
	*nev += (long)out.archived;
	*nfi += (long)out.inserted;
	batch_clear(b, n);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "findings", required_argument, NULL, 'f' },
		{ "batch", required_argument, NULL, 'b' },
		{ "days", required_argument, NULL, 'd' },
		{ "url", required_argument, NULL, 'u' },
		{ "load", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct gen g = { .days = 60, .now = time(NULL) };
	struct batch b;
	struct buf errs;
	struct ruleset *rs;
	struct eval_scratch *s;
	struct db *db;
	char err[512], *url = NULL;
	long events = 100000, findings = 0, batch = 500, nev = 0, nfi = 0, last = 0;
	int ch, load = 0;
	double t0, t1;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': events = atol(optarg); break;
		case 'f': findings = atol(optarg); break;
		case 'b': batch = atol(optarg); break;
		case 'd': g.days = atol(optarg); break;
		case 'u': url = optarg; break;
		case 'l': load = 1; break;
		default:
			fprintf(stderr, "usage: bench_archive [--load --url URL] [--events N] "
			    "[--findings N] [--batch N] [--days N] FILE...\n");
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		if (gen_load(&g, argv[i]) != 0)
			fprintf(stderr, "bench_archive: cannot read %s\n", argv[i]);
	if (g.nbase == 0 || batch < 1 || g.days < 1) {
		fprintf(stderr, "bench_archive: no audit events in the files given\n");
		return 2;
	}
	if (!load) {
		const char *pg = getenv("KAUDIT_PG_URL");
		if (pg == NULL) {
			fprintf(stderr, "bench_archive: KAUDIT_PG_URL is not set "
			    "(env=$(tests/services/up.sh); . $env)\n");
			return 2;
		}
		bench_admin("bench_archive", pg,
		    "DROP DATABASE IF EXISTS kaudit_bench_archive WITH (FORCE)", NULL, 0);
		if (bench_admin("bench_archive", pg, "CREATE DATABASE kaudit_bench_archive",
		    NULL, 0) != 0)
			return 1;
		url = bench_url_for(pg, "kaudit_bench_archive");
	} else if (url == NULL) {
		fprintf(stderr, "bench_archive: --load needs --url\n");
		return 2;
	}
	buf_init(&errs);
	if ((rs = rulefiles_load(NULL, 0, NULL, &errs)) == NULL) {
		fputs(buf_cstr(&errs), stderr);
		return 1;
	}
	s = eval_scratch_new(rs);
	if ((db = db_connect(url, err, sizeof(err))) == NULL || db_migrate(db, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_archive: %s\n", err);
		return 1;
	}
	memset(&b, 0, sizeof(b));
	b.text = calloc((size_t)batch, sizeof(*b.text));
	b.recv = calloc((size_t)batch, sizeof(*b.recv));
	b.dec = calloc((size_t)batch, sizeof(*b.dec));
	b.ev = calloc((size_t)batch, sizeof(*b.ev));
	for (long i = 0; i < batch; i++)
		decoded_init(&b.dec[i]);
	printf("%zu corpus events, batches of %ld, times over %ld days\n", g.nbase, batch, g.days);
	if (!load) {
		long n = events;
		t0 = bench_now();
		while (nev < n)
			if (batch_run(db, &g, rs, s, &b, (size_t)batch, 1, 0, &nev, &nfi) != 0)
				return 1;
		t1 = bench_now();
		printf("archive alone: %ld rows in %.2f s: %.0f rows/s (in db_write: %.2f s,"
		    " %.0f rows/s)\n", nev, t1 - t0, nev / (t1 - t0), db_s, nev / db_s);
		nev = nfi = 0;
		db_s = 0;
		t0 = bench_now();
		while (nev < n)
			if (batch_run(db, &g, rs, s, &b, (size_t)batch, 1, 1, &nev, &nfi) != 0)
				return 1;
		t1 = bench_now();
		printf("archive with the findings of the same events: %ld rows and %ld findings"
		    " in %.2f s: %.0f rows/s, %.0f findings/s (in db_write: %.2f s)\n", nev, nfi,
		    t1 - t0, nev / (t1 - t0), nfi / (t1 - t0), db_s);
	} else {
		gen_firing(&g, rs, s);
		printf("%zu of them fire a rule\n", g.nfiring);
		t0 = bench_now();
		while (nev < events || nfi < findings) {
			g.only_firing = nev >= events && g.nfiring > 0;
			if (batch_run(db, &g, rs, s, &b, (size_t)batch, nev < events,
			    nfi < findings, &nev, &nfi) != 0)
				return 1;
			if (nev + nfi - last >= 250000) {
				last = nev + nfi;
				printf("  %ld events archived, %ld findings, %.0f s\n", nev, nfi,
				    bench_now() - t0);
				fflush(stdout);
			}
		}
		printf("loaded %ld archived events and %ld findings in %.0f s\n", nev, nfi,
		    bench_now() - t0);
	}
	db_close(db);
	eval_scratch_free(s);
	ruleset_free(rs);
	for (long i = 0; i < batch; i++)
		decoded_free(&b.dec[i]);
	return 0;
}
