/* cmd_findings.c — `kaudit findings`: what a responder does with findings
 * once they are stored (docs/lifecycle.md).
 *
 *   list          the newest findings, filtered, with their status
 *   show ID       one finding, its status history and its deliveries
 *   ack|resolve|reopen ID...   a new status, with who and why
 *   suppress      a suppression: a condition over finding fields, an
 *                 expiry and a reason; matching findings are stored with
 *                 status suppressed and alerted to nobody
 *   suppressions  the live suppressions (--all: every one)
 *   lift ID...    ends suppressions before they expire
 *
 * Every value printed as text comes from an event or from a person and is
 * escaped (termesc_append()), so that none can move the cursor, recolour the
 * terminal or reorder the text around it; --json escapes everything past
 * ASCII. */
#include "analyze/fcond.h"
#include "analyze/rules.h"
#include "app/cmd.h"
#include "app/config.h"
#include "base/termesc.h"
#include "base/num.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"
#include "schema/db.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define FINDINGS_LIMIT_DEFAULT	50
#define FINDINGS_LIMIT_MAX	1000000
#define FINDINGS_TEXT_MAX	4096		/* bytes of a --reason or --by */
#define FINDINGS_WHEN_MAX	(64 * 1024)	/* bytes of a --when */
#define FINDINGS_PREVIEW_DEFAULT 100000		/* findings a --dry-run reads */

#define FINDINGS_SYNOPSIS \
    "usage: kaudit findings list [-c FILE] [--status S] [--rule ID] [--severity SEV]\n" \
    "                            [--since TIME] [--user NAME] [--limit N] [--json]\n" \
    "       kaudit findings show [-c FILE] [--json] ID\n" \
    "       kaudit findings ack|resolve|reopen [-c FILE] [--reason TEXT] [--by NAME] ID...\n" \
    "       kaudit findings suppress [-c FILE] --when COND --for DURATION --reason TEXT\n" \
    "                                [--by NAME]\n" \
    "       kaudit findings suppress [-c FILE] --when COND --dry-run [--since TIME]\n" \
    "                                [--limit N]\n" \
    "       kaudit findings suppressions [-c FILE] [--all] [--json]\n" \
    "       kaudit findings lift [-c FILE] [--reason TEXT] [--by NAME] ID...\n"

static const char findings_synopsis[] = FINDINGS_SYNOPSIS "(kaudit findings -h tells more)\n";

static const char findings_usage[] =
    FINDINGS_SYNOPSIS
    "\n"
    "  list          the newest findings (--limit, default 50) with their status:\n"
    "                id, event time, severity, status, rule, user, namespace/name.\n"
    "                --status open|acknowledged|resolved|suppressed, --rule ID,\n"
    "                --severity SEV (that severity and above), --since TIME (RFC 3339,\n"
    "                or a duration such as 24h or 7d meaning that long ago; event\n"
    "                time), --user NAME (exact)\n"
    "  show          finding ID: its fields, its status history (who, when, why),\n"
    "                its webhook deliveries and alert groups\n"
    "  ack           status acknowledged: someone is looking at it\n"
    "  resolve       status resolved: handled\n"
    "  reopen        status open again\n"
    "  suppress      makes a suppression: from now on the daemon stores the findings\n"
    "                COND holds on with status suppressed and alerts no webhook about\n"
    "                them. COND is a condition over the finding's fields, as a\n"
    "                webhook's when (docs/alerting.md): e.g. 'rule = k8s.exec.pod and\n"
    "                namespace = ci'. --for DURATION (90m, 24h, 30d) or never;\n"
    "                --reason is required. Running daemons pick it up at once.\n"
    "                --dry-run writes nothing: it tells how many stored findings\n"
    "                (since --since, default 7d; the newest --limit, default\n"
    "                100000) COND holds on, by rule\n"
    "  suppressions  the live suppressions with the findings each suppressed so far\n"
    "                (--all: lifted and expired ones too)\n"
    "  lift          ends suppressions ID... before they expire\n"
    "\n"
    "  -c, --config FILE   the configuration whose postgres.url is used (default:\n"
    "                      the built-in default configuration)\n"
    "      --by NAME       who does it (default: the login name)\n"
    "      --json          the answer as JSON (non-ASCII escaped)\n"
    "\n"
    "Exits 1 when nothing matched, an ID is not found or the database cannot be\n"
    "used, 2 on a usage error.\n";

