/* outbox.c — the alert outbox: claim due rows under a lease, record
 * delivery attempts, release leases, look at what is ahead, hold the rows of
 * webhooks no longer configured, and what `kaudit alerts` reads and changes
 * (see db.h).
 *
 * DESIGN: every operation is one statement in its own transaction, so no
 * transaction (nor row lock) stays open while a webhook POST runs, which may
 * take up to its timeout_ms. A claim picks due rows with FOR UPDATE SKIP
 * LOCKED, which only keeps two claims running at the same instant apart,
 * and marks them with a lease (locked_until, locked_by) that every later
 * claim respects until it expires. The lease is what keeps alerters off each
 * other's rows for the length of a POST. Recording an attempt checks that the
 * row is still leased by the same alerter and clears the lease; when it is
 * not (the lease expired and another alerter took the row), the record
 * changes nothing, so a late answer never overwrites a newer attempt's. A
 * crashed alerter's rows come back when their lease expires.
 *
 * What processes sharing the outbox must agree on about a destination lives
 * in kaudit.webhooks and moves inside the claim and the record statements:
 * the tokens of its rate limit (taken by the claim), its circuit (a probe
 * taken by the claim, failures and successes counted by the record) and
 * whether it is disabled. Both lock the kaudit.webhooks rows they change in
 * name order and before any outbox row another statement may want, so they
 * never deadlock; a healthy destination without a rate limit is never
 * locked at all. */
#include "schema/db.h"
#include "schema/db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xmalloc.h"

/* now() is the start of the statement, which is its own transaction: the
 * same instant as clock_timestamp() here, and usable in index scans.
 *
 * A claim in steps: conf is what this alerter may take of each destination
 * (free concurrency, rate); lk locks, in name order, the kaudit.webhooks rows
 * whose shared state the claim changes (a rate-limited destination, an open
 * circuit whose probe is due), and takes their values from the locked row,
 * which is the latest: two processes take tokens and probes one after the
 * other. d is how many rows each destination gives: its free concurrency,
 * one probe when its circuit is open, the whole tokens in its bucket. pick
 * takes them, due order first, skipping rows another claim is locking; u
 * leases them and t takes the tokens and pushes the next probe past the
 * probe's lease. The webhooks rows are all locked before any outbox row,
 * as in the record, so claims and records never wait on each other in a
 * circle. A row carries its own payload (a group's notification) or
 * delivers its finding. */
static const struct db_sql sql_claim = {
	"kaudit_outbox_claim",
	"WITH conf AS ("
	" SELECT * FROM unnest($4::text[], $5::integer[], $6::float8[], $7::float8[])"
	"  AS c(name, cap, rate, burst) WHERE cap > 0"
	"), lk AS MATERIALIZED ("
	" SELECT w.name, w.opened_at IS NOT NULL AS probe, w.tokens, w.tokens_at"
	" FROM kaudit.webhooks w JOIN conf c ON c.name = w.name"
	" WHERE w.disabled_at IS NULL AND (c.rate > 0 OR w.opened_at IS NOT NULL)"
	"  AND (w.opened_at IS NULL OR w.next_probe_at <= now())"
	" ORDER BY w.name FOR UPDATE OF w"
	"), d AS MATERIALIZED ("
	" SELECT c.name, false AS probe, c.cap AS n, NULL::float8 AS tokens"
	" FROM conf c JOIN kaudit.webhooks w ON w.name = c.name"
	" WHERE w.disabled_at IS NULL AND c.rate = 0 AND w.opened_at IS NULL"
	" UNION ALL"
	" SELECT c.name, lk.probe, greatest(0, least(c.cap,"
	"  CASE WHEN lk.probe THEN 1 ELSE c.cap END,"
	"  CASE WHEN c.rate > 0 THEN floor(b.tokens)::integer ELSE c.cap END)), b.tokens"
	" FROM lk JOIN conf c ON c.name = lk.name"
	" CROSS JOIN LATERAL (SELECT CASE WHEN c.rate > 0 THEN"
	"  CASE WHEN lk.tokens_at IS NULL THEN c.burst"
	"  ELSE least(c.burst, lk.tokens + c.rate * extract(epoch FROM now() - lk.tokens_at))"
	"  END END AS tokens) b"
	"), pick AS ("
	" SELECT o.id, d.probe FROM d CROSS JOIN LATERAL ("
	"  SELECT o.id FROM kaudit.outbox o"
	"  WHERE o.webhook = d.name AND o.state = 'pending' AND o.next_attempt_at <= now()"
	"   AND (o.locked_until IS NULL OR o.locked_until <= now())"
	"  ORDER BY o.next_attempt_at, o.id LIMIT d.n FOR UPDATE OF o SKIP LOCKED) o"
	" WHERE d.n > 0"
	" ORDER BY o.id LIMIT $1::integer"
	"), u AS ("
	" UPDATE kaudit.outbox o SET locked_by = $3,"
	"  locked_until = now() + $2::bigint * interval '1 millisecond'"
	" FROM pick WHERE o.id = pick.id"
	" RETURNING o.id, o.webhook, o.finding_id, o.payload, o.attempts, pick.probe,"
	"  (extract(epoch FROM now() - coalesce(o.retried_at, o.created_at)) * 1000)::bigint"
	"   AS age_ms"
	"), t AS ("
	" UPDATE kaudit.webhooks w SET"
	"  tokens = CASE WHEN d.tokens IS NULL THEN w.tokens ELSE d.tokens - x.taken END,"
	"  tokens_at = CASE WHEN d.tokens IS NULL THEN w.tokens_at ELSE now() END,"
	"  next_probe_at = CASE WHEN d.probe"
	"   THEN now() + $2::bigint * interval '1 millisecond' ELSE w.next_probe_at END"
	" FROM (SELECT webhook, count(*) AS taken FROM u GROUP BY webhook) x"
	" JOIN d ON d.name = x.webhook"
	" WHERE w.name = x.webhook AND (d.tokens IS NOT NULL OR d.probe)"
	")"
	" SELECT u.id, u.webhook, COALESCE(u.payload, f.finding)::text, u.attempts, u.probe,"
	"  u.age_ms"
	" FROM u LEFT JOIN kaudit.findings f ON f.id = u.finding_id ORDER BY u.id",
	7
};

