#!/usr/bin/env bash
# alert_outage.sh — a receiver down for longer than the old retries lasted,
# then back: nothing dead, nothing lost, each finding delivered once per
# destination.
#
# Two webhooks ("a" and "b") live on a receiver of this test's own. The
# first findings are delivered; then the receiver stops for 20 s while more
# findings are stored; then it starts again on the same port. With backoff_ms
# 100 and max_backoff_ms 1000, the old rule (alert.max_attempts 8, the
# default then) gave up after about 4.5 s of refused connections; now a
# delivery is retried until alert.max_age (24 h by default), the circuits
# open so that only probes go meanwhile, and the first probe that succeeds
# sends the rest. Every (finding, webhook) must reach the receiver, each
# under one delivery id.
IT_NAME=alert_outage
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

down_s=${KAUDIT_OUTAGE_S:-20}
topic=it-alert-outage-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
wave() {	# tag -> events file
	for f in exec_pod attach_pod create_nginx_pod_privileged; do
		jq -c --arg t "$1" '.auditID += "-" + $t' "$falco/$f.json"
	done >"$IT_DIR/$1.jsonl"
}
wave before
wave during

it_receiver_start hooks || it_abort receiver "could not start a receiver"
port=$IT_RECV_PORT
rlog=$IT_DIR/hooks.jsonl
url=http://127.0.0.1:$port/it/$IT_RUN
cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-alert-outage-$$" "alert:
  webhooks:
    - { name: a, url: \"$url/a\", timeout_ms: 1000 }
    - { name: b, url: \"$url/b\", timeout_ms: 1000 }
  backoff_ms: 100
  max_backoff_ms: 1000"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
cat "$IT_DIR/before.jsonl" "$IT_DIR/during.jsonl" >"$IT_DIR/all.jsonl"
it_scan_set "$IT_DIR/all.jsonl" | it_alerting >"$IT_DIR/want"
nwant=$(wc -l <"$IT_DIR/want")

log=$IT_DIR/daemon.log
it_produce_lines "$topic" "$IT_DIR/before.jsonl" || it_abort produce "kcat failed"
it_start "$cfg" "$log"
it_wait_sql "select (count(*) > 0 and count(*) filter (where state <> 'done') = 0)::int
    from kaudit.outbox" 30 || it_abort before "the first findings were not delivered"
nbefore=$(it_sql "select count(*) from kaudit.outbox")

# Down: connections refused for down_s seconds, findings keep coming.
it_receiver_stop "$IT_RECV_PID"
t_down=$(date +%s.%N)
it_produce_lines "$topic" "$IT_DIR/during.jsonl" || it_abort produce "kcat failed"
it_wait_sql "select (count(*) = $((nwant * 2)))::int from kaudit.outbox" 20 ||
    it_fail stored "not every finding of the outage was stored"
sleep "$(awk -v d="$down_s" -v t="$t_down" -v n="$(date +%s.%N)" 'BEGIN { s = d - (n - t); if (s < 0) s = 0; print s }')"
read -r dead pending done open <<<"$(it_sql "select (select count(*) from kaudit.outbox where state = 'dead'),
    (select count(*) from kaudit.outbox where state = 'pending'),
    (select count(*) from kaudit.outbox where state = 'done'),
    (select count(*) from kaudit.webhooks where opened_at is not null)")"
tries=$(it_sql "select count(*) from kaudit.delivery_attempts where http_status is null")
it_log "down ${down_s} s: $pending rows pending, $dead dead, $open circuits open, $tries attempts refused"
# (A finding of a rule with memory may come from the first round later than
# the others: count what is not done, not what came after nbefore.)
[ "$dead" -eq 0 ] && [ "$pending" -gt 0 ] && [ $((pending + done)) -eq $((nwant * 2)) ] &&
    it_ok nothing-dead-while-down ||
    it_fail nothing-dead-while-down "$dead dead, $pending pending, $done done of $((nwant * 2)) ($nbefore before)"
[ "$open" -eq 2 ] && it_ok circuits-open || it_fail circuits-open "$open of 2 circuits open"
# Without the circuits each row would be tried on its own schedule (about
# every second here): over 20 per row. With them, about one probe a second
# per webhook, plus the failures that opened them.
[ "$tries" -le $((2 * (down_s + 15))) ] && it_ok probes-only ||
    it_fail probes-only "$tries attempts in ${down_s} s"

# Back, on the same port.
it_receiver_start hooks "$port" || it_abort receiver "could not start the receiver again on port $port"
t_up=$(date +%s.%N)
it_wait_sql "select (count(*) filter (where state = 'done') = $((nwant * 2)))::int from kaudit.outbox" 30 ||
    it_fail delivered-after "$(it_sql "select state, count(*) from kaudit.outbox group by 1")"
t_all=$(date +%s.%N)
it_log "back: every row delivered $(awk -v a="$t_up" -v b="$t_all" 'BEGIN { printf "%.1f", b - a }') s after the receiver came back"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 20 || { it_fail daemon-exit "no clean exit after SIGTERM"; it_show_log "$log"; }
it_receiver_stop "$IT_RECV_PID"

n=$(it_sql "select count(*) from kaudit.outbox where state <> 'done'")
[ "$n" -eq 0 ] && it_ok nothing-dead || it_fail nothing-dead "$n rows not done"
for h in a b; do
	it_received_in "$rlog" "/it/$IT_RUN/$h" | cut -f2,3 | sort -u >"$IT_DIR/got-$h"
	it_same "$h-nothing-lost" "$IT_DIR/want" "$IT_DIR/got-$h"
	# once per finding; a repeat would carry the same delivery id
	reqs=$(it_received_in "$rlog" "/it/$IT_RUN/$h" | wc -l)
	ids=$(it_received_in "$rlog" "/it/$IT_RUN/$h" | cut -f1 | sort -u | wc -l)
	pairs=$(it_received_in "$rlog" "/it/$IT_RUN/$h" | cut -f1-3 | sort -u | wc -l)
	[ "$ids" -eq "$nwant" ] && [ "$pairs" -eq "$ids" ] && it_ok "$h-once-per-finding" ||
	    it_fail "$h-once-per-finding" "$reqs requests, $ids delivery ids, $pairs (id, finding) pairs for $nwant findings"
	[ "$reqs" -eq "$ids" ] || it_log "$h: $((reqs - ids)) repeated requests (same delivery id)"
done

it_done
