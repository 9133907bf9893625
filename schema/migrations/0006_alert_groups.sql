-- 0006_alert_groups.sql — grouped notifications (a webhook's group_by,
-- group_wait, group_interval, repeat_interval), kept in PostgreSQL so that a
-- restart neither loses nor repeats a group.
--
-- A finding routed to a grouped webhook gets no outbox row of its own: the
-- batch transaction that stores it upserts its group in kaudit.alert_groups
-- and adds a row to kaudit.alert_group_members, only for findings it actually
-- inserted. The alerter's flusher (schema/groups.c) takes due groups with
-- FOR UPDATE SKIP LOCKED and, in one transaction, inserts the group's
-- notification as an outbox row whose payload is the notification itself,
-- marks the members it carries and advances the group. docs/alerting.md
-- (Grouping) describes the semantics.
--
-- Nothing here depends on 0005.

-- The identity of a group: a webhook and the JSON text of its key (the
-- cluster and the group_by values, as kaudit writes them), length-prefixed
-- so no two (webhook, key) pairs share a text. A digest, so that a key of
-- any length and content fits the unique index.
CREATE FUNCTION kaudit.alert_group_digest(webhook text, key text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT sha256(convert_to(length(webhook)::text || ':' || webhook || key, 'UTF8'))
$$;
COMMENT ON FUNCTION kaudit.alert_group_digest(text, text) IS
	'SHA-256 identifying a group: its webhook and the JSON text of its key as kaudit wrote it. Find an open group with WHERE digest = kaudit.alert_group_digest(''soc'', ''{"cluster":"prod","rule":"exec-into-pod"}'') AND closed_at IS NULL';

CREATE TABLE kaudit.alert_groups (
	id			bigserial PRIMARY KEY,
	webhook			text NOT NULL,
	cluster			text,
	key			jsonb NOT NULL,
	digest			bytea NOT NULL,
	group_wait_ms		bigint NOT NULL,
	group_interval_ms	bigint NOT NULL,
	repeat_interval_ms	bigint NOT NULL,
	opened_at		timestamptz NOT NULL DEFAULT now(),
	first_event_at		timestamptz,
	last_event_at		timestamptz,
	count			bigint NOT NULL DEFAULT 0,
	notified_count		bigint NOT NULL DEFAULT 0,
	notifications		integer NOT NULL DEFAULT 0,
	last_notified_at	timestamptz,
	next_notify_at		timestamptz,
	closed_at		timestamptz,
	updated_at		timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE kaudit.alert_groups IS
	'Groups of findings notified together to a webhook with group_by: one row per incident of a (webhook, key). Written in the transaction of the findings that join it; notifications are made by the alerter''s flusher';
COMMENT ON COLUMN kaudit.alert_groups.id IS 'Group id, the notification''s group_id; kaudit.alert_group_members and kaudit.outbox.group_id refer to it';
COMMENT ON COLUMN kaudit.alert_groups.webhook IS 'Name of the webhook in the configuration (alert.webhooks[].name)';
COMMENT ON COLUMN kaudit.alert_groups.cluster IS 'The cluster of the group''s findings (always part of the key)';
COMMENT ON COLUMN kaudit.alert_groups.key IS 'The group''s values: {"cluster": ..., FIELD: VALUE, ...} for the webhook''s group_by fields; a field the finding lacks is null. Sent as the notification''s "group"';
COMMENT ON COLUMN kaudit.alert_groups.digest IS 'kaudit.alert_group_digest(webhook, key text): unique among open groups';
COMMENT ON COLUMN kaudit.alert_groups.group_wait_ms IS 'group_wait of the webhook when a finding last joined (ms)';
COMMENT ON COLUMN kaudit.alert_groups.group_interval_ms IS 'group_interval of the webhook when a finding last joined (ms)';
COMMENT ON COLUMN kaudit.alert_groups.repeat_interval_ms IS 'repeat_interval of the webhook when a finding last joined (ms): after a notification, this long without a new finding closes the group';
COMMENT ON COLUMN kaudit.alert_groups.opened_at IS 'When the first finding of the group was stored (database clock)';
COMMENT ON COLUMN kaudit.alert_groups.first_event_at IS 'Earliest event time of the group''s findings (the storage time for a finding without a valid time)';
COMMENT ON COLUMN kaudit.alert_groups.last_event_at IS 'Latest event time of the group''s findings';
COMMENT ON COLUMN kaudit.alert_groups.count IS 'Findings in the group';
COMMENT ON COLUMN kaudit.alert_groups.notified_count IS 'Findings announced by the group''s notifications so far';
COMMENT ON COLUMN kaudit.alert_groups.notifications IS 'Notifications made for the group so far';
COMMENT ON COLUMN kaudit.alert_groups.last_notified_at IS 'When the last notification was put in the outbox; NULL before the first';
COMMENT ON COLUMN kaudit.alert_groups.next_notify_at IS 'When the next notification is due: opened_at + group_wait for a new group, last_notified_at + group_interval once a finding arrived after a notification; NULL when nothing is waiting to be announced';
COMMENT ON COLUMN kaudit.alert_groups.closed_at IS 'When the group closed (repeat_interval without a new finding after its last notification); the next finding with the same values opens a new group. NULL while open';
COMMENT ON COLUMN kaudit.alert_groups.updated_at IS 'Last change of the row';

-- One open group per (webhook, key); closed groups keep their digest.
CREATE UNIQUE INDEX alert_groups_open_key ON kaudit.alert_groups (digest)
	WHERE closed_at IS NULL;
COMMENT ON INDEX kaudit.alert_groups_open_key IS
	'At most one open group per (webhook, key); the batch write upserts on it';
-- The flusher's two questions: which groups are due, which are quiet.
CREATE INDEX alert_groups_due_idx ON kaudit.alert_groups (next_notify_at)
	WHERE closed_at IS NULL AND next_notify_at IS NOT NULL;
CREATE INDEX alert_groups_quiet_idx ON kaudit.alert_groups (last_notified_at)
	WHERE closed_at IS NULL AND next_notify_at IS NULL;
CREATE INDEX alert_groups_opened_idx ON kaudit.alert_groups (opened_at);

CREATE TABLE kaudit.alert_group_members (
	group_id	bigint NOT NULL REFERENCES kaudit.alert_groups (id) ON DELETE CASCADE,
	finding_id	bigint NOT NULL REFERENCES kaudit.findings (id) ON DELETE CASCADE,
	notification	integer,
	added_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (group_id, finding_id)
);

COMMENT ON TABLE kaudit.alert_group_members IS
	'Which findings belong to which group, written in the transaction that stored the finding (only for findings it actually inserted), and which notification announced each';
COMMENT ON COLUMN kaudit.alert_group_members.group_id IS 'The group';
COMMENT ON COLUMN kaudit.alert_group_members.finding_id IS 'The finding';
COMMENT ON COLUMN kaudit.alert_group_members.notification IS 'The group''s notification (1 for the first) that announced the finding; NULL until then';
COMMENT ON COLUMN kaudit.alert_group_members.added_at IS 'When the finding joined the group';

-- The findings a due group has not announced yet, in the order they came.
CREATE INDEX alert_group_members_new_idx ON kaudit.alert_group_members (group_id, finding_id)
	WHERE notification IS NULL;
-- Deleting findings finds their memberships.
CREATE INDEX alert_group_members_finding_idx ON kaudit.alert_group_members (finding_id);

-- An outbox row is a finding for a webhook (as before) or a group's
-- notification, which carries its own payload. Adding nullable columns
-- without a default rewrites nothing; the check is NOT VALID because every
-- existing row has a finding.
ALTER TABLE kaudit.outbox
	ADD COLUMN payload jsonb,
	ADD COLUMN group_id bigint REFERENCES kaudit.alert_groups (id) ON DELETE CASCADE,
	ALTER COLUMN finding_id DROP NOT NULL,
	ADD CONSTRAINT outbox_finding_or_group
		CHECK (finding_id IS NOT NULL OR (group_id IS NOT NULL AND payload IS NOT NULL))
		NOT VALID;

COMMENT ON COLUMN kaudit.outbox.finding_id IS 'The finding to deliver; NULL for a group''s notification';
COMMENT ON COLUMN kaudit.outbox.payload IS 'What to deliver when it is not a finding: a group''s notification, {"group": {FIELD: VALUE}, "group_id", "webhook", "count", "new", "notification", "first", "last", "findings": [up to 20 new findings, oldest first]}. NULL: the finding is the payload';
COMMENT ON COLUMN kaudit.outbox.group_id IS 'The group whose notification this is; NULL for a finding';

-- A group's notification is made once: the flusher holds the group's row
-- lock while it writes it, and this index says so in the schema too.
CREATE UNIQUE INDEX outbox_group_notification_key ON kaudit.outbox
	(group_id, ((payload->>'notification')::integer)) WHERE group_id IS NOT NULL;
COMMENT ON INDEX kaudit.outbox_group_notification_key IS
	'One outbox row per notification of a group';

CREATE VIEW kaudit.alert_groups_open AS
	SELECT id, webhook, cluster, key, count, count - notified_count AS waiting,
	    notifications, opened_at, first_event_at, last_event_at,
	    last_notified_at, next_notify_at,
	    CASE WHEN next_notify_at IS NULL AND last_notified_at IS NOT NULL
	     THEN last_notified_at + repeat_interval_ms * interval '1 millisecond'
	    END AS closes_at
	FROM kaudit.alert_groups
	WHERE closed_at IS NULL;
COMMENT ON VIEW kaudit.alert_groups_open IS
	'Open groups: their findings, how many wait for the next notification (due at next_notify_at), and when a quiet group closes';

CREATE VIEW kaudit.alert_group_notifications AS
	SELECT o.id AS outbox_id, o.group_id, g.webhook, g.key,
	    (o.payload->>'notification')::integer AS notification,
	    (o.payload->>'new')::bigint AS new, (o.payload->>'count')::bigint AS count,
	    o.state, o.attempts, o.last_status, o.last_error, o.created_at,
	    o.delivered_at
	FROM kaudit.outbox o
	JOIN kaudit.alert_groups g ON g.id = o.group_id;
COMMENT ON VIEW kaudit.alert_group_notifications IS
	'Every group notification with its delivery state: what each webhook was told, and whether it got it';
