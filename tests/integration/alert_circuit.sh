#!/usr/bin/env bash
# alert_circuit.sh — one destination down does not delay the healthy ones,
# and a finding reaches its receiver within a few hundred milliseconds of
# its commit, woken by NOTIFY rather than by polling.
#
# Three webhooks get every finding of a steady stream of events (about 50
# findings a second for 10 s): "h1" and "h2" answer at once; "down" hangs
# (the receiver answers after 30 s; timeout_ms 3000). alert.poll_ms is 5000,
# so a delivery that waited for a poll would take seconds. The healthy
# webhooks' latency, from the commit of a finding (its created_at, the start
# of the transaction that committed it) to the receiver's record of it, must
# stay under 1.5 s at the 99th percentile (printed: p50, p99, max); before
# this change a claim's round lasted as long as its slowest POST, 3 s here.
# The down webhook's circuit opens and it is tried by probes only.
IT_NAME=alert_circuit
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

rate=${KAUDIT_CIRCUIT_RATE:-25}		# events/s, 2 alerting findings each
secs=${KAUDIT_CIRCUIT_SECS:-10}
bound_ms=1500
topic=it-alert-circuit-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
python3 tests/integration/lib/replicate.py --copies $((rate * secs)) --tag circuit \
    "$falco/exec_pod.json" >"$IT_DIR/events.jsonl" 2>/dev/null
p=it/$IT_RUN
cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-alert-circuit-$$" "ingest:
  workers: 2
  batch_max: 200
  batch_ms: 50
alert:
  webhooks:
    - { name: h1, url: \"$KAUDIT_RECEIVER_URL/$p/h1\", rules: [k8s.exec.pod, k8s.exec.shell] }
    - { name: h2, url: \"$KAUDIT_RECEIVER_URL/$p/h2\", rules: [k8s.exec.pod, k8s.exec.shell] }
    - { name: down, url: \"$KAUDIT_RECEIVER_URL/slow/30000/$p/down\", timeout_ms: 3000,
        rules: [k8s.exec.pod, k8s.exec.shell] }
  backoff_ms: 200
  max_backoff_ms: 2000
  poll_ms: 5000"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 2 || it_abort produce "could not create topic $topic"

log=$IT_DIR/daemon.log
it_start "$cfg" "$log"
# The group joins before the stream starts, so the figures are steady state.
it_wait_sql "select count(*) from kaudit.webhooks" 20 || it_abort start "the alerter did not start"
sleep 2
python3 tests/integration/lib/pace.py --rate "$rate" "$IT_DIR/events.jsonl" |
    kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" || it_abort produce "kcat failed"
nrows=$(($(wc -l <"$IT_DIR/events.jsonl") * 2))
it_wait_sql "select (count(*) filter (where webhook in ('h1', 'h2') and state = 'done') = $((2 * nrows)))::int
    from kaudit.outbox" 20 || it_fail healthy-delivered "$(it_sql "select webhook, state, count(*) from kaudit.outbox group by 1, 2")"
read -r open tries <<<"$(it_sql "select (select count(*) from kaudit.webhooks where name = 'down' and opened_at is not null),
    (select count(*) from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id where o.webhook = 'down')")"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 20 || { it_fail daemon-exit "no clean exit after SIGTERM"; it_show_log "$log"; }

it_sql "select o.id, o.webhook, extract(epoch from f.created_at) from kaudit.outbox o
    join kaudit.findings f on f.id = o.finding_id" >"$IT_DIR/rows.tsv"
python3 tests/integration/lib/latency.py "$IT_DIR/rows.tsv" "$KAUDIT_RECEIVER_LOG" \
    "/$p/h1" "/$p/h2" >"$IT_DIR/latency"
sed "s|^/$p/|  healthy |" "$IT_DIR/latency" >&2
it_log "down: circuit open $open, $tries attempts in about $((secs + 3)) s, $nrows rows"
while read -r prefix n missing p50 p99 max; do
	h=${prefix##*/}
	n=${n#n=}
	p99=${p99#p99=}
	[ "$n" -eq "$nrows" ] && [ "$p99" -lt "$bound_ms" ] && it_ok "$h-latency" ||
	    it_fail "$h-latency" "$n of $nrows delivered, p99 ${p99} ms (bound $bound_ms ms), $p50 $max"
done <"$IT_DIR/latency"
[ "$open" -eq 1 ] && it_ok down-circuit-open || it_fail down-circuit-open "the circuit of down is not open"
# Without the circuit: 4 POSTs in flight every 3 s or so, all the time.
[ "$tries" -le 15 ] && it_ok down-probes-only || it_fail down-probes-only "$tries attempts on down"
n=$(it_sql "select count(*) from kaudit.outbox where webhook = 'down' and state <> 'pending'")
[ "$n" -eq 0 ] && it_ok down-rows-kept || it_fail down-rows-kept "$n rows of down not pending"

it_done
