-- 0008_events.sql — the event archive: the audit events that archive.when
-- holds on (by default every write but the control plane's routine ones,
-- every exec, attach, port-forward and proxy, every denied request,
-- everything a person did), whether or not a rule fired, so that a
-- responder can rebuild what happened around a finding. Written in the
-- transaction of the batch's findings (schema/db.c), partitioned by month
-- and retained like them (retention.events).
--
-- One row per (audit_id, stage): both stages of an exec are two rows. The
-- unique index holds the partition key (PostgreSQL wants it), which is the
-- request's requestReceivedTimestamp, the same on every delivery of the
-- event; an event without a usable time is placed by the clock, and the
-- write looks for it across the months first.

CREATE TABLE kaudit.events (
	"time"			timestamptz,
	received		timestamptz,
	audit_id		text NOT NULL,
	stage			text,
	verb			text,
	username		text,
	groups			text[],
	impersonated_user	text,
	source_ip		inet,
	user_agent		text,
	api_group		text,
	resource		text,
	subresource		text,
	namespace		text,
	name			text,
	code			integer,
	decision		text,
	cluster			text,
	annotations		jsonb,
	event			jsonb NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	partition_time		timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (partition_time);

DO $$
BEGIN
	ALTER TABLE kaudit.events ALTER COLUMN event SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	RAISE NOTICE 'lz4 compression not available; using pglz';
END
$$;

COMMENT ON TABLE kaudit.events IS
	'The event archive: audit events archive.when held on, one row per (audit_id, stage), with the columns responders filter on and the whole event. Partitioned by month on partition_time (kaudit.events_YYYY_MM); retention.events drops whole months';
COMMENT ON COLUMN kaudit.events."time" IS 'stageTimestamp; NULL when absent or not a valid RFC 3339 time';
COMMENT ON COLUMN kaudit.events.received IS 'requestReceivedTimestamp (shared by every stage of the request); NULL when absent or invalid';
COMMENT ON COLUMN kaudit.events.audit_id IS 'auditID ('''' when absent)';
COMMENT ON COLUMN kaudit.events.stage IS 'RequestReceived, ResponseStarted, ResponseComplete or Panic';
COMMENT ON COLUMN kaudit.events.verb IS 'Kubernetes verb';
COMMENT ON COLUMN kaudit.events.username IS 'user.username';
COMMENT ON COLUMN kaudit.events.groups IS 'user.groups';
COMMENT ON COLUMN kaudit.events.impersonated_user IS 'impersonatedUser.username';
COMMENT ON COLUMN kaudit.events.source_ip IS 'sourceIPs[0]; NULL when not a valid address';
COMMENT ON COLUMN kaudit.events.user_agent IS 'userAgent';
COMMENT ON COLUMN kaudit.events.api_group IS 'objectRef.apiGroup';
COMMENT ON COLUMN kaudit.events.resource IS 'objectRef.resource';
COMMENT ON COLUMN kaudit.events.subresource IS 'objectRef.subresource';
COMMENT ON COLUMN kaudit.events.namespace IS 'objectRef.namespace';
COMMENT ON COLUMN kaudit.events.name IS 'objectRef.name';
COMMENT ON COLUMN kaudit.events.code IS 'responseStatus.code';
COMMENT ON COLUMN kaudit.events.decision IS 'The authorizer''s decision (annotation authorization.k8s.io/decision): allow or forbid';
COMMENT ON COLUMN kaudit.events.cluster IS 'Cluster name from the configuration or the event source';
COMMENT ON COLUMN kaudit.events.annotations IS 'The event''s annotations (k8s.io/deprecated, k8s.io/removed-release, authorization reasons, ...)';
COMMENT ON COLUMN kaudit.events.event IS 'The whole audit event (\u0000 escapes and invalid UTF-8 replaced by U+FFFD, as in kaudit.findings.event)';
COMMENT ON COLUMN kaudit.events.created_at IS 'When kaudit stored the row';
COMMENT ON COLUMN kaudit.events.partition_time IS
	'The month the row lives in: received, else time, else created_at (also created_at for a time more than 10 years back or more than a day ahead)';

CREATE UNIQUE INDEX events_identity_key ON kaudit.events
	(kaudit.text_digest(audit_id), kaudit.text_digest(coalesce(stage, '')), partition_time);
COMMENT ON INDEX kaudit.events_identity_key IS
	'One row per (audit_id, stage) of a month; also the lookup by audit ID: WHERE kaudit.text_digest(audit_id) = kaudit.text_digest(''...'')';
-- Forensic paths: who, which object, when, from where; text an event
-- supplies is indexed on its first 256 characters (compare left(col, 256)).
CREATE INDEX events_time_idx ON kaudit.events ("time");
CREATE INDEX events_username_time_idx ON kaudit.events (left(username, 256), "time");
CREATE INDEX events_object_idx ON kaudit.events
	(left(namespace, 256), left(name, 256), left(resource, 256), "time");
CREATE INDEX events_source_ip_idx ON kaudit.events (source_ip, "time");

-- Refused archived events are dead letters too.
ALTER TABLE kaudit.dead_letters DROP CONSTRAINT dead_letters_kind_check;
ALTER TABLE kaudit.dead_letters ADD CONSTRAINT dead_letters_kind_check
	CHECK (kind IN ('finding', 'ingest_error', 'event'));
COMMENT ON COLUMN kaudit.dead_letters.kind IS
	'finding (a row of kaudit.findings), event (a row of kaudit.events) or ingest_error (a row of kaudit.ingest_errors)';

SELECT kaudit.partitions_ensure(ARRAY[now() - interval '1 day', now(),
    now() + interval '1 month', now() + interval '2 months']);
