/* cmd_rules.c — `kaudit rules list` and `kaudit rules test`. */
#include "analyze/rules.h"
#include "core/cmd.h"
#include "core/rulefiles.h"
#include "core/xmalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	rules_test(const char *dir);

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: kaudit rules list [--rules PATH]... [--markdown]\n"
	    "       kaudit rules test DIR\n");
}

int
cmd_rules(int argc, char **argv)
{
	usage(stderr);
	return 2;
}