struct findings_args {
	const char	*config, *status, *rule, *severity, *since, *user;
	const char	*reason, *by, *when, *forr;
	long		 limit;
	int		 limit_set;	/* --limit given */
	int		 json, all, dry;
};

static int
findings_args(int argc, char **argv, const char *allowed, struct findings_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "status", required_argument, NULL, 's' },
		{ "rule", required_argument, NULL, 'r' },
		{ "severity", required_argument, NULL, 'v' },
		{ "since", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "reason", required_argument, NULL, 'R' },
		{ "by", required_argument, NULL, 'b' },
		{ "when", required_argument, NULL, 'w' },
		{ "for", required_argument, NULL, 'f' },
		{ "all", no_argument, NULL, 'a' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char why[160];
	int64_t v;
	int ch;

	memset(a, 0, sizeof(*a));
	a->limit = FINDINGS_LIMIT_DEFAULT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(findings_usage, stdout);
			return 0;
		}
		if (ch == '?' || strchr(allowed, ch) == NULL) {
			if (ch != '?')
				fprintf(stderr, "kaudit findings %s: option %s does not apply\n",
				    argv[0], argv[optind - 1]);
			fputs(findings_synopsis, stderr);
			return 2;
		}
		switch (ch) {
		case 'c': a->config = optarg; break;
		case 's': a->status = optarg; break;
		case 'r': a->rule = optarg; break;
		case 'v': a->severity = optarg; break;
		case 't': a->since = optarg; break;
		case 'u': a->user = optarg; break;
		case 'j': a->json = 1; break;
		case 'R': a->reason = optarg; break;
		case 'b': a->by = optarg; break;
		case 'w': a->when = optarg; break;
		case 'f': a->forr = optarg; break;
		case 'a': a->all = 1; break;
		case 'd': a->dry = 1; break;
		case 'l':
			if (num_parse_i64(optarg, 1, FINDINGS_LIMIT_MAX, &v, why, sizeof(why)) == -1) {
				fprintf(stderr, "kaudit findings %s: --limit: %s\n", argv[0], why);
				return 2;
			}
			a->limit = (long)v;
			a->limit_set = 1;
			break;
		}
	}
	return -1;
}

/* The database of the configuration, its schema current; NULL after
 * saying why ("kaudit findings CMD: ..."). */
static struct db *
findings_db(const char *path, const char *cmd)
{
	char what[64];

	snprintf(what, sizeof(what), "findings %s", cmd);
	return cmd_db_open(path, what);
}

/* Who runs the command: --by, else the login name, else the uid. */
static const char *
findings_who(const char *by, char *buf, size_t len)
{
	struct passwd *pw;

	if (by != NULL)
		return by;
	if ((pw = getpwuid(geteuid())) != NULL && pw->pw_name[0] != '\0')
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %ld", (long)geteuid());
	return buf;
}

/* A JSON member as escaped text for a terminal ("-" when null or absent);
 * numbers as digits. */
static const char *
findings_str(struct buf *b, json_t *o, const char *key, size_t max)
{
	json_t *v = json_object_get(o, key);
	char num[32];

	buf_reset(b);
	if (json_is_string(v)) {
		termesc_append(b, json_string_value(v), json_string_length(v), max);
	} else if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		buf_puts(b, num);
	} else {
		buf_puts(b, "-");
	}
	return buf_cstr(b);
}

static void
findings_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	putchar('\n');
}

static int
findings_status_ok(const char *s)
{
	return strcmp(s, "open") == 0 || strcmp(s, "acknowledged") == 0 ||
	    strcmp(s, "resolved") == 0 || strcmp(s, "suppressed") == 0;
}

/* --since: RFC 3339, or a duration back from now, as RFC 3339 in out. */
static int
findings_since(const char *s, char out[TIME_TEXT_MAX])
{
	int64_t ms;

	if (time_parse_ms(s, strlen(s), &ms) == 0) {
		time_format_ms(ms, out);
		return 0;
	}
	if (duration_parse(s, &ms) == -1)
		return -1;
	time_format_ms((int64_t)time(NULL) * 1000 - ms, out);
	return 0;
}

