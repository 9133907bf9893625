/* cmd_retention.c — `kaudit retention`: drops the months of findings and
 * archived events older than the configuration's retention, and the
 * daemon's periodic upkeep of the month partitions (see cmd.h).
 *
 * Retention drops whole month partitions only (a DROP TABLE: no row-by-row
 * delete, no vacuum debt); a month goes once its last second is older than
 * retention.findings (or retention.events). The daemon makes the coming
 * months and applies retention at start and every retention.interval; the
 * command does the same once, or with --dry-run only says what it would
 * drop. */
#include "app/cmd.h"
#include "app/config.h"
#include "base/log.h"
#include "schema/db.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Months made ahead of now, for every partitioned table. */
#define RETENTION_AHEAD	2

static const struct {
	const char	*table;
	size_t		 off;	/* its retention in struct config */
} retention_tables[] = {
	{ "findings", offsetof(struct config, retention_findings_ms) },
	{ "events", offsetof(struct config, retention_events_ms) },
};

int
retention_apply(struct db *db, const struct config *c, int dry_run, FILE *out,
    long long *dropped, char *err, size_t errlen)
{
	struct db_retention *r;
	size_t n;

	*dropped = 0;
	if (!dry_run && db_partitions_ahead(db, RETENTION_AHEAD, err, errlen) == -1)
		return -1;
	for (size_t t = 0; t < sizeof(retention_tables) / sizeof(retention_tables[0]); t++) {
		int64_t keep_ms = *(const int64_t *)((const char *)c + retention_tables[t].off);
		if (keep_ms == 0)
			continue;	/* kept forever */
		if (db_retention(db, retention_tables[t].table, keep_ms / 1000, dry_run, &r, &n,
		    err, errlen) == -1)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (out != NULL)
				fprintf(out, "%s %s %s to %s: %lld rows\n",
				    dry_run ? "would drop" : "dropped", r[i].partition,
				    r[i].from, r[i].to, r[i].rows);
			else
				log_info("retention: dropped %s (%s to %s, %lld rows)",
				    r[i].partition, r[i].from, r[i].to, r[i].rows);
			*dropped += r[i].rows;
		}
		db_retention_free(r, n);
	}
	return 0;
}

static void
retention_usage(FILE *out)
{
	fprintf(out,
	    "usage: kaudit retention -c FILE [--dry-run]\n"
	    "\n"
	    "Drops the month partitions of kaudit.findings older than retention.findings\n"
	    "and of kaudit.events older than retention.events (0d: kept forever), with\n"
	    "the outbox rows of the dropped findings, and makes the coming months. Prints\n"
	    "one line per month dropped. The daemon does the same every\n"
	    "retention.interval.\n"
	    "\n"
	    "  -c, --config FILE   configuration (postgres.url, retention.*)\n"
	    "  -n, --dry-run       print what would be dropped; change nothing\n"
	    "\n"
	    "Exit status: 0 done, 1 database or configuration error, 2 usage error.\n");
}

int
cmd_retention(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL;
	struct config c;
	struct buf errs;
	struct db *db;
	char err[512];
	long long dropped;
	int ch, dry_run = 0, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n': dry_run = 1; break;
		case 'h':
			retention_usage(stdout);
			return 0;
		default:
			retention_usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		retention_usage(stderr);
		return 2;
	}
	buf_init(&errs);
	config_defaults(&c);
	if (config_load(&c, path, &errs) != 0) {
		fputs(buf_cstr(&errs), stderr);
		rc = 1;
		goto out;
	}
	if ((db = db_connect(c.pg_url, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kaudit retention: %s\n", err);
		rc = 1;
		goto out;
	}
	if (db_check_schema(db, err, sizeof(err)) != 0 ||
	    retention_apply(db, &c, dry_run, stdout, &dropped, err, sizeof(err)) != 0) {
		fprintf(stderr, "kaudit retention: %s\n", err);
		rc = 1;
	} else {
		printf("kaudit retention: %s %lld rows\n", dry_run ? "would drop" : "dropped",
		    dropped);
	}
	db_close(db);
out:
	buf_free(&errs);
	config_free(&c);
	return rc;
}
