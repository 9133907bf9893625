-- 0004_state.sql — memory across events: what the findings of stateful
-- rules carry, and where the state owners keep their state.
--
-- A finding of a single event stays unique on (audit_id, rule). A finding
-- of a correlation, a suppressing rule or an attribution is unique on
-- (rule, dedup) instead: dedup names its key and window, so one event that
-- completes several keys (a user in two bound groups) makes several
-- findings, and the same signals fed again make the same dedup.

ALTER TABLE kaudit.findings
	ADD COLUMN dedup text,
	ADD COLUMN repeats integer NOT NULL DEFAULT 0,
	ADD COLUMN last_repeat timestamptz,
	ADD COLUMN correlation jsonb,
	ADD COLUMN attributed_user text;

COMMENT ON COLUMN kaudit.findings.dedup IS
	'NULL for a finding of one event (unique on audit_id and rule); for a correlation, a suppressing rule or an attribution, what makes it unique with its rule: the window (or period, or tuple) and the correlation key';
COMMENT ON COLUMN kaudit.findings.repeats IS
	'Later matches counted on this finding because the rule says suppress (0 when none); kept current';
COMMENT ON COLUMN kaudit.findings.last_repeat IS
	'Event time of the last repeat counted (NULL when none)';
COMMENT ON COLUMN kaudit.findings.correlation IS
	'On findings of correlation rules: kind, key, count, distinct, first, last and the contributing auditIDs (at most 100); kept current while later events count on the finding';
COMMENT ON COLUMN kaudit.findings.attributed_user IS
	'On findings about objects a controller made: the person found through the owner chain (the last to write the owning Deployment, CronJob, ...)';

-- A time kaudit wrote, or NULL: an update of a finding never fails on one.
CREATE FUNCTION kaudit.time_or_null(t text) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT AS $$
BEGIN
	RETURN t::timestamptz;
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION kaudit.time_or_null(text) IS 't::timestamptz, or NULL when t is not a time';

DROP INDEX kaudit.findings_identity_key;
CREATE UNIQUE INDEX findings_identity_key ON kaudit.findings
	(kaudit.text_digest(audit_id), kaudit.text_digest(rule)) WHERE dedup IS NULL;
COMMENT ON INDEX kaudit.findings_identity_key IS
	'One finding per (audit_id, rule) for single-event rules, for values of any length';
CREATE UNIQUE INDEX findings_stateful_key ON kaudit.findings
	(kaudit.text_digest(rule), kaudit.text_digest(dedup)) WHERE dedup IS NOT NULL;
COMMENT ON INDEX kaudit.findings_stateful_key IS
	'One finding per (rule, key and window) for correlations, suppression and attribution';
CREATE INDEX findings_attributed_user_idx ON kaudit.findings
	(left(attributed_user, 256), "time") WHERE attributed_user IS NOT NULL;

-- Where each partition of the signal topic has been read to, committed in
-- the same transaction as the state it produced: Kafka's own offsets for the
-- state owners' group are only advisory.
CREATE TABLE kaudit.state_partitions (
	topic		text NOT NULL,
	partition	integer NOT NULL,
	next_offset	bigint NOT NULL,
	meta		jsonb NOT NULL DEFAULT '{}',
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition)
);
COMMENT ON TABLE kaudit.state_partitions IS
	'Per partition of the signal topic (stateful.topic): the next offset to read and the partition''s own state (event-time high-water mark, learning starts), written with the state and findings that reading produced';
COMMENT ON COLUMN kaudit.state_partitions.next_offset IS 'The offset the owner of this partition reads next';
COMMENT ON COLUMN kaudit.state_partitions.meta IS 'hwm: the largest event time seen (ms); learn: rule id -> start of its first_seen learning period (ms)';

CREATE TABLE kaudit.state_keys (
	topic		text NOT NULL,
	partition	integer NOT NULL,
	key_digest	bytea NOT NULL,
	key		text NOT NULL,
	state		jsonb NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (topic, partition, key_digest)
);
COMMENT ON TABLE kaudit.state_keys IS
	'The state of each correlation, suppression and attribution key (one per key of a partition of the signal topic), as of the last committed batch';
COMMENT ON COLUMN kaudit.state_keys.key_digest IS 'SHA-256 of key';
COMMENT ON COLUMN kaudit.state_keys.key IS 'The key: a JSON array of the cluster, the rule (or @owners) and the key values';
COMMENT ON COLUMN kaudit.state_keys.state IS 'What the engine remembers for the key (matches in the window, the finding counted on, tuples seen, controller objects)';