/* A record in steps: r is the attempts, u records them on the rows still
 * leased to this alerter (ending the leases) and a keeps each in
 * kaudit.delivery_attempts; s sums them up per destination; lk locks, in
 * name order, the destinations whose state changes (a failure, a 410, a
 * success after failures; a healthy destination's row is not touched, so
 * records of healthy deliveries never wait on each other); w moves their
 * failures, circuit and disabled state; due makes the rows of a destination
 * whose circuit closes due at once (a row waiting out a Retry-After of a
 * destination that merely failed now and then keeps its wait); old ends, after a failed probe, the rows that
 * have waited longer than max_age. Rows leased at the start of the statement
 * (this record's own, others in flight) are left to their alerters. */
#define OUTBOX_WAIT(k)	"($11::bigint[])[least(" k ", cardinality($11::bigint[]))]" \
	" * (0.9 + 0.2 * random()) * interval '1 millisecond'"
static const struct db_sql sql_record = {
	"kaudit_outbox_record",
	"WITH r AS ("
	" SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[],"
	"  $5::integer[], $6::bigint[], $7::text[], $8::boolean[])"
	"  AS r(id, state, status, error, dur, retry, health, probe)"
	"), u AS ("
	" UPDATE kaudit.outbox o SET attempts = o.attempts + 1, state = r.state,"
	"  last_status = r.status, last_error = r.error,"
	"  next_attempt_at = CASE WHEN r.state = 'pending'"
	"   THEN clock_timestamp() + r.retry * interval '1 millisecond'"
	"   ELSE o.next_attempt_at END,"
	"  delivered_at = CASE WHEN r.state = 'done' THEN clock_timestamp() END,"
	"  locked_until = NULL, locked_by = NULL"
	" FROM r WHERE o.id = r.id AND o.state = 'pending' AND o.locked_by = $9"
	" RETURNING o.id, o.webhook, r.status, r.error, r.dur, r.health, r.probe"
	"), a AS ("
	" INSERT INTO kaudit.delivery_attempts (outbox_id, http_status, error, duration_ms)"
	" SELECT id, status, error, dur FROM u ORDER BY id"
	"), s AS ("
	" SELECT webhook, bool_or(health = 'ok') AS ok,"
	"  count(*) FILTER (WHERE health = 'fail') AS fails,"
	"  bool_or(health = 'fail' AND probe) AS probe_failed,"
	"  min(error) FILTER (WHERE health = 'gone') AS gone"
	" FROM u GROUP BY webhook"
	"), lk AS MATERIALIZED ("
	" SELECT w.name, w.failures, w.opened_at, w.probes, w.disabled_at"
	" FROM kaudit.webhooks w JOIN s ON s.webhook = w.name"
	" WHERE s.fails > 0 OR s.gone IS NOT NULL"
	"  OR (s.ok AND (w.failures > 0 OR w.opened_at IS NOT NULL))"
	" ORDER BY w.name FOR UPDATE OF w"
	"), w AS ("
	" UPDATE kaudit.webhooks w SET"
	"  failures = CASE WHEN s.ok THEN 0 ELSE lk.failures + s.fails END,"
	"  opened_at = CASE WHEN s.ok THEN NULL"
	"   WHEN lk.opened_at IS NULL AND lk.failures + s.fails >= $10::integer THEN now()"
	"   ELSE lk.opened_at END,"
	"  probes = CASE WHEN s.ok OR lk.opened_at IS NULL THEN 0"
	"   WHEN s.probe_failed THEN lk.probes + 1 ELSE lk.probes END,"
	"  next_probe_at = CASE WHEN s.ok THEN NULL"
	"   WHEN lk.opened_at IS NULL AND lk.failures + s.fails >= $10::integer"
	"    THEN now() + " OUTBOX_WAIT("1")
	"   WHEN lk.opened_at IS NOT NULL AND s.probe_failed"
	"    THEN now() + " OUTBOX_WAIT("lk.probes + 2")
	"   ELSE w.next_probe_at END,"
	"  disabled_at = CASE WHEN s.gone IS NOT NULL THEN coalesce(lk.disabled_at, now())"
	"   ELSE w.disabled_at END,"
	"  disabled_reason = CASE WHEN s.gone IS NOT NULL AND lk.disabled_at IS NULL"
	"   THEN s.gone ELSE w.disabled_reason END"
	" FROM s JOIN lk ON lk.name = s.webhook WHERE w.name = s.webhook"
	"), due AS ("
	" UPDATE kaudit.outbox o SET next_attempt_at = now()"
	" FROM s JOIN lk ON lk.name = s.webhook"
	" WHERE s.ok AND lk.opened_at IS NOT NULL"
	"  AND o.webhook = s.webhook AND o.state = 'pending' AND o.next_attempt_at > now()"
	"  AND (o.locked_until IS NULL OR o.locked_until <= now())"
	"), old AS ("
	" UPDATE kaudit.outbox o SET state = 'dead', last_error ="
	"  'alert.max_age passed while the destination was failing'"
	"  || coalesce('; last error: ' || o.last_error, '')"
	" FROM s WHERE s.probe_failed AND NOT s.ok AND o.webhook = s.webhook"
	"  AND o.state = 'pending'"
	"  AND coalesce(o.retried_at, o.created_at) + $12::bigint * interval '1 millisecond'"
	"   <= now()"
	"  AND (o.locked_until IS NULL OR o.locked_until <= now())"
	")"
	" SELECT id FROM u",
	12
};
#undef OUTBOX_WAIT

