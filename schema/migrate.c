/* migrate.c — applies the SQL migrations compiled into the binary and tells
 * whether a database is at the version this binary expects (see db.h).
 *
 * A migration's version is the number its file name starts with
 * (0001_init.sql is version 1). kaudit.schema_migrations records the applied
 * ones. Each migration runs in its own transaction under a transaction-level
 * advisory lock, so two processes migrating at once apply each file once: the
 * second waits for the lock, then sees the version recorded and skips it. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/embed.h"
#include "base/log.h"
#include "migrations.inc"
#include "releases.inc"

/* Any constant works; this one spells "kaudit" in ASCII. */
#define MIGRATE_LOCK_KEY	"118066325514612"

static const char bootstrap_sql[] =
	"CREATE SCHEMA IF NOT EXISTS kaudit;"
	"CREATE TABLE IF NOT EXISTS kaudit.schema_migrations ("
	" version integer PRIMARY KEY,"
	" name text NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT now());"
	"COMMENT ON TABLE kaudit.schema_migrations IS"
	" 'Migrations applied by `kaudit migrate`, one row each';"
	"COMMENT ON COLUMN kaudit.schema_migrations.version IS"
	" 'The number the migration file name starts with';"
	"COMMENT ON COLUMN kaudit.schema_migrations.name IS"
	" 'File name of the migration in schema/migrations';"
	"COMMENT ON COLUMN kaudit.schema_migrations.applied_at IS"
	" 'When it was applied'";

static const struct db_sql sql_lock = {
	"kaudit_migrate_lock", "SELECT pg_advisory_xact_lock($1::bigint)", 1
};
static const struct db_sql sql_applied = {
	"kaudit_migrate_applied",
	"SELECT 1 FROM kaudit.schema_migrations WHERE version = $1::integer", 1
};
static const struct db_sql sql_record = {
	"kaudit_migrate_record",
	"INSERT INTO kaudit.schema_migrations (version, name) VALUES ($1::integer, $2)", 2
};
static const struct db_sql sql_has_table = {
	"kaudit_migrate_has_table",
	"SELECT to_regclass('kaudit.schema_migrations') IS NOT NULL", 0
};
static const struct db_sql sql_version = {
	"kaudit_migrate_version",
	"SELECT coalesce(max(version), 0) FROM kaudit.schema_migrations", 0
};

static const struct db_sql sql_has_releases = {
	"kaudit_migrate_has_releases",
	"SELECT to_regclass('kaudit.k8s_releases') IS NOT NULL", 0
};
/* Dates that are not dates (a hand-edited table) are stored as NULL rather
 * than failing the migration. */
static const struct db_sql sql_releases = {
	"kaudit_migrate_releases",
	"WITH r AS (SELECT x->>'minor' AS minor, x FROM"
	"  jsonb_array_elements($1::jsonb->'releases') x"
	"  WHERE x->>'minor' ~ '^[0-9]+\\.[0-9]+$')"
	" INSERT INTO kaudit.k8s_releases AS k (minor, released,"
	"  maintenance_mode_start, end_of_life, latest_patch, latest_patch_date)"
	" SELECT minor,"
	"  CASE WHEN x->>'released' ~ '^\\d{4}-\\d\\d-\\d\\d$' THEN (x->>'released')::date END,"
	"  CASE WHEN x->>'maintenance_mode_start' ~ '^\\d{4}-\\d\\d-\\d\\d$'"
	"   THEN (x->>'maintenance_mode_start')::date END,"
	"  CASE WHEN x->>'end_of_life' ~ '^\\d{4}-\\d\\d-\\d\\d$' THEN (x->>'end_of_life')::date END,"
	"  x->>'latest_patch',"
	"  CASE WHEN x->>'latest_patch_date' ~ '^\\d{4}-\\d\\d-\\d\\d$' THEN (x->>'latest_patch_date')::date END"
	" FROM r"
	" ON CONFLICT (minor) DO UPDATE SET released = EXCLUDED.released,"
	"  maintenance_mode_start = EXCLUDED.maintenance_mode_start,"
	"  end_of_life = EXCLUDED.end_of_life, latest_patch = EXCLUDED.latest_patch,"
	"  latest_patch_date = EXCLUDED.latest_patch_date, updated_at = now()"
	" WHERE (k.released, k.maintenance_mode_start, k.end_of_life, k.latest_patch,"
	"  k.latest_patch_date) IS DISTINCT FROM (EXCLUDED.released,"
	"  EXCLUDED.maintenance_mode_start, EXCLUDED.end_of_life, EXCLUDED.latest_patch,"
	"  EXCLUDED.latest_patch_date)", 1
};

/* The number a migration file name starts with, or -1. */
static int
migrate_version(const char *name)
{
	long v;

	if (!isdigit((unsigned char)name[0]))
		return -1;
	v = strtol(name, NULL, 10);
	return v > 0 && v < 1000000 ? (int)v : -1;
}

static int
migrate_latest(void)
{
	int v, max = 0;

	for (size_t i = 0; i < embedded_migrations_count; i++) {
		v = migrate_version(embedded_migrations[i].name);
		if (v > max)
			max = v;
	}
	return max;
}

