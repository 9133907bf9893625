-- 0001_init.sql — findings, the alert outbox, delivery attempts, ingest
-- errors, and views for incident responders and auditors.
--
-- Applied by `kaudit migrate` (schema/migrate.c) inside one transaction that
-- also records the version in kaudit.schema_migrations.

CREATE SCHEMA IF NOT EXISTS kaudit;
COMMENT ON SCHEMA kaudit IS
	'kaudit: findings from Kubernetes audit events, their webhook deliveries and ingest errors';

CREATE TABLE kaudit.findings (
	id			bigserial PRIMARY KEY,
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
	UNIQUE (audit_id, rule)
);

COMMENT ON TABLE kaudit.findings IS
	'One row per (audit_id, rule): a detection rule matched a Kubernetes audit event. Rows are never updated; a redelivered event inserts nothing.';
COMMENT ON COLUMN kaudit.findings.id IS 'Row id; kaudit.outbox.finding_id refers to it';
COMMENT ON COLUMN kaudit.findings.audit_id IS 'auditID of the event (for stateful rules: the event that completed the match)';
COMMENT ON COLUMN kaudit.findings.rule IS 'Stable rule id, as listed by `kaudit rules list`';
COMMENT ON COLUMN kaudit.findings.title IS 'Rule title';
COMMENT ON COLUMN kaudit.findings.severity IS 'info, low, medium, high or critical (a finding with any other value is stored as info; the original stays in finding)';
COMMENT ON COLUMN kaudit.findings.severity_rank IS 'severity as a number for ordering: info 0, low 1, medium 2, high 3, critical 4';
COMMENT ON COLUMN kaudit.findings.category IS 'rbac, exec, workload, secrets, authn, admission, evasion, persistence, network or inventory';
COMMENT ON COLUMN kaudit.findings.tags IS 'Rule tags, including MITRE ATT&CK technique ids such as T1609';
COMMENT ON COLUMN kaudit.findings.stage IS 'Audit stage of the event (RequestReceived, ResponseStarted, ResponseComplete, Panic)';
COMMENT ON COLUMN kaudit.findings."time" IS 'stageTimestamp of the event; NULL when absent or not a valid RFC 3339 time';
COMMENT ON COLUMN kaudit.findings.cluster IS 'Cluster name from the configuration or the event source';
COMMENT ON COLUMN kaudit.findings.username IS 'The finding''s "user" field (user.username of the event). Named username because a column named user collides with SQL''s USER keyword';
COMMENT ON COLUMN kaudit.findings.groups IS 'user.groups of the event';
COMMENT ON COLUMN kaudit.findings.impersonated_user IS 'impersonatedUser.username of the event, when the request was impersonated';
COMMENT ON COLUMN kaudit.findings.source_ip IS 'First sourceIPs entry of the event; NULL when it is not a valid IP address (source_ip_text keeps the text)';
COMMENT ON COLUMN kaudit.findings.source_ip_text IS 'The finding''s source_ip exactly as reported';
COMMENT ON COLUMN kaudit.findings.user_agent IS 'userAgent of the request';
COMMENT ON COLUMN kaudit.findings.verb IS 'Kubernetes verb (get, list, create, update, patch, delete, ...)';
COMMENT ON COLUMN kaudit.findings.resource IS 'objectRef.resource';
COMMENT ON COLUMN kaudit.findings.subresource IS 'objectRef.subresource (exec, attach, portforward, ...)';
COMMENT ON COLUMN kaudit.findings.namespace IS 'objectRef.namespace';
COMMENT ON COLUMN kaudit.findings.name IS 'objectRef.name';
COMMENT ON COLUMN kaudit.findings.code IS 'responseStatus.code (HTTP status of the API request)';
COMMENT ON COLUMN kaudit.findings.message IS 'Human-readable explanation of the finding';
COMMENT ON COLUMN kaudit.findings.evidence IS 'The event values that made the rule fire';
COMMENT ON COLUMN kaudit.findings.event IS 'The whole audit event. \u0000 escapes (which jsonb cannot hold) are replaced by \ufffd and invalid UTF-8 by U+FFFD; an event that is still not valid JSON is stored as a JSON string of its text';
COMMENT ON COLUMN kaudit.findings.finding IS 'The finding object as `kaudit scan` prints it; this is the webhook payload';
COMMENT ON COLUMN kaudit.findings.created_at IS 'When kaudit stored the row';

