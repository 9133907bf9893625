#!/usr/bin/env bash
# metrics.sh — kaudit run's metrics.listen on the real broker, database and
# receiver: /healthz, /readyz and /metrics of a daemon that consumed real
# audit events (and one malformed line), checked against what PostgreSQL
# and the receiver hold: events and messages counted, the bad line under
# kaudit_ingest_errors_total{reason="malformed"}, kaudit_findings_total per
# rule equal to the stored findings, kaudit_deliveries_total{outcome="done"}
# equal to the deliveries done, a lag of 0 on both partitions once caught
# up, the rule count, the build version. A second replica joins the group
# (three consumers for two partitions: one has nothing) and is ready; each
# partition's lag is then reported by exactly one of the two processes. With the
# database refusing connections /readyz answers 503 naming it, and 200 again
# once it is back.
IT_NAME=metrics
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-metrics-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
events=$IT_DIR/events.jsonl
for f in exec_pod attach_pod create_nginx_pod_privileged create_cluster_role_wildcard_verbs \
    create_kube_system_secret create_nginx_pod_hostnetwork; do
	jq -c '.auditID += "-metrics"' "$falco/$f.json"
done >"$events"
nev=$(wc -l <"$events")
{ cat "$events"; echo '{"kind": "Event", "auditID": '; } >"$IT_DIR/messages.jsonl"

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-metrics-$$" 'metrics:
  listen: "127.0.0.1:0"
log_format: json'
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 2 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$IT_DIR/messages.jsonl" || it_abort produce "kcat failed"

