-- 0007_partitions.sql — kaudit.findings partitioned by month, so that
-- retention drops whole months (a DROP TABLE, no vacuum debt) and a query
-- over a time range reads only its months; the identity of a finding moved
-- to kaudit.finding_keys; indexes for the forensic questions. Existing rows
-- are copied into the new table: nothing is lost.
--
-- The partition key is partition_time: the request's
-- requestReceivedTimestamp, which every stage of one request shares, else
-- the event's stageTimestamp, else when kaudit stored the finding (a NULL
-- time needs a home). kaudit (schema/db.c) also stores a finding whose time
-- lies more than 10 years back or more than a day ahead under the time it
-- stored it, so that a hostile time cannot create a partition nobody's
-- retention ever reaches, nor thousands of them.
--
-- PostgreSQL wants every unique index of a partitioned table to contain the
-- partition key; the identity of a finding does not (a stateful finding's
-- time may differ from one derivation to the next, a finding without a time
-- is placed by the clock). kaudit.finding_keys, an ordinary table, holds it:
-- a finding is inserted only when its key was, in the same statement, so the
-- guarantee is a unique index as before and holds across stages,
-- redeliveries and concurrent writers.
--
-- Outbox rows and alert group memberships name their finding by id without a
-- foreign key (a partitioned table's id is unique only with its partition
-- key); kaudit.partition_drop() deletes the rows of a month's findings in
-- those tables before it drops the month, in one transaction.

-- Views over findings are dropped and made again below, unchanged.
DROP VIEW kaudit.findings_summary;
DROP VIEW kaudit.alert_failures;

ALTER TABLE kaudit.outbox DROP CONSTRAINT outbox_finding_id_fkey;
ALTER TABLE kaudit.alert_group_members DROP CONSTRAINT alert_group_members_finding_id_fkey;

ALTER TABLE kaudit.findings RENAME TO findings_v6;
-- Their names go to the new table's; the copy needs none of them.
ALTER TABLE kaudit.findings_v6 RENAME CONSTRAINT findings_pkey TO findings_v6_pkey;
DROP INDEX kaudit.findings_time_idx, kaudit.findings_username_time_idx,
	kaudit.findings_rule_time_idx, kaudit.findings_namespace_time_idx,
	kaudit.findings_severity_rank_idx, kaudit.findings_source_ip_idx,
	kaudit.findings_identity_key, kaudit.findings_stateful_key,
	kaudit.findings_attributed_user_idx;
ALTER SEQUENCE kaudit.findings_id_seq OWNED BY NONE;

CREATE TABLE kaudit.findings (
	id			bigint NOT NULL DEFAULT nextval('kaudit.findings_id_seq'),
	audit_id		text NOT NULL,
	rule			text NOT NULL,
	title			text,
	severity		text NOT NULL
		CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
	severity_rank		smallint NOT NULL,
	category		text,
	tags			text[],
	stage			text,
	"time"			timestamptz,
	cluster			text,
	username		text,
	groups			text[],
	impersonated_user	text,
	source_ip		inet,
	source_ip_text		text,
	user_agent		text,
	verb			text,
	resource		text,
	subresource		text,
	namespace		text,
	name			text,
	code			integer,
	message			text,
	evidence		jsonb,
	event			jsonb,
	finding			jsonb NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	dedup			text,
	repeats			integer NOT NULL DEFAULT 0,
	last_repeat		timestamptz,
	correlation		jsonb,
	attributed_user		text,
	partition_time		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (id, partition_time)
) PARTITION BY RANGE (partition_time);
ALTER SEQUENCE kaudit.findings_id_seq OWNED BY kaudit.findings.id;

DO $$
BEGIN
	ALTER TABLE kaudit.findings ALTER COLUMN event SET COMPRESSION lz4,
	    ALTER COLUMN finding SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	RAISE NOTICE 'lz4 compression not available; using pglz';
END
$$;

-- The comments of the old table, carried over column by column.
DO $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT a.attname, d.description FROM pg_attribute a
	    JOIN pg_description d ON d.objoid = a.attrelid AND d.objsubid = a.attnum
	    WHERE a.attrelid = 'kaudit.findings_v6'::regclass LOOP
		EXECUTE format('COMMENT ON COLUMN kaudit.findings.%I IS %L', c.attname,
		    c.description);
	END LOOP;
END
$$;
COMMENT ON TABLE kaudit.findings IS
	'One row per (audit_id, rule), or per (rule, dedup) for a stateful rule (kaudit.finding_keys holds the identity): a detection rule matched a Kubernetes audit event. Partitioned by month on partition_time (kaudit.findings_YYYY_MM); retention drops whole months. A redelivered event inserts nothing';