static const struct db_sql sql_release = {
	"kaudit_outbox_release",
	"UPDATE kaudit.outbox SET locked_until = NULL, locked_by = NULL"
	" WHERE locked_by = $1",
	1
};
static const struct db_sql sql_pending = {
	"kaudit_outbox_pending",
	"SELECT count(*) FROM kaudit.outbox WHERE state = 'pending'", 0
};
static const struct db_sql sql_due = {
	"kaudit_outbox_due",
	"SELECT count(*) FROM kaudit.outbox WHERE state = 'pending'"
	" AND next_attempt_at <= clock_timestamp()"
	" AND (locked_until IS NULL OR locked_until <= clock_timestamp())", 0
};
static const struct db_sql sql_leased = {
	"kaudit_outbox_leased",
	"SELECT count(*) FROM kaudit.outbox WHERE locked_by IS NOT NULL"
	" AND state = 'pending' AND locked_until > clock_timestamp()", 0
};

/* Per claimable destination, when its next row may go: the first unleased
 * pending row's time, or later for an open circuit (its next probe) or an
 * empty bucket (its next token). */
static const struct db_sql sql_look = {
	"kaudit_outbox_look",
	"WITH n AS ("
	" SELECT w.opened_at IS NULL AS closed, x.at,"
	"  CASE WHEN w.opened_at IS NOT NULL THEN greatest(x.at, w.next_probe_at)"
	"   WHEN c.rate > 0 AND w.tokens_at IS NOT NULL AND w.tokens < 1"
	"    THEN greatest(x.at, w.tokens_at + (1 - w.tokens) / c.rate * interval '1 second')"
	"   ELSE x.at END AS t"
	" FROM unnest($1::text[], $2::float8[]) AS c(name, rate)"
	" JOIN kaudit.webhooks w ON w.name = c.name"
	" CROSS JOIN LATERAL (SELECT o.next_attempt_at AS at FROM kaudit.outbox o"
	"  WHERE o.webhook = c.name AND o.state = 'pending'"
	"   AND (o.locked_until IS NULL OR o.locked_until <= clock_timestamp())"
	"  ORDER BY o.next_attempt_at LIMIT 1) x"
	" WHERE w.disabled_at IS NULL"
	")"
	" SELECT coalesce(ceil(extract(epoch FROM min(t) - clock_timestamp()) * 1000)::bigint, -1),"
	"  coalesce(bool_or(closed AND at <= clock_timestamp()), false),"
	"  (SELECT count(*) FROM kaudit.outbox WHERE locked_by IS NOT NULL"
	"   AND state = 'pending' AND locked_until > clock_timestamp())"
	" FROM n",
	2
};
/* In name order, like every lock on kaudit.webhooks. */
static const struct db_sql sql_sync_dests = {
	"kaudit_outbox_sync_dests",
	"INSERT INTO kaudit.webhooks (name)"
	" SELECT DISTINCT name FROM unnest($1::text[]) AS n(name) ORDER BY name"
	" ON CONFLICT (name) DO UPDATE SET seen_at = now()",
	1
};
static const struct db_sql sql_unhold = {
	"kaudit_outbox_unhold",
	"UPDATE kaudit.outbox SET state = 'pending', held_reason = NULL,"
	" retried_at = now(), next_attempt_at = least(next_attempt_at, now())"
	" WHERE state = 'held' AND webhook = ANY($1::text[])",
	1
};
static const struct db_sql sql_hold = {
	"kaudit_outbox_hold",
	"UPDATE kaudit.outbox SET state = 'held', held_reason ="
	" format('webhook %s is not in the configuration of alerter %s, started %s',"
	"  webhook, $2::text,"
	"  to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"
	" WHERE state = 'pending' AND webhook <> ALL($1::text[])"
	" AND (locked_until IS NULL OR locked_until <= now())",
	2
};