# port_of LOG: the port the daemon logged for its metrics listener.
port_of() {
	local i p
	for ((i = 0; i < 100; i++)); do
		p=$(jq -r 'select(.msg | startswith("metrics: ")) | .msg' "$1" 2>/dev/null |
		    sed -n 's/.*(port \([0-9]*\)).*/\1/p' | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}
# get PORT PATH: the body; the status in $IT_DIR/status.
get() {
	curl -s -o - -w '%{stderr}%{http_code}' "http://127.0.0.1:$1$2" 2>"$IT_DIR/status"
}
# wait_ready PORT WANT SECONDS: polls /readyz until it answers WANT.
wait_ready() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		get "$1" /readyz >"$IT_DIR/readyz"
		[ "$(cat "$IT_DIR/status")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
metric() {	# LINE-PREFIX: the value of the first sample that starts with it
	awk -v p="$1" 'index($0, p) == 1 { print $NF; exit }' "$IT_DIR/metrics"
}

log=$IT_DIR/daemon.log
it_start "$cfg" "$log"
pid1=$IT_PID
port=$(port_of "$log") || { it_show_log "$log"; it_abort listen "no metrics port in the log"; }
get "$port" /healthz >/dev/null
[ "$(cat "$IT_DIR/status")" = 200 ] && it_ok healthz-200 || it_fail healthz-200 "status $(cat "$IT_DIR/status")"
wait_ready "$port" 200 30 && it_ok readyz-200 || it_fail readyz-200 "$(cat "$IT_DIR/readyz")"

nfind=$(it_scan_set "$events" | wc -l)
it_wait_sql "select (count(*) = $nfind)::int from kaudit.findings" 30 ||
    it_fail findings "not $nfind findings after 30 s"
it_wait_sql "select (count(*) = 0)::int from kaudit.outbox where state <> 'done'" 30 ||
    it_fail delivered "deliveries still pending after 30 s"
sleep 6	# a lag and an outbox sample after the last batch
get "$port" /metrics >"$IT_DIR/metrics"
grep -q '^# TYPE kaudit_batch_seconds histogram$' "$IT_DIR/metrics" && it_ok exposition ||
    it_fail exposition "no histogram type line"
[ "$(metric 'kaudit_events_total ')" = "$nev" ] && it_ok events-total ||
    it_fail events-total "$(metric 'kaudit_events_total ') events, want $nev"
[ "$(metric 'kaudit_messages_total ')" = $((nev + 1)) ] && it_ok messages-total ||
    it_fail messages-total "$(metric 'kaudit_messages_total ') messages, want $((nev + 1))"
[ "$(metric 'kaudit_ingest_errors_total{reason="malformed"}')" = 1 ] && it_ok ingest-errors ||
    it_fail ingest-errors "$(grep ingest_errors_total "$IT_DIR/metrics")"
it_sql "select rule, severity, count(*) from kaudit.findings group by 1, 2" | sort >"$IT_DIR/want-rules"
sed -n 's/^kaudit_findings_total{rule="\([^"]*\)",severity="\([^"]*\)"} \([0-9]*\)$/\1\t\2\t\3/p' \
    "$IT_DIR/metrics" | sort >"$IT_DIR/got-rules"
it_same findings-by-rule-severity "$IT_DIR/want-rules" "$IT_DIR/got-rules"
done=$(it_sql "select count(*) from kaudit.outbox where state = 'done'")
[ "$done" -gt 0 ] && [ "$(metric 'kaudit_deliveries_total{webhook="receiver",outcome="done"}')" = "$done" ] &&
    it_ok deliveries-done || it_fail deliveries-done "$(grep deliveries_total "$IT_DIR/metrics"), $done done"
[ "$(metric 'kaudit_delivery_seconds_count')" -ge "$done" ] && it_ok delivery-seconds ||
    it_fail delivery-seconds "$(metric 'kaudit_delivery_seconds_count') observations"
[ "$(metric 'kaudit_batch_seconds_count')" -ge 1 ] && it_ok batch-seconds ||
    it_fail batch-seconds "no batch observed"
lags=$(grep -c "^kaudit_consumer_lag{topic=\"$topic\",partition=\"[01]\"} 0$" "$IT_DIR/metrics")
[ "$lags" = 2 ] && it_ok lag-both-partitions-0 || it_fail lag-both-partitions-0 "$(grep consumer_lag "$IT_DIR/metrics")"
[ "$(metric 'kaudit_outbox_pending')" = 0 ] && it_ok outbox-pending || it_fail outbox-pending "$(metric 'kaudit_outbox_pending')"
nrules=$(($("$KAUDIT" rules list | wc -l) - 1))
[ "$(metric 'kaudit_rules_loaded')" = "$nrules" ] && it_ok rules-loaded ||
    it_fail rules-loaded "$(metric 'kaudit_rules_loaded'), want $nrules"
grep -q "^kaudit_build_info{version=\"$("$KAUDIT" --version | awk '{ print $NF }')\"} 1$" "$IT_DIR/metrics" &&
    it_ok build-info || it_fail build-info "$(grep build_info "$IT_DIR/metrics")"

# A replica beyond the partition count: ready once in the group.
sed 's/^  workers: 2/  workers: 1/' "$cfg" >"$IT_DIR/idle.yaml"
log2=$IT_DIR/idle.log
it_start "$IT_DIR/idle.yaml" "$log2"
pid2=$IT_PID
port2=$(port_of "$log2") || it_abort second-listen "no metrics port in the second log"
wait_ready "$port2" 200 60 && it_ok second-replica-ready || it_fail second-replica-ready "$(cat "$IT_DIR/readyz")"
# Each partition of the topic is reported by exactly one of the two
# processes once the rebalance settled: a moved partition is forgotten.
lag_owners() {
	local p
	for p in "$port" "$port2"; do
		get "$p" /metrics | grep "^kaudit_consumer_lag{topic=\"$topic\"," | sed 's/} .*//'
	done | sort | uniq -c | awk '{ print $1, $2 }'
}
for ((i = 0; i < 100; i++)); do
	lag_owners >"$IT_DIR/owners"
	[ "$(awk '$1 == 1' "$IT_DIR/owners" | wc -l)" = 2 ] && [ "$(wc -l <"$IT_DIR/owners")" = 2 ] && break
	sleep 0.2
done
[ "$(awk '$1 == 1' "$IT_DIR/owners" | wc -l)" = 2 ] && [ "$(wc -l <"$IT_DIR/owners")" = 2 ] &&
    it_ok lag-each-partition-once || it_fail lag-each-partition-once "$(tr '\n' ' ' <"$IT_DIR/owners")"
kill -TERM "$pid2"
it_wait_exit "$pid2" 60 >/dev/null

# The database refuses connections: /readyz says so, then recovers.
it_sql "alter database $IT_DB allow_connections false" "$KAUDIT_PG_URL" >/dev/null
it_sql "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '$IT_DB'" \
    "$KAUDIT_PG_URL" >/dev/null
wait_ready "$port" 503 30 && grep -q 'PostgreSQL is not reachable' "$IT_DIR/readyz" &&
    it_ok readyz-503-without-db || it_fail readyz-503-without-db "$(cat "$IT_DIR/readyz")"
it_sql "alter database $IT_DB allow_connections true" "$KAUDIT_PG_URL" >/dev/null
wait_ready "$port" 200 30 && it_ok readyz-200-db-back || it_fail readyz-200-db-back "$(cat "$IT_DIR/readyz")"

get "$port" /nothing >/dev/null
[ "$(cat "$IT_DIR/status")" = 404 ] && it_ok unknown-path-404 || it_fail unknown-path-404 "$(cat "$IT_DIR/status")"
kill -TERM "$pid1"
it_wait_exit "$pid1" 60
[ $? -eq 0 ] && it_ok exit-0 || { it_fail exit-0 "daemon did not exit 0"; it_show_log "$log"; }
it_done
