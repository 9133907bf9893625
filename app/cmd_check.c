/* cmd_check.c — `kaudit check` (validate config and rules) and
 * `kaudit migrate` (bring the database schema up to date). */
#include "app/cmd.h"
#include "app/config.h"
#include "app/gateway.h"
#include "base/log.h"
#include "app/rulefiles.h"
#include "schema/db.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>


/* Parses `-c FILE` plus -h for check and migrate; returns the path or NULL
 * with *rc set. */
static const char *
config_arg(int argc, char **argv, const char *usage, int *example, int *rc)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "example", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'e':
			if (example) {
				*example = 1;
				break;
			}
			/* FALLTHROUGH */
		case 'h':
			fputs(usage, ch == 'h' ? stdout : stderr);
			*rc = ch == 'h' ? 0 : 2;
			return NULL;
		default:
			fputs(usage, stderr);
			*rc = 2;
			return NULL;
		}
	}
	if ((path == NULL && !(example && *example)) || optind != argc) {
		fputs(usage, stderr);
		*rc = 2;
		return NULL;
	}
	return path;
}

/* The gateway's own checks, when the configuration is one for it. */
static int
check_gateway(const struct config *c)
{
	struct buf errs;
	int rc = 0;

	if (c->gw_tokens.n == 0 && *c->gw_client_ca == '\0' && *c->gw_tls_cert == '\0')
		return 0;
	buf_init(&errs);
	if ((rc = gateway_check(c, &errs)) != 0)
		fputs(buf_cstr(&errs), stderr);
	buf_free(&errs);
	return rc;
}

int
cmd_check(int argc, char **argv)
{
	static const char usage[] =
	    "usage: kaudit check -c FILE\n"
	    "       kaudit check --example\n"
	    "\n"
	    "Validates the configuration and every rule file it names; prints\n"
	    "`file:line: message` for each problem and exits 1 if there is any.\n"
	    "A configuration with a gateway: section in use (tokens, client_ca or\n"
	    "tls_cert set) is checked as kaudit gateway would before it listens.\n"
	    "--example prints a configuration with every key, its default and its meaning.\n";
	struct config c;
	struct ruleset *rs = NULL;
	int example = 0, rc = 0;
	const char *path = config_arg(argc, argv, usage, &example, &rc);

	if (example) {
		struct buf b;
		buf_init(&b);
		config_example(&b);
		fputs(buf_cstr(&b), stdout);
		buf_free(&b);
		return 0;
	}
	if (path == NULL)
		return rc;
	if (run_prepare(path, &c, &rs, 0) != 0 || check_gateway(&c) != 0) {
		ruleset_free(rs);
		config_free(&c);
		return 1;
	}
	printf("%s: ok (%zu rules)\n", path, ruleset_count(rs));
	ruleset_free(rs);
	config_free(&c);
	return 0;
}

int
cmd_migrate(int argc, char **argv)
{
	static const char usage[] =
	    "usage: kaudit migrate -c FILE\n"
	    "\n"
	    "Applies every database migration that postgres.url does not have yet.\n";
	struct config c;
	struct buf errs;
	struct db *db;
	char err[512];
	int rc = 0;
	const char *path = config_arg(argc, argv, usage, NULL, &rc);

	if (path == NULL)
		return rc;
	buf_init(&errs);
	config_defaults(&c);
	if (config_load(&c, path, &errs) != 0) {
		fputs(buf_cstr(&errs), stderr);
		rc = 1;
		goto out;
	}
	if ((db = db_connect(c.pg_url, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kaudit migrate: %s\n", err);
		rc = 1;
		goto out;
	}
	if (db_migrate(db, err, sizeof(err)) != 0) {
		fprintf(stderr, "kaudit migrate: %s\n", err);
		rc = 1;
	} else {
		printf("kaudit migrate: database is up to date\n");
	}
	db_close(db);
out:
	buf_free(&errs);
	config_free(&c);
	return rc;
}