/* `kaudit alerts list`: a pending row of a disabled destination reads as
 * disabled, and a held row's reason stands in for the error. */
#define ALERTS_STATE \
	"CASE WHEN o.state = 'pending' AND w.disabled_at IS NOT NULL THEN 'disabled'" \
	" ELSE o.state END"
#define EPOCH_MS(t)	"coalesce((extract(epoch FROM " t ") * 1000)::bigint, 0)"
static const struct db_sql sql_alerts_list = {
	"kaudit_alerts_list",
	"SELECT o.id, o.webhook, " ALERTS_STATE ", o.attempts, coalesce(o.last_status, 0),"
	" CASE WHEN o.state = 'held' THEN o.held_reason ELSE o.last_error END,"
	" " EPOCH_MS("o.created_at") ","
	" CASE WHEN o.state = 'pending' THEN " EPOCH_MS("o.next_attempt_at") " ELSE 0 END"
	" FROM kaudit.outbox o LEFT JOIN kaudit.webhooks w ON w.name = o.webhook"
	" WHERE ($1::text IS NULL OR (o.state = CASE WHEN $1 = 'disabled' THEN 'pending'"
	"   ELSE $1 END AND (o.state <> 'pending'"
	"   OR (w.disabled_at IS NOT NULL) = ($1 = 'disabled'))))"
	" AND ($2::text IS NULL OR o.webhook = $2)"
	" ORDER BY o.id DESC LIMIT $3::bigint",
	3
};
static const struct db_sql sql_alerts_dests = {
	"kaudit_alerts_dests",
	"SELECT * FROM ("
	" SELECT name, " EPOCH_MS("disabled_at") ", disabled_reason, " EPOCH_MS("opened_at") ","
	"  failures, " EPOCH_MS("next_probe_at") ", pending, held, dead"
	" FROM kaudit.alert_destinations"
	" UNION ALL"
	" SELECT o.webhook, 0, NULL, 0, 0, 0, 0, count(*), 0 FROM kaudit.outbox o"
	" WHERE o.state = 'held'"
	"  AND NOT EXISTS (SELECT 1 FROM kaudit.webhooks w WHERE w.name = o.webhook)"
	" GROUP BY o.webhook) d"
	" WHERE $1::text IS NULL OR d.name = $1"
	" ORDER BY 1",
	1
};
#undef EPOCH_MS
#undef ALERTS_STATE
/* By ids: dead or held rows. Otherwise every dead row (of $2). */
static const struct db_sql sql_alerts_retry = {
	"kaudit_alerts_retry",
	"WITH u AS ("
	" UPDATE kaudit.outbox SET state = 'pending', next_attempt_at = now(),"
	"  retried_at = now(), held_reason = NULL, locked_by = NULL, locked_until = NULL"
	" WHERE CASE WHEN $1::bigint[] IS NULL THEN state = 'dead'"
	"  ELSE state IN ('dead', 'held') AND id = ANY($1::bigint[]) END"
	" AND ($2::text IS NULL OR webhook = $2)"
	" RETURNING 1)"
	" SELECT count(*) FROM u",
	2
};
/* The destination's row first, then its outbox rows: the order of locks
 * of a record. */
