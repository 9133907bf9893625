-- 0009_lifecycle.sql — what happens to a finding after it is stored: its
-- status (open, acknowledged, resolved, suppressed) kept as history, and
-- suppressions that keep recording what they match but stop its alerts.
--
-- Nothing here refers to kaudit.findings by a foreign key: findings may be
-- a partitioned table, whose unique keys must include the partition key, so
-- a history row names its finding by kaudit.findings.id alone. Retention
-- (0007's kaudit.partition_drop) drops a month's history rows with its
-- findings.

CREATE TABLE kaudit.suppressions (
	id		bigserial PRIMARY KEY,
	condition	text NOT NULL,
	reason		text NOT NULL,
	created_by	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz,
	lifted_at	timestamptz,
	lifted_by	text,
	lift_reason	text,
	CHECK (expires_at IS NULL OR expires_at > created_at),
	CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);

COMMENT ON TABLE kaudit.suppressions IS
	'Suppressions made by `kaudit findings suppress`: a finding that a live suppression''s condition holds on is stored with status suppressed and alerted to no webhook. The daemon reads the live ones at start, when NOTIFY kaudit_suppressions says they changed, and every alert.suppressions_refresh';
COMMENT ON COLUMN kaudit.suppressions.id IS 'Suppression id; kaudit.finding_history.suppression_id names it';
COMMENT ON COLUMN kaudit.suppressions.condition IS 'A condition in the rule language over the finding''s fields, as alert.webhooks[].when (docs/alerting.md)';
COMMENT ON COLUMN kaudit.suppressions.reason IS 'Why the findings it matches need no alert';
COMMENT ON COLUMN kaudit.suppressions.created_by IS 'Who made it (--by, or the login name)';
COMMENT ON COLUMN kaudit.suppressions.created_at IS 'When it was made';
COMMENT ON COLUMN kaudit.suppressions.expires_at IS 'When it stops holding; NULL: never';
COMMENT ON COLUMN kaudit.suppressions.lifted_at IS 'When `kaudit findings lift` ended it before it expired; NULL while not lifted';
COMMENT ON COLUMN kaudit.suppressions.lifted_by IS 'Who lifted it';
COMMENT ON COLUMN kaudit.suppressions.lift_reason IS 'Why it was lifted';

-- The daemon's question: which suppressions hold now.
CREATE INDEX suppressions_live_idx ON kaudit.suppressions (expires_at)
	WHERE lifted_at IS NULL;

CREATE TABLE kaudit.finding_history (
	id		bigserial PRIMARY KEY,
	finding_id	bigint NOT NULL,
	status		text NOT NULL
		CHECK (status IN ('open', 'acknowledged', 'resolved', 'suppressed')),
	actor		text NOT NULL,
	reason		text,
	suppression_id	bigint,
	at		timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE kaudit.finding_history IS
	'Every change of a finding''s status, one row each, never updated: who, when, why. A finding without a row is open. The daemon writes the row of a suppressed finding in the transaction that stores the finding; `kaudit findings ack|resolve|reopen` write the others';
COMMENT ON COLUMN kaudit.finding_history.id IS 'Row id, in the order of the changes';
COMMENT ON COLUMN kaudit.finding_history.finding_id IS 'kaudit.findings.id of the finding (no foreign key: findings may be partitioned)';
COMMENT ON COLUMN kaudit.finding_history.status IS 'The status from this change on: open, acknowledged, resolved or suppressed';
COMMENT ON COLUMN kaudit.finding_history.actor IS 'Who changed it: a person (--by, or the login name), or kaudit for a suppression applied as the finding was stored';
COMMENT ON COLUMN kaudit.finding_history.reason IS 'Why (--reason; for a suppression, its reason)';
COMMENT ON COLUMN kaudit.finding_history.suppression_id IS 'For status suppressed: the kaudit.suppressions row that held (no foreign key: a finding is never refused for it)';
COMMENT ON COLUMN kaudit.finding_history.at IS 'When';

CREATE INDEX finding_history_finding_idx ON kaudit.finding_history (finding_id, id);
CREATE INDEX finding_history_suppression_idx ON kaudit.finding_history (suppression_id)
	WHERE suppression_id IS NOT NULL;

-- History is evidence: a row, once written, stays as it was.
CREATE FUNCTION kaudit.finding_history_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'kaudit.finding_history rows are never updated: add a row instead';
END
$$;
COMMENT ON FUNCTION kaudit.finding_history_frozen() IS
	'Refuses UPDATE of kaudit.finding_history';
CREATE TRIGGER finding_history_no_update BEFORE UPDATE ON kaudit.finding_history
	FOR EACH STATEMENT EXECUTE FUNCTION kaudit.finding_history_frozen();

CREATE VIEW kaudit.finding_status AS
	SELECT f.id AS finding_id, coalesce(h.status, 'open') AS status,
	    h.actor AS changed_by, h.at AS changed_at, h.reason, h.suppression_id,
	    f.rule, f.severity, f.severity_rank, f.category, f."time", f.cluster,
	    f.username, f.namespace, f.name, f.created_at
	FROM kaudit.findings f
	LEFT JOIN LATERAL (SELECT x.status, x.actor, x.at, x.reason, x.suppression_id
	    FROM kaudit.finding_history x WHERE x.finding_id = f.id
	    ORDER BY x.id DESC LIMIT 1) h ON true;
COMMENT ON VIEW kaudit.finding_status IS
	'Each finding''s current status (its latest kaudit.finding_history row; open when it has none), with who changed it, when and why';

CREATE VIEW kaudit.suppressions_live AS
	SELECT s.*, (SELECT count(*) FROM kaudit.finding_history h
	    WHERE h.suppression_id = s.id) AS matched
	FROM kaudit.suppressions s
	WHERE s.lifted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now());
COMMENT ON VIEW kaudit.suppressions_live IS
	'Suppressions that hold now, with the number of findings each has suppressed so far';