-- Events and findings are stored compressed; lz4 is several times faster
-- than the default pglz, which shows in the insert rate. Servers built
-- without lz4 keep pglz.
DO $$
BEGIN
	ALTER TABLE kaudit.findings ALTER COLUMN event SET COMPRESSION lz4,
	    ALTER COLUMN finding SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	RAISE NOTICE 'lz4 compression not available; using pglz';
END
$$;

CREATE INDEX findings_time_idx ON kaudit.findings ("time");
CREATE INDEX findings_username_time_idx ON kaudit.findings (username, "time");
CREATE INDEX findings_rule_time_idx ON kaudit.findings (rule, "time");
CREATE INDEX findings_namespace_time_idx ON kaudit.findings (namespace, "time");
CREATE INDEX findings_severity_rank_idx ON kaudit.findings (severity_rank, "time");
CREATE INDEX findings_source_ip_idx ON kaudit.findings (source_ip);

CREATE TABLE kaudit.outbox (
	id		bigserial PRIMARY KEY,
	finding_id	bigint NOT NULL REFERENCES kaudit.findings (id) ON DELETE CASCADE,
	webhook		text NOT NULL,
	state		text NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'done', 'dead')),
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	last_status	integer,
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	delivered_at	timestamptz,
	UNIQUE (finding_id, webhook)
);

COMMENT ON TABLE kaudit.outbox IS
	'One row per (finding, webhook) to deliver, written in the same transaction as the finding. The alerter claims due pending rows with FOR UPDATE SKIP LOCKED.';
COMMENT ON COLUMN kaudit.outbox.id IS 'Delivery id, sent as the X-Kaudit-Delivery header so a receiver can spot a repeat';
COMMENT ON COLUMN kaudit.outbox.finding_id IS 'The finding to deliver';
COMMENT ON COLUMN kaudit.outbox.webhook IS 'Name of the webhook in the configuration (alert.webhooks[].name)';
COMMENT ON COLUMN kaudit.outbox.state IS 'pending (to deliver or retry), done (delivered with a 2xx), dead (gave up; see last_error)';
COMMENT ON COLUMN kaudit.outbox.attempts IS 'Delivery attempts made so far';
COMMENT ON COLUMN kaudit.outbox.next_attempt_at IS 'A pending row is not delivered before this time (retry backoff)';
COMMENT ON COLUMN kaudit.outbox.last_status IS 'HTTP status of the last attempt; NULL when there was no response';
COMMENT ON COLUMN kaudit.outbox.last_error IS 'Error of the last attempt: connection error, timeout, or HTTP status with the start of the response body';
COMMENT ON COLUMN kaudit.outbox.created_at IS 'When the finding was stored';
COMMENT ON COLUMN kaudit.outbox.delivered_at IS 'When the webhook accepted the delivery';

CREATE INDEX outbox_due_idx ON kaudit.outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_dead_idx ON kaudit.outbox (id) WHERE state = 'dead';

CREATE TABLE kaudit.delivery_attempts (
	id		bigserial PRIMARY KEY,
	outbox_id	bigint NOT NULL REFERENCES kaudit.outbox (id) ON DELETE CASCADE,
	attempted_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	http_status	integer,
	error		text,
	duration_ms	integer
);

COMMENT ON TABLE kaudit.delivery_attempts IS
	'Every webhook delivery attempt, successful or not: the audit trail of alerting';
