#!/usr/bin/env bash
# db_outage.sh — a PostgreSQL outage longer than max.poll.interval.ms costs
# the daemon neither its place in the consumer group nor a single finding.
#
# The daemon (max.poll.interval.ms 10 s) consumes a first round of events;
# then its database stops, a second round arrives and is held while the
# database stays away for longer than 10 s; then the database comes back and
# a third round follows. The workers must pause their partitions and keep
# polling Kafka meanwhile: no "maximum poll interval exceeded", no
# rebalance, and afterwards the findings equal `kaudit scan`'s. The database
# is a private PostgreSQL in the test's own directory, so stopping it leaves
# the shared one to the other tests.
IT_NAME=db_outage
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

pg_stop() { tests/services/pg.sh stop "$IT_DIR" >/dev/null 2>&1; }
trap 'pg_stop; it_cleanup' EXIT
IT_DB_URL=$(tests/services/pg.sh start "$IT_DIR" 2>"$IT_DIR/pg.err") ||
    { cat "$IT_DIR/pg.err" >&2; it_abort setup "could not start a private PostgreSQL"; }
# pg.sh trades durability for speed (synchronous_commit off), and its stop is
# a crash (-m immediate): commits acknowledged just before it would vanish,
# with their offsets already stored. A real server keeps what it acknowledged.
it_sql "alter system set synchronous_commit = on" >/dev/null &&
    it_sql "select pg_reload_conf()" >/dev/null ||
    it_abort setup "could not make the private PostgreSQL durable"

max_poll_ms=10000
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
panther=$IT_CORPUS/panther-labs-panther-analysis
for r in 1 2 3; do
	python3 tests/integration/lib/replicate.py --copies 2 --tag "outage$r" \
	    "$falco"/*.json "$panther/panther_k8s_audit_native.jsonl" >"$IT_DIR/round$r.jsonl" ||
	    it_abort setup "could not build the event files"
done
it_scan_set "$IT_DIR"/round[123].jsonl >"$IT_DIR/want"
want=$(it_plain <"$IT_DIR/want" | wc -l)
want1=$(it_scan_set "$IT_DIR/round1.jsonl" | it_plain | wc -l)
plain=$(it_plain_sql)

topic=it-db-outage-$$
cfg=$IT_DIR/kaudit.yaml
log=$IT_DIR/daemon.log
IT_KAFKA_PROPS="{\"auto.offset.reset\": \"earliest\", \"session.timeout.ms\": \"6000\",
  \"heartbeat.interval.ms\": \"1000\", \"max.poll.interval.ms\": \"$max_poll_ms\"}"
it_config "$cfg" "$topic" "it-db-outage-$$" "ingest:
  workers: 2
  batch_max: 50
  batch_ms: 50"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"

it_produce_lines "$topic" "$IT_DIR/round1.jsonl" || it_abort produce "kcat failed"
it_start "$cfg" "$log"
pid=$IT_PID
it_wait_sql "select (count(*) >= $want1)::int from kaudit.findings where $plain" 30 ||
    { it_show_log "$log"; it_abort first-round "round 1's $want1 findings not stored within 30 s"; }
# The group is stable once both workers took part in a rebalance; one that
# joins late rebalances the group, which the outage must not be blamed for.
for ((i = 0; i < 100; i++)); do
	grep -q 'worker 0: assigned' "$log" && grep -q 'worker 1: assigned' "$log" && break
	sleep 0.2
done

echo "--- test: postgres stopped" >>"$log"
pg_stop
it_produce_lines "$topic" "$IT_DIR/round2.jsonl" || it_abort produce "kcat failed"
for ((i = 0; i < 100; i++)); do
	grep -q 'cannot commit; holding' "$log" && break
	sleep 0.1
done
if grep -q 'cannot commit; holding' "$log"; then
	it_ok worker-waits-for-database
else
	it_fail worker-waits-for-database "no worker held a batch for the database within 10 s"
fi
# Longer than max.poll.interval.ms, counted from the first held batch.
sleep $((max_poll_ms / 1000 + 4))
kill -0 "$pid" 2>/dev/null || { it_show_log "$log"; it_abort alive "the daemon died during the outage"; }
tests/services/pg.sh restart "$IT_DIR" 2>"$IT_DIR/pg.err" ||
    { cat "$IT_DIR/pg.err" >&2; it_abort restart "PostgreSQL did not start again"; }
echo "--- test: postgres back" >>"$log"
it_produce_lines "$topic" "$IT_DIR/round3.jsonl" || it_abort produce "kcat failed"

if it_wait_sql "select (count(*) >= $want)::int from kaudit.findings where $plain" 40; then
	it_ok resumes-without-restart
else
	it_fail resumes-without-restart "$(it_sql "select count(*) from kaudit.findings where $plain") of $want findings 40 s after the database came back"
fi
echo "--- test: stopping" >>"$log"
kill -TERM "$pid"
it_wait_exit "$pid" 30
rc=$?
[ "$rc" -eq 0 ] && it_ok sigterm-exit-0 || { it_fail sigterm-exit-0 "exited $rc after SIGTERM"; it_show_log "$log"; }

# From the outage to the stop: no eviction, no rebalance of any kind.
sed -n '/^--- test: postgres stopped/,/^--- test: stopping/p' "$log" >"$IT_DIR/outage.log"
bad='MAXPOLL|max\.poll\.interval|revoked|assigned [0-9]+ partition|rebalance|lost'
if grep -qiE "$bad" "$IT_DIR/outage.log"; then
	it_fail kept-group-membership "$(grep -iE "$bad" "$IT_DIR/outage.log" | head -n 1)"
	it_show_log "$IT_DIR/outage.log"
else
	it_ok kept-group-membership
fi
grep -q 'batch committed after' "$IT_DIR/outage.log" && it_ok batch-committed-after-outage ||
    it_fail batch-committed-after-outage "no held batch committed after the database came back"

it_db_set >"$IT_DIR/got"
it_plain <"$IT_DIR/want" >"$IT_DIR/want-plain"
it_plain <"$IT_DIR/got" >"$IT_DIR/got-plain"
it_same findings-equal-scan "$IT_DIR/want-plain" "$IT_DIR/got-plain"
read -r n nd <<<"$(it_sql "select count(*), count(distinct (rule, coalesce(dedup, audit_id))) from kaudit.findings")"
[ "$n" = "$nd" ] && it_ok no-duplicate-findings ||
    it_fail no-duplicate-findings "$n rows for $nd distinct findings"
it_log "$n findings; outage log: $(grep -c . "$IT_DIR/outage.log") lines"
it_done
