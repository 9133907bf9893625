/* state.c — the state owners' store (see db.h): load a partition's state
 * when the group assigns it, and write what a batch changed in the batch's
 * transaction. Keys are indexed by their SHA-256 (a key holds event values
 * of any length), state is jsonb cleaned of what jsonb refuses. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct db_sql sql_part_load = {
	"kaudit_state_part_load",
	"SELECT next_offset, meta::text FROM kaudit.state_partitions"
	" WHERE topic = $1 AND partition = $2::integer",
	2
};
static const struct db_sql sql_keys_load = {
	"kaudit_state_keys_load",
	"SELECT key, state::text FROM kaudit.state_keys"
	" WHERE topic = $1 AND partition = $2::integer",
	2
};
static const struct db_sql sql_parts_write = {
	"kaudit_state_parts_write",
	"INSERT INTO kaudit.state_partitions (topic, partition, next_offset, meta)"
	" SELECT t, p, o, m::jsonb FROM unnest($1::text[], $2::integer[], $3::bigint[],"
	"  $4::text[]) AS u(t, p, o, m)"
	" ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,"
	"  meta = EXCLUDED.meta, updated_at = now()",
	4
};
static const uint32_t parts_oids[] = { DB_OID_TEXT, DB_OID_INT4, DB_OID_INT8, DB_OID_TEXT };
static const struct db_sql sql_keys_write = {
	"kaudit_state_keys_write",
	"INSERT INTO kaudit.state_keys (topic, partition, key_digest, key, state)"
	" SELECT t, p, sha256(convert_to(k, 'UTF8')), k, s::jsonb"
	" FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[]) AS u(t, p, k, s)"
	" ON CONFLICT (topic, partition, key_digest) DO UPDATE SET state = EXCLUDED.state,"
	"  updated_at = now()",
	4
};
static const struct db_sql sql_keys_delete = {
	"kaudit_state_keys_delete",
	"DELETE FROM kaudit.state_keys s"
	" USING unnest($1::text[], $2::integer[], $3::text[]) AS u(t, p, k)"
	" WHERE s.topic = u.t AND s.partition = u.p"
	" AND s.key_digest = sha256(convert_to(u.k, 'UTF8'))",
	3
};
static const uint32_t keys_oids[] = { DB_OID_TEXT, DB_OID_INT4, DB_OID_TEXT, DB_OID_TEXT };
/* Later matches counted on a finding: repeats and last_repeat, or a
 * correlation's count, and the message. */
static const struct db_sql sql_updates = {
	"kaudit_state_updates",
	"UPDATE kaudit.findings f SET"
	" repeats = CASE WHEN jsonb_typeof(u.s->'repeats') = 'number'"
	"  AND u.s->>'repeats' ~ '^[0-9]{1,9}$' THEN (u.s->>'repeats')::integer ELSE f.repeats END,"
	" last_repeat = CASE WHEN u.s ? 'last_repeat' THEN kaudit.time_or_null(u.s->>'last_repeat')"
	"  ELSE f.last_repeat END,"
	" correlation = coalesce(u.s->'correlation', f.correlation),"
	" message = coalesce(u.s->>'message', f.message),"
	" severity = CASE WHEN u.s->>'severity' IN ('info', 'low', 'medium', 'high', 'critical')"
	"  THEN u.s->>'severity' ELSE f.severity END,"
	" severity_rank = CASE WHEN u.s->>'severity' IN ('info', 'low', 'medium', 'high', 'critical')"
	"  THEN CASE u.s->>'severity' WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3"
	"  WHEN 'critical' THEN 4 ELSE 0 END ELSE f.severity_rank END,"
	" attributed_user = coalesce(u.s->>'attributed_user', f.attributed_user),"
	" finding = f.finding || u.s"
	" FROM (SELECT r, d, s::jsonb AS s FROM unnest($1::text[], $2::text[], $3::text[])"
	"  WITH ORDINALITY AS x(r, d, s, o) ORDER BY o) u"
	" WHERE f.dedup IS NOT NULL AND kaudit.text_digest(f.rule) = kaudit.text_digest(u.r)"
	" AND kaudit.text_digest(f.dedup) = kaudit.text_digest(u.d)",
	3
};
static const uint32_t updates_oids[] = { DB_OID_TEXT, DB_OID_TEXT, DB_OID_TEXT };

