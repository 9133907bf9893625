/* db.h — everything kaudit stores in PostgreSQL. The only code that includes
 * libpq-fe.h lives in schema/. Every statement is prepared with parameters.
 *
 * Return convention for operations: 0 ok; -1 error with a message in err.
 * After an error the connection may have been reset (db_ok() tells), and the
 * caller retries the whole batch: every write is idempotent. */
#ifndef KAUDIT_DB_H
#define KAUDIT_DB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"

struct db;

struct db *db_connect(const char *url, char *err, size_t errlen);
void	db_close(struct db *db);
/* 1 when the connection is usable; otherwise tries one reconnect. */
int	db_ok(struct db *db);

/* Applies every migration in schema/migrations (compiled in) that the
 * database does not have yet, each in its own transaction. */
int	db_migrate(struct db *db, char *err, size_t errlen);
/* 0 when the database schema is at the version this binary expects;
 * -1 with e.g. "database schema is at version 0, kaudit needs 1: run
 * `kaudit migrate -c FILE`" otherwise. */
int	db_check_schema(struct db *db, char *err, size_t errlen);

/* Month partitions (see 0007_partitions.sql). Makes those of the month of
 * yesterday, today and the next ahead months (at most
 * DB_PARTITIONS_AHEAD_MAX), for every partitioned table; the daemon calls it
 * at start and now and then. A batch makes the months it needs itself. */
#define DB_PARTITIONS_AHEAD_MAX	24
int	db_partitions_ahead(struct db *db, int ahead, char *err, size_t errlen);

/* Retention: the month partitions of table ("findings" or "events") that
 * end more than keep_s seconds ago, oldest first, with the rows each held;
 * dropped (with the outbox rows, group memberships and keys of dropped
 * findings) unless dry_run, all in one transaction. Whole months only: a
 * month is dropped once its last second is older than keep_s. */
struct db_retention {
	char	*partition;	/* findings_2026_01 */
	char	*from, *to;	/* bounds, RFC 3339 UTC */
	long long rows;
};
int	db_retention(struct db *db, const char *table, int64_t keep_s, int dry_run,
	    struct db_retention **out, size_t *n, char *err, size_t errlen);
void	db_retention_free(struct db_retention *r, size_t n);

/* A webhook with group_by (see schema/groups.c): the finding joins the open
 * group of (webhook, key) instead of getting an outbox row of its own. */
struct db_grouping {
	json_t		*key;		/* {"cluster": ..., FIELD: VALUE, ...};
					   NULL: the webhook is not grouped */
	long		 wait_ms;	/* group_wait */
	long		 interval_ms;	/* group_interval */
	long		 repeat_ms;	/* repeat_interval */
};

struct db_finding {
	json_t		 *finding;	/* borrowed: the finding object (rules.h) */
	const char	 *event_json;	/* borrowed: the whole event's JSON text */
	size_t		  event_len;
	const char *const *webhooks;	/* names of webhooks that get it */
	size_t		  nwebhooks;
	/* Where the event came from, kept with a dead letter; NULL topic when
	 * not known. */
	const char	 *topic;
	int32_t		  partition;
	int64_t		  offset;
	/* NULL for a finding of one event (unique on audit_id and rule); for
	 * a stateful finding, what makes it unique with its rule (its key and
	 * window: see analyze/state.h) */
	const char	 *dedup;
	/* NULL, or parallel to webhooks: how each groups its findings
	 * (borrowed; a NULL key: one outbox row for this finding) */
	const struct db_grouping *groups;
	/* borrowed, NUL-terminated: the event's requestReceivedTimestamp,
	 * shared by every stage of a request, which places the finding's
	 * month (NULL: its time, else when stored) */
	const char	 *received;
	/* 0, or the kaudit.suppressions id that holds on the finding: it is
	 * stored with status suppressed (a kaudit.finding_history row naming
	 * the suppression, written only when the finding is new) and the
	 * caller gives it no webhooks */
	int64_t		  suppressed_by;
};

struct db_ingest_error {
	const char	*topic;		/* or the file name for `scan` */
	int32_t		 partition;
	int64_t		 offset;
	int32_t		 seq;		/* n-th error within this message */
	const char	*error;
	const char	*head;		/* first bytes of the message */
	size_t		 head_len;	/* at most 1024 are stored */
	size_t		 size;		/* whole message size */
};