static const struct db_sql sql_alerts_enable = {
	"kaudit_alerts_enable",
	"WITH w AS ("
	" UPDATE kaudit.webhooks SET disabled_at = NULL, disabled_reason = NULL,"
	"  failures = 0, opened_at = NULL, probes = 0, next_probe_at = NULL"
	" WHERE name = $1 RETURNING name"
	"), o AS ("
	" UPDATE kaudit.outbox o SET next_attempt_at = least(o.next_attempt_at, now()),"
	"  retried_at = now()"
	" FROM w WHERE o.webhook = w.name AND o.state = 'pending'"
	"  AND (o.locked_until IS NULL OR o.locked_until <= now())"
	" RETURNING 1"
	")"
	" SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM o)",
	1
};

/* PostgreSQL array literals for the parameters: {"a","b"} and {1,2}. A
 * text element is cleaned like any text (db_clean_text) and quoted, so any
 * name or error fits; NULL is NULL. */
static void
arr_sep(struct buf *b)
{
	buf_putc(b, b->len == 0 ? '{' : ',');
}

static void
arr_text(struct buf *b, const char *s, struct buf *tmp)
{
	arr_sep(b);
	if (s == NULL) {
		buf_puts(b, "NULL");
		return;
	}
	buf_reset(tmp);
	db_clean_text(tmp, s, strlen(s), 0);
	buf_putc(b, '"');
	for (size_t i = 0; i < tmp->len; i++) {
		if (tmp->data[i] == '"' || tmp->data[i] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, tmp->data[i]);
	}
	buf_putc(b, '"');
}

static void
arr_long(struct buf *b, long long v)
{
	arr_sep(b);
	buf_printf(b, "%lld", v);
}

static void
arr_double(struct buf *b, double v)
{
	arr_sep(b);
	buf_printf(b, "%.17g", v);
}

static void
arr_end(struct buf *b)
{
	if (b->len == 0)
		buf_putc(b, '{');
	buf_putc(b, '}');
}

/* A bucket holds a tenth of a second's worth of tokens, and at least one:
 * a burst never goes far past the rate in any one second. */
static double
outbox_burst(double rate)
{
	return rate / 10 > 1 ? rate / 10 : 1;
}

int
db_outbox_claim_send(struct db *db, const char *owner, int limit, long lease_ms,
    const struct outbox_dest *d, size_t nd, char *err, size_t errlen)
{
	struct buf names, caps, rates, bursts, tmp;
	char lim[16], lease[24];
	const char *vals[7];
	int rc;

	buf_init(&names);
	buf_init(&caps);
	buf_init(&rates);
	buf_init(&bursts);
	buf_init(&tmp);
	for (size_t k = 0; k < nd; k++) {
		arr_text(&names, d[k].name, &tmp);
		arr_long(&caps, d[k].cap);
		arr_double(&rates, d[k].rate > 0 ? d[k].rate : 0);
		arr_double(&bursts, outbox_burst(d[k].rate));
	}
	arr_end(&names);
	arr_end(&caps);
	arr_end(&rates);
	arr_end(&bursts);
	snprintf(lim, sizeof(lim), "%d", limit > 0 ? limit : 1);
	snprintf(lease, sizeof(lease), "%ld", lease_ms > 0 ? lease_ms : 1);
	vals[0] = lim;
	vals[1] = lease;
	vals[2] = owner;
	vals[3] = buf_cstr(&names);
	vals[4] = buf_cstr(&caps);
	vals[5] = buf_cstr(&rates);
	vals[6] = buf_cstr(&bursts);
	rc = db_send(db, &sql_claim, vals, err, errlen);
	buf_free(&names);
	buf_free(&caps);
	buf_free(&rates);
	buf_free(&bursts);
	buf_free(&tmp);
	return rc;
}

int
db_outbox_claim_recv(struct db *db, struct outbox_item **items, size_t *n, char *err,
    size_t errlen)
{
	struct outbox_item *it;
	PGresult *res;
	int i, rows;

	*items = NULL;
	*n = 0;
	if ((res = db_recv(db, err, errlen)) == NULL)
		return -1;
	rows = PQntuples(res);
	it = xcalloc(rows ? (size_t)rows : 1, sizeof(*it));
	for (i = 0; i < rows; i++) {
		it[i].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		it[i].webhook = xstrdup(PQgetvalue(res, i, 1));
		it[i].payload = xstrdup(PQgetvalue(res, i, 2));
		it[i].attempts = atoi(PQgetvalue(res, i, 3));
		it[i].probe = PQgetvalue(res, i, 4)[0] == 't';
		it[i].age_ms = strtoll(PQgetvalue(res, i, 5), NULL, 10);
	}
	PQclear(res);
	*items = it;
	*n = (size_t)rows;
	return 0;
}

