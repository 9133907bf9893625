-- 0002_row_faults.sql — no value in an event can make a row unstorable
-- because of an index, and the rows PostgreSQL refuses anyway are kept in
-- kaudit.dead_letters instead of blocking the pipeline.
--
-- A btree entry holds at most about 2700 bytes, so an index on free text that
-- an event supplies (auditID, user name, namespace) refuses a row carrying a
-- few KB of incompressible text, and the whole batch with it. Here every such
-- index is rebuilt on a bounded expression: the identity (audit_id, rule) on
-- SHA-256 digests, which keeps it exact for any length, and the lookup indexes
-- on the first 256 characters.

-- SHA-256 of a text's UTF-8 bytes. IMMUTABLE because a database's encoding
-- never changes; the body calls convert_to(), which is only STABLE, so the
-- function is never inlined and the index expression stays this call.
CREATE FUNCTION kaudit.text_digest(t text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT sha256(convert_to(t, 'UTF8'))
$$;
COMMENT ON FUNCTION kaudit.text_digest(text) IS
	'SHA-256 of the text''s UTF-8 bytes: the key of indexes on text of any length';

-- The identity of a finding. INSERT ... ON CONFLICT names this expression.
CREATE UNIQUE INDEX findings_identity_key ON kaudit.findings
	(kaudit.text_digest(audit_id), kaudit.text_digest(rule));
ALTER TABLE kaudit.findings DROP CONSTRAINT findings_audit_id_rule_key;
COMMENT ON INDEX kaudit.findings_identity_key IS
	'One finding per (audit_id, rule), for values of any length';

-- A lookup by audit ID uses the identity index when it compares digests:
--   WHERE kaudit.text_digest(audit_id) = kaudit.text_digest('...')
-- (No hash index on audit_id: its 32-bit hash lets anyone who picks audit IDs
-- pile rows into one bucket, and every insert walks the bucket's pages.)

-- Lookups by user, rule and namespace over time: the first 256 characters
-- (at most 1 KB) are indexed. A query uses these indexes when it compares the
-- same expression, e.g.
--   WHERE left(username, 256) = 'alice' AND username = 'alice'
DROP INDEX kaudit.findings_username_time_idx;
DROP INDEX kaudit.findings_rule_time_idx;
DROP INDEX kaudit.findings_namespace_time_idx;
CREATE INDEX findings_username_time_idx ON kaudit.findings (left(username, 256), "time");
CREATE INDEX findings_rule_time_idx ON kaudit.findings (left(rule, 256), "time");
CREATE INDEX findings_namespace_time_idx ON kaudit.findings (left(namespace, 256), "time");

-- Text of bytes: the UTF-8 text they hold, or their escaped form when they are
-- not valid in this database's encoding. Never fails, so a dead letter can
-- always be written.
CREATE FUNCTION kaudit.bytes_text(b bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
	RETURN convert_from(b, 'UTF8');
EXCEPTION WHEN OTHERS THEN
	RETURN encode(b, 'escape');
END
$$;
COMMENT ON FUNCTION kaudit.bytes_text(bytea) IS
	'The bytes as UTF-8 text, or encode(b, ''escape'') when they cannot be text here';

CREATE TABLE kaudit.dead_letters (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL CHECK (kind IN ('finding', 'ingest_error')),
	digest		bytea NOT NULL UNIQUE,
	audit_id	text,
	rule		text,
	topic		text,
	partition	integer,
	"offset"	bigint,
	sqlstate	text NOT NULL,
	error		text NOT NULL,
	item		bytea NOT NULL,
	event		bytea,
	created_at	timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE kaudit.dead_letters IS
	'Rows PostgreSQL refused on their own while the rest of their batch was stored: a finding or an ingest error, with the refusal. Nothing else is indexed, and the values are bytes, so storing a dead letter cannot fail on the value that made the row fail. A dead-lettered finding was not alerted';
COMMENT ON COLUMN kaudit.dead_letters.id IS 'Row id';
COMMENT ON COLUMN kaudit.dead_letters.kind IS 'finding (a row of kaudit.findings) or ingest_error (a row of kaudit.ingest_errors)';
COMMENT ON COLUMN kaudit.dead_letters.digest IS 'SHA-256 of the row''s identity: kind, audit_id and rule for a finding; kind, topic, partition, offset and seq for an ingest error. A redelivered row adds nothing';
COMMENT ON COLUMN kaudit.dead_letters.audit_id IS 'audit_id of the finding (escaped when it is not valid text)';
COMMENT ON COLUMN kaudit.dead_letters.rule IS 'Rule id of the finding';
COMMENT ON COLUMN kaudit.dead_letters.topic IS 'Kafka topic of the message the row came from; NULL when not known';
COMMENT ON COLUMN kaudit.dead_letters.partition IS 'Kafka partition of that message';
COMMENT ON COLUMN kaudit.dead_letters."offset" IS 'Kafka offset of that message: replay it from there';
COMMENT ON COLUMN kaudit.dead_letters.sqlstate IS 'SQLSTATE of PostgreSQL''s refusal, e.g. 22007 (invalid datetime), 22003 (numeric out of range), 54000 (index row too large)';
COMMENT ON COLUMN kaudit.dead_letters.error IS 'PostgreSQL''s message, with its detail';
COMMENT ON COLUMN kaudit.dead_letters.item IS 'The row as JSON text: the finding object (the webhook payload), or the ingest error''s fields. Read with convert_from(item, ''UTF8'')::jsonb';
COMMENT ON COLUMN kaudit.dead_letters.event IS 'The audit event''s text for a finding; the first bytes of the message for an ingest error';
COMMENT ON COLUMN kaudit.dead_letters.created_at IS 'When kaudit stored the row';

CREATE INDEX dead_letters_created_idx ON kaudit.dead_letters (created_at);

CREATE VIEW kaudit.dead_letters_readable AS
	SELECT id, kind, audit_id, rule, topic, partition, "offset", sqlstate,
	    error, created_at, kaudit.bytes_text(item) AS item_text,
	    kaudit.bytes_text(event) AS event_text
	FROM kaudit.dead_letters;
COMMENT ON VIEW kaudit.dead_letters_readable IS
	'kaudit.dead_letters with the row and the event as text';

-- Replaced by isolating the refused row (see schema/db.c).
DROP FUNCTION kaudit.jsonb_or_text(text);
COMMENT ON COLUMN kaudit.findings.event IS 'The whole audit event. \u0000 escapes (which jsonb cannot hold) are replaced by \ufffd and invalid UTF-8 by U+FFFD; a finding whose event jsonb still refuses is in kaudit.dead_letters';
