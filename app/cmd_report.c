/* cmd_report.c — `kaudit report` (placeholder replaced below). */
#include "app/cmd.h"

#include <stdio.h>

int
cmd_report(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 2;
}