COMMENT ON COLUMN kaudit.delivery_attempts.id IS 'Row id, in attempt order';
COMMENT ON COLUMN kaudit.delivery_attempts.outbox_id IS 'The outbox row attempted';
COMMENT ON COLUMN kaudit.delivery_attempts.attempted_at IS 'When the attempt ended';
COMMENT ON COLUMN kaudit.delivery_attempts.http_status IS 'HTTP status received; NULL when there was no response (connection error, timeout)';
COMMENT ON COLUMN kaudit.delivery_attempts.error IS 'NULL on success; otherwise what went wrong';
COMMENT ON COLUMN kaudit.delivery_attempts.duration_ms IS 'Time the HTTP request took';

CREATE INDEX delivery_attempts_outbox_idx ON kaudit.delivery_attempts (outbox_id);

CREATE TABLE kaudit.ingest_errors (
	id		bigserial PRIMARY KEY,
	topic		text NOT NULL,
	partition	integer NOT NULL,
	"offset"	bigint NOT NULL,
	seq		integer NOT NULL,
	error		text NOT NULL,
	head		bytea,
	size		bigint,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (topic, partition, "offset", seq)
);

COMMENT ON TABLE kaudit.ingest_errors IS
	'Input kaudit could not use (malformed JSON, oversize messages, unknown shapes): one row per error, so nothing is silently lost';
COMMENT ON COLUMN kaudit.ingest_errors.id IS 'Row id';
COMMENT ON COLUMN kaudit.ingest_errors.topic IS 'Kafka topic, or the file name for `kaudit scan`';
COMMENT ON COLUMN kaudit.ingest_errors.partition IS 'Kafka partition (-1 for files)';
COMMENT ON COLUMN kaudit.ingest_errors."offset" IS 'Kafka offset of the message (byte offset for files)';
COMMENT ON COLUMN kaudit.ingest_errors.seq IS 'n-th error within the same message';
COMMENT ON COLUMN kaudit.ingest_errors.error IS 'What was wrong, e.g. "line 3: offset 17: expected '':''"';
COMMENT ON COLUMN kaudit.ingest_errors.head IS 'First bytes of the message (at most 1024), exactly as received: bytea because bad input is often not valid UTF-8. Read with encode(head, ''escape'') or convert_from(head, ''UTF8'')';
COMMENT ON COLUMN kaudit.ingest_errors.size IS 'Size of the whole message in bytes';
COMMENT ON COLUMN kaudit.ingest_errors.created_at IS 'When kaudit stored the row';

CREATE INDEX ingest_errors_created_idx ON kaudit.ingest_errors (created_at);

-- Views: the questions responders and auditors ask first.

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

CREATE VIEW kaudit.alert_backlog AS
	SELECT webhook, count(*) AS pending,
	    count(*) FILTER (WHERE next_attempt_at <= now()) AS due,
	    count(*) FILTER (WHERE attempts > 0) AS retrying,
	    min(created_at) AS oldest
	FROM kaudit.outbox
	WHERE state = 'pending'
	GROUP BY webhook;
COMMENT ON VIEW kaudit.alert_backlog IS
	'Per webhook: deliveries still pending, how many are due now, how many are being retried, and the oldest';

CREATE VIEW kaudit.ingest_errors_readable AS
	SELECT id, topic, partition, "offset", seq, error, size, created_at,
	    encode(head, 'escape') AS head_text
	FROM kaudit.ingest_errors;
COMMENT ON VIEW kaudit.ingest_errors_readable IS
	'kaudit.ingest_errors with the first bytes shown as text (non-printable bytes as octal escapes)';

-- A safe cast used only when a batch failed on bad event text: stores what
-- jsonb cannot parse as a JSON string instead of losing it.
CREATE FUNCTION kaudit.jsonb_or_text(t text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
	RETURN t::jsonb;
EXCEPTION WHEN OTHERS THEN
	RETURN to_jsonb(t);
END
$$;
COMMENT ON FUNCTION kaudit.jsonb_or_text(text) IS
	't::jsonb, or t as a JSON string when it is not valid JSON';
