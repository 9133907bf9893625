/* cmd.h — the kaudit subcommands; main.c dispatches argv to them. Each
 * returns the process exit status and handles its own -h. */
#ifndef KAUDIT_CMD_H
#define KAUDIT_CMD_H

int	cmd_run(int argc, char **argv);		/* core/cmd_run.c */
int	cmd_check(int argc, char **argv);	/* core/cmd_check.c */
int	cmd_migrate(int argc, char **argv);	/* core/cmd_check.c */
int	cmd_scan(int argc, char **argv);	/* core/cmd_scan.c */
int	cmd_rules(int argc, char **argv);	/* core/cmd_rules.c: list, test */

#endif