static void
findings_print_list(json_t *rows)
{
	struct buf c[8];
	json_t *r;
	size_t i;

	for (i = 0; i < 8; i++)
		buf_init(&c[i]);
	printf("%-10s %-24s %-8s %-12s %-36s %-24s %s\n", "ID", "TIME", "SEVERITY", "STATUS",
	    "RULE", "USER", "NAMESPACE/NAME");
	json_array_foreach(rows, i, r)
		printf("%-10s %-24s %-8s %-12s %-36s %-24s %s/%s\n",
		    findings_str(&c[0], r, "id", 20), findings_str(&c[1], r, "time", 30),
		    findings_str(&c[2], r, "severity", 8), findings_str(&c[3], r, "status", 12),
		    findings_str(&c[4], r, "rule", 36), findings_str(&c[5], r, "user", 24),
		    findings_str(&c[6], r, "namespace", 40), findings_str(&c[7], r, "name", 60));
	for (i = 0; i < 8; i++)
		buf_free(&c[i]);
}

static int
findings_list(int argc, char **argv)
{
	struct findings_args a;
	struct db_findings_filter fl = { NULL, NULL, -1, NULL, NULL, 0 };
	char since[TIME_TEXT_MAX], err[512];
	enum severity sev;
	json_t *rows = NULL;
	struct db *db;
	int rc;

	if ((rc = findings_args(argc, argv, "csrvtulj", &a)) >= 0)
		return rc;
	if (optind != argc) {
		fputs(findings_synopsis, stderr);
		return 2;
	}
	if (a.status != NULL && !findings_status_ok(a.status)) {
		fprintf(stderr, "kaudit findings list: --status: \"%s\" is not one of open, "
		    "acknowledged, resolved, suppressed\n", a.status);
		return 2;
	}
	if (a.severity != NULL && severity_parse(a.severity, &sev) == -1) {
		fprintf(stderr, "kaudit findings list: --severity: \"%s\" is not one of info, "
		    "low, medium, high, critical\n", a.severity);
		return 2;
	}
	if (a.since != NULL && findings_since(a.since, since) == -1) {
		fprintf(stderr, "kaudit findings list: --since: expected an RFC 3339 time or a "
		    "duration such as 24h, got \"%s\"\n", a.since);
		return 2;
	}
	fl.status = a.status;
	fl.rule = a.rule;
	fl.min_rank = a.severity != NULL ? (int)sev : -1;
	fl.since = a.since != NULL ? since : NULL;
	fl.user = a.user;
	fl.limit = a.limit;
	if ((db = findings_db(a.config, "list")) == NULL)
		return 1;
	if (db_findings_list(db, &fl, &rows, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit findings list: %s\n", err);
		rc = 1;
	} else {
		if (a.json)
			findings_print_json(rows);
		else
			findings_print_list(rows);
		rc = 0;
	}
	json_decref(rows);
	db_close(db);
	return rc;
}

/* One "  label  value" line of show, escaped; nothing when absent. */
static void
findings_field(struct buf *b, json_t *f, const char *label, const char *key)
{
	json_t *v = json_object_get(f, key);

	if (v == NULL || json_is_null(v))
		return;
	printf("  %-18s %s\n", label, findings_str(b, f, key, 400));
}

/* The finding fields show prints, with their labels. */
static const char *const findings_show_fields[][2] = {
	{ "rule", "rule" }, { "title", "title" }, { "severity", "severity" },
	{ "category", "category" }, { "time", "time" }, { "cluster", "cluster" },
	{ "user", "user" }, { "impersonated user", "impersonated_user" },
	{ "attributed user", "attributed_user" }, { "source ip", "source_ip" },
	{ "user agent", "user_agent" }, { "verb", "verb" }, { "resource", "resource" },
	{ "subresource", "subresource" }, { "namespace", "namespace" },
	{ "name", "name" }, { "code", "code" }, { "audit id", "audit_id" },
	{ "message", "message" }, { "repeats", "repeats" },
};

static void
findings_print_show(json_t *o)
{
	json_t *f = json_object_get(o, "finding"), *r;
	struct buf c[8];
	size_t i;

	for (i = 0; i < 8; i++)
		buf_init(&c[i]);
	printf("finding %s: %s\n", findings_str(&c[0], o, "id", 20),
	    findings_str(&c[1], o, "status", 20));
	for (i = 0; i < sizeof(findings_show_fields) / sizeof(findings_show_fields[0]); i++)
		findings_field(&c[0], f, findings_show_fields[i][0], findings_show_fields[i][1]);
	findings_field(&c[0], o, "stored", "stored_at");

	printf("\nhistory\n  %-24s %-12s %-24s %s\n", "AT", "STATUS", "BY", "REASON");
	printf("  %-24s %-12s %-24s %s\n", findings_str(&c[0], o, "stored_at", 30), "open",
	    "kaudit", "stored");
	json_array_foreach(json_object_get(o, "history"), i, r)
		printf("  %-24s %-12s %-24s %s\n", findings_str(&c[0], r, "at", 30),
		    findings_str(&c[1], r, "status", 12), findings_str(&c[2], r, "by", 24),
		    findings_str(&c[3], r, "reason", 200));

	printf("\ndeliveries\n  %-10s %-24s %-8s %8s %6s %-24s %s\n", "ID", "WEBHOOK",
	    "STATE", "ATTEMPTS", "STATUS", "DELIVERED", "LAST ERROR");
	json_array_foreach(json_object_get(o, "deliveries"), i, r)
		printf("  %-10s %-24s %-8s %8s %6s %-24s %s\n", findings_str(&c[0], r, "id", 20),
		    findings_str(&c[1], r, "webhook", 24), findings_str(&c[2], r, "state", 8),
		    findings_str(&c[3], r, "attempts", 8), findings_str(&c[4], r, "last_status", 6),
		    findings_str(&c[5], r, "delivered_at", 30),
		    findings_str(&c[6], r, "last_error", 100));
	if (json_array_size(json_object_get(o, "groups")) > 0) {
		printf("\nalert groups\n  %-10s %-24s %-12s %-10s %s\n", "GROUP", "WEBHOOK",
		    "NOTIFICATION", "DELIVERY", "STATE");
		json_array_foreach(json_object_get(o, "groups"), i, r)
			printf("  %-10s %-24s %-12s %-10s %s\n",
			    findings_str(&c[0], r, "group_id", 20),
			    findings_str(&c[1], r, "webhook", 24),
			    findings_str(&c[2], r, "notification", 12),
			    findings_str(&c[3], r, "delivery", 20),
			    findings_str(&c[4], r, "state", 8));
	}
	for (i = 0; i < 8; i++)
		buf_free(&c[i]);
}

/* ID arguments argv[from..argc) into a new array; -1 after saying why. */
static int
findings_ids(int argc, char **argv, int from, const char *cmd, int64_t **ids, size_t *n)
{
	char why[160];

	*ids = xcalloc((size_t)(argc - from) + 1, sizeof(**ids));
	*n = 0;
	for (int i = from; i < argc; i++)
		if (num_parse_i64(argv[i], 1, INT64_MAX, &(*ids)[(*n)++], why, sizeof(why)) == -1) {
			fprintf(stderr, "kaudit findings %s: ID: %s\n", cmd, why);
			free(*ids);
			*ids = NULL;
			return -1;
		}
	return 0;
}

static int
findings_show(int argc, char **argv)
{
	struct findings_args a;
	int64_t *ids = NULL;
	size_t n = 0;
	json_t *o = NULL;
	char err[512];
	struct db *db;
	int rc;

	if ((rc = findings_args(argc, argv, "cj", &a)) >= 0)
		return rc;
	if (optind + 1 != argc) {
		fputs(findings_synopsis, stderr);
		return 2;
	}
	if (findings_ids(argc, argv, optind, "show", &ids, &n) == -1)
		return 2;
	if ((db = findings_db(a.config, "show")) == NULL) {
		free(ids);
		return 1;
	}
	if (db_finding_show(db, ids[0], &o, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit findings show: %s\n", err);
		rc = 1;
	} else if (o == NULL) {
		fprintf(stderr, "kaudit findings show: no finding %lld\n", (long long)ids[0]);
		rc = 1;
	} else {
		if (a.json)
			findings_print_json(o);
		else
			findings_print_show(o);
		rc = 0;
	}
	json_decref(o);
	free(ids);
	db_close(db);
	return rc;
}

/* ack, resolve, reopen: the status each sets. */
static int
findings_set(int argc, char **argv, const char *status)
{
	struct findings_args a;
	int64_t *ids = NULL;
	size_t n = 0, i, changed = 0, same = 0, missing = 0;
	json_t *r = NULL, *x;
	char err[512], who[256];
	struct db *db;
	int rc;

	if ((rc = findings_args(argc, argv, "cRb", &a)) >= 0)
		return rc;
	if (optind == argc) {
		fprintf(stderr, "kaudit findings %s: give finding ids\n", argv[0]);
		fputs(findings_synopsis, stderr);
		return 2;
	}
	if ((a.reason && strlen(a.reason) > FINDINGS_TEXT_MAX) ||
	    (a.by && strlen(a.by) > FINDINGS_TEXT_MAX)) {
		fprintf(stderr, "kaudit findings %s: --reason and --by take at most %d bytes\n",
		    argv[0], FINDINGS_TEXT_MAX);
		return 2;
	}
	if (findings_ids(argc, argv, optind, argv[0], &ids, &n) == -1)
		return 2;
	if ((db = findings_db(a.config, argv[0])) == NULL) {
		free(ids);
		return 1;
	}
	if (db_findings_set_status(db, ids, n, status, findings_who(a.by, who, sizeof(who)),
	    a.reason, &r, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit findings %s: %s\n", argv[0], err);
		rc = 1;
		goto out;
	}
	json_array_foreach(r, i, x) {
		const char *res = json_string_value(json_object_get(x, "result"));
		long long id = (long long)json_integer_value(json_object_get(x, "id"));
		if (strcmp(res, "changed") == 0) {
			changed++;
			printf("finding %lld: %s -> %s\n", id,
			    json_string_value(json_object_get(x, "from")), status);
		} else if (strcmp(res, "unchanged") == 0) {
			same++;
			printf("finding %lld: %s already\n", id, status);
		} else {
			missing++;
			fprintf(stderr, "kaudit findings %s: no finding %lld\n", argv[0], id);
		}
	}
	rc = missing > 0 || changed + same == 0 ? 1 : 0;
out:
	json_decref(r);
	free(ids);
	db_close(db);
	return rc;
}

/* --dry-run: what the condition holds on among stored findings. */
struct findings_preview {
	const struct finding_cond	*fc;
	long				 seen, held, bad;
	json_t				*rules;		/* rule -> count */
};

static void
findings_preview_one(void *arg, int64_t id, const char *text, size_t len)
{
	struct findings_preview *p = arg;
	json_t *f = json_loadb(text, len, 0, NULL), *n;
	const char *rule;

	(void)id;
	p->seen++;
	if (f == NULL) {
		p->bad++;
		return;
	}
	if (fcond_eval(p->fc, f)) {
		p->held++;
		rule = json_string_value(json_object_get(f, "rule"));
		rule = rule != NULL ? rule : "";
		n = json_object_get(p->rules, rule);
		json_object_set_new(p->rules, rule,
		    json_integer(n != NULL ? json_integer_value(n) + 1 : 1));
	}
	json_decref(f);
}

static int
findings_by_count(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a, 1));
	json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b, 1));

	return x < y ? 1 : x > y ? -1 : 0;
}

