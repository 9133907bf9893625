/* db_int.h — what db.c, migrate.c and outbox.c share: the connection struct
 * and helpers that run prepared statements. Private to schema/.
 *
 * Each file owns its SQL as static `struct db_sql` entries; a statement is
 * prepared on first use on a connection (tables may not exist before the
 * migrations ran) and again after a reconnect. */
#ifndef KAUDIT_DB_INT_H
#define KAUDIT_DB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/buf.h"
#include "schema/db.h"

#define DB_MAX_STMTS	64

struct db_sql {
	const char	*name;		/* server-side statement name */
	const char	*sql;
	int		 nparams;
};

struct db {
	PGconn			*conn;
	char			*url;
	const struct db_sql	*prepared[DB_MAX_STMTS];	/* on this connection */
	size_t			 nprepared;
	char			 sqlstate[6];	/* of the last failed statement */
	int			 constraint;	/* and it named a constraint */
	char			 listen[64];	/* channel to LISTEN on; "" none */
	int			 listening;	/* LISTEN done on this connection */
	int			 generic;	/* generic plans asked for */
	int			 generic_set;	/* and set on this connection */
	int			*months;	/* months known to have their partitions */
	size_t			 nmonths, capmonths;
};

/* partitions.c: makes sure the month partitions of months[0..n) (months
 * since year 0, UTC) exist, in a transaction of its own (so no batch holds
 * the lock that creating one takes); months made or seen before on this
 * connection cost nothing. Outside any transaction. */
int	db_partitions_need(struct db *db, const int *months, size_t n, char *err,
	    size_t errlen);
/* Forgets the months seen: after a write refused for want of a partition
 * (retention dropped it meanwhile). */
void	db_partitions_forget(struct db *db);

/* Runs a statement given as text without parameters (BEGIN, COMMIT, the
 * migrations' own SQL). Returns 0, or -1 with PostgreSQL's message. */
int	db_exec(struct db *db, const char *sql, char *err, size_t errlen);

/* Runs s with text parameters (NULL entries are SQL NULL); lengths and
 * formats may be NULL for all-text. Returns the result (caller PQclear()s),
 * or NULL with the message in err. */
PGresult *db_run(struct db *db, const struct db_sql *s, const char *const *values,
	    const int *lengths, const int *formats, char *err, size_t errlen);

/* The same in two steps, for an event loop: db_send() sends the statement
 * and returns at once; db_result_ready() (db.h) tells when its answer is
 * in; db_recv() takes it (waiting for it if need be). One statement at a
 * time: db_recv() before anything else runs on the connection. */
int	db_send(struct db *db, const struct db_sql *s, const char *const *values,
	    char *err, size_t errlen);
PGresult *db_recv(struct db *db, char *err, size_t errlen);

int	db_begin(struct db *db, char *err, size_t errlen);
int	db_commit(struct db *db, char *err, size_t errlen);
/* Rolls back an open transaction; errors are ignored (the connection may be
 * gone, which ends the transaction too). */
void	db_rollback(struct db *db);

/* Copies msg into err without its trailing newline. */
void	db_set_err(char *err, size_t errlen, const char *prefix, const char *msg);

/* Appends s[0..n) with invalid UTF-8 and NUL bytes replaced by U+FFFD, so
 * PostgreSQL accepts it as text. With json set, also replaces the JSON
 * escapes jsonb refuses (\u0000, unpaired surrogates) by \ufffd. Returns 1
 * when anything was replaced. */
int	db_clean_text(struct buf *b, const char *s, size_t n, int json);

/* 1 when the last error refused data (SQLSTATE classes 22, 23, 54) on a live
 * connection, so that a row may be at fault; 0 for database trouble. */
int	db_error_is_data(const struct db *db);

/* The rows of one statement as parallel arrays in PostgreSQL's binary array
 * format, one per parameter $1..$narr (see rows.c). A row is added with
 * db_rows_add() and then exactly one element per array, in array order. */
#define DB_ROWS_MAX_ARRAYS	12
#define DB_OID_BYTEA	17
#define DB_OID_INT8	20
#define DB_OID_INT4	23
#define DB_OID_TEXT	25

struct db_array {
	struct buf	 el;		/* elements: 4-byte length, then the bytes */
	uint32_t	 oid;		/* element type */
	size_t		*off;		/* where each row's element starts in el */
};