/* One transaction: inserts the findings (nothing for an (audit_id, rule)
 * already stored), one outbox row per (new finding, webhook without
 * grouping), a membership of its group per (new finding, grouped webhook),
 * the event of each finding in the archive (kaudit.events, once per
 * (audit_id, stage); the finding row leaves its event column NULL) and the
 * ingest errors (idempotent on topic, partition, offset, seq).
 *
 * Returns 0 when the transaction committed. A row PostgreSQL refused on its
 * own while the database took others (see schema/rows.c for the rule) is
 * then in kaudit.dead_letters instead, in the same transaction; a redelivered
 * batch adds nothing. *inserted receives the number of new findings and
 * *dead the number of new dead letters (either may be NULL).
 *
 * Returns -1, with nothing written, only for database trouble (connection
 * lost, serialization failure, disk full, a table missing, a database that
 * refuses every row, ...): the caller retries the same batch later. */
int	db_write_batch(struct db *db, const struct db_finding *f, size_t nf,
	    const struct db_ingest_error *e, size_t ne, size_t *inserted,
	    size_t *dead, char *err, size_t errlen);

/* The same, with more to write in the same transaction: extra runs after
 * the rows and before the commit (the state owners' state, updates and
 * offsets). Its failure is the database's trouble: -1, nothing written. */
typedef int (*db_extra_fn)(struct db *db, void *arg, char *err, size_t errlen);
int	db_write_batch_with(struct db *db, const struct db_finding *f, size_t nf,
	    const struct db_ingest_error *e, size_t ne, db_extra_fn extra, void *arg,
	    size_t *inserted, size_t *dead, char *err, size_t errlen);

/* An event for the archive (kaudit.events), borrowed. Times and the source
 * IP are validated here (NULL or invalid: the column is NULL); the other
 * columns are read from the JSON. */
struct db_event {
	const char	*json;		/* the event's JSON text (an object) */
	size_t		 len;
	const char	*time;		/* stageTimestamp; NUL-terminated, or NULL */
	const char	*received;	/* requestReceivedTimestamp, or NULL */
	const char	*source_ip;	/* sourceIPs[0], or NULL */
	const char	*cluster;
	/* where it came from, kept with a dead letter; NULL topic: unknown */
	const char	*topic;
	int32_t		 partition;
	int64_t		 offset;
};

/* The same transaction as db_write_batch_with(), with archived events too:
 * one row per (audit_id, stage) in kaudit.events (nothing for one already
 * stored), a row PostgreSQL refuses on its own kept in kaudit.dead_letters
 * (kind event). */
struct db_batch_in {
	const struct db_finding		*f;
	size_t				 nf;
	const struct db_event		*ev;
	size_t				 nev;
	const struct db_ingest_error	*e;
	size_t				 ne;
	db_extra_fn			 extra;		/* NULL: none */
	void				*extra_arg;
};

struct db_batch_out {
	size_t	inserted;	/* new findings */
	size_t	archived;	/* new archived events */
	size_t	dead;		/* new dead letters */
};

int	db_write(struct db *db, const struct db_batch_in *in, struct db_batch_out *out,
	    char *err, size_t errlen);

/* The state owners' store (memory across events, see analyze/state.h):
 * per partition of the signal topic, the next offset and the partition's
 * own state, and the state of each key. Written in the transaction of the
 * findings the state produced (db_write_batch_with() and db_state_write()),
 * so state, findings and how far the topic was read move together. */
struct db_state_key {
	int32_t		 partition;
	const char	*key;
	size_t		 klen;
	const char	*state;		/* JSON; NULL: the key is gone */
	size_t		 slen;
};

struct db_state_part {
	int32_t		 partition;
	int64_t		 next_offset;
	const char	*meta;		/* JSON */
	size_t		 metalen;
};

/* A finding made earlier, changed (suppress repeats, a correlation still
 * counting): set is a JSON object of finding fields to replace. */
struct db_state_update {
	const char	*rule;
	const char	*dedup;
	const char	*set;
	size_t		 setlen;
};

struct db_state_write {
	const char			*topic;
	const struct db_state_part	*parts;
	size_t				 nparts;
	const struct db_state_key	*keys;
	size_t				 nkeys;
	const struct db_state_update	*updates;
	size_t				 nupdates;
};

/* A db_extra_fn: writes a struct db_state_write (arg). */
int	db_state_write(struct db *db, void *arg, char *err, size_t errlen);

/* Reads partition p of topic: *next_offset (-1 when it was never read),
 * its own state into meta (JSON text; "{}" when none), then calls fn for
 * each key with its state. */
