/* cmd_alerts.c — `kaudit alerts`: what an on-call person needs when a
 * destination was down.
 *
 *   kaudit alerts list [-c FILE] [--state STATE] [--webhook NAME] [--limit N] [--json]
 *       each destination (disabled, circuit, rows pending, held and dead),
 *       then the deliveries, newest first
 *   kaudit alerts retry [-c FILE] [--webhook NAME] ID... | --dead
 *       dead or held deliveries pending again, due now, max_age afresh
 *   kaudit alerts enable [-c FILE] NAME
 *       a destination disabled by a 410 enabled again, its circuit closed
 *
 * The database is the configuration's postgres.url (the default one without
 * -c). The errors shown come from receivers and the webhook names from the
 * database: every value printed is escaped, so that none can move the
 * cursor, recolour the terminal or reorder the text around it. */
#include "app/cmd.h"
#include "app/config.h"
#include "base/num.h"
#include "base/termesc.h"
#include "base/timefmt.h"
#include "base/xmalloc.h"
#include "schema/db.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define ALERTS_LIMIT_DEFAULT	50
#define ALERTS_LIMIT_MAX	1000000
#define ALERTS_ERROR_COLS	100	/* characters of an error in the table */
#define ALERTS_NAME_COLS	32	/* of a webhook name */

#define ALERTS_SYNOPSIS \
    "usage: kaudit alerts list [-c FILE] [--state STATE] [--webhook NAME] [--limit N] [--json]\n" \
    "       kaudit alerts retry [-c FILE] [--webhook NAME] ID... | --dead\n" \
    "       kaudit alerts enable [-c FILE] NAME\n"

/* On a usage error, the synopsis only: the mistake stays in sight. */
static const char alerts_synopsis[] = ALERTS_SYNOPSIS "(kaudit alerts -h tells more)\n";

static const char alerts_usage[] =
    ALERTS_SYNOPSIS
    "\n"
    "  list     each destination (disabled, circuit open, deliveries pending, held\n"
    "           and dead), then the deliveries, newest first (--limit, default 50):\n"
    "           id, webhook, state, attempts, last status, created, next attempt\n"
    "           and last error (or why it is held). STATE is pending, dead,\n"
    "           disabled (pending, of a disabled destination), held or done.\n"
    "           --json prints the same as one JSON object.\n"
    "  retry    makes dead or held deliveries (by ID, or every dead one with --dead,\n"
    "           of NAME with --webhook) pending, due now, with alert.max_age counted\n"
    "           afresh; their attempts stay recorded\n"
    "  enable   enables destination NAME again after it answered 410 Gone, closes\n"
    "           its circuit, and makes its pending deliveries due now\n"
    "\n"
    "  -c, --config FILE   the configuration whose postgres.url is used (default:\n"
    "                      the built-in default configuration)\n"
    "\n"
    "Exits 1 when nothing matched or the database cannot be used, 2 on a usage error.\n";

/* The options of every subcommand; each takes the ones it knows. */
struct alerts_args {
	const char	*config, *state, *webhook;
	long		 limit;
	int		 json, dead;
};

static int
alerts_args(int argc, char **argv, const char *allowed, struct alerts_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state", required_argument, NULL, 's' },
		{ "webhook", required_argument, NULL, 'w' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "dead", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char why[160];
	int64_t v;
	int ch;

	memset(a, 0, sizeof(*a));
	a->limit = ALERTS_LIMIT_DEFAULT;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (ch == 'h') {
			fputs(alerts_usage, stdout);
			return 0;
		}
		if (ch == '?' || strchr(allowed, ch) == NULL) {
			if (ch != '?')
				fprintf(stderr, "kaudit alerts %s: option %s does not apply\n",
				    argv[0], argv[optind - 1]);
			fputs(alerts_synopsis, stderr);
			return 2;
		}
		switch (ch) {
		case 'c': a->config = optarg; break;
		case 's': a->state = optarg; break;
		case 'w': a->webhook = optarg; break;
		case 'j': a->json = 1; break;
		case 'd': a->dead = 1; break;
		case 'l':
			if (num_parse_i64(optarg, 1, ALERTS_LIMIT_MAX, &v, why, sizeof(why)) == -1) {
				fprintf(stderr, "kaudit alerts list: --limit: %s\n", why);
				return 2;
			}
			a->limit = (long)v;
			break;
		}
	}
	return -1;
}

/* The database of the configuration, its schema current; NULL after
 * saying why ("kaudit alerts CMD: ..."). */
static struct db *
alerts_db(const char *path, const char *cmd)
{
	char what[64];

	snprintf(what, sizeof(what), "alerts %s", cmd);
	return cmd_db_open(path, what);
}

static const char *
alerts_esc(struct buf *b, const char *s, size_t max)
{
	buf_reset(b);
	if (s == NULL)
		s = "";
	termesc_append(b, s, strlen(s), max);
	return buf_cstr(b);
}

static const char *
alerts_time(int64_t ms, char out[TIME_TEXT_MAX])
{
	if (ms == 0)
		return "-";
	time_format_ms(ms - ms % 1000, out);
	return out;
}

