-- 0012_event_once.sql — each audit event stored once: a finding's event
-- lives in the event archive (kaudit.events), not again in the finding row,
-- and the findings table keeps only the indexes a reader needs.
--
-- From this version the batch write (schema/db.c) archives the event of
-- every finding in the finding's transaction, whatever archive.when says,
-- and leaves kaudit.findings.event NULL. Rows stored before keep theirs.
-- A partitioned table's partitions must have its columns, so the column
-- stays for every month; NULL costs a bit in the row's null bitmap.
--
-- Readers take a finding's event through kaudit.finding_event(f): the
-- finding's own column when set, else the archived event of its audit ID
-- (the archive's identity index leads with the audit ID's digest), the same
-- stage and month first. kaudit.audit_events (0010) already reads findings'
-- events only where the archive does not hold the request.
--
-- Retention: dropping a month of the archive would take with it the events
-- of findings kept longer (retention.findings is longer than
-- retention.events by default). kaudit.partition_drop therefore copies the
-- event of each such finding into its row first: only findings of that
-- month and the months on either side (where a finding and its event live:
-- both are placed by the same times) that have no event of their own.

COMMENT ON COLUMN kaudit.findings.event IS
	'The whole audit event, for findings stored before version 12, and for findings whose archived event was dropped by retention (kaudit.partition_drop copies it here first); NULL otherwise: the event is in kaudit.events. Read it with kaudit.finding_event(f)';

CREATE FUNCTION kaudit.finding_event(f kaudit.findings) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT coalesce(f.event, (SELECT e.event FROM kaudit.events e
	    WHERE kaudit.text_digest(e.audit_id) = kaudit.text_digest(f.audit_id)
	    ORDER BY coalesce(e.stage, '') = coalesce(f.stage, '') DESC,
		e.partition_time = f.partition_time DESC,
		coalesce(e.stage, '') = 'ResponseComplete' DESC, e.partition_time DESC
	    LIMIT 1))
$$;
COMMENT ON FUNCTION kaudit.finding_event(kaudit.findings) IS
	'The audit event of a finding: its own event column (rows before version 12), else the archived event of its audit ID and stage (kaudit.events): SELECT kaudit.finding_event(f) FROM kaudit.findings f WHERE f.id = 4711';

CREATE OR REPLACE FUNCTION kaudit.partition_drop(part text) RETURNS bigint
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
		IF to_regclass('kaudit.finding_history') IS NOT NULL THEN
			EXECUTE format('DELETE FROM kaudit.finding_history h USING kaudit.%I f'
			    ' WHERE h.finding_id = f.id', part);
		END IF;
		DELETE FROM kaudit.finding_keys
		    WHERE partition_time >= p.from_time AND partition_time < p.to_time;
	ELSIF p.table_name = 'events' THEN
		-- the kept findings of these months whose event only this
		-- month holds get it in their own row before it goes
		EXECUTE format('UPDATE kaudit.findings f SET event = e.event'
		    ' FROM kaudit.%I e WHERE f.event IS NULL'
		    ' AND f.partition_time >= $1 AND f.partition_time < $2'
		    ' AND kaudit.text_digest(e.audit_id) = kaudit.text_digest(f.audit_id)'
		    ' AND coalesce(e.stage, '''') = coalesce(f.stage, '''')', part)
		    USING p.from_time - interval '1 month', p.to_time + interval '1 month';
	END IF;
	EXECUTE format('DROP TABLE kaudit.%I', part);
	RETURN n;
END
$$;
COMMENT ON FUNCTION kaudit.partition_drop(text) IS
	'Drops a month partition (findings_YYYY_MM, events_YYYY_MM): for findings, with the outbox rows, group memberships, status history and keys of its findings; for events, after copying the event of each kept finding that needs it into the finding row. Returns the rows it held';

-- Five of the findings' twelve secondary indexes go: each row of a batch
-- paid for all of them (docs/performance.md, "The findings write path").
-- Kept: time, user, object (namespace, name, resource), source IP,
-- attributed user, audit ID and the stateful key, which the cookbook
-- queries, the views, `kaudit findings` and the state owners' updates use.
-- Dropped, and what serves their queries instead:
--   namespace       the object index, which begins with the namespace
--   rule            no reader compares left(rule, 256); `kaudit findings
--                   --rule` reads newest first by id, and a rule's findings
--                   over a period are found through the time index
--   category,       a handful of values each, a large share of the rows:
--   severity_rank   read with a time range (the time index, the months)
--   tags (GIN)      the costliest to keep up; a technique's findings are
--                   many, read with a time range like the two above
DROP INDEX IF EXISTS kaudit.findings_namespace_time_idx;
DROP INDEX IF EXISTS kaudit.findings_rule_time_idx;
DROP INDEX IF EXISTS kaudit.findings_category_time_idx;
DROP INDEX IF EXISTS kaudit.findings_severity_rank_idx;
DROP INDEX IF EXISTS kaudit.findings_tags_idx;
