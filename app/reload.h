/* reload.h — what `kaudit run` tells of its configuration reloads (SIGHUP):
 * plain counters, read by whatever exports them (logs, metrics). */
#ifndef KAUDIT_RELOAD_H
#define KAUDIT_RELOAD_H

#include <stdatomic.h>

struct reload_counters {
	atomic_ulong	ok;		/* reloads applied */
	atomic_ulong	failed;		/* reloads refused; the running set was kept */
	atomic_ulong	rules_loaded;	/* rules of the set in force */
};

/* The daemon's (app/cmd_run.c). */
extern struct reload_counters reload_counters;

#endif
