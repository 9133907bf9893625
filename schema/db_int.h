/* db_int.h — what db.c, migrate.c and outbox.c share: the connection struct
 * and helpers that run prepared statements. Private to schema/.
 *
 * Each file owns its SQL as static `struct db_sql` entries; a statement is
 * prepared on first use on a connection (tables may not exist before the
 * migrations ran) and again after a reconnect. */
#ifndef KAUDIT_DB_INT_H
#define KAUDIT_DB_INT_H

#include <stddef.h>

#include <libpq-fe.h>

#include "base/buf.h"

#define DB_MAX_STMTS	32

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
};

/* Runs a statement given as text without parameters (BEGIN, COMMIT, the
 * migrations' own SQL). Returns 0, or -1 with PostgreSQL's message. */
int	db_exec(struct db *db, const char *sql, char *err, size_t errlen);

/* Runs s with text parameters (NULL entries are SQL NULL); lengths and
 * formats may be NULL for all-text. Returns the result (caller PQclear()s),
 * or NULL with the message in err. */
PGresult *db_run(struct db *db, const struct db_sql *s, const char *const *values,
	    const int *lengths, const int *formats, char *err, size_t errlen);

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

#endif
