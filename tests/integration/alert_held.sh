#!/usr/bin/env bash
# alert_held.sh — the deliveries of a webhook removed from the configuration
# are held with a reason, not dead, and go out when it comes back.
#
# Run 1 has webhooks "keep" and "gone2" (whose receiver refuses connections):
# keep's rows are delivered, gone2's keep failing. Run 2 has keep only: at
# its start gone2's rows become held, with a reason `kaudit alerts list
# --state held` shows, and nothing is sent to gone2; `kaudit alerts retry
# ID` makes one pending again (run 2 leaves it alone: not its webhook). Run
# 3 has gone2 back, now reachable: every one of its rows is delivered, once.
IT_NAME=alert_held
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-alert-held-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
for f in exec_pod attach_pod create_nginx_pod_privileged; do
	jq -c '.auditID += "-held"' "$falco/$f.json"
done >"$IT_DIR/events.jsonl"
it_scan_set "$IT_DIR/events.jsonl" | it_alerting >"$IT_DIR/want"
nwant=$(wc -l <"$IT_DIR/want")
refused=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
keep="- { name: keep, url: \"$KAUDIT_RECEIVER_URL/it/$IT_RUN/keep\" }"
conf() {	# file, webhook lines
	it_config "$1" "$topic" "it-alert-held-$$" "alert:
  webhooks:
$2
  backoff_ms: 100
  max_backoff_ms: 1000"
}
conf "$IT_DIR/1.yaml" "    $keep
    - { name: gone2, url: \"http://127.0.0.1:$refused/it/$IT_RUN/gone2\" }"
conf "$IT_DIR/2.yaml" "    $keep"
conf "$IT_DIR/3.yaml" "    $keep
    - { name: gone2, url: \"$KAUDIT_RECEIVER_URL/it/$IT_RUN/gone2\" }"
it_migrate "$IT_DIR/1.yaml" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
run_until() {	# config, SQL that turns non-zero, what
	it_start "$1" "$IT_DIR/daemon.log"
	it_wait_sql "$2" 30 || it_fail "$3" "$(it_sql "select webhook, state, count(*) from kaudit.outbox group by 1, 2")"
}
stop() {
	kill -TERM "$IT_PID"
	it_wait_exit "$IT_PID" 20 || it_fail daemon-exit "no clean exit after SIGTERM"
}

run_until "$IT_DIR/1.yaml" "select (count(*) filter (where webhook = 'keep' and state = 'done') = $nwant
    and count(*) filter (where webhook = 'gone2' and attempts > 0) = $nwant)::int from kaudit.outbox" run1
stop
run_until "$IT_DIR/2.yaml" "select (count(*) filter (where webhook = 'gone2' and state = 'held') = $nwant)::int
    from kaudit.outbox" held
"$KAUDIT" alerts list -c "$IT_DIR/2.yaml" --state held >"$IT_DIR/held.txt" 2>&1
n=$(grep -Ec "^[0-9]+ +gone2 +held .*webhook gone2 is not in the configuration of alerter " "$IT_DIR/held.txt")
h=$("$KAUDIT" alerts list -c "$IT_DIR/2.yaml" --json | jq '.destinations[] | select(.name == "gone2") | .held')
[ "$n" -eq "$nwant" ] && [ "$h" = "$nwant" ] && it_ok list-held ||
    { it_fail list-held "$n of $nwant rows listed held"; cat "$IT_DIR/held.txt" >&2; }
id=$(it_sql "select min(id) from kaudit.outbox where webhook = 'gone2'")
"$KAUDIT" alerts retry -c "$IT_DIR/2.yaml" "$id" >/dev/null || it_fail retry-held "alerts retry $id failed"
sleep 1
st=$(it_sql "select state || ' ' || (held_reason is null) from kaudit.outbox where id = $id")
[ "$st" = "pending true" ] && it_ok retry-held || it_fail retry-held "row $id is $st"
n=$(it_sql "select count(*) from kaudit.outbox where state = 'dead'")
[ "$n" -eq 0 ] && it_ok none-dead || it_fail none-dead "$n rows dead"
stop
run_until "$IT_DIR/3.yaml" "select (count(*) filter (where webhook = 'gone2' and state = 'done') = $nwant)::int
    from kaudit.outbox" back-delivered
stop
grep -q "held deliveries are pending again" "$IT_DIR/daemon.log" && it_ok back-logged ||
    it_fail back-logged "run 3 did not say it took the held rows back"
it_received "/it/$IT_RUN/gone2" | cut -f2,3 | sort >"$IT_DIR/got"
it_same gone2-each-once "$IT_DIR/want" "$IT_DIR/got"

it_done
