-- 0003_outbox_lease.sql — leases on outbox rows, so that an alerter claims
-- rows with one short statement and holds no transaction (nor row lock)
-- while its webhook POSTs run, which may take up to a webhook's timeout_ms.
--
-- A claim sets locked_until and locked_by on the rows it takes and commits at
-- once; other alerters skip a row whose lease has not expired. Each attempt
-- is recorded in its own statement, only while the row is still leased by the
-- same alerter, and clears the lease. A crashed alerter's rows come back when
-- their lease expires. Both columns are NULL on a row nobody is delivering.
--
-- Adding nullable columns without a default rewrites nothing.

ALTER TABLE kaudit.outbox
	ADD COLUMN locked_until timestamptz,
	ADD COLUMN locked_by text;

COMMENT ON TABLE kaudit.outbox IS
	'One row per (finding, webhook) to deliver, written in the same transaction as the finding. An alerter claims due pending rows by setting a lease (locked_until, locked_by) in one short statement, so no transaction stays open while it POSTs.';
COMMENT ON COLUMN kaudit.outbox.locked_until IS
	'End of the lease of the alerter delivering the row (its longest webhook timeout plus a margin); other alerters skip the row until then. NULL when nobody is delivering it. A lease in the past is one left by an alerter that stopped without cleaning up: the row is claimable again';
COMMENT ON COLUMN kaudit.outbox.locked_by IS
	'The alerter holding the lease, as host:pid:random. An attempt is recorded only while the row is still leased by the alerter that made it, so a late result never overwrites that of an alerter that took over an expired lease';

-- The claim walks pending rows oldest first; done and dead rows, which pile
-- up, stay out of this index.
CREATE INDEX outbox_claim_idx ON kaudit.outbox (id) WHERE state = 'pending';
-- Rows under a lease are few (those in flight): releasing an alerter's
-- leases and counting deliveries in flight read only them.
CREATE INDEX outbox_lease_idx ON kaudit.outbox (locked_by) WHERE locked_by IS NOT NULL;