typedef void (*db_state_key_fn)(void *arg, const char *key, size_t klen,
	    const char *state, size_t slen);
int	db_state_load(struct db *db, const char *topic, int32_t partition,
	    int64_t *next_offset, struct buf *meta, db_state_key_fn fn, void *arg,
	    char *err, size_t errlen);

/* next[p] for p < n: the next offset of partition p of topic kept with the
 * state (0 when none is kept yet). */
int	db_state_offsets(struct db *db, const char *topic, int64_t *next, int n,
	    char *err, size_t errlen);

/* Asks PostgreSQL to send channel's notifications to this connection (LISTEN),
 * now and again after every reconnect by db_ok(). channel is a constant
 * identifier, not user input. */
#define DB_OUTBOX_CHANNEL	"kaudit_outbox"
int	db_listen(struct db *db, const char *channel, char *err, size_t errlen);
/* Plans every prepared statement once, for any parameters, now and after
 * every reconnect: the outbox statements' plans do not depend on their
 * values, and planning them again at each run costs about as much as
 * running them. */
void	db_generic_plans(struct db *db);
/* The connection's socket, to wait on; -1 when there is none. */
int	db_socket(struct db *db);
/* The process id of the server process serving the connection (for the
 * benchmarks' CPU figures); 0 when there is none. */
int	db_backend_pid(struct db *db);
/* Reads what the server sent and drops the notifications received; returns
 * their number, or -1 when the connection is broken (db_ok() reconnects). */
int	db_notifications(struct db *db);
/* SELECT pg_notify(DB_OUTBOX_CHANNEL, ''): inside a transaction that adds
 * outbox rows, so that every listening alerter wakes when it commits. */
int	db_notify_outbox(struct db *db, char *err, size_t errlen);

/* The alert outbox. Each call is one short statement in its own
 * transaction: nothing stays open while the caller POSTs. A claimed row is
 * held by a lease (kaudit.outbox.locked_until, locked_by) rather than a row
 * lock; owner names the alerter holding it (host:pid:random, unique per
 * alerter). kaudit.webhooks holds what every process must agree on about a
 * destination: disabled, its circuit, its rate-limit bucket. */
struct outbox_item {
	int64_t	 id;
	char	*webhook;	/* webhook name */
	char	*payload;	/* finding JSON text, or a group's notification */
	int	 attempts;	/* attempts made before this one */
	int	 probe;		/* claimed as the probe of an open circuit */
	int64_t	 age_ms;	/* since created_at (or retried_at), at the claim */
};

/* What a claim may take of one configured destination. */
struct outbox_dest {
	const char	*name;
	int		 cap;	/* at most this many rows (free concurrency); 0: none */
	double		 rate;	/* rate_limit, per second; 0: none */
};

/* Leases to owner for lease_ms, and commits, up to limit due rows (state
 * 'pending', next_attempt_at <= now(), no lease or an expired one) of the
 * destinations d[0..nd), due order first: at most d[i].cap of d[i]'s; none
 * of a disabled destination's; one probe of an open circuit whose
 * next_probe_at has come (which then waits for the lease), none of one
 * whose has not; as many of a rate-limited one's as its bucket in
 * kaudit.webhooks has tokens (taken in the same statement, so processes
 * sharing the outbox share the rate). lease_ms must outlast the longest POST
 * and its record: a row whose lease expires may be claimed by another
 * alerter. *items is a new array the caller frees with
 * db_outbox_items_free(). */
int	db_outbox_claim(struct db *db, const char *owner, int limit, long lease_ms,
	    const struct outbox_dest *d, size_t nd, struct outbox_item **items,
	    size_t *n, char *err, size_t errlen);
void	db_outbox_items_free(struct outbox_item *items, size_t n);

/* DONE: delivered. RETRY: pending again retry_ms from now. DEAD: given up
 * (stays queryable). GONE: the destination answered 410: the row stays
 * pending, due at once, and the destination is disabled. */
enum outbox_result { OUTBOX_DONE, OUTBOX_RETRY, OUTBOX_DEAD, OUTBOX_GONE };
/* What an attempt tells of its destination's health: SUCCESS closes its
 * circuit, FAILURE counts towards opening it, NEUTRAL neither (a 4xx, a
 * 429: the receiver is up). */
enum outbox_health { OUTBOX_NEUTRAL, OUTBOX_SUCCESS, OUTBOX_FAILURE };