static int
findings_preview(struct db *db, const struct finding_cond *fc, const char *since,
    long limit)
{
	struct findings_preview p = { fc, 0, 0, 0, json_object() };
	json_t **v, *pair;
	const char *rule;
	struct buf esc;
	char err[512];
	size_t n = 0;

	if (db_findings_scan(db, since, limit, findings_preview_one, &p, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "kaudit findings suppress: %s\n", err);
		json_decref(p.rules);
		return 1;
	}
	v = xcalloc(json_object_size(p.rules) + 1, sizeof(*v));
	json_object_foreach(p.rules, rule, pair)
		v[n++] = json_pack("[s, O]", rule, pair);
	qsort(v, n, sizeof(*v), findings_by_count);
	printf("--when holds on %ld of the %ld findings stored since %s (the newest %ld at "
	    "most)%s\n", p.held, p.seen, since, limit, p.held ? ":" : "");
	buf_init(&esc);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&esc);
		termesc_append(&esc, json_string_value(json_array_get(v[i], 0)),
		    json_string_length(json_array_get(v[i], 0)), 100);
		printf("%8lld  %s\n", (long long)json_integer_value(json_array_get(v[i], 1)),
		    buf_cstr(&esc));
		json_decref(v[i]);
	}
	buf_free(&esc);
	printf("nothing was written (--dry-run)\n");
	free(v);
	json_decref(p.rules);
	return 0;
}