COMMENT ON COLUMN kaudit.findings.id IS
	'Row id (unique; the primary key also holds partition_time, as PostgreSQL requires); kaudit.outbox.finding_id and kaudit.alert_group_members.finding_id refer to it';
COMMENT ON COLUMN kaudit.findings.partition_time IS
	'The month the row lives in: requestReceivedTimestamp of the event (shared by every stage of a request), else its stageTimestamp, else when kaudit stored it; also when kaudit stored it for a time more than 10 years back or more than a day ahead. Add it to a query''s conditions (with time) to read only the months concerned';

-- Forensic paths: who, which object, which rule, category and severity,
-- when, from where, with which tags. Text an event supplies is indexed on
-- its first 256 characters (see 0002): compare left(col, 256) too.
CREATE INDEX findings_time_idx ON kaudit.findings ("time");
CREATE INDEX findings_username_time_idx ON kaudit.findings (left(username, 256), "time");
CREATE INDEX findings_rule_time_idx ON kaudit.findings (left(rule, 256), "time");
CREATE INDEX findings_namespace_time_idx ON kaudit.findings (left(namespace, 256), "time");
CREATE INDEX findings_object_idx ON kaudit.findings
	(left(namespace, 256), left(name, 256), left(resource, 256), "time");
CREATE INDEX findings_category_time_idx ON kaudit.findings (category, "time");
CREATE INDEX findings_severity_rank_idx ON kaudit.findings (severity_rank, "time");
CREATE INDEX findings_source_ip_idx ON kaudit.findings (source_ip, "time");
CREATE INDEX findings_tags_idx ON kaudit.findings USING gin (tags);
CREATE INDEX findings_attributed_user_idx ON kaudit.findings
	(left(attributed_user, 256), "time") WHERE attributed_user IS NOT NULL;
-- Lookups by audit ID (WHERE kaudit.text_digest(audit_id) = kaudit.text_digest('...'))
-- and the state owners' updates of a stateful finding by (rule, dedup).
CREATE INDEX findings_audit_id_idx ON kaudit.findings (kaudit.text_digest(audit_id));
CREATE INDEX findings_stateful_idx ON kaudit.findings
	(kaudit.text_digest(rule), kaudit.text_digest(dedup)) WHERE dedup IS NOT NULL;

-- The identity of every finding.
CREATE TABLE kaudit.finding_keys (
	key		bytea PRIMARY KEY,
	finding_id	bigint NOT NULL,
	partition_time	timestamptz NOT NULL
);
COMMENT ON TABLE kaudit.finding_keys IS
	'The identity of each finding, unique: the batch write inserts a finding only when it inserted its key in the same statement. Rows go with their month (kaudit.partition_drop)';
COMMENT ON COLUMN kaudit.finding_keys.key IS
	'\x00 || sha256(audit_id) || sha256(rule) for a finding of one event; \x01 || sha256(rule) || sha256(dedup) for a stateful finding (kaudit.finding_key())';
COMMENT ON COLUMN kaudit.finding_keys.finding_id IS 'kaudit.findings.id of the finding';
COMMENT ON COLUMN kaudit.finding_keys.partition_time IS 'kaudit.findings.partition_time of the finding';
CREATE INDEX finding_keys_partition_time_idx ON kaudit.finding_keys (partition_time);