struct outbox_attempt {
	int64_t			 id;
	enum outbox_result	 res;
	enum outbox_health	 health;
	int			 probe;		/* the row was claimed as a probe */
	int			 http_status;	/* 0: no response */
	const char		*error;		/* NULL when none */
	long			 duration_ms;
	long			 retry_ms;	/* RETRY */
	int			 recorded;	/* set: 0 when the lease was lost */
};

/* How destinations' circuits move. */
struct outbox_circuit {
	int		 open_after;	/* consecutive failures that open it */
	const long	*probe_wait;	/* ms before probe k (k from 1; the last repeats) */
	size_t		 nprobe_wait;
	int64_t		 max_age_ms;	/* a failed probe ends the rows older than this */
};

/* Records attempts a[0..n) on rows leased to owner, and ends their leases,
 * in one statement with what they tell of their destinations: a success
 * resets the failures and closes the circuit (and makes the destination's
 * pending rows due at once when it was open); failures open it after
 * c->open_after; a failed probe pushes the next probe on and ends, as dead,
 * the destination's rows that have waited longer than c->max_age_ms; GONE
 * disables it. A row no longer pending under owner's lease (it expired and
 * another alerter took the row, or the row is gone) is left as it is, with
 * a[i].recorded 0. Returns 0, or -1 on error. */
int	db_outbox_record(struct db *db, const char *owner, struct outbox_attempt *a,
	    size_t n, const struct outbox_circuit *c, char *err, size_t errlen);
/* Ends every lease owner holds, so that rows it will not send are due again
 * at once; *released receives how many. */
int	db_outbox_release(struct db *db, const char *owner, long *released,
	    char *err, size_t errlen);

/* Alert groups (webhooks with group_by). One call is one transaction: it
 * takes up to limit due groups (FOR UPDATE SKIP LOCKED: several alerters
 * never take the same one), puts one notification per group in the outbox
 * (payload: the notification, with at most DB_GROUP_FINDINGS of the new
 * findings), advances the groups, closes groups quiet for their
 * repeat_interval since their last notification, and wakes alerters
 * (NOTIFY kaudit_outbox) when it made a notification. */
#define DB_GROUP_FINDINGS	20

struct db_groups_flush {
	long	notifications;	/* outbox rows made */
	long	closed;		/* groups closed */
	/* ms until the next open group is due (0: one is due now, e.g. more
	 * than limit were); -1 when no group waits for a notification */
	long	next_ms;
};

int	db_groups_flush(struct db *db, int limit, struct db_groups_flush *out,
	    char *err, size_t errlen);
/* An alerter's look at what is ahead, for the destinations d[0..nd) it
 * can claim for now. */
struct outbox_look {
	long	 next_ms;	/* until a row may be claimed (0: now); -1: none pending */
	int	 due;		/* a row of an enabled destination with a closed
				 * circuit is due now (--idle-exit waits for it) */
	long	 leased;	/* rows under a live lease, here or elsewhere */
};
int	db_outbox_look(struct db *db, const struct outbox_dest *d, size_t nd,
	    struct outbox_look *l, char *err, size_t errlen);

/* At an alerter's start (and now and then after): makes the kaudit.webhooks
 * rows of the configured names[0..n), and returns their held rows to
 * pending (max_age counted afresh). With hold, also holds the pending rows
 * of every other webhook, with a reason naming owner. */
int	db_outbox_sync(struct db *db, const char *owner, const char *const *names,
	    size_t n, int hold, long *held, long *released, char *err, size_t errlen);

/* The same three in two steps, for an event loop that keeps its POSTs
 * going while the database works: *_send sends the statement and returns at
 * once; db_result_ready() says when its answer is in (1; 0 not yet; -1 the
 * connection broke); *_recv takes it, with the outcome of the call above.
 * One statement at a time per connection. */
int	db_outbox_claim_send(struct db *db, const char *owner, int limit, long lease_ms,
	    const struct outbox_dest *d, size_t nd, char *err, size_t errlen);
int	db_outbox_claim_recv(struct db *db, struct outbox_item **items, size_t *n,
	    char *err, size_t errlen);
int	db_outbox_record_send(struct db *db, const char *owner,
	    const struct outbox_attempt *a, size_t n, const struct outbox_circuit *c,
	    char *err, size_t errlen);
int	db_outbox_record_recv(struct db *db, struct outbox_attempt *a, size_t n,
	    char *err, size_t errlen);