static int
findings_suppress_dry(const struct findings_args *a, int argc)
{
	struct finding_cond *fc;
	struct buf errs;
	char since[TIME_TEXT_MAX];
	long limit = a->limit_set ? a->limit : FINDINGS_PREVIEW_DEFAULT;
	struct db *db;
	int rc;

	if (optind != argc || a->when == NULL || a->forr != NULL || a->reason != NULL ||
	    a->by != NULL) {
		fprintf(stderr, "kaudit findings suppress --dry-run: takes --when, and "
		    "--since and --limit\n");
		fputs(findings_synopsis, stderr);
		return 2;
	}
	if (findings_since(a->since != NULL ? a->since : "7d", since) == -1) {
		fprintf(stderr, "kaudit findings suppress: --since: expected an RFC 3339 time or "
		    "a duration such as 24h, got \"%s\"\n", a->since);
		return 2;
	}
	buf_init(&errs);
	if ((fc = fcond_compile(a->when, strlen(a->when), "--when", 1, "condition",
	    &errs)) == NULL) {
		fprintf(stderr, "kaudit findings suppress: %s", buf_cstr(&errs));
		buf_free(&errs);
		return 2;
	}
	buf_free(&errs);
	if ((db = findings_db(a->config, "suppress")) == NULL) {
		fcond_free(fc);
		return 1;
	}
	rc = findings_preview(db, fc, since, limit);
	db_close(db);
	fcond_free(fc);
	return rc;
}