static void
alerts_print_dests(const struct alerts_dest *d, size_t n)
{
	char t1[TIME_TEXT_MAX], t2[TIME_TEXT_MAX];
	struct buf name, why;

	buf_init(&name);
	buf_init(&why);
	printf("%-*s %-12s %8s %8s %6s %6s  %s\n", ALERTS_NAME_COLS, "DESTINATION", "STATUS",
	    "FAILURES", "PENDING", "HELD", "DEAD", "SINCE / NEXT PROBE / WHY");
	for (size_t i = 0; i < n; i++) {
		printf("%-*s %-12s %8d %8ld %6ld %6ld  ", ALERTS_NAME_COLS,
		    alerts_esc(&name, d[i].name, ALERTS_NAME_COLS),
		    d[i].disabled_ms ? "disabled" : d[i].opened_ms ? "circuit open" :
		    d[i].held ? "held" : "ok",
		    d[i].failures, d[i].pending, d[i].held, d[i].dead);
		if (d[i].disabled_ms)
			printf("%s: %s", alerts_time(d[i].disabled_ms, t1),
			    alerts_esc(&why, d[i].disabled_reason, ALERTS_ERROR_COLS));
		else if (d[i].opened_ms)
			printf("%s, next probe %s", alerts_time(d[i].opened_ms, t1),
			    alerts_time(d[i].next_probe_ms, t2));
		putchar('\n');
	}
	buf_free(&name);
	buf_free(&why);
}

static void
alerts_print_rows(const struct alerts_row *r, size_t n)
{
	char t1[TIME_TEXT_MAX], t2[TIME_TEXT_MAX], status[16];
	struct buf name, why;

	buf_init(&name);
	buf_init(&why);
	printf("%-10s %-*s %-8s %8s %6s %-20s %-20s  %s\n", "ID", ALERTS_NAME_COLS, "WEBHOOK",
	    "STATE", "ATTEMPTS", "STATUS", "CREATED", "NEXT ATTEMPT", "LAST ERROR");
	for (size_t i = 0; i < n; i++) {
		snprintf(status, sizeof(status), "%d", r[i].last_status);
		printf("%-10lld %-*s %-8s %8d %6s %-20s %-20s  %s\n", (long long)r[i].id,
		    ALERTS_NAME_COLS, alerts_esc(&name, r[i].webhook, ALERTS_NAME_COLS),
		    r[i].state, r[i].attempts, r[i].last_status ? status : "-",
		    alerts_time(r[i].created_ms, t1), alerts_time(r[i].next_ms, t2),
		    alerts_esc(&why, r[i].last_error, ALERTS_ERROR_COLS));
	}
	buf_free(&name);
	buf_free(&why);
}

/* A time as JSON: RFC 3339 text, or null. */
static json_t *
alerts_json_time(int64_t ms)
{
	char t[TIME_TEXT_MAX];

	if (ms == 0)
		return json_null();
	time_format_ms(ms, t);
	return json_string(t);
}