int	db_outbox_look_send(struct db *db, const struct outbox_dest *d, size_t nd,
	    char *err, size_t errlen);
int	db_outbox_look_recv(struct db *db, struct outbox_look *l, char *err, size_t errlen);
int	db_result_ready(struct db *db);

/* Counts for tests, the demo and the daemon's --idle-exit. */
int	db_outbox_pending(struct db *db, long *pending, char *err, size_t errlen);
/* Pending rows that a claim would take now: due and not under a lease. */
int	db_outbox_due(struct db *db, long *due, char *err, size_t errlen);
/* Pending rows under a lease that has not expired: deliveries in flight
 * (or left by an alerter that stopped without releasing them, until the
 * lease expires). */
int	db_outbox_leased(struct db *db, long *leased, char *err, size_t errlen);

/* `kaudit alerts`: what an on-call person reads and does. Times are
 * milliseconds since the epoch, 0 when NULL. */
struct alerts_row {
	int64_t	 id;
	char	*webhook;
	char	*state;		/* pending, done, dead, held, or disabled (a
				 * pending row of a disabled destination) */
	int	 attempts;
	int	 last_status;	/* 0: none */
	char	*last_error;	/* or the held reason; NULL: none */
	int64_t	 created_ms, next_ms;
};

struct alerts_dest {
	char	*name;
	int64_t	 disabled_ms;
	char	*disabled_reason;	/* NULL: none */
	int64_t	 opened_ms;		/* circuit open since; 0: closed */
	int	 failures;
	int64_t	 next_probe_ms;
	long	 pending, held, dead;
};

/* Rows newest first, at most limit; state (as in alerts_row, NULL: any)
 * and webhook (NULL: any) filter them. */
int	db_alerts_list(struct db *db, const char *state, const char *webhook, long limit,
	    struct alerts_row **rows, size_t *n, char *err, size_t errlen);
void	db_alerts_rows_free(struct alerts_row *rows, size_t n);
/* Every destination of kaudit.webhooks, and any other webhook with held
 * rows, by name; only webhook when not NULL. */
int	db_alerts_dests(struct db *db, const char *webhook, struct alerts_dest **d,
	    size_t *n, char *err, size_t errlen);
void	db_alerts_dests_free(struct alerts_dest *d, size_t n);
/* Dead or held rows back to pending, due now, max_age counted afresh, their
 * attempts kept: those of ids[0..n), or with n 0 every dead row (of webhook
 * when not NULL). *count receives how many; notifies the alerters. */
int	db_alerts_retry(struct db *db, const int64_t *ids, size_t n, const char *webhook,
	    long *count, char *err, size_t errlen);
/* Re-enables destination name and closes its circuit; its pending rows are
 * due at once with max_age counted afresh. *found 0 when no such
 * destination; *rows the rows made due. Notifies the alerters. */
int	db_alerts_enable(struct db *db, const char *name, int *found, long *rows,
	    char *err, size_t errlen);

/* A finding's life after it is stored (schema/lifecycle.c; migration
 * 0009): status open (no history row), acknowledged, resolved or
 * suppressed, each change a row of kaudit.finding_history; suppressions in
 * kaudit.suppressions. Every change of a suppression notifies
 * DB_SUPPRESS_CHANNEL when it commits. Text from people is cleaned like
 * event text (invalid UTF-8 becomes U+FFFD). */
#define DB_SUPPRESS_CHANNEL	"kaudit_suppressions"

struct db_suppression {
	int64_t	 id;
	char	*condition;	/* rule language over finding fields */
	int64_t	 expires_ms;	/* since the epoch; 0: never */
};

/* The suppressions that hold now (neither lifted nor expired), by id. */
int	db_suppressions_live(struct db *db, struct db_suppression **v, size_t *n,
	    char *err, size_t errlen);
void	db_suppressions_free(struct db_suppression *v, size_t n);
/* The live ones (every one with all) as a new JSON array of objects: id,
 * condition, reason, created_by, created_at, expires_at, lifted_at,
 * lifted_by, lift_reason (times RFC 3339 UTC or null), live, matched
 * (findings it suppressed). */
int	db_suppressions_list(struct db *db, int all, json_t **out, char *err,
	    size_t errlen);
/* A new suppression holding for duration_ms from now (the database's
 * clock; 0: until lifted); *id receives its id and *expires_ms (may be
 * NULL) when it expires (ms since the epoch; 0: never). */