struct db_rows {
	const struct db_sql	*sql;
	size_t			 narr;
	struct db_array		 a[DB_ROWS_MAX_ARRAYS];
	size_t			 n, cap;
	size_t			*src;	/* the caller's index of each row */
};

void	db_rows_init(struct db_rows *r, const struct db_sql *sql,
	    const uint32_t *oids, size_t narr);
void	db_rows_reset(struct db_rows *r);
void	db_rows_free(struct db_rows *r);
void	db_rows_add(struct db_rows *r, size_t src);
void	db_rows_null(struct db_rows *r, size_t k);
void	db_rows_bytes(struct db_rows *r, size_t k, const void *p, size_t n);
/* s cleaned by db_clean_text(); NULL s is SQL NULL. */
void	db_rows_text(struct db_rows *r, size_t k, const char *s, size_t n, int json);
/* For int4 and int8 arrays. */
void	db_rows_int(struct db_rows *r, size_t k, int64_t v);
size_t	db_rows_size(const struct db_rows *r);
/* Runs the statement on rows [lo, hi); adds the first column of its first
 * row (or the rows it affected) to *count when count is not NULL. */
int	db_rows_run(struct db *db, const struct db_rows *r, size_t lo, size_t hi,
	    size_t *count, char *err, size_t errlen);

/* A row PostgreSQL refused on its own, and the rows of one kind that were. */
struct db_fault {
	size_t	 src;		/* the caller's index of the row */
	char	 state[6];	/* SQLSTATE */
	char	*msg;		/* PostgreSQL's message */
};

struct db_faults {
	struct db_fault	*v;
	size_t		 n, cap;
	int		 wrote;		/* a statement of this kind succeeded */
};

void	db_faults_free(struct db_faults *f);
/* Inside a transaction: writes every row of r that PostgreSQL accepts, each
 * range under a savepoint and halved when refused; rows refused on their own
 * are added to f. -1 on database trouble (the transaction is then lost). */
int	db_rows_isolate(struct db *db, const struct db_rows *r, struct db_faults *f,
	    size_t *count, char *err, size_t errlen);
/* Runs the neutral rows of probe under a savepoint and rolls them back: 0
 * when the database accepts them. */
int	db_rows_probe(struct db *db, const struct db_rows *probe, char *err,
	    size_t errlen);

/* The (finding, grouped webhook) pairs of a batch (see groups.c). Each key's
 * JSON text is made once and cleaned like any text for PostgreSQL, so that
 * the statement that locks the batch's groups and the one that writes them
 * compute the same digest. */
struct db_group_ref {
	const char	*webhook;
	size_t		 off, len;	/* the key's text in db_group_refs.text */
	long		 wait_ms, interval_ms, repeat_ms;
};

struct db_group_refs {
	struct buf		 text;
	struct db_group_ref	*v;
	size_t			 n, cap;
	size_t			*first;	/* finding i's refs are v[first[i] .. first[i+1]) */
};

void	db_group_refs_build(struct db_group_refs *g, const struct db_finding *f,
	    size_t nf);
void	db_group_refs_free(struct db_group_refs *g);
/* Finding i's groups as the JSON array the findings statement reads, in
 * out; 0 when it joins none (out is then left empty). */
int	db_group_refs_json(const struct db_group_refs *g, size_t i, struct buf *out);
/* In the batch's transaction, before its findings: takes the batch's groups'
 * advisory locks in one fixed order and closes those of them that have been
 * quiet for their repeat_interval. */
int	db_groups_lock(struct db *db, const struct db_group_refs *g, char *err,
	    size_t errlen);

/* What kaudit.dead_letters keeps of a convicted row. */
struct db_dead {
	const char	*kind;		/* "finding" or "ingest_error" */
	struct buf	 id;		/* identity; the table is unique on its SHA-256 */
	const char	*audit_id, *rule;	/* NULL when none */
	size_t		 audit_id_len, rule_len;
	const char	*topic;		/* NULL when the position is not known */
	int32_t		 partition;
	int64_t		 offset;
	const char	*item;		/* the row as JSON text */
	size_t		 item_len;
	const char	*event;		/* NULL when none */
	size_t		 event_len;
};

/* Stores a dead letter for row fault x; *stored counts it when it is new. */
int	db_dead_letter(struct db *db, const struct db_dead *d,
	    const struct db_fault *x, size_t *stored, char *err, size_t errlen);

#endif
