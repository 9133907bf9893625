-- 0011_roles.sql — least privilege: kaudit_writer, what the daemon (and
-- `kaudit alerts`, `kaudit retention`) need and nothing more, and
-- kaudit_reader, for analysts and dashboards: SELECT on findings, the
-- event archive and the views. Neither may drop, alter or truncate a table.
--
-- Roles belong to the cluster, not the database: they are made only when
-- missing, so a second database (or a second kaudit) on the same server
-- shares them. They cannot log in; grant them to login roles
-- (docs/storage.md):
--   CREATE ROLE kaudit_daemon LOGIN PASSWORD '...' IN ROLE kaudit_writer;
--   CREATE ROLE grafana LOGIN PASSWORD '...' IN ROLE kaudit_reader;
-- `kaudit migrate` runs as the owner of schema kaudit. Month partitions are
-- made and dropped through kaudit.partitions_ensure, kaudit.partition_drop
-- and kaudit.retention_candidates, which run with the owner's rights
-- (SECURITY DEFINER, fixed search_path): the writer needs no DDL right.
--
-- Later migrations grant what their own objects need; the reader gets
-- SELECT on every table and view created after this by the owner
-- (ALTER DEFAULT PRIVILEGES), the writer nothing by default.

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['kaudit_writer', 'kaudit_reader'] LOOP
		CONTINUE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r);
		BEGIN
			EXECUTE format('CREATE ROLE %I NOLOGIN', r);
		EXCEPTION WHEN duplicate_object OR unique_violation THEN
			NULL;	-- made meanwhile by another database's migration
		END;
	END LOOP;
END
$$;

GRANT USAGE ON SCHEMA kaudit TO kaudit_writer, kaudit_reader;

-- The writer: exactly what kaudit's statements do (tests/unit/test_roles.c
-- lists it and runs the daemon's writes as the role).
GRANT SELECT ON kaudit.schema_migrations TO kaudit_writer;
GRANT SELECT, INSERT, UPDATE ON kaudit.findings TO kaudit_writer;
GRANT SELECT, INSERT ON kaudit.finding_keys TO kaudit_writer;
GRANT SELECT, INSERT ON kaudit.events TO kaudit_writer;
GRANT SELECT, INSERT, UPDATE ON kaudit.outbox TO kaudit_writer;
GRANT INSERT ON kaudit.delivery_attempts TO kaudit_writer;
GRANT SELECT, INSERT, UPDATE ON kaudit.webhooks TO kaudit_writer;
GRANT SELECT, INSERT, UPDATE ON kaudit.alert_groups TO kaudit_writer;
GRANT SELECT, INSERT, UPDATE ON kaudit.alert_group_members TO kaudit_writer;
-- (SELECT: INSERT ... ON CONFLICT (columns) reads the conflict target)
GRANT SELECT, INSERT ON kaudit.ingest_errors TO kaudit_writer;
GRANT SELECT, INSERT ON kaudit.dead_letters TO kaudit_writer;
GRANT SELECT, INSERT, UPDATE ON kaudit.state_partitions TO kaudit_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON kaudit.state_keys TO kaudit_writer;
GRANT SELECT ON kaudit.alert_destinations TO kaudit_writer;	-- kaudit alerts list
GRANT USAGE ON ALL SEQUENCES IN SCHEMA kaudit TO kaudit_writer;

-- Partition upkeep and retention: only through the owner's functions.
REVOKE ALL ON FUNCTION kaudit.partitions_ensure(timestamptz[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION kaudit.partition_drop(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION kaudit.retention_candidates(text, interval, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kaudit.partitions_ensure(timestamptz[]) TO kaudit_writer;
GRANT EXECUTE ON FUNCTION kaudit.partition_drop(text) TO kaudit_writer;
GRANT EXECUTE ON FUNCTION kaudit.retention_candidates(text, interval, timestamptz) TO kaudit_writer;

-- Tables of the finding lifecycle (0009), when present: the daemon records
-- a suppressed finding's status and reads the suppressions.
DO $$
BEGIN
	IF to_regclass('kaudit.finding_history') IS NOT NULL THEN
		GRANT SELECT, INSERT ON kaudit.finding_history TO kaudit_writer;
		GRANT SELECT ON kaudit.finding_history TO kaudit_reader;
	END IF;
	IF to_regclass('kaudit.suppressions') IS NOT NULL THEN
		GRANT SELECT ON kaudit.suppressions TO kaudit_writer, kaudit_reader;
	END IF;
END
$$;

-- The reader: findings, the archive, every view (those of 0001..0010 and
-- the ones to come).
GRANT SELECT ON kaudit.findings, kaudit.events TO kaudit_reader;
DO $$
DECLARE
	v record;
BEGIN
	FOR v IN SELECT c.relname FROM pg_class c
	    JOIN pg_namespace n ON n.oid = c.relnamespace
	    WHERE n.nspname = 'kaudit' AND c.relkind IN ('v', 'm') LOOP
		EXECUTE format('GRANT SELECT ON kaudit.%I TO kaudit_reader', v.relname);
	END LOOP;
END
$$;
ALTER DEFAULT PRIVILEGES IN SCHEMA kaudit GRANT SELECT ON TABLES TO kaudit_reader;