int	db_suppression_add(struct db *db, const char *condition, const char *reason,
	    const char *by, int64_t duration_ms, int64_t *id, int64_t *expires_ms,
	    char *err, size_t errlen);
/* Lifts live suppression id; *found 0 when there is none (no such id, or
 * lifted or expired already). */
int	db_suppression_lift(struct db *db, int64_t id, const char *by, const char *reason,
	    int *found, char *err, size_t errlen);

/* `kaudit findings list`: the newest findings (at most limit) passing every
 * filter given (NULL / -1: none), as a new JSON array of objects: id, time,
 * rule, severity, category, user, namespace, name, cluster, audit_id,
 * title, status. */
struct db_findings_filter {
	const char	*status;	/* open, acknowledged, resolved, suppressed */
	const char	*rule;
	int		 min_rank;	/* severity rank at least (0 info .. 4 critical) */
	const char	*since;		/* RFC 3339: event time (storage time without one) */
	const char	*user;
	long		 limit;
};
int	db_findings_list(struct db *db, const struct db_findings_filter *f, json_t **out,
	    char *err, size_t errlen);
/* Finding id as a new JSON object: id, status, stored_at, finding (the
 * webhook payload), history [{status, by, at, reason, suppression_id}],
 * deliveries [{id, webhook, state, attempts, last_status, last_error,
 * created_at, delivered_at}], groups [{group_id, webhook, notification,
 * delivery, state}]; *out NULL when there is no such finding. */
int	db_finding_show(struct db *db, int64_t id, json_t **out, char *err, size_t errlen);
/* Calls fn with each stored finding (its id and JSON text, borrowed for
 * the call) whose event time (storage time without one) is at or after
 * since (RFC 3339; NULL: any), newest first, at most limit of them, read
 * DB_SCAN_PAGE at a time: what a suppression would have held on. */
#define DB_SCAN_PAGE	1000
typedef void (*db_finding_fn)(void *arg, int64_t id, const char *json, size_t len);
int	db_findings_scan(struct db *db, const char *since, long limit, db_finding_fn fn,
	    void *arg, char *err, size_t errlen);
/* Records status (by whom, why; reason may be NULL) for each finding of
 * ids[0..n) not in it already; *out a new JSON array, by id, of {id, from
 * (the status it had; null when missing), result: changed, unchanged or
 * missing}. */
int	db_findings_set_status(struct db *db, const int64_t *ids, size_t n,
	    const char *status, const char *by, const char *reason, json_t **out,
	    char *err, size_t errlen);
/* The query cookbook (schema/query.c): schema/queries/NAME.sql, compiled
 * in. Parameter k of a query is $k of its SQL. */
struct db_query_param {
	char	*name, *type, *help;
	int	 required;
};

struct db_query {
	char			*name;		/* the file name without .sql */
	char			*title;
	struct db_query_param	*params;
	size_t			 nparams;
	const char		*sql;		/* borrowed from the binary */
};

int	db_queries(struct db_query **q, size_t *n, char *err, size_t errlen);
void	db_queries_free(struct db_query *q, size_t n);

/* A result as text: cells[row * ncols + col], NULL for SQL NULL. */
#define DB_COL_TEXT	0
#define DB_COL_NUMBER	1
#define DB_COL_BOOL	2
#define DB_COL_JSON	3

struct db_table {
	size_t	  ncols, nrows;
	char	**cols;
	int	 *kinds;	/* DB_COL_* per column */
	char	**cells;
};

/* Runs one statement with text parameters (NULL: SQL NULL) in a READ ONLY
 * transaction. */
int	db_query_run(struct db *db, const char *sql, const char *const *vals, size_t nvals,
	    struct db_table *t, char *err, size_t errlen);
void	db_table_free(struct db_table *t);
/* 1 when the relation (e.g. "kaudit.events") exists, 0 when not, -1 on error. */
int	db_relation_exists(struct db *db, const char *name, char *err, size_t errlen);

/* The sections of `kaudit report` (schema/report.c): each statement takes
 * $1 start (inclusive) and $2 end (exclusive) of the period as timestamptz
 * and $3 a cluster name or NULL. */
struct db_report_section {
	const char	*id;		/* anchor and CSV file name */
	const char	*title;
	const char	*intro;
	const char	*needs;		/* a relation the section needs, or NULL */
	const char	*sql;
};

const struct db_report_section *db_report_sections(size_t *n);

#endif
