/* main.c — kaudit's entry point: dispatches the subcommand. */
#include <stdio.h>
#include <string.h>

#include "app/cmd.h"
#include "base/version.h"

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*help;
} commands[] = {
	{ "run",	cmd_run,	"run the daemon: Kafka -> rules -> PostgreSQL -> webhooks" },
	{ "scan",	cmd_scan,	"evaluate rules over audit events in files or stdin, no services" },
	{ "check",	cmd_check,	"validate a config and its rules" },
	{ "migrate",	cmd_migrate,	"apply database migrations" },
	{ "rules",	cmd_rules,	"list rules, or run golden rule tests" },
	{ "alerts",	cmd_alerts,	"list webhook deliveries and destinations, retry, re-enable" },
	{ "retention",	cmd_retention,	"drop the months of findings and events past retention" },
	{ "findings",	cmd_findings,	"list and show findings, ack, resolve, suppress" },
	{ "query",	cmd_query,	"answer a cookbook question from the database (--list)" },
	{ "report",	cmd_report,	"an auditor's report for a period: HTML, Markdown or CSV" },
	{ "gateway",	cmd_gateway,	"receive the API server's audit webhook into Kafka" },
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "kaudit %s — Kubernetes audit-log detection\n"
	    "\n"
	    "usage: kaudit COMMAND [options]\n"
	    "\n", KAUDIT_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(out,
	    "\n"
	    "  kaudit run -c FILE [--idle-exit SECONDS]\n"
	    "  kaudit gateway -c FILE\n"
	    "  kaudit scan [--rules PATH]... [--platform NAME]... [--stats] [FILE|-]...\n"
	    "  kaudit check -c FILE [--example]\n"
	    "  kaudit migrate -c FILE\n"
	    "  kaudit rules list [--rules PATH]... [--markdown]\n"
	    "  kaudit rules test DIR\n"
	    "  kaudit alerts list [-c FILE] [--state STATE] [--webhook NAME] [--limit N] [--json]\n"
	    "  kaudit alerts retry [-c FILE] [--webhook NAME] ID... | --dead\n"
	    "  kaudit alerts enable [-c FILE] NAME\n"
	    "  kaudit retention -c FILE [--dry-run]\n"
	    "  kaudit findings list [-c FILE] [--status S] [--rule ID] [--severity SEV]\n"
	    "                       [--since TIME] [--user NAME] [--limit N] [--json]\n"
	    "  kaudit findings show [-c FILE] [--json] ID\n"
	    "  kaudit findings ack|resolve|reopen [-c FILE] [--reason TEXT] [--by NAME] ID...\n"
	    "  kaudit findings suppress [-c FILE] --when COND --for DURATION --reason TEXT\n"
	    "  kaudit findings suppress [-c FILE] --when COND --dry-run [--since TIME]\n"
	    "  kaudit findings suppressions [-c FILE] [--all] [--json]\n"
	    "  kaudit findings lift [-c FILE] [--reason TEXT] [--by NAME] ID...\n"
	    "  kaudit query [-c FILE] NAME [--param K=V]... [--format table|csv|json]\n"
	    "  kaudit query --list\n"
	    "  kaudit report [-c FILE] [--from TIME] [--to TIME] [--cluster NAME]\n"
	    "                --format html|md|csv -o PATH\n"
	    "\n"
	    "Each command takes -h. kaudit --version prints the version.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("kaudit %s\n", KAUDIT_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "kaudit: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
