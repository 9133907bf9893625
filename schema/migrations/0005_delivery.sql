-- 0005_delivery.sql — delivery that loses nothing and spares the healthy
-- destinations: a delivery is retried until alert.max_age, a destination
-- that answers 410 is disabled until `kaudit alerts enable`, one that keeps
-- failing has its circuit opened (probes only), a rate limit is held across
-- every process sharing the outbox, and the rows of a webhook no longer in
-- the configuration are held, not dead.
--
-- kaudit.webhooks keeps what every alerter must agree on about a
-- destination; an alerter adds the rows of its configured webhooks when it
-- starts. A claim locks the rows of the destinations whose shared state it
-- changes (a rate-limited one, an open circuit), always in name order, and
-- so does the record of an attempt, so two processes never deadlock.

ALTER TABLE kaudit.outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE kaudit.outbox ADD CONSTRAINT outbox_state_check
	CHECK (state IN ('pending', 'done', 'dead', 'held'));

-- Nullable without a default: adding them rewrites nothing.
ALTER TABLE kaudit.outbox
	ADD COLUMN retried_at timestamptz,
	ADD COLUMN held_reason text;

COMMENT ON COLUMN kaudit.outbox.state IS
	'pending (to deliver or retry; also the rows of a disabled destination, not claimed until it is enabled), done (delivered with a 2xx), dead (gave up: alert.max_age passed, alert.max_attempts reached, or an answer retrying cannot change; see last_error), held (its webhook is not in the configuration; see held_reason)';
COMMENT ON COLUMN kaudit.outbox.retried_at IS
	'When the row was last made pending again by `kaudit alerts retry`, `kaudit alerts enable` or an alerter configured with its webhook (for a held row): alert.max_age counts from here, or from created_at when NULL';
COMMENT ON COLUMN kaudit.outbox.held_reason IS
	'Why the row is held (its webhook is not in the configuration of an alerter that started); NULL unless state is held';
COMMENT ON COLUMN kaudit.outbox.last_error IS
	'Error of the last attempt: connection error, timeout, or HTTP status with the start of the response body; for a row dead without an attempt, why';

-- A claim walks each destination's due rows in due order.
CREATE INDEX outbox_webhook_due_idx ON kaudit.outbox (webhook, next_attempt_at, id)
	WHERE state = 'pending';
CREATE INDEX outbox_held_idx ON kaudit.outbox (webhook) WHERE state = 'held';

CREATE TABLE kaudit.webhooks (
	name		text PRIMARY KEY,
	disabled_at	timestamptz,
	disabled_reason	text,
	failures	integer NOT NULL DEFAULT 0,
	opened_at	timestamptz,
	probes		integer NOT NULL DEFAULT 0,
	next_probe_at	timestamptz,
	tokens		double precision NOT NULL DEFAULT 0,
	tokens_at	timestamptz,
	seen_at		timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE kaudit.webhooks IS
	'One row per destination (alert.webhooks[].name), shared by every kaudit process on this database: whether it is disabled, its circuit breaker and its rate-limit bucket';
COMMENT ON COLUMN kaudit.webhooks.name IS 'Name of the webhook in the configuration';
COMMENT ON COLUMN kaudit.webhooks.disabled_at IS
	'When the destination answered 410 Gone; its rows stay pending and are not claimed until `kaudit alerts enable NAME`. NULL: enabled';
COMMENT ON COLUMN kaudit.webhooks.disabled_reason IS 'The 410 answer that disabled it';
COMMENT ON COLUMN kaudit.webhooks.failures IS
	'Consecutive failed attempts (5xx, 408, timeouts, connection errors); a success resets it';
COMMENT ON COLUMN kaudit.webhooks.opened_at IS
	'When the circuit opened (after 5 consecutive failures); NULL: closed. While open, claims take one probe row at a time and leave the others unclaimed and uncharged';
COMMENT ON COLUMN kaudit.webhooks.probes IS 'Probes that failed since the circuit opened: they pace the next probe like a row''s retries';
COMMENT ON COLUMN kaudit.webhooks.next_probe_at IS
	'While the circuit is open: when the next probe may be claimed (pushed on by the lease while a probe is in flight)';
COMMENT ON COLUMN kaudit.webhooks.tokens IS
	'Rate limit (rate_limit): the tokens left at tokens_at; a claim refills them at the configured rate, up to a tenth of a second''s worth (at least one), and takes one per row';
COMMENT ON COLUMN kaudit.webhooks.tokens_at IS 'When tokens was last taken; NULL: a full bucket';
COMMENT ON COLUMN kaudit.webhooks.seen_at IS 'When an alerter configured with this webhook last started';

-- Per destination: its shared state and its rows, for `kaudit alerts list`
-- and dashboards.
CREATE VIEW kaudit.alert_destinations AS
	SELECT w.name, w.disabled_at, w.disabled_reason,
	    w.opened_at IS NOT NULL AS circuit_open, w.opened_at, w.failures,
	    w.next_probe_at,
	    (SELECT count(*) FROM kaudit.outbox o
	     WHERE o.webhook = w.name AND o.state = 'pending') AS pending,
	    (SELECT count(*) FROM kaudit.outbox o
	     WHERE o.webhook = w.name AND o.state = 'held') AS held,
	    (SELECT count(*) FROM kaudit.outbox o
	     WHERE o.webhook = w.name AND o.state = 'dead') AS dead
	FROM kaudit.webhooks w;
COMMENT ON VIEW kaudit.alert_destinations IS
	'Per destination: disabled (when, why), circuit open (since when, consecutive failures, next probe), and its pending, held and dead rows';
