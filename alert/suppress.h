/* suppress.h — the daemon's suppressions: which stored findings get no
 * alert (see docs/lifecycle.md).
 *
 * A suppression (kaudit.suppressions, made by `kaudit findings suppress`)
 * is a condition in the rule language over the finding's fields, as a
 * webhook's `when`, with an expiry. Every ingest worker and state owner asks
 * the shared set, before routing a finding, whether one holds on it; a
 * finding that one holds on is still stored, with status suppressed, and is
 * routed to no webhook. A watcher thread keeps the set current: it reloads
 * it when PostgreSQL notifies a change (LISTEN kaudit_suppressions) and
 * every refresh period in any case; an expiry takes effect at once, as each
 * lookup compares it with the clock. */
#ifndef KAUDIT_SUPPRESS_H
#define KAUDIT_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "schema/db.h"

struct suppress_set;
struct suppress_watch;

struct suppress_set *suppress_new(void);
void	suppress_free(struct suppress_set *s);
/* Replaces the set with the live suppressions of db, each condition
 * compiled (one that does not compile, written by hand or by a newer
 * kaudit, is left out with a warning). Returns how many it holds, or -1
 * with err, the set then left as it was. */
int	suppress_load(struct suppress_set *s, struct db *db, char *err, size_t errlen);
/* The same from rows[0..n) (borrowed) instead of the database; returns how
 * many it holds. */
int	suppress_replace(struct suppress_set *s, const struct db_suppression *rows, size_t n);
/* The id of the first suppression that holds on finding (borrowed) and has
 * not expired at now_ms (wall clock, ms since the epoch); 0 when none. Any
 * number of threads may ask at once, also while the set is reloaded. */
int64_t	suppress_match(struct suppress_set *s, const json_t *finding, int64_t now_ms);
/* The wall clock in ms since the epoch, for suppress_match(). */
int64_t	suppress_now_ms(void);

/* Starts the thread that reloads s from the database at url on every
 * NOTIFY kaudit_suppressions and every refresh_ms. NULL with err when it
 * cannot start. */
struct suppress_watch *suppress_watch_start(struct suppress_set *s, const char *url,
	    long refresh_ms, char *err, size_t errlen);
void	suppress_watch_stop(struct suppress_watch *w);

#endif
