/* rows.c — the rows of one statement as parallel binary arrays, sent whole
 * or a range at a time, and the search for the rows PostgreSQL refuses.
 *
 * DESIGN: a batch goes to the server as one INSERT ... SELECT FROM unnest()
 * per table, its columns as array parameters in PostgreSQL's binary array
 * format (a 20-byte header, then a 4-byte length and the bytes of each
 * element). Each array keeps where every row's element starts, so the
 * elements of rows [lo, hi) are one contiguous slice: sending a range costs a
 * new header and a copy, not a rebuild. That is what the isolation needs.
 *
 * When a statement fails, either a row is at fault or the database is in
 * trouble, and only the second may stop the pipeline; the first must not,
 * or one hostile event stalls its partition forever. The rule:
 *
 *  1. Database trouble is every failure but a refusal of data: the connection
 *     is gone, or the SQLSTATE is outside classes 22 (data exception), 23
 *     (integrity constraint) and 54 (program limit, e.g. an index row too
 *     large or a value nested too deep). 23514 without a constraint name is
 *     trouble too: no partition of a partitioned table holds the row. Trouble
 *     rolls the whole batch back and the caller retries it later, without
 *     losing or dead-lettering anything: connection loss, serialization
 *     failures and deadlocks (40), disk full (53), a missing table or
 *     permission (42), an administrator's shutdown (57), and so on.
 *  2. A refusal of data does not convict a row either: the batch is written
 *     again with each statement under a savepoint, a failing range rolled
 *     back to it and halved. A single row that still fails on its own, with
 *     a refusal of data, is a suspect; a failure of any other kind on the way
 *     is trouble (rule 1), and so is losing the connection.
 *  3. Suspects are convicted only when the database shows that it accepts
 *     rows through the same statement in this transaction: a batch-mate was
 *     stored (not merely skipped as a duplicate), or else a neutral probe
 *     row (kaudit's own constant values) is stored and rolled back. When
 *     even the probe is refused, the database refuses everything (an added
 *     constraint, a broken trigger) and that is trouble: nothing is
 *     dead-lettered. So a broken database can never dead-letter a batch.
 *  4. Convicted rows go to kaudit.dead_letters in the same transaction as
 *     their batch-mates, as bytes, behind an index on a digest only, so the
 *     value that failed the row cannot fail its dead letter. A redelivered
 *     row finds its digest there and adds nothing.
 *
 * The first attempt runs without savepoints: they cost round trips and
 * subtransactions, and a batch with no bad row, nearly every batch, needs
 * none. Halving finds one bad row among n in about 2 log2(n) statements. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xmalloc.h"

#define ROWS_HEADER	20

static const struct db_sql sql_dead_letter = {
	"kaudit_dead_letter",
	"INSERT INTO kaudit.dead_letters (kind, digest, audit_id, rule, topic,"
	" partition, \"offset\", sqlstate, error, item, event)"
	" VALUES ($1, sha256($2::bytea), kaudit.bytes_text($3::bytea),"
	" kaudit.bytes_text($4::bytea), kaudit.bytes_text($5::bytea), $6::integer,"
	" $7::bigint, $8, kaudit.bytes_text($9::bytea), $10::bytea, $11::bytea)"
	" ON CONFLICT (digest) DO NOTHING",
	11
};

/* Each array's elements follow room for its header, so that the rows sent
 * whole (nearly always) go as they are, without a copy of every element
 * behind a header: the events' text is most of a batch's bytes. */
static void
rows_reserve(struct db_rows *r)
{
	static const char room[ROWS_HEADER];

	for (size_t k = 0; k < r->narr; k++)
		buf_append(&r->a[k].el, room, sizeof(room));
}

void
db_rows_init(struct db_rows *r, const struct db_sql *sql, const uint32_t *oids,
    size_t narr)
{
	if (narr > DB_ROWS_MAX_ARRAYS)
		abort();	/* a statement with more arrays than DB_ROWS_MAX_ARRAYS */
	memset(r, 0, sizeof(*r));
	r->sql = sql;
	r->narr = narr;
	for (size_t k = 0; k < narr; k++) {
		buf_init(&r->a[k].el);
		r->a[k].oid = oids[k];
	}
	rows_reserve(r);
}

void
db_rows_reset(struct db_rows *r)
{
	for (size_t k = 0; k < r->narr; k++)
		buf_reset(&r->a[k].el);
	rows_reserve(r);
	r->n = 0;
}

void
db_rows_free(struct db_rows *r)
{
	for (size_t k = 0; k < r->narr; k++) {
		buf_free(&r->a[k].el);
		free(r->a[k].off);
	}
	free(r->src);
	memset(r, 0, sizeof(*r));
}

