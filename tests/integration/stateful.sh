#!/usr/bin/env bash
# stateful.sh — memory across events in the daemon, exactly once across
# processes and crashes.
#
# Events for the rules of tests/rules/stateful/engine.yaml (secret
# enumeration, denied bursts, a binding used by its subject, an old client
# suppressed, controller-created pods attributed) are shuffled within a
# minute, so the events of one key come out of order, and spread over the
# four partitions of the source topic. Two rounds:
#
#   two   two kaudit processes in one group, each with an ingester and a state
#         owner, over a four-partition signal topic;
#   kill  one process, SIGKILLed once findings of the state owners are stored,
#         in the middle of the windows, then started again after the rest of
#         the events were produced.
#
# Each round's findings (correlations with their key and counts, repeats,
# attributed users, and every single-event finding) must equal what `kaudit
# scan` finds in the same events, each stored once.
IT_NAME=stateful
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

rules=$PWD/tests/rules/stateful/engine.yaml
events=$IT_DIR/events.jsonl
python3 tests/integration/lib/stateful_events.py --users 40 --tag st-$$ >"$events" ||
    it_abort setup "could not make the events"
nev=$(wc -l <"$events")

# What is compared: a finding's rule and severity, the attributed user and
# repeats, and for a correlation its key and counts (its auditID is that of
# whichever event completed it), else its auditID.
# Which event of a suppressed series makes its finding depends on which
# arrives first, so a suppressed finding is compared by its user and repeats.
project='{rule, severity, a: .attributed_user, repeats, user: (if .rule == "t.old.client" then .user else null end),
  audit_id: (if .correlation or .rule == "t.old.client" then null else .audit_id end),
  key: .correlation.key, count: .correlation.count, d: .correlation.distinct}'
# The test replays forty minutes of event time in a few seconds, read from
# four partitions at their own pace: a lateness of two hours covers that.
"$KAUDIT" scan --lateness 2h --rules "$rules" "$events" 2>>"$IT_DIR/scan.err" |
    jq -c -S "$project" | sort >"$IT_DIR/want"
nstate=$(grep -c '"key":{' "$IT_DIR/want")
it_log "$nev events, $(wc -l <"$IT_DIR/want") findings expected, $nstate of them correlations"

db_projection() {
	it_sql "select json_build_object('rule', rule, 'severity', severity,
	    'a', attributed_user, 'repeats', repeats,
	    'user', case when rule = 't.old.client' then username end,
	    'audit_id', case when correlation is null and rule <> 't.old.client' then audit_id end,
	    'key', correlation->'key', 'count', (correlation->>'count')::int,
	    'd', (correlation->>'distinct')::int) from kaudit.findings" | jq -c -S . | sort
}

# round NAME: a fresh database, topics and groups.
setup() {
	local v=$1
	db=it_stateful_$v
	IT_DB_URL=${KAUDIT_PG_URL%/*}/$db
	topic=it-stateful-$v-$$
	stopic=it-stateful-signals-$v-$$
	cfg=$IT_DIR/$v.yaml
	it_newdb "$db" || it_abort "$v:setup" "could not create database $db"
	IT_KAFKA_PROPS='{"auto.offset.reset": "earliest", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}'
	it_config "$cfg" "$topic" "it-stateful-$v-$$" "ingest:
  workers: 1
  batch_max: 50
  batch_ms: 50
rules: [\"$rules\"]
stateful:
  topic: \"$stopic\"
  partitions: 4
  workers: 1
  lateness: 2h"
	it_migrate "$cfg" || it_abort "$v:migrate" "kaudit migrate failed"
	it_topic "$topic" 4 || it_abort "$v:produce" "could not create topic $topic"
}

check_round() {
	local v=$1 n nd
	db_projection >"$IT_DIR/$v.got"
	it_same "$v:findings-equal-scan" "$IT_DIR/want" "$IT_DIR/$v.got"
	read -r n nd <<<"$(it_sql "select count(*), count(distinct (rule, coalesce(dedup, audit_id))) from kaudit.findings")"
	[ "$n" = "$nd" ] && it_ok "$v:no-duplicates" ||
	    it_fail "$v:no-duplicates" "$n rows for $nd distinct findings"
	n=$(it_sql "select count(*) from kaudit.outbox o join kaudit.findings f on f.id = o.finding_id
	    where f.rule in ('t.secret.read', 't.denied')")
	[ "$n" = 0 ] && it_ok "$v:signal-rules-not-alerted" ||
	    it_fail "$v:signal-rules-not-alerted" "$n deliveries of alert: false rules"
}

# Two processes in one group, each exiting once everything is read and
# every signal owned.
setup two
it_produce_lines "$topic" "$events" || it_abort two:produce "kcat failed"
"$KAUDIT" run -c "$cfg" --idle-exit 3 >>"$IT_DIR/two-a.log" 2>&1 &
pa=$!
IT_PIDS+=("$pa")
"$KAUDIT" run -c "$cfg" --idle-exit 3 >>"$IT_DIR/two-b.log" 2>&1 &
pb=$!
IT_PIDS+=("$pb")
it_wait_exit "$pa" 120
ra=$?
it_wait_exit "$pb" 120
rb=$?
[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] && it_ok two:idle-exit || {
	it_fail two:idle-exit "exited $ra and $rb"
	it_show_log "$IT_DIR/two-a.log"
	it_show_log "$IT_DIR/two-b.log"
}
grep -q "state owner 0: .* from offset" "$IT_DIR/two-a.log" &&
    grep -q "state owner 0: .* from offset" "$IT_DIR/two-b.log" &&
    it_ok two:both-owned-partitions ||
    it_fail two:both-owned-partitions "a process never owned a signal partition"
check_round two

# A SIGKILL in the middle of the windows.
setup kill
half=$((nev / 2))
head -n "$half" "$events" >"$IT_DIR/first"
tail -n +"$((half + 1))" "$events" >"$IT_DIR/rest"
it_produce_lines "$topic" "$IT_DIR/first" || it_abort kill:produce "kcat failed"
it_start "$cfg" "$IT_DIR/kill.log"
if ! it_wait_sql "select count(*) from kaudit.state_keys" 60; then
	it_fail kill:state-stored "no state stored within 60 s"
	it_show_log "$IT_DIR/kill.log"
fi
kill -KILL "$IT_PID"
it_wait_exit "$IT_PID" 10 >/dev/null
keys=$(it_sql "select count(*) from kaudit.state_keys")
it_log "kill: $keys keys in PostgreSQL at the SIGKILL"
it_produce_lines "$topic" "$IT_DIR/rest" || it_abort kill:produce "kcat failed"
sleep 7		# the killed member's session runs out
it_run "$cfg" "$IT_DIR/kill.log" 120 --idle-exit 3
rc=$?
[ "$rc" -eq 0 ] && it_ok kill:restart-exit-0 || { it_fail kill:restart-exit-0 "exited $rc"; it_show_log "$IT_DIR/kill.log"; }
grep -q "with [1-9][0-9]* key(s)" "$IT_DIR/kill.log" && it_ok kill:state-reloaded ||
    it_fail kill:state-reloaded "the restarted owner loaded no key"
check_round kill
it_done
