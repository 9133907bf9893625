#!/usr/bin/env bash
# latency.sh — `make bench-latency`: from an event's produce to the receipt
# of its webhook notification, under a steady stream of realistic traffic.
#
# RATE (default 10000) events a second of tests/bench/traffic.py (the
# kubeadm cluster's routine requests as ~1 KB Metadata events, 3% real
# attack events) for SECS seconds (default 20) are produced into a
# 3-partition topic of a private broker (tests/services/up.sh) by
# tests/bench/latency.py, which notes each event's produce time by its
# auditID. `kaudit run` (the default ingest settings: 2 workers, batch_max
# 500, batch_ms 200) sends every finding of severity medium and above, one
# notification each (no group_by), to a receiver on loopback
# (tests/services/receiver.py) that records its arrival time. Printed, per
# run: p50, p90, p99 and max of receipt minus produce, for every
# notification and for single-event rules apart from correlations; for the
# latter, the split at the storing transaction's start (created_at). The
# first WARMUP seconds (default 3) of the stream are left out: the group's
# join and the first connections.
#
# KAUDIT_BASE=path/to/kaudit runs that binary before this build in each of
# REPS (default 1) repetitions, each on a fresh topic, group and database,
# so that the figures compare within one run. KAUDIT_BENCH_PROPS (JSON)
# adds kafka.properties; KAUDIT_BENCH_INGEST (YAML lines under ingest:)
# replaces the ingest settings. Prints figures; nothing is asserted.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export KAUDIT=${KAUDIT:-$PWD/bin/kaudit}
rate=${RATE:-10000}
secs=${SECS:-20}
warmup=${WARMUP:-3}
count=$((rate * secs))
props=${KAUDIT_BENCH_PROPS:-"{}"}
ingest=${KAUDIT_BENCH_INGEST:-"  workers: 2
  batch_max: 500
  batch_ms: 200"}
[ -x "$KAUDIT" ] || { echo "bench-latency: build first (make)" >&2; exit 1; }
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
events=$(bench_traffic "$count") || { echo "bench-latency: could not write the traffic file" >&2; exit 1; }
bench_services bench-latency || exit 1
IT_KAFKA_PROPS=$(jq -c --argjson p "$props" '{"auto.offset.reset": "earliest"} + $p' <<<'{}')

echo "bench-latency: $count realistic events at $rate/s; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  notifications: min_severity medium, no group_by; ms from produce to the receiver's record;"
echo "  the first $warmup s of the stream left out"

# run BINARY LABEL REP: one stream through a fresh topic, group and database.
run() {
	local bin=$1 label=$2 rep=$3 topic=bench-latency-$$-$2-$3 pid i pending last=
	local dir=$IT_DIR/$label-$rep
	mkdir -p "$dir"
	it_newdb "$IT_DB" || { echo "bench-latency: no database" >&2; return 1; }
	it_receiver_start "recv-$label-$rep" || { echo "bench-latency: no receiver" >&2; return 1; }
	it_config "$dir/kaudit.yaml" "$topic" "$topic" "ingest:
$ingest
alert:
  webhooks:
    - name: latency
      url: \"http://127.0.0.1:$IT_RECV_PORT/latency\"
      min_severity: medium"
	it_migrate "$dir/kaudit.yaml" || return 1
	it_topic "$topic" 3 >/dev/null 2>&1 || { echo "bench-latency: no topic" >&2; return 1; }
	"$bin" run -c "$dir/kaudit.yaml" >"$dir/run.log" 2>&1 &
	pid=$!
	IT_PIDS+=("$pid")
	# the group has joined once a worker logs its assignment
	for ((i = 0; i < 100; i++)); do
		grep -q 'assigned' "$dir/run.log" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	python3 tests/bench/latency.py produce --rate "$rate" --times "$dir/times.tsv" "$events" |
	    kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -X linger.ms=1 ||
	    { echo "bench-latency: produce failed" >&2; return 1; }
	# drained: nothing left to deliver, twice in a row 1 s apart
	for ((i = 0; i < 120; i++)); do
		sleep 1
		pending=$(it_sql "select count(*) filter (where state <> 'done') || ' ' || count(*)
		    from kaudit.outbox")
		[ "${pending%% *}" = 0 ] && [ "$pending" = "$last" ] && break
		last=$pending
	done
	kill -TERM "$pid"
	it_wait_exit "$pid" 30 >/dev/null
	it_sql "select f.audit_id, extract(epoch from f.created_at) from kaudit.findings f
	    join kaudit.outbox o on o.finding_id = f.id" >"$dir/rows.tsv"
	echo "$label #$rep: $(wc -l <"$dir/rows.tsv") notifications stored; $bin"
	python3 tests/bench/latency.py report --skip "$warmup" --rows "$dir/rows.tsv" \
	    "$dir/times.tsv" "$IT_DIR/recv-$label-$rep.jsonl"
	it_receiver_stop "$IT_RECV_PID"
}

for rep in $(seq 1 "${REPS:-1}"); do
	[ -n "${KAUDIT_BASE:-}" ] && run "$KAUDIT_BASE" base "$rep"
	run "$KAUDIT" this "$rep"
done