static int
findings_suppress(int argc, char **argv)
{
	struct findings_args a;
	struct finding_cond *fc;
	struct buf errs;
	int64_t dur = 0, id = 0, until = 0;
	char err[512], who[256], t[TIME_TEXT_MAX];
	struct db *db;
	int rc;

	if ((rc = findings_args(argc, argv, "cwfRbdtl", &a)) >= 0)
		return rc;
	if (a.dry)
		return findings_suppress_dry(&a, argc);
	if (a.since != NULL || a.limit_set) {
		fprintf(stderr, "kaudit findings suppress: --since and --limit go with "
		    "--dry-run\n");
		return 2;
	}
	if (optind != argc || a.when == NULL || a.forr == NULL || a.reason == NULL ||
	    a.reason[0] == '\0') {
		fprintf(stderr, "kaudit findings suppress: --when, --for and --reason are "
		    "required\n");
		fputs(findings_synopsis, stderr);
		return 2;
	}
	if (strlen(a.when) > FINDINGS_WHEN_MAX || strlen(a.reason) > FINDINGS_TEXT_MAX ||
	    (a.by && strlen(a.by) > FINDINGS_TEXT_MAX)) {
		fprintf(stderr, "kaudit findings suppress: --when takes at most %d bytes, "
		    "--reason and --by %d\n", FINDINGS_WHEN_MAX, FINDINGS_TEXT_MAX);
		return 2;
	}
	if (strcmp(a.forr, "never") != 0 &&
	    (duration_parse(a.forr, &dur) == -1 || dur < 1000)) {
		fprintf(stderr, "kaudit findings suppress: --for: expected a duration of at "
		    "least 1s (90m, 24h, 30d) or never, got \"%s\"\n", a.forr);
		return 2;
	}
	/* checked here as the daemon will compile it */
	buf_init(&errs);
	if ((fc = fcond_compile(a.when, strlen(a.when), "--when", 1, "condition",
	    &errs)) == NULL) {
		fprintf(stderr, "kaudit findings suppress: %s", buf_cstr(&errs));
		buf_free(&errs);
		return 2;
	}
	fcond_free(fc);
	buf_free(&errs);
	if ((db = findings_db(a.config, "suppress")) == NULL)
		return 1;
	if (db_suppression_add(db, a.when, a.reason, findings_who(a.by, who, sizeof(who)),
	    dur, &id, &until, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit findings suppress: %s\n", err);
		rc = 1;
	} else {
		if (until)
			time_format_ms(until - until % 1000, t);
		printf("suppression %lld: holds %s%s\n", (long long)id,
		    until ? "until " : "until lifted", until ? t : "");
		rc = 0;
	}
	db_close(db);
	return rc;
}

static int
findings_suppressions(int argc, char **argv)
{
	struct findings_args a;
	json_t *rows = NULL, *r;
	struct buf c[6];
	char err[512];
	struct db *db;
	size_t i;
	int rc;

	if ((rc = findings_args(argc, argv, "caj", &a)) >= 0)
		return rc;
	if (optind != argc) {
		fputs(findings_synopsis, stderr);
		return 2;
	}
	if ((db = findings_db(a.config, "suppressions")) == NULL)
		return 1;
	if (db_suppressions_list(db, a.all, &rows, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit findings suppressions: %s\n", err);
		db_close(db);
		return 1;
	}
	db_close(db);
	if (a.json) {
		findings_print_json(rows);
		json_decref(rows);
		return 0;
	}
	for (i = 0; i < 6; i++)
		buf_init(&c[i]);
	printf("%-6s %-5s %8s %-24s %-24s %-16s %-40s %s\n", "ID", "LIVE", "MATCHED",
	    "CREATED", "EXPIRES", "BY", "CONDITION", "REASON");
	json_array_foreach(rows, i, r) {
		printf("%-6s %-5s %8s %-24s ", findings_str(&c[0], r, "id", 20),
		    json_is_true(json_object_get(r, "live")) ? "yes" : "no",
		    findings_str(&c[1], r, "matched", 12),
		    findings_str(&c[2], r, "created_at", 30));
		printf("%-24s %-16s %-40s %s\n", json_is_null(json_object_get(r, "expires_at")) ?
		    "never" : findings_str(&c[0], r, "expires_at", 30),
		    findings_str(&c[3], r, "created_by", 16),
		    findings_str(&c[4], r, "condition", 200), findings_str(&c[5], r, "reason", 200));
		if (!json_is_null(json_object_get(r, "lifted_at")))
			printf("       lifted %s by %s: %s\n",
			    findings_str(&c[0], r, "lifted_at", 30),
			    findings_str(&c[1], r, "lifted_by", 60),
			    findings_str(&c[2], r, "lift_reason", 200));
	}
	for (i = 0; i < 6; i++)
		buf_free(&c[i]);
	json_decref(rows);
	return 0;
}

static int
findings_lift(int argc, char **argv)
{
	struct findings_args a;
	int64_t *ids = NULL;
	size_t n = 0, missing = 0;
	char err[512], who[256];
	struct db *db;
	int rc, found;

	if ((rc = findings_args(argc, argv, "cRb", &a)) >= 0)
		return rc;
	if (optind == argc) {
		fprintf(stderr, "kaudit findings lift: give suppression ids\n");
		fputs(findings_synopsis, stderr);
		return 2;
	}
	if ((a.reason && strlen(a.reason) > FINDINGS_TEXT_MAX) ||
	    (a.by && strlen(a.by) > FINDINGS_TEXT_MAX)) {
		fprintf(stderr, "kaudit findings lift: --reason and --by take at most %d bytes\n",
		    FINDINGS_TEXT_MAX);
		return 2;
	}
	if (findings_ids(argc, argv, optind, "lift", &ids, &n) == -1)
		return 2;
	if ((db = findings_db(a.config, "lift")) == NULL) {
		free(ids);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (db_suppression_lift(db, ids[i], findings_who(a.by, who, sizeof(who)),
		    a.reason, &found, err, sizeof(err)) == -1) {
			fprintf(stderr, "kaudit findings lift: %s\n", err);
			missing++;
			break;
		}
		if (found) {
			printf("suppression %lld: lifted\n", (long long)ids[i]);
		} else {
			fprintf(stderr, "kaudit findings lift: no live suppression %lld\n",
			    (long long)ids[i]);
			missing++;
		}
	}
	free(ids);
	db_close(db);
	return missing ? 1 : 0;
}

int
cmd_findings(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(argc < 2 ? findings_synopsis : findings_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "list") == 0)
		return findings_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return findings_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "ack") == 0)
		return findings_set(argc - 1, argv + 1, "acknowledged");
	if (strcmp(argv[1], "resolve") == 0)
		return findings_set(argc - 1, argv + 1, "resolved");
	if (strcmp(argv[1], "reopen") == 0)
		return findings_set(argc - 1, argv + 1, "open");
	if (strcmp(argv[1], "suppress") == 0)
		return findings_suppress(argc - 1, argv + 1);
	if (strcmp(argv[1], "suppressions") == 0)
		return findings_suppressions(argc - 1, argv + 1);
	if (strcmp(argv[1], "lift") == 0)
		return findings_lift(argc - 1, argv + 1);
	fprintf(stderr, "kaudit findings: unknown command \"%s\"\n", argv[1]);
	fputs(findings_synopsis, stderr);
	return 2;
}