static json_t *
alerts_json_text(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* Everything as one JSON object; non-ASCII as \u escapes, so not even a
 * pager shows a value's control or format characters raw. */
static void
alerts_print_json(const struct alerts_dest *d, size_t nd, const struct alerts_row *r,
    size_t nr)
{
	json_t *o = json_object(), *ds = json_array(), *rs = json_array();

	for (size_t i = 0; i < nd; i++)
		json_array_append_new(ds, json_pack("{s:o, s:b, s:o, s:o, s:b, s:o, s:i, s:o,"
		    " s:I, s:I, s:I}", "name", alerts_json_text(d[i].name),
		    "disabled", d[i].disabled_ms != 0, "disabled_at", alerts_json_time(d[i].disabled_ms),
		    "disabled_reason", alerts_json_text(d[i].disabled_reason),
		    "circuit_open", d[i].opened_ms != 0, "circuit_opened_at",
		    alerts_json_time(d[i].opened_ms), "failures", d[i].failures,
		    "next_probe_at", alerts_json_time(d[i].next_probe_ms),
		    "pending", (json_int_t)d[i].pending, "held", (json_int_t)d[i].held,
		    "dead", (json_int_t)d[i].dead));
	for (size_t i = 0; i < nr; i++)
		json_array_append_new(rs, json_pack("{s:I, s:o, s:s, s:i, s:o, s:o, s:o, s:o}",
		    "id", (json_int_t)r[i].id, "webhook", alerts_json_text(r[i].webhook),
		    "state", r[i].state, "attempts", r[i].attempts, "last_status",
		    r[i].last_status ? json_integer(r[i].last_status) : json_null(),
		    "last_error", alerts_json_text(r[i].last_error),
		    "created_at", alerts_json_time(r[i].created_ms),
		    "next_attempt_at", alerts_json_time(r[i].next_ms)));
	json_object_set_new(o, "destinations", ds);
	json_object_set_new(o, "deliveries", rs);
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	putchar('\n');
	json_decref(o);
}

static int
alerts_state_ok(const char *s)
{
	static const char *const states[] = { "pending", "dead", "disabled", "held", "done" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return 1;
	return 0;
}

static int
alerts_list(int argc, char **argv)
{
	struct alerts_args a;
	struct alerts_dest *d = NULL;
	struct alerts_row *r = NULL;
	size_t nd = 0, nr = 0;
	char err[512];
	struct db *db;
	int rc;

	if ((rc = alerts_args(argc, argv, "cswlj", &a)) >= 0)
		return rc;
	if (optind != argc || (a.state != NULL && !alerts_state_ok(a.state))) {
		if (a.state != NULL && !alerts_state_ok(a.state))
			fprintf(stderr, "kaudit alerts list: --state: \"%s\" is not one of "
			    "pending, dead, disabled, held, done\n", a.state);
		fputs(alerts_synopsis, stderr);
		return 2;
	}
	if ((db = alerts_db(a.config, "list")) == NULL)
		return 1;
	if (db_alerts_dests(db, a.webhook, &d, &nd, err, sizeof(err)) == -1 ||
	    db_alerts_list(db, a.state, a.webhook, a.limit, &r, &nr, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit alerts list: %s\n", err);
		rc = 1;
		goto out;
	}
	if (a.json) {
		alerts_print_json(d, nd, r, nr);
	} else {
		alerts_print_dests(d, nd);
		putchar('\n');
		alerts_print_rows(r, nr);
	}
	rc = 0;
out:
	db_alerts_dests_free(d, nd);
	db_alerts_rows_free(r, nr);
	db_close(db);
	return rc;
}

static int
alerts_retry(int argc, char **argv)
{
	struct alerts_args a;
	int64_t *ids = NULL;
	size_t n = 0;
	long count = 0;
	char err[512], why[160];
	struct db *db;
	int rc;

	if ((rc = alerts_args(argc, argv, "cwd", &a)) >= 0)
		return rc;
	if ((optind == argc) == !a.dead) {
		fprintf(stderr, "kaudit alerts retry: give delivery ids or --dead\n");
		fputs(alerts_synopsis, stderr);
		return 2;
	}
	ids = xcalloc((size_t)(argc - optind) + 1, sizeof(*ids));
	for (int i = optind; i < argc; i++)
		if (num_parse_i64(argv[i], 1, INT64_MAX, &ids[n++], why, sizeof(why)) == -1) {
			fprintf(stderr, "kaudit alerts retry: delivery id: %s\n", why);
			free(ids);
			return 2;
		}
	if ((db = alerts_db(a.config, "retry")) == NULL) {
		free(ids);
		return 1;
	}
	if (db_alerts_retry(db, ids, n, a.webhook, &count, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit alerts retry: %s\n", err);
		rc = 1;
	} else if (count == 0) {
		fprintf(stderr, "kaudit alerts retry: no %s delivery matched\n",
		    n > 0 ? "dead or held" : "dead");
		rc = 1;
	} else {
		printf("kaudit alerts retry: %ld %s pending again, due now", count,
		    count == 1 ? "delivery is" : "deliveries are");
		if (n > 0 && (size_t)count < n)
			printf(" (%zu not dead nor held were left as they are)", n - (size_t)count);
		putchar('\n');
		rc = 0;
	}
	db_close(db);
	free(ids);
	return rc;
}

static int
alerts_enable(int argc, char **argv)
{
	struct alerts_args a;
	struct buf name;
	long rows = 0;
	char err[512];
	struct db *db;
	int rc, found = 0;

	if ((rc = alerts_args(argc, argv, "c", &a)) >= 0)
		return rc;
	if (optind + 1 != argc) {
		fputs(alerts_synopsis, stderr);
		return 2;
	}
	if ((db = alerts_db(a.config, "enable")) == NULL)
		return 1;
	buf_init(&name);
	alerts_esc(&name, argv[optind], 256);
	if (db_alerts_enable(db, argv[optind], &found, &rows, err, sizeof(err)) == -1) {
		fprintf(stderr, "kaudit alerts enable: %s\n", err);
		rc = 1;
	} else if (!found) {
		fprintf(stderr, "kaudit alerts enable: no destination \"%s\" in kaudit.webhooks "
		    "(see kaudit alerts list)\n", buf_cstr(&name));
		rc = 1;
	} else {
		printf("kaudit alerts enable: %s is enabled, its circuit closed; %ld pending "
		    "deliveries are due now\n", buf_cstr(&name), rows);
		rc = 0;
	}
	buf_free(&name);
	db_close(db);
	return rc;
}

int
cmd_alerts(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(argc < 2 ? alerts_synopsis : alerts_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "list") == 0)
		return alerts_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "retry") == 0)
		return alerts_retry(argc - 1, argv + 1);
	if (strcmp(argv[1], "enable") == 0)
		return alerts_enable(argc - 1, argv + 1);
	fprintf(stderr, "kaudit alerts: unknown command \"%s\"\n", argv[1]);
	fputs(alerts_synopsis, stderr);
	return 2;
}