void
db_rows_add(struct db_rows *r, size_t src)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->src = xrealloc(r->src, r->cap * sizeof(*r->src));
		for (size_t k = 0; k < r->narr; k++)
			r->a[k].off = xrealloc(r->a[k].off, r->cap * sizeof(size_t));
	}
	for (size_t k = 0; k < r->narr; k++)
		r->a[k].off[r->n] = r->a[k].el.len;
	r->src[r->n++] = src;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
append_be32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	put_be32(p, v);
	buf_append(b, p, 4);
}

void
db_rows_null(struct db_rows *r, size_t k)
{
	append_be32(&r->a[k].el, UINT32_MAX);
}

void
db_rows_bytes(struct db_rows *r, size_t k, const void *p, size_t n)
{
	append_be32(&r->a[k].el, (uint32_t)n);
	buf_append(&r->a[k].el, p, n);
}

void
db_rows_text(struct db_rows *r, size_t k, const char *s, size_t n, int json)
{
	struct buf *b = &r->a[k].el;
	size_t at;

	if (s == NULL) {
		db_rows_null(r, k);
		return;
	}
	at = b->len;
	append_be32(b, 0);
	db_clean_text(b, s, n, json);
	put_be32((unsigned char *)b->data + at, (uint32_t)(b->len - at - 4));
}

void
db_rows_int(struct db_rows *r, size_t k, int64_t v)
{
	unsigned char p[8];

	if (r->a[k].oid == DB_OID_INT4) {
		put_be32(p, (uint32_t)(int32_t)v);
		db_rows_bytes(r, k, p, 4);
	} else {
		put_be32(p, (uint32_t)((uint64_t)v >> 32));
		put_be32(p + 4, (uint32_t)v);
		db_rows_bytes(r, k, p, 8);
	}
}

size_t
db_rows_size(const struct db_rows *r)
{
	size_t n = 0;

	for (size_t k = 0; k < r->narr; k++)
		n += r->a[k].el.len - ROWS_HEADER;
	return n;
}

static void
rows_header(unsigned char *h, uint32_t oid, size_t n)
{
	put_be32(h, 1);			/* dimensions */
	put_be32(h + 4, 1);		/* may hold NULLs */
	put_be32(h + 8, oid);
	put_be32(h + 12, (uint32_t)n);
	put_be32(h + 16, 1);		/* lower bound */
}

/* Array k of rows [lo, hi) with its header: in place for all the rows
 * (the header goes into the room before them), else copied into out. */
static const char *
rows_array(const struct db_rows *r, size_t k, size_t lo, size_t hi, struct buf *out,
    size_t *len)
{
	const struct db_array *a = &r->a[k];
	size_t end = hi == r->n ? a->el.len : a->off[hi];
	unsigned char h[ROWS_HEADER];

	if (lo == 0 && hi == r->n) {
		rows_header((unsigned char *)a->el.data, a->oid, hi - lo);
		*len = a->el.len;
		return a->el.data;
	}
	rows_header(h, a->oid, hi - lo);
	buf_reset(out);
	buf_append(out, h, sizeof(h));
	buf_append(out, a->el.data + a->off[lo], end - a->off[lo]);
	*len = out->len;
	return out->data;
}