CREATE FUNCTION kaudit.finding_key(audit_id text, rule text, dedup text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN dedup IS NULL
	    THEN '\x00'::bytea || sha256(convert_to(audit_id, 'UTF8')) || sha256(convert_to(rule, 'UTF8'))
	    ELSE '\x01'::bytea || sha256(convert_to(rule, 'UTF8')) || sha256(convert_to(dedup, 'UTF8'))
	    END
$$;
COMMENT ON FUNCTION kaudit.finding_key(text, text, text) IS
	'The key of a finding in kaudit.finding_keys';

-- Deleting findings by hand (DELETE, TRUNCATE) takes what refers to them
-- with them, as the foreign keys' ON DELETE CASCADE did: their outbox rows
-- (and so their delivery attempts), group memberships and keys.
CREATE FUNCTION kaudit.findings_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		DELETE FROM kaudit.outbox WHERE finding_id IS NOT NULL;
		DELETE FROM kaudit.alert_group_members;
		DELETE FROM kaudit.finding_keys;
		RETURN NULL;
	END IF;
	DELETE FROM kaudit.outbox o USING gone g WHERE o.finding_id = g.id;
	DELETE FROM kaudit.alert_group_members m USING gone g WHERE m.finding_id = g.id;
	DELETE FROM kaudit.finding_keys k USING gone g
	    WHERE k.key = kaudit.finding_key(g.audit_id, g.rule, g.dedup)
	    AND k.finding_id = g.id;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kaudit.findings_deleted() IS
	'After a DELETE or TRUNCATE of findings: deletes their outbox rows, group memberships and keys';
CREATE TRIGGER findings_deleted AFTER DELETE ON kaudit.findings
	REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
	EXECUTE FUNCTION kaudit.findings_deleted();
CREATE TRIGGER findings_truncated AFTER TRUNCATE ON kaudit.findings
	FOR EACH STATEMENT EXECUTE FUNCTION kaudit.findings_deleted();

-- Partitions. One function makes the months a batch needs for every
-- partitioned table of schema kaudit (the batch write calls it before its
-- rows; the daemon and `kaudit migrate` for the months ahead); another drops
-- one. Both run with the owner's rights, so the daemon's role needs no DDL.
CREATE FUNCTION kaudit.partition_name(tbl text, t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT tbl || '_' || to_char(t AT TIME ZONE 'UTC', 'YYYY_MM')
$$;
COMMENT ON FUNCTION kaudit.partition_name(text, timestamptz) IS
	'Name of the month partition of table tbl holding time t: findings_2026_12';

CREATE FUNCTION kaudit.partitions_ensure(months timestamptz[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tbl text;
	lo timestamptz;
	part text;
	made integer := 0;
BEGIN
	-- Findings before events: the order a batch writes them in. Making a
	-- month locks its parent table exclusively; taken the other way round,
	-- a batch holding findings and waiting for events deadlocks with it.
	FOR tbl IN SELECT c.relname FROM pg_catalog.pg_partitioned_table p
	    JOIN pg_catalog.pg_class c ON c.oid = p.partrelid
	    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	    WHERE n.nspname = 'kaudit' ORDER BY c.relname <> 'findings', 1 LOOP
		FOR lo IN SELECT DISTINCT date_trunc('month', m AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		    FROM unnest(months) AS u(m) WHERE m IS NOT NULL ORDER BY 1 LOOP
			part := kaudit.partition_name(tbl, lo);
			CONTINUE WHEN to_regclass(format('kaudit.%I', part)) IS NOT NULL;
			-- Two writers needing the same month: one creates it,
			-- the other finds it made.
			PERFORM pg_advisory_xact_lock(hashtext('kaudit.partition'), hashtext(part));
			BEGIN
				EXECUTE format('CREATE TABLE kaudit.%I PARTITION OF kaudit.%I'
				    ' FOR VALUES FROM (%L) TO (%L)', part, tbl, lo,
				    lo + interval '1 month');
				made := made + 1;
			EXCEPTION WHEN duplicate_table OR unique_violation THEN
				NULL;
			END;
		END LOOP;
	END LOOP;
	RETURN made;
END
$$;
COMMENT ON FUNCTION kaudit.partitions_ensure(timestamptz[]) IS
	'Creates the month partitions (UTC months) of the given times for every partitioned table of schema kaudit; returns how many it created';

-- The month partitions of kaudit's partitioned tables, with their bounds.
CREATE VIEW kaudit.partitions AS
	SELECT parent.relname AS table_name, c.relname AS partition_name,
	    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS from_time,
	    (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz AS to_time,
	    pg_total_relation_size(c.oid) AS bytes
	FROM pg_inherits i
	JOIN pg_class c ON c.oid = i.inhrelid
	JOIN pg_class parent ON parent.oid = i.inhparent
	JOIN pg_namespace n ON n.oid = parent.relnamespace
	WHERE n.nspname = 'kaudit' AND parent.relkind = 'p';
COMMENT ON VIEW kaudit.partitions IS
	'Month partitions of kaudit''s partitioned tables (findings, events): bounds and size on disk';

-- Drops one month partition with what refers to its rows, in the caller's
-- transaction: for findings, their outbox rows (and so their delivery
-- attempts), group memberships and keys.
CREATE FUNCTION kaudit.partition_drop(part text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	p record;
	n bigint;
BEGIN
	SELECT * INTO p FROM kaudit.partitions WHERE partition_name = part;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	EXECUTE format('SELECT count(*) FROM kaudit.%I', part) INTO n;
	IF p.table_name = 'findings' THEN
		EXECUTE format('DELETE FROM kaudit.outbox o USING kaudit.%I f'
		    ' WHERE o.finding_id = f.id', part);
		EXECUTE format('DELETE FROM kaudit.alert_group_members m USING kaudit.%I f'
		    ' WHERE m.finding_id = f.id', part);
		-- the status history of 0009, once it exists
		IF to_regclass('kaudit.finding_history') IS NOT NULL THEN
			EXECUTE format('DELETE FROM kaudit.finding_history h USING kaudit.%I f'
			    ' WHERE h.finding_id = f.id', part);
		END IF;
		DELETE FROM kaudit.finding_keys
		    WHERE partition_time >= p.from_time AND partition_time < p.to_time;
	END IF;
	EXECUTE format('DROP TABLE kaudit.%I', part);
	RETURN n;
END
$$;
COMMENT ON FUNCTION kaudit.partition_drop(text) IS
	'Drops a month partition (findings_YYYY_MM, events_YYYY_MM) with the outbox rows, group memberships, status history and keys of its findings; returns the rows it held';

-- The months of table tbl that end before at - keep, oldest first, with
-- their rows: what retention drops.
CREATE FUNCTION kaudit.retention_candidates(tbl text, keep interval,
    at timestamptz DEFAULT now())
RETURNS TABLE (partition_name text, from_time timestamptz, to_time timestamptz, n bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	FOR partition_name, from_time, to_time IN SELECT p.partition_name, p.from_time,
	    p.to_time FROM kaudit.partitions p WHERE p.table_name = tbl
	    AND p.to_time <= at - keep ORDER BY p.from_time LOOP
		EXECUTE format('SELECT count(*) FROM kaudit.%I', partition_name) INTO n;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION kaudit.retention_candidates(text, interval, timestamptz) IS
	'Month partitions of tbl (findings, events) lying wholly before at - keep, with their row counts: what `kaudit retention` drops';

-- The old rows, each in its month.
SELECT kaudit.partitions_ensure(array_agg(DISTINCT t) || now())
FROM (SELECT coalesce(kaudit.time_or_null(event->>'requestReceivedTimestamp'), "time",
    created_at) AS t FROM kaudit.findings_v6) x;
SELECT kaudit.partitions_ensure(ARRAY[now() + interval '1 month']);

INSERT INTO kaudit.findings (id, audit_id, rule, title, severity, severity_rank,
    category, tags, stage, "time", cluster, username, groups, impersonated_user,
    source_ip, source_ip_text, user_agent, verb, resource, subresource, namespace,
    name, code, message, evidence, event, finding, created_at, dedup, repeats,
    last_repeat, correlation, attributed_user, partition_time)
SELECT id, audit_id, rule, title, severity, severity_rank, category, tags, stage,
    "time", cluster, username, groups, impersonated_user, source_ip,
    source_ip_text, user_agent, verb, resource, subresource, namespace, name,
    code, message, evidence, event, finding, created_at, dedup, repeats,
    last_repeat, correlation, attributed_user,
    coalesce(kaudit.time_or_null(event->>'requestReceivedTimestamp'), "time", created_at)
FROM kaudit.findings_v6;
INSERT INTO kaudit.finding_keys (key, finding_id, partition_time)
SELECT kaudit.finding_key(audit_id, rule, dedup), id, partition_time FROM kaudit.findings;

DROP TABLE kaudit.findings_v6;

CREATE VIEW kaudit.findings_summary AS
	SELECT date_trunc('day', coalesce("time", created_at)) AS day,
	    severity, severity_rank, category, rule, count(*) AS findings,
	    count(DISTINCT username) AS users, min("time") AS first_seen,
	    max("time") AS last_seen
	FROM kaudit.findings
	GROUP BY 1, 2, 3, 4, 5;
COMMENT ON VIEW kaudit.findings_summary IS
	'Findings per day, severity, category and rule, with distinct users and first/last event time: the compliance report''s table';

CREATE VIEW kaudit.alert_failures AS
	SELECT o.id AS outbox_id, o.webhook, o.attempts, o.last_status,
	    o.last_error, o.created_at, f.id AS finding_id, f.rule, f.severity,
	    f.audit_id, f."time", f.username,
	    (SELECT max(a.attempted_at) FROM kaudit.delivery_attempts a
	     WHERE a.outbox_id = o.id) AS last_attempt_at
	FROM kaudit.outbox o
	JOIN kaudit.findings f ON f.id = o.finding_id
	WHERE o.state = 'dead';
COMMENT ON VIEW kaudit.alert_failures IS
	'Deliveries kaudit gave up on, with their last error: findings nobody was alerted about';

COMMENT ON COLUMN kaudit.outbox.finding_id IS
	'The finding to deliver (kaudit.findings.id; no foreign key, as findings are partitioned: kaudit.partition_drop deletes the rows of the findings it drops); NULL for a group''s notification';
COMMENT ON COLUMN kaudit.alert_group_members.finding_id IS
	'The finding (kaudit.findings.id; no foreign key, see kaudit.outbox.finding_id)';
