#!/usr/bin/env bash
# alert_stop.sh — SIGTERM while a webhook holds a POST open: the stop keeps
# to shutdown_timeout, and the delivery it abandoned is sent again by the
# next run, under the same delivery id.
#
# The webhook's receiver sleeps 60 s before it answers and the webhook's
# timeout_ms is 60 s, longer than shutdown_timeout (3 s): before the bound,
# the alerter waited for the POST to end, and the stop took a minute. Now at
# the deadline the POST is abandoned, its lease released, and the daemon
# exits 0; run again with the webhook pointing at a path that answers at
# once, it delivers the finding with the delivery id of the first attempt.
IT_NAME=alert_stop
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-alert-stop-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
jq -c --arg t "$IT_RUN" '.auditID += "-" + $t' "$falco/exec_pod.json" >"$IT_DIR/events.jsonl"

it_receiver_start hooks || it_abort receiver "could not start a receiver"
rlog=$IT_DIR/hooks.jsonl
base=http://127.0.0.1:$IT_RECV_PORT
config() {	# file path
	it_config "$1" "$topic" "it-alert-stop-$$" "shutdown_timeout: 3s
alert:
  webhooks:
    - { name: a, url: \"$base$2\", timeout_ms: 60000 }
  backoff_ms: 100"
}
config "$IT_DIR/slow.yaml" "/slow/60000/it-$IT_RUN/a"
config "$IT_DIR/fast.yaml" "/it-$IT_RUN/a"
it_migrate "$IT_DIR/slow.yaml" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
nwant=$(it_scan_set "$IT_DIR/events.jsonl" | it_alerting | wc -l)
[ "$nwant" -gt 0 ] || it_abort setup "the event fires no alerting rule"

# ids RECEIVER-PATH-PREFIX: the delivery ids recorded under it, sorted
ids() { it_received_in "$rlog" "$1" | cut -f1 | LC_ALL=C sort -u; }

log=$IT_DIR/daemon.log
it_start "$IT_DIR/slow.yaml" "$log"
for ((i = 0; i < 300; i++)); do
	[ "$(ids "/slow/60000/it-$IT_RUN/" | wc -l)" -ge "$nwant" ] && break
	sleep 0.1
done
[ "$(ids "/slow/60000/it-$IT_RUN/" | wc -l)" -ge "$nwant" ] ||
    it_abort in-flight "the receiver never saw the deliveries ($(wc -l <"$rlog") requests)"
ids "/slow/60000/it-$IT_RUN/" >"$IT_DIR/first-ids"
it_term_timed "$IT_PID" 30
rc=$IT_RC ms=$IT_MS
it_log "exit $rc $ms ms after SIGTERM, $nwant POST(s) held open by the receiver"
[ "$rc" = 0 ] && it_ok stop-exit-0 || it_fail stop-exit-0 "exit $rc"
# shutdown_timeout 3 s, plus the alerter's one-second look at its deadline
# and a sanitizer build's slower start of the stop.
[ "$ms" -lt 10000 ] && it_ok stop-bounded || it_fail stop-bounded "exited after $ms ms"
grep -q "shutdown_timeout reached with [1-9][0-9]* delivery(ies) in flight" "$log" &&
    it_ok stop-logged || it_fail stop-logged "no log line about the abandoned deliveries"
pending=$(it_sql "select count(*) from kaudit.outbox where state = 'pending' and locked_by is null")
[ "$pending" = "$nwant" ] && it_ok released ||
    it_fail released "$pending of $nwant deliveries pending and unlocked after the stop"

it_start "$IT_DIR/fast.yaml" "$log"
it_wait_sql "select (count(*) = $nwant)::int from kaudit.outbox where state = 'done'" 30 ||
    it_fail sent-again "the abandoned deliveries were not sent by the next run"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 30
ids "/it-$IT_RUN/" >"$IT_DIR/second-ids"
it_same same-delivery-id "$IT_DIR/first-ids" "$IT_DIR/second-ids"
it_done