int
db_rows_run(struct db *db, const struct db_rows *r, size_t lo, size_t hi,
    size_t *count, char *err, size_t errlen)
{
	struct buf arr[DB_ROWS_MAX_ARRAYS];
	const char *vals[DB_ROWS_MAX_ARRAYS];
	int lens[DB_ROWS_MAX_ARRAYS], fmts[DB_ROWS_MAX_ARRAYS];
	PGresult *res;
	size_t k;

	if (lo >= hi)
		return 0;
	for (k = 0; k < r->narr; k++) {
		size_t len;
		buf_init(&arr[k]);
		vals[k] = rows_array(r, k, lo, hi, &arr[k], &len);
		lens[k] = (int)len;
		fmts[k] = 1;
	}
	res = db_run(db, r->sql, vals, lens, fmts, err, errlen);
	for (k = 0; k < r->narr; k++)
		buf_free(&arr[k]);
	if (res == NULL)
		return -1;
	if (count != NULL)
		*count += strtoul(PQntuples(res) > 0 && PQnfields(res) > 0 ?
		    PQgetvalue(res, 0, 0) : PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int
db_error_is_data(const struct db *db)
{
	const char *s = db->sqlstate;

	if (PQstatus(db->conn) != CONNECTION_OK)
		return 0;
	if (strncmp(s, "22", 2) == 0 || strncmp(s, "54", 2) == 0)
		return 1;
	if (strncmp(s, "23", 2) == 0)
		return strcmp(s, "23514") != 0 || db->constraint;
	return 0;
}

static void
faults_add(struct db_faults *f, size_t src, const char *state, const char *msg)
{
	struct db_fault *x;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	x = &f->v[f->n++];
	x->src = src;
	snprintf(x->state, sizeof(x->state), "%s", state);
	/* Without kaudit's prefix: the message as PostgreSQL wrote it. */
	if (strncmp(msg, "postgres: ", 10) == 0)
		msg += 10;
	x->msg = xstrdup(msg);
}

void
db_faults_free(struct db_faults *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].msg);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* Runs rows [lo, hi) under a savepoint; a refused range is rolled back and
 * halved until single rows (see the DESIGN above). */
static int
isolate(struct db *db, const struct db_rows *r, size_t lo, size_t hi,
    struct db_faults *f, size_t *count, char *err, size_t errlen)
{
	char msg[1024], state[6];
	size_t mid, n = 0;

	if (db_exec(db, "SAVEPOINT kaudit_rows", err, errlen) == -1)
		return -1;
	if (db_rows_run(db, r, lo, hi, &n, msg, sizeof(msg)) == 0) {
		/* Only a row actually stored shows the table takes rows. */
		if (n > 0)
			f->wrote = 1;
		if (count != NULL)
			*count += n;
		return db_exec(db, "RELEASE SAVEPOINT kaudit_rows", err, errlen);
	}
	if (!db_error_is_data(db)) {
		snprintf(err, errlen, "%s", msg);
		return -1;
	}
	memcpy(state, db->sqlstate, sizeof(state));
	if (db_exec(db, "ROLLBACK TO SAVEPOINT kaudit_rows;"
	    " RELEASE SAVEPOINT kaudit_rows", err, errlen) == -1)
		return -1;
	if (hi - lo == 1) {
		faults_add(f, r->src[lo], state, msg);
		return 0;
	}
	mid = lo + (hi - lo) / 2;
	if (isolate(db, r, lo, mid, f, count, err, errlen) == -1)
		return -1;
	return isolate(db, r, mid, hi, f, count, err, errlen);
}

int
db_rows_isolate(struct db *db, const struct db_rows *r, struct db_faults *f,
    size_t *count, char *err, size_t errlen)
{
	return isolate(db, r, 0, r->n, f, count, err, errlen);
}

int
db_rows_probe(struct db *db, const struct db_rows *probe, char *err, size_t errlen)
{
	char msg[1024];
	int rc;

	if (db_exec(db, "SAVEPOINT kaudit_probe", err, errlen) == -1)
		return -1;
	rc = db_rows_run(db, probe, 0, probe->n, NULL, msg, sizeof(msg));
	if (rc == -1)
		snprintf(err, errlen, "%s (and a neutral row is refused too: the "
		    "database refuses every row)", msg);
	if (db_exec(db, "ROLLBACK TO SAVEPOINT kaudit_probe;"
	    " RELEASE SAVEPOINT kaudit_probe", rc ? NULL : err, rc ? 0 : errlen) == -1)
		rc = -1;
	return rc;
}

static const char *
dead_log_kind(const char *state)
{
	if (strncmp(state, "22", 2) == 0)
		return "db.dead_letter.data";
	if (strncmp(state, "23", 2) == 0)
		return "db.dead_letter.constraint";
	return "db.dead_letter.limit";
}

int
db_dead_letter(struct db *db, const struct db_dead *d, const struct db_fault *x,
    size_t *stored, char *err, size_t errlen)
{
	char part[16], off[24];
	const char *vals[11];
	int lens[11] = { 0 }, fmts[11] = { 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1 };
	PGresult *res;

	snprintf(part, sizeof(part), "%d", (int)d->partition);
	snprintf(off, sizeof(off), "%lld", (long long)d->offset);
	vals[0] = d->kind;
	vals[1] = d->id.data ? d->id.data : "";
	lens[1] = (int)d->id.len;
	vals[2] = d->audit_id;
	lens[2] = (int)d->audit_id_len;
	vals[3] = d->rule;
	lens[3] = (int)d->rule_len;
	vals[4] = d->topic;
	lens[4] = d->topic ? (int)strlen(d->topic) : 0;
	vals[5] = d->topic ? part : NULL;
	vals[6] = d->topic ? off : NULL;
	vals[7] = x->state;
	vals[8] = x->msg;
	lens[8] = (int)strlen(x->msg);
	vals[9] = d->item ? d->item : "";
	lens[9] = (int)d->item_len;
	vals[10] = d->event;
	lens[10] = (int)d->event_len;
	if ((res = db_run(db, &sql_dead_letter, vals, lens, fmts, err, errlen)) == NULL)
		return -1;
	if (strcmp(PQcmdTuples(res), "1") == 0) {
		(*stored)++;
		log_once(dead_log_kind(x->state), "postgres: a row (%s) PostgreSQL refused on "
		    "its own went to kaudit.dead_letters (%s[%d]@%lld): %s (further "
		    "cases are counted)", d->kind, d->topic ? d->topic : "?",
		    (int)d->partition, (long long)d->offset, x->msg);
	}
	PQclear(res);
	return 0;
}