static const struct db_sql sql_offsets = {
	"kaudit_state_offsets",
	"SELECT partition, next_offset FROM kaudit.state_partitions WHERE topic = $1",
	1
};

int
db_state_offsets(struct db *db, const char *topic, int64_t *next, int n, char *err,
    size_t errlen)
{
	const char *vals[1] = { topic };
	PGresult *res;

	for (int p = 0; p < n; p++)
		next[p] = 0;
	if ((res = db_run(db, &sql_offsets, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		long p = strtol(PQgetvalue(res, i, 0), NULL, 10);
		if (p >= 0 && p < n)
			next[p] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	PQclear(res);
	return 0;
}

int
db_state_load(struct db *db, const char *topic, int32_t partition, int64_t *next_offset,
    struct buf *meta, db_state_key_fn fn, void *arg, char *err, size_t errlen)
{
	char p[16];
	const char *vals[2] = { topic, p };
	PGresult *res;

	snprintf(p, sizeof(p), "%d", (int)partition);
	*next_offset = -1;
	buf_reset(meta);
	buf_puts(meta, "{}");
	if ((res = db_run(db, &sql_part_load, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		*next_offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		buf_reset(meta);
		buf_puts(meta, PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if ((res = db_run(db, &sql_keys_load, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		fn(arg, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0),
		    PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
	PQclear(res);
	return 0;
}

int
db_state_write(struct db *db, void *arg, char *err, size_t errlen)
{
	const struct db_state_write *w = arg;
	struct db_rows parts, keys, gone, upd;

	size_t count;
	int rc = 0;

	db_rows_init(&parts, &sql_parts_write, parts_oids, 4);
	db_rows_init(&keys, &sql_keys_write, keys_oids, 4);
	db_rows_init(&gone, &sql_keys_delete, keys_oids, 3);
	db_rows_init(&upd, &sql_updates, updates_oids, 3);
	for (size_t i = 0; i < w->nparts; i++) {
		db_rows_add(&parts, i);
		db_rows_text(&parts, 0, w->topic, strlen(w->topic), 0);
		db_rows_int(&parts, 1, w->parts[i].partition);
		db_rows_int(&parts, 2, w->parts[i].next_offset);
		db_rows_text(&parts, 3, w->parts[i].meta, w->parts[i].metalen, 1);
	}
	for (size_t i = 0; i < w->nkeys; i++) {
		struct db_rows *r = w->keys[i].state ? &keys : &gone;
		db_rows_add(r, i);
		db_rows_text(r, 0, w->topic, strlen(w->topic), 0);
		db_rows_int(r, 1, w->keys[i].partition);
		db_rows_text(r, 2, w->keys[i].key, w->keys[i].klen, 0);
		if (w->keys[i].state)
			db_rows_text(r, 3, w->keys[i].state, w->keys[i].slen, 1);
	}
	for (size_t i = 0; i < w->nupdates; i++) {
		db_rows_add(&upd, i);
		db_rows_text(&upd, 0, w->updates[i].rule, strlen(w->updates[i].rule), 0);
		db_rows_text(&upd, 1, w->updates[i].dedup, strlen(w->updates[i].dedup), 0);
		db_rows_text(&upd, 2, w->updates[i].set, w->updates[i].setlen, 1);
	}
	/* deleted keys first: a key deleted and made again in one batch is
	 * written after its deletion */
	if (gone.n)
		rc = db_rows_run(db, &gone, 0, gone.n, &count, err, errlen);
	if (rc == 0 && keys.n)
		rc = db_rows_run(db, &keys, 0, keys.n, &count, err, errlen);
	if (rc == 0 && parts.n)
		rc = db_rows_run(db, &parts, 0, parts.n, &count, err, errlen);
	if (rc == 0 && upd.n)
		rc = db_rows_run(db, &upd, 0, upd.n, &count, err, errlen);
	db_rows_free(&parts);
	db_rows_free(&keys);
	db_rows_free(&gone);
	db_rows_free(&upd);
	return rc;
}
