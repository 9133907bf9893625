#!/usr/bin/env bash
# bench-alert.sh — `make bench-alert`: webhook delivery latency, from the
# commit of a finding to its receipt, on the real services.
#
# A steady stream of RATE findings a second (default 1000) for SECS seconds
# (default 20) goes through Kafka -> rules -> PostgreSQL, each finding to 3
# webhooks, each webhook a receiver process of its own on loopback. What is
# measured, per webhook: the receiver's record time of the first request of
# each delivery (time.time() when the request was read) minus the finding's
# kaudit.findings.created_at, which is now() of the transaction that stored
# it, i.e. its start: the figure includes that transaction's own run up to
# its commit (a few ms for the batches of a stream like this), not the
# ingest's batching before it. Same machine, same clock. Printed: p50, p99
# and max per webhook, with all three up and with the third one hung (it
# answers after 60 s; timeout_ms 5000), so the second run shows what a down
# receiver costs the healthy ones.
#
# BASELINE=path/to/kaudit runs the same with another build (e.g. main's, with
# its polling alerter: alert.poll_ms 500), in the same run; BASELINE=main
# builds the main branch in a temporary directory first.
set -u
cd "$(dirname "$0")/.." || exit 1
export KAUDIT=${KAUDIT:-bin/kaudit}
rate=${RATE:-1000}
secs=${SECS:-20}
baseline=${BASELINE:-}
[ -x "$KAUDIT" ] || { echo "bench-alert: build first (make)" >&2; exit 1; }

if [ "$baseline" = main ]; then
	bdir=$(mktemp -d /tmp/kaudit-bench-main.XXXXXX)
	echo "bench-alert: building main in $bdir" >&2
	git archive main | tar -x -C "$bdir" && make -C "$bdir" -j2 >"$bdir/build.log" 2>&1 ||
	    { echo "bench-alert: cannot build main (see $bdir/build.log)" >&2; exit 1; }
	baseline=$bdir/bin/kaudit
fi

env_file=$(tests/services/up.sh) || exit 1
# shellcheck disable=SC1090
. "$env_file"
IT_NAME=bench_alert
# shellcheck source=tests/integration/lib/common.sh
. tests/integration/lib/common.sh
it_init
trap 'it_cleanup; tests/services/down.sh "$env_file" >/dev/null 2>&1' EXIT

falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
python3 tests/integration/lib/replicate.py --copies $((rate * secs)) --tag bench \
    "$falco/exec_pod.json" >"$IT_DIR/events.jsonl" 2>/dev/null
nev=$(wc -l <"$IT_DIR/events.jsonl")
# One finding per event: the other rules that fire on it are off, and so
# are those that remember across events (their signals go through Kafka to
# the state owners): on a small machine that work would be measured instead
# of the delivery's. bench-pipeline measures the ingest.
off=$( { it_stateful_ids; "$KAUDIT" scan "$falco/exec_pod.json" | jq -r .rule; } |
    grep -vx k8s.exec.pod | sort -u | paste -sd, -)
ports=()
rpids=()
for r in 1 2 3; do
	it_receiver_start "r$r" || { echo "bench-alert: receiver $r did not start" >&2; exit 1; }
	ports+=("$IT_RECV_PORT")
	rpids+=("$IT_RECV_PID")
done

