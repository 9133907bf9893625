#!/usr/bin/env bash
# stop_broker_away.sh — SIGTERM while Kafka is unreachable, on a broker of
# this test's own (kafka.sh start/stop/restart), real PostgreSQL.
#
# The daemon reads 60 events, then its broker is stopped and the daemon gets
# SIGTERM: it must exit within shutdown_timeout (5 s here) and a margin,
# saying in its log that it left without the group leave and that nothing is
# lost. The broker comes back, 60 more events are sent and a new daemon
# drains the topic: each of the 120 events has its finding exactly once.
IT_NAME=stop-broker-away
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

kdir=$IT_DIR/broker
mkdir -p "$kdir"
trap 'tests/services/kafka.sh stop "$kdir" >/dev/null 2>&1; it_cleanup' EXIT
KAUDIT_KAFKA_BROKERS=$(tests/services/kafka.sh start "$kdir" 2>"$IT_DIR/kafka.err") ||
    { cat "$IT_DIR/kafka.err" >&2; it_abort broker "the test's broker did not start"; }

topic=it-stop-away-$$
cfg=$IT_DIR/kaudit.yaml
log=$IT_DIR/daemon.log
cat >"$IT_DIR/rule.yaml" <<'EOF'
- rule: it.stop.configmap
  title: ConfigMap created
  description: stop test rule
  condition: objectRef.resource = configmaps and verb = create
  output: "%{user.username} created configmap %{objectRef.name}"
  severity: medium
  category: inventory
EOF
# A 6 s session (the broker's least) lets the test see /readyz take back
# "joined" once the session has expired with the broker away.
IT_KAFKA_PROPS='{"auto.offset.reset": "earliest", "session.timeout.ms": "6000"}'
it_config "$cfg" "$topic" "it-stop-away-$$" "rules: [\"$IT_DIR/rule.yaml\"]
shutdown_timeout: 5s
metrics:
  listen: \"127.0.0.1:0\""
# readyz: the status of the daemon's /readyz; the body in $IT_DIR/readyz.
readyz() {
	curl -s -o "$IT_DIR/readyz" -w '%{http_code}' "http://127.0.0.1:$mport/readyz"
}
# wait_ready WANT SECONDS
wait_ready() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		[ "$(readyz)" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

events() {	# PREFIX COUNT
	local i
	for ((i = 1; i <= $2; i++)); do
		printf '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
		printf '"auditID":"%s-%d","stage":"ResponseComplete","verb":"create",' "$1" "$i"
		printf '"user":{"username":"alice"},"sourceIPs":["10.0.0.1"],'
		printf '"objectRef":{"resource":"configmaps","namespace":"default","name":"cm-%d"},' "$i"
		printf '"responseStatus":{"code":201},'
		printf '"requestReceivedTimestamp":"2026-11-02T10:00:00.000000Z",'
		printf '"stageTimestamp":"2026-11-02T10:00:00.100000Z"}\n'
	done >"$IT_DIR/$1.jsonl"
	it_produce_lines "$topic" "$IT_DIR/$1.jsonl" || it_abort produce "kcat failed"
}

it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"
it_start "$cfg" "$log"
pid=$IT_PID
events before 60
it_wait_sql "select (count(*) = 60)::int from kaudit.findings" 60 && it_ok first-events ||
    { it_show_log "$log"; it_abort first-events "not every first event has its finding"; }

mport=$(grep -o 'metrics: .*(port [0-9]*)' "$log" | head -n 1 | sed 's/.*(port \([0-9]*\))/\1/')
wait_ready 200 30 && it_ok ready-while-joined || it_fail ready-while-joined "$(cat "$IT_DIR/readyz")"

tests/services/kafka.sh stop "$kdir"
# With the broker away the session expires and the group's assignment is
# lost: the replica is no longer ready.
wait_ready 503 40 && grep -q 'consumer group' "$IT_DIR/readyz" && it_ok not-ready-when-lost ||
    it_fail not-ready-when-lost "/readyz with the broker away: $(cat "$IT_DIR/readyz")"
it_term_timed "$pid" 20
rc=$IT_RC ms=$IT_MS
it_log "exit $rc after SIGTERM in $ms ms with the broker away (shutdown_timeout 5 s)"
if [ "$rc" = 124 ]; then
	it_fail stop-bounded "still running 20 s after SIGTERM"
	it_show_log "$log"
elif [ "$ms" -gt 10000 ]; then
	it_fail stop-bounded "exited after $ms ms"
else
	it_ok stop-bounded
fi
[ "$rc" = 0 ] && it_ok stop-exit-0 || it_fail stop-exit-0 "exit $rc"
grep -q "exiting without leaving the group" "$log" && grep -q "nothing is lost" "$log" &&
    it_ok log-says-so || { it_fail log-says-so "no word of the skipped leave"; it_show_log "$log"; }

tests/services/kafka.sh restart "$kdir" >/dev/null 2>>"$IT_DIR/kafka.err" ||
    it_abort broker "the broker did not come back"
events after 60
it_run_idle drain "$cfg" "$IT_DIR/drain.log" 150 3 || true
n=$(it_sql "select count(*) from kaudit.findings")
d=$(it_sql "select count(distinct audit_id) from kaudit.findings")
[ "$d" = 120 ] && it_ok no-loss || it_fail no-loss "$d of 120 events have their finding"
[ "$n" = "$d" ] && it_ok once-each || it_fail once-each "$n findings for $d events"
it_done