int
db_outbox_claim(struct db *db, const char *owner, int limit, long lease_ms,
    const struct outbox_dest *d, size_t nd, struct outbox_item **items, size_t *n,
    char *err, size_t errlen)
{
	*items = NULL;
	*n = 0;
	if (db_outbox_claim_send(db, owner, limit, lease_ms, d, nd, err, errlen) == -1)
		return -1;
	return db_outbox_claim_recv(db, items, n, err, errlen);
}

void
db_outbox_items_free(struct outbox_item *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(items[i].webhook);
		free(items[i].payload);
	}
	free(items);
}

static const char *
outbox_state(enum outbox_result res)
{
	switch (res) {
	case OUTBOX_DONE:
		return "done";
	case OUTBOX_DEAD:
		return "dead";
	default:
		return "pending";	/* RETRY; GONE waits for its destination */
	}
}

static const char *
outbox_health(const struct outbox_attempt *a)
{
	if (a->res == OUTBOX_GONE)
		return "gone";
	switch (a->health) {
	case OUTBOX_SUCCESS:
		return "ok";
	case OUTBOX_FAILURE:
		return "fail";
	default:
		return "none";
	}
}

/* The record's twelve parameters, as array literals and numbers. */
struct record_params {
	struct buf	 ids, states, statuses, errors, durs, retries, health, probes;
	struct buf	 waits, tmp;
	char		 open_after[16], max_age[24];
};

static void
record_params(struct record_params *p, const struct outbox_attempt *a, size_t n,
    const struct outbox_circuit *c)
{
	struct buf *all[] = { &p->ids, &p->states, &p->statuses, &p->errors, &p->durs,
	    &p->retries, &p->health, &p->probes, &p->waits, &p->tmp };

	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		buf_init(all[k]);
	for (size_t i = 0; i < n; i++) {
		arr_long(&p->ids, (long long)a[i].id);
		arr_text(&p->states, outbox_state(a[i].res), &p->tmp);
		if (a[i].http_status > 0)
			arr_long(&p->statuses, a[i].http_status);
		else
			arr_text(&p->statuses, NULL, &p->tmp);
		arr_text(&p->errors, a[i].error, &p->tmp);
		arr_long(&p->durs, a[i].duration_ms < 0 ? 0 :
		    a[i].duration_ms > 2000000000L ? 2000000000L : a[i].duration_ms);
		arr_long(&p->retries, a[i].retry_ms < 0 ? 0 : a[i].retry_ms);
		arr_text(&p->health, outbox_health(&a[i]), &p->tmp);
		arr_text(&p->probes, a[i].probe ? "t" : "f", &p->tmp);
	}
	for (size_t k = 0; k < c->nprobe_wait; k++)
		arr_long(&p->waits, c->probe_wait[k]);
	if (c->nprobe_wait == 0)
		arr_long(&p->waits, 0);
	for (size_t k = 0; k < 9; k++)
		arr_end(all[k]);
	snprintf(p->open_after, sizeof(p->open_after), "%d", c->open_after);
	snprintf(p->max_age, sizeof(p->max_age), "%lld", (long long)c->max_age_ms);
}

static void
record_params_free(struct record_params *p)
{
	struct buf *all[] = { &p->ids, &p->states, &p->statuses, &p->errors, &p->durs,
	    &p->retries, &p->health, &p->probes, &p->waits, &p->tmp };

	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		buf_free(all[k]);
}

int
db_outbox_record_send(struct db *db, const char *owner, const struct outbox_attempt *a,
    size_t n, const struct outbox_circuit *c, char *err, size_t errlen)
{
	struct record_params p;
	const char *vals[12];
	int rc;

	record_params(&p, a, n, c);
	vals[0] = buf_cstr(&p.ids);
	vals[1] = buf_cstr(&p.states);
	vals[2] = buf_cstr(&p.statuses);
	vals[3] = buf_cstr(&p.errors);
	vals[4] = buf_cstr(&p.durs);
	vals[5] = buf_cstr(&p.retries);
	vals[6] = buf_cstr(&p.health);
	vals[7] = buf_cstr(&p.probes);
	vals[8] = owner;
	vals[9] = p.open_after;
	vals[10] = buf_cstr(&p.waits);
	vals[11] = p.max_age;
	rc = db_send(db, &sql_record, vals, err, errlen);
	record_params_free(&p);
	return rc;
}