# run NAME BINARY DOWN: one stream through a fresh database and topic.
run() {
	local name=$1 bin=$2 down=$3 d3 cfg=$IT_DIR/$1.yaml pid n
	IT_DB=bench_alert_$name
	IT_DB_URL=${KAUDIT_PG_URL%/*}/$IT_DB
	it_newdb "$IT_DB" || return 1
	d3="http://127.0.0.1:${ports[2]}/bench/$name/d3"
	[ "$down" = 1 ] && d3="http://127.0.0.1:${ports[2]}/slow/60000/bench/$name/d3"
	it_config "$cfg" "bench-alert-$name-$$" "bench-alert-$name-$$" "disabled_rules: [$off]
ingest:
  workers: 2
  batch_max: 500
  batch_ms: 50
alert:
  webhooks:
    - { name: d1, url: \"http://127.0.0.1:${ports[0]}/bench/$name/d1\", rules: [k8s.exec.pod] }
    - { name: d2, url: \"http://127.0.0.1:${ports[1]}/bench/$name/d2\", rules: [k8s.exec.pod] }
    - { name: d3, url: \"$d3\", rules: [k8s.exec.pod] }"
	"$bin" migrate -c "$cfg" >/dev/null 2>&1 || { echo "bench-alert: migrate failed" >&2; return 1; }
	it_topic "bench-alert-$name-$$" 3 >/dev/null 2>&1
	"$bin" run -c "$cfg" >"$IT_DIR/$name.log" 2>&1 &
	pid=$!
	IT_PIDS+=("$pid")
	sleep 5		# the group joins before the stream starts
	# how busy the machine is mid-stream: everything shares it
	(sleep 4; top -b -n 2 -d 3 | awk '/^top -/ { n++ } n == 2 && /^%Cpu/ {
	    sub(/^%Cpu\(s\): */, ""); print "  cpu mid-stream: " $0 }' >"$IT_DIR/$name.cpu") &
	python3 tests/integration/lib/pace.py --rate "$rate" "$IT_DIR/events.jsonl" |
	    kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "bench-alert-$name-$$"
	n=$([ "$down" = 1 ] && echo 2 || echo 3)
	it_wait_sql "select (count(*) filter (where state = 'done' and webhook in ('d1', 'd2', 'd3'))
	    >= $((nev * n)))::int from kaudit.outbox" 120 ||
	    echo "bench-alert: $name: not every delivery was done after 120 s" >&2
	kill -TERM "$pid"
	it_wait_exit "$pid" 30 >/dev/null
	it_sql "select o.id, o.webhook, extract(epoch from f.created_at) from kaudit.outbox o
	    join kaudit.findings f on f.id = o.finding_id" >"$IT_DIR/$name.rows"
	awk -v n="$(it_sql "select count(*) from kaudit.findings")" \
	    -v s="$(it_sql "select extract(epoch from max(created_at) - min(created_at)) from kaudit.findings")" \
	    -v name="$name" 'BEGIN { printf "%s: %d findings committed over %.1f s (%.0f/s), each for 3 webhooks\n", name, n, s, n / s }'
	cat "$IT_DIR/$name.cpu" 2>/dev/null
	for r in 1 2 3; do
		python3 tests/integration/lib/latency.py "$IT_DIR/$name.rows" "$IT_DIR/r$r.jsonl" \
		    "/bench/$name/d$r" "/slow/60000/bench/$name/d$r" |
		    awk -v r="$r" -v down="$down" '$2 != "n=0" {
			sub(/^.*\/d/, "d"); if (down == 1 && r == 3) $1 = $1 " (hung: requests it got)"; print "  " $0 }'
	done
	if [ "$down" = 1 ]; then
		it_sql "select '  d3: ' || count(*) || ' attempts, circuit ' ||
		    coalesce((select case when opened_at is null then 'closed' else 'open' end
		    from kaudit.webhooks where name = 'd3'), 'n/a')
		    from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id
		    where o.webhook = 'd3'" 2>/dev/null ||
		it_sql "select '  d3: ' || count(*) || ' attempts' from kaudit.delivery_attempts d
		    join kaudit.outbox o on o.id = d.outbox_id where o.webhook = 'd3'"
	fi
}

echo "bench-alert: $nev events, $rate/s, each one finding for 3 webhooks; latency in ms from the"
echo "finding's commit (created_at, its transaction's start) to the receiver's record of it"
run up "$KAUDIT" 0
run down "$KAUDIT" 1
if [ -n "$baseline" ]; then
	echo "baseline $baseline (alert.poll_ms 500):"
	run base_up "$baseline" 0
	run base_down "$baseline" 1
fi
for p in "${rpids[@]}"; do
	it_receiver_stop "$p"
done
