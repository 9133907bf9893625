/* state.h — stage 2 of memory across events: keyed state that turns
 * signals (see struct signal in rules.h) into findings.
 *
 * A struct state holds the keys of one or more partitions of the signal
 * stream: the daemon gives each state owner the partitions Kafka assigned
 * it (every signal of one key lands on one partition), `scan` and `rules
 * test` use partition 0 for everything. It is pure logic: no I/O, no
 * clock. Time is event time: each partition's high-water mark is the
 * largest event time it has seen, windows expire against it, and events
 * up to `lateness` behind it still count.
 *
 * Findings leave through struct state_out: a new finding with the text that
 * makes it unique for its rule (its dedup: the key and the window), or an
 * update of an earlier finding (suppress repeats, a correlation's growing
 * count). For the daemon the state of each key, and of each partition, can
 * be read out when it changed and loaded back, so state, findings and the
 * offset of the signal stream can be committed together. Not thread-safe:
 * one state per state owner. */
#ifndef KAUDIT_STATE_H
#define KAUDIT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "analyze/rules.h"

struct state;

struct state_opts {
	int64_t	 lateness_ms;	/* stateful.lateness; default 10 minutes */
	size_t	 max_keys;	/* stateful.max_keys; 0: no cap */
};

struct state_out {
	/* A new finding of rule r (steals finding). dedup and r's id make it
	 * unique: the same signals fed again make the same dedup. event is the
	 * JSON text of the event that completed it (len bytes; NULL when time,
	 * not an event, completed it). */
	void	(*finding)(void *arg, json_t *finding, const char *dedup, const struct rule *r,
		    const char *event, size_t len);
	/* An earlier finding (r, dedup) changed: set holds the finding fields
	 * to replace (repeats, last_repeat, correlation, message); steals set. */
	void	(*update)(void *arg, const struct rule *r, const char *dedup, json_t *set);
	void	*arg;
};

struct state_stats {
	size_t		 keys;		/* in memory now */
	unsigned long	 signals;	/* fed */
	unsigned long	 duplicates;	/* fed again (redelivery): ignored */
	unsigned long	 late;		/* older than the window and the lateness: ignored */
	unsigned long	 evicted;	/* keys dropped at max_keys */
	unsigned long	 unknown;	/* signals of rules this rule set does not have */
};

struct state *state_new(const struct ruleset *rs, const struct state_opts *o);
void	state_free(struct state *st);

/* Feeds one signal that arrived on partition part. */
void	state_feed(struct state *st, int part, const struct signal *sg,
	    const struct state_out *out);
/* Lets time pass on partition part: fires `absent` sequences whose span
 * (plus the lateness) has passed by the partition's high-water mark and
 * expires state. With final set no event will come any more (the end of a
 * scan): spans that passed fire without waiting for the lateness. */
void	state_tick(struct state *st, int part, int final, const struct state_out *out);

void	state_stats(const struct state *st, struct state_stats *out);

/* Findings held in memory as the engine makes and updates them (scan and
 * the rule test runner, which write them all at the end). */
struct state_held {
	json_t	*list;		/* findings in the order they were made */
	json_t	*index;		/* "rule dedup" -> position in list */
};

void	state_held_init(struct state_held *h);
void	state_held_free(struct state_held *h);
/* Appends finding (stolen), made by r under dedup. */
void	state_held_add(struct state_held *h, json_t *finding, const struct rule *r,
	    const char *dedup);
/* Applies an update (set stolen) to the finding (r, dedup). -1 when no
 * such finding is held. */
int	state_held_update(struct state_held *h, const struct rule *r, const char *dedup,
	    json_t *set);

/* --- the signal stream (daemon) ------------------------------------------ */

/* sg as one JSON text for the internal topic. New allocation. */
char	*signal_encode(const struct signal *sg, size_t *len);
/* Decodes text into *sg, rule resolved in rs; the strings and JSON values
 * of sg point into *hold (a new reference the caller drops when done).
 * Returns 0, or -1 when text is not a signal or names a rule rs lacks. */
int	signal_decode(const struct ruleset *rs, const char *text, size_t len,
	    struct signal *sg, json_t **hold);

/* --- persistence (daemon) ------------------------------------------------- */

/* Calls fn for every key of part changed since the last call, with its
 * state as a JSON value (borrowed), or NULL when it was deleted; clears the
 * marks. */
typedef void (*state_key_fn)(void *arg, const char *key, size_t klen, json_t *state);
void	state_changed(struct state *st, int part, state_key_fn fn, void *arg);
/* The partition's own state (high-water mark, learning starts). New reference. */
json_t	*state_part_save(struct state *st, int part);
/* Loads what state_changed() and state_part_save() gave. -1 when the
 * state names a rule this rule set lacks (it is dropped). */
int	state_key_load(struct state *st, int part, const char *key, size_t klen, json_t *state);
void	state_part_load(struct state *st, int part, json_t *meta);
/* Forgets partition part (it was revoked). */
void	state_drop(struct state *st, int part);

#endif
