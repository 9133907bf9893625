#!/usr/bin/env bash
# scale.sh — `make bench-scale`: one, two and three `kaudit run` processes
# of one consumer group draining the same backlog on this machine.
#
# COUNT (default 200000) realistic events (tests/bench/traffic.py) are
# produced once to a topic of PARTITIONS (default 12) partitions of a
# private broker (tests/services/up.sh). For each setup of PROCS (default
# "1 2 3") processes, REPS times (default 1): a fresh group and database,
# the processes started together with --idle-exit 1 (each 2 workers,
# batch_max 500), and printed: the drain (start to the last stored
# finding), events/s over it and against one process in the same run, the
# time until the last process exited, the findings stored (the same in
# every setup: the processes share the work, not repeat it) and the CPU
# seconds all processes used. The machine's cores are shared by Kafka,
# PostgreSQL and the processes: the figures say what more processes buy
# here, not on a machine with a core per process. Nothing is asserted.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export KAUDIT=${KAUDIT:-$PWD/bin/kaudit}
count=${COUNT:-200000}
parts=${PARTITIONS:-12}
procs=${PROCS:-"1 2 3"}
[ -x "$KAUDIT" ] || { echo "bench-scale: build first (make)" >&2; exit 1; }
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
events=$(bench_traffic "$count") || { echo "bench-scale: could not write the traffic file" >&2; exit 1; }
bench_services bench-scale || exit 1
IT_KAFKA_PROPS='{"auto.offset.reset": "earliest"}'

now() { date +%s.%N; }
topic=bench-scale-$$
it_topic "$topic" "$parts" >/dev/null 2>&1 || { echo "bench-scale: no topic" >&2; exit 1; }
kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -z lz4 -X linger.ms=50 -l "$events" ||
    { echo "bench-scale: produce failed" >&2; exit 1; }
echo "bench-scale: $count realistic events in $parts partitions; $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"

one=
# drain N REP: N processes of a fresh group on a fresh database.
drain() {
	local n=$1 rep=$2 group=bench-scale-$$-$1-$2 t0 t1 i first last nf cpu=0 c
	local pids=()
	it_newdb "$IT_DB" || { echo "bench-scale: no database" >&2; return 1; }
	it_config "$IT_DIR/kaudit.yaml" "$topic" "$group" "ingest:
  workers: 2
  batch_max: 500
  batch_ms: 200"
	it_migrate "$IT_DIR/kaudit.yaml" || return 1
	t0=$(now)
	for ((i = 0; i < n; i++)); do
		/usr/bin/time -f '%U %S' -o "$IT_DIR/cpu.$i" "$KAUDIT" run -c "$IT_DIR/kaudit.yaml" \
		    --idle-exit 1 >"$IT_DIR/run.$i.log" 2>&1 &
		pids+=("$!")
	done
	IT_PIDS+=("${pids[@]}")
	for i in "${pids[@]}"; do
		wait "$i" || echo "bench-scale: a process exited with $?" >&2
	done
	t1=$(now)
	for ((i = 0; i < n; i++)); do
		c=$(tail -n 1 "$IT_DIR/cpu.$i" | awk '{ print $1 + $2 }')
		cpu=$(awk -v a="$cpu" -v b="$c" 'BEGIN { print a + b }')
	done
	read -r first last nf <<<"$(it_sql "select extract(epoch from min(created_at)),
	    extract(epoch from max(created_at)), count(*) from kaudit.findings")"
	rate=$(awk -v n="$count" -v d="$(awk -v a="$t0" -v b="$last" 'BEGIN { print b - a }')" \
	    'BEGIN { printf "%.0f", n / d }')
	[ "$n" = 1 ] && [ -z "$one" ] && one=$rate
	awk -v n="$n" -v rep="$rep" -v t0="$t0" -v t1="$t1" -v l="$last" -v nf="$nf" \
	    -v r="$rate" -v one="${one:-0}" -v cpu="$cpu" 'BEGIN {
		printf "%d process(es) #%d: drain %.2f s, %d events/s", n, rep, l - t0, r
		if (one > 0) printf " (%.2fx one process)", r / one
		printf "; all exited after %.2f s; %d findings; %.1f s CPU in kaudit\n", t1 - t0, nf, cpu
	}'
}

for rep in $(seq 1 "${REPS:-1}"); do
	for n in $procs; do
		drain "$n" "$rep"
	done
done