int
db_outbox_record_recv(struct db *db, struct outbox_attempt *a, size_t n, char *err,
    size_t errlen)
{
	PGresult *res;
	int64_t id;

	for (size_t i = 0; i < n; i++)
		a[i].recorded = 0;
	if ((res = db_recv(db, err, errlen)) == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		for (size_t i = 0; i < n; i++)
			if (a[i].id == id)
				a[i].recorded = 1;
	}
	PQclear(res);
	return 0;
}

int
db_outbox_record(struct db *db, const char *owner, struct outbox_attempt *a, size_t n,
    const struct outbox_circuit *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		a[i].recorded = 0;
	if (n == 0)
		return 0;
	if (db_outbox_record_send(db, owner, a, n, c, err, errlen) == -1)
		return -1;
	return db_outbox_record_recv(db, a, n, err, errlen);
}

int
db_outbox_release(struct db *db, const char *owner, long *released, char *err,
    size_t errlen)
{
	const char *vals[] = { owner };
	PGresult *res;

	*released = 0;
	if ((res = db_run(db, &sql_release, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	*released = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static int
outbox_count(struct db *db, const struct db_sql *s, long *count, char *err,
    size_t errlen)
{
	PGresult *res;

	*count = 0;
	if ((res = db_run(db, s, NULL, NULL, NULL, err, errlen)) == NULL)
		return -1;
	*count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
db_outbox_pending(struct db *db, long *pending, char *err, size_t errlen)
{
	return outbox_count(db, &sql_pending, pending, err, errlen);
}

int
db_outbox_due(struct db *db, long *due, char *err, size_t errlen)
{
	return outbox_count(db, &sql_due, due, err, errlen);
}

int
db_outbox_leased(struct db *db, long *leased, char *err, size_t errlen)
{
	return outbox_count(db, &sql_leased, leased, err, errlen);
}

int
db_outbox_look_send(struct db *db, const struct outbox_dest *d, size_t nd, char *err,
    size_t errlen)
{
	struct buf names, rates, tmp;
	const char *vals[2];
	int rc;

	buf_init(&names);
	buf_init(&rates);
	buf_init(&tmp);
	for (size_t k = 0; k < nd; k++) {
		arr_text(&names, d[k].name, &tmp);
		arr_double(&rates, d[k].rate > 0 ? d[k].rate : 0);
	}
	arr_end(&names);
	arr_end(&rates);
	vals[0] = buf_cstr(&names);
	vals[1] = buf_cstr(&rates);
	rc = db_send(db, &sql_look, vals, err, errlen);
	buf_free(&names);
	buf_free(&rates);
	buf_free(&tmp);
	return rc;
}

int
db_outbox_look_recv(struct db *db, struct outbox_look *l, char *err, size_t errlen)
{
	PGresult *res;

	l->next_ms = -1;
	l->due = 0;
	l->leased = 0;
	if ((res = db_recv(db, err, errlen)) == NULL)
		return -1;
	l->next_ms = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (l->next_ms < -1)
		l->next_ms = 0;	/* overdue */
	l->due = PQgetvalue(res, 0, 1)[0] == 't';
	l->leased = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
	return 0;
}

int
db_outbox_look(struct db *db, const struct outbox_dest *d, size_t nd,
    struct outbox_look *l, char *err, size_t errlen)
{
	l->next_ms = -1;
	l->due = 0;
	l->leased = 0;
	if (db_outbox_look_send(db, d, nd, err, errlen) == -1)
		return -1;
	return db_outbox_look_recv(db, l, err, errlen);
}

static int
outbox_update(struct db *db, const struct db_sql *s, const char *const *vals,
    long *count, char *err, size_t errlen)
{
	PGresult *res;

	if ((res = db_run(db, s, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	if (count != NULL)
		*count = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int
db_outbox_sync(struct db *db, const char *owner, const char *const *names, size_t n,
    int hold, long *held, long *released, char *err, size_t errlen)
{
	struct buf arr, tmp;
	const char *vals[2];
	int rc = -1;

	*held = 0;
	*released = 0;
	buf_init(&arr);
	buf_init(&tmp);
	for (size_t k = 0; k < n; k++)
		arr_text(&arr, names[k], &tmp);
	arr_end(&arr);
	vals[0] = buf_cstr(&arr);
	vals[1] = owner;
	if (outbox_update(db, &sql_sync_dests, vals, NULL, err, errlen) == -1 ||
	    outbox_update(db, &sql_unhold, vals, released, err, errlen) == -1 ||
	    (hold && outbox_update(db, &sql_hold, vals, held, err, errlen) == -1))
		goto out;
	rc = 0;
out:
	buf_free(&arr);
	buf_free(&tmp);
	return rc;
}

static char *
outbox_text(PGresult *res, int r, int c)
{
	return PQgetisnull(res, r, c) ? NULL : xstrdup(PQgetvalue(res, r, c));
}

static int64_t
outbox_i64(PGresult *res, int r, int c)
{
	return strtoll(PQgetvalue(res, r, c), NULL, 10);
}

int
db_alerts_list(struct db *db, const char *state, const char *webhook, long limit,
    struct alerts_row **rows, size_t *n, char *err, size_t errlen)
{
	char lim[24];
	const char *vals[] = { state, webhook, lim };
	struct alerts_row *v;
	PGresult *res;
	int k;

	*rows = NULL;
	*n = 0;
	snprintf(lim, sizeof(lim), "%ld", limit);
	if ((res = db_run(db, &sql_alerts_list, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	v = xcalloc((size_t)PQntuples(res) + 1, sizeof(*v));
	for (k = 0; k < PQntuples(res); k++) {
		v[k].id = outbox_i64(res, k, 0);
		v[k].webhook = outbox_text(res, k, 1);
		v[k].state = outbox_text(res, k, 2);
		v[k].attempts = (int)outbox_i64(res, k, 3);
		v[k].last_status = (int)outbox_i64(res, k, 4);
		v[k].last_error = outbox_text(res, k, 5);
		v[k].created_ms = outbox_i64(res, k, 6);
		v[k].next_ms = outbox_i64(res, k, 7);
	}
	PQclear(res);
	*rows = v;
	*n = (size_t)k;
	return 0;
}

void
db_alerts_rows_free(struct alerts_row *rows, size_t n)
{
	for (size_t i = 0; rows != NULL && i < n; i++) {
		free(rows[i].webhook);
		free(rows[i].state);
		free(rows[i].last_error);
	}
	free(rows);
}

int
db_alerts_dests(struct db *db, const char *webhook, struct alerts_dest **d, size_t *n,
    char *err, size_t errlen)
{
	const char *vals[] = { webhook };
	struct alerts_dest *v;
	PGresult *res;
	int k;

	*d = NULL;
	*n = 0;
	if ((res = db_run(db, &sql_alerts_dests, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	v = xcalloc((size_t)PQntuples(res) + 1, sizeof(*v));
	for (k = 0; k < PQntuples(res); k++) {
		v[k].name = outbox_text(res, k, 0);
		v[k].disabled_ms = outbox_i64(res, k, 1);
		v[k].disabled_reason = outbox_text(res, k, 2);
		v[k].opened_ms = outbox_i64(res, k, 3);
		v[k].failures = (int)outbox_i64(res, k, 4);
		v[k].next_probe_ms = outbox_i64(res, k, 5);
		v[k].pending = (long)outbox_i64(res, k, 6);
		v[k].held = (long)outbox_i64(res, k, 7);
		v[k].dead = (long)outbox_i64(res, k, 8);
	}
	PQclear(res);
	*d = v;
	*n = (size_t)k;
	return 0;
}

void
db_alerts_dests_free(struct alerts_dest *d, size_t n)
{
	for (size_t i = 0; d != NULL && i < n; i++) {
		free(d[i].name);
		free(d[i].disabled_reason);
	}
	free(d);
}

int
db_alerts_retry(struct db *db, const int64_t *ids, size_t n, const char *webhook,
    long *count, char *err, size_t errlen)
{
	struct buf arr;
	const char *vals[2];
	PGresult *res;
	int rc = -1;

	*count = 0;
	buf_init(&arr);
	for (size_t k = 0; k < n; k++)
		arr_long(&arr, (long long)ids[k]);
	arr_end(&arr);
	vals[0] = n > 0 ? buf_cstr(&arr) : NULL;
	vals[1] = webhook;
	if ((res = db_run(db, &sql_alerts_retry, vals, NULL, NULL, err, errlen)) != NULL) {
		*count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		rc = *count > 0 ? db_notify_outbox(db, err, errlen) : 0;
	}
	buf_free(&arr);
	return rc;
}

int
db_alerts_enable(struct db *db, const char *name, int *found, long *rows, char *err,
    size_t errlen)
{
	const char *vals[] = { name };
	PGresult *res;

	*found = 0;
	*rows = 0;
	if ((res = db_run(db, &sql_alerts_enable, vals, NULL, NULL, err, errlen)) == NULL)
		return -1;
	*found = atoi(PQgetvalue(res, 0, 0)) > 0;
	*rows = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return *found ? db_notify_outbox(db, err, errlen) : 0;
}