static int
migrate_lock(struct db *db, char *err, size_t errlen)
{
	const char *vals[] = { MIGRATE_LOCK_KEY };
	PGresult *res;

	if ((res = db_run(db, &sql_lock, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
migrate_bootstrap(struct db *db, char *err, size_t errlen)
{
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (migrate_lock(db, err, errlen) == -1 ||
	    db_exec(db, bootstrap_sql, err, errlen) == -1 ||
	    db_commit(db, err, errlen) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

/* Applies one migration unless recorded; *applied says whether it ran. */
static int
migrate_one(struct db *db, const struct embedded_file *m, int version,
    int *applied, char *err, size_t errlen)
{
	char vbuf[16], msg[256];
	const char *vals[2] = { vbuf, m->name };
	PGresult *res = NULL;

	*applied = 0;
	snprintf(vbuf, sizeof(vbuf), "%d", version);
	if (db_begin(db, err, errlen) == -1)
		return -1;
	if (migrate_lock(db, err, errlen) == -1 ||
	    (res = db_run(db, &sql_applied, vals, NULL, NULL, err, errlen)) == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		if (db_exec(db, m->text, msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "migration %s: %s", m->name, msg);
			goto fail;
		}
		PQclear(res);
		if ((res = db_run(db, &sql_record, vals, NULL, NULL, err, errlen)) == NULL)
			goto fail;
		*applied = 1;
	}
	PQclear(res);
	return db_commit(db, err, errlen);
fail:
	PQclear(res);
	db_rollback(db);
	*applied = 0;
	return -1;
}

/* The release table the fleet views compare versions with: the copy of
 * config/k8s-releases.json in this binary, so that a kaudit built with a
 * newer table refreshes it with its next `kaudit migrate`. */
static int
migrate_releases(struct db *db, char *err, size_t errlen)
{
	const char *vals[1] = { embedded_releases[0].text };
	PGresult *res;
	int have;

	if ((res = db_run(db, &sql_has_releases, NULL, NULL, NULL, err, errlen)) == NULL)
		return -1;
	have = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!have)
		return 0;
	if ((res = db_run(db, &sql_releases, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	if (atoi(PQcmdTuples(res)) > 0)
		log_info("postgres: release table: %s minor releases updated",
		    PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* A database migrated by a newer kaudit has a schema this binary does not
 * know: applying older files to it, or running on it, could undo or break
 * what the newer one relies on. */
static int
migrate_newer(struct db *db, char *err, size_t errlen)
{
	PGresult *res;
	int have, want = migrate_latest();

	if ((res = db_run(db, &sql_version, NULL, NULL, NULL, err, errlen)) == NULL)
		return -1;
	have = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (have > want) {
		snprintf(err, errlen, "database schema is at version %d, newer than this "
		    "kaudit (%d): refusing to migrate; upgrade kaudit", have, want);
		return -1;
	}
	return 0;
}

int
db_migrate(struct db *db, char *err, size_t errlen)
{
	const struct embedded_file *m;
	int version, applied;

	if (migrate_bootstrap(db, err, errlen) == -1 || migrate_newer(db, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < embedded_migrations_count; i++) {
		m = &embedded_migrations[i];
		if ((version = migrate_version(m->name)) == -1) {
			snprintf(err, errlen, "migration %s: the file name must "
			    "start with its version number", m->name);
			return -1;
		}
		if (migrate_one(db, m, version, &applied, err, errlen) == -1)
			return -1;
		if (applied)
			log_info("postgres: applied migration %s", m->name);
	}
	if (migrate_releases(db, err, errlen) == -1)
		return -1;
	/* the months of now and the next ones, before the daemon writes */
	return db_partitions_ahead(db, 2, err, errlen);
}

/* Every embedded migration is recorded, not only the newest: a database
 * that got a later migration before an earlier one (two builds applied
 * apart) is not the schema this binary was written for. */
static int
migrate_check_each(struct db *db, char *err, size_t errlen)
{
	char vbuf[16];
	const char *vals[2] = { vbuf, NULL };
	PGresult *res;
	int v, missing;

	for (size_t i = 0; i < embedded_migrations_count; i++) {
		if ((v = migrate_version(embedded_migrations[i].name)) < 0)
			continue;
		snprintf(vbuf, sizeof(vbuf), "%d", v);
		if ((res = db_run(db, &sql_applied, vals, NULL, NULL, err, errlen)) == NULL)
			return -1;
		missing = PQntuples(res) == 0;
		PQclear(res);
		if (missing) {
			snprintf(err, errlen, "database schema lacks migration %s: run "
			    "`kaudit migrate -c FILE`", embedded_migrations[i].name);
			return -1;
		}
	}
	return 0;
}

int
db_check_schema(struct db *db, char *err, size_t errlen)
{
	PGresult *res;
	int have = 0, want = migrate_latest();

	if ((res = db_run(db, &sql_has_table, NULL, NULL, NULL, err, errlen)) == NULL)
		return -1;
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		PQclear(res);
		if ((res = db_run(db, &sql_version, NULL, NULL, NULL, err, errlen)) == NULL)
			return -1;
		have = atoi(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	if (have < want) {
		snprintf(err, errlen, "database schema is at version %d, kaudit "
		    "needs %d: run `kaudit migrate -c FILE`", have, want);
		return -1;
	}
	if (have > want) {
		snprintf(err, errlen, "database schema is at version %d, newer "
		    "than this kaudit (%d): upgrade kaudit", have, want);
		return -1;
	}
	return migrate_check_each(db, err, errlen);
}
