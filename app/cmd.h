/* cmd.h — the kaudit subcommands; main.c dispatches argv to them. Each
 * returns the process exit status and handles its own -h. */
#ifndef KAUDIT_CMD_H
#define KAUDIT_CMD_H

#include <stddef.h>
#include <stdio.h>

int	cmd_run(int argc, char **argv);		/* app/cmd_run.c */
int	cmd_check(int argc, char **argv);	/* app/cmd_check.c */
int	cmd_migrate(int argc, char **argv);	/* app/cmd_check.c */
int	cmd_scan(int argc, char **argv);	/* app/cmd_scan.c */
int	cmd_rules(int argc, char **argv);	/* app/cmd_rules.c: list, test */
int	cmd_alerts(int argc, char **argv);	/* app/cmd_alerts.c: list, retry, enable */
int	cmd_retention(int argc, char **argv);	/* app/cmd_retention.c */
int	cmd_findings(int argc, char **argv);	/* app/cmd_findings.c: list, show, ack, ... */
int	cmd_query(int argc, char **argv);	/* app/cmd_query.c: the query cookbook */
int	cmd_report(int argc, char **argv);	/* app/cmd_report.c: the auditor's report */
int	cmd_gateway(int argc, char **argv);	/* app/cmd_gateway.c: the audit webhook */

/* SIGTERM, SIGINT (a daemon's stop) and SIGHUP (run: reload; gateway:
 * logged) call handler; SIGPIPE is ignored (app/cmd_run.c). */
void	cmd_signals(void (*handler)(int));

struct buf;
struct config;
struct db;
struct ruleset;

/* The database of the configuration at path (the built-in default one when
 * NULL), its schema current; NULL after saying why on stderr, prefixed
 * with "kaudit CMD: ". */
struct db *cmd_db_open(const char *path, const char *cmd);

/* Loads and validates config and rules (and, with check_db, that the
 * database schema is current), printing every problem to stderr. Shared by
 * run and check. Returns 0 or -1; on -1 *rs may be NULL. */
int	run_prepare(const char *path, struct config *c, struct ruleset **rs, int check_db);

/* Makes the coming month partitions (unless dry_run) and drops those past
 * the configured retention (app/cmd_retention.c). Each month is printed to
 * out, or logged when out is NULL; *dropped receives the rows they held. */
int	retention_apply(struct db *db, const struct config *c, int dry_run, FILE *out,
	    long long *dropped, char *err, size_t errlen);

#endif
