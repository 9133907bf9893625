#!/usr/bin/env bash
# daemon.sh — `make bench-daemon`: `kaudit run` draining a backlog from a
# real Kafka broker into PostgreSQL, against kcat draining the same topic in
# the same run.
#
# COUNT (default 500000) realistic events (tests/bench/traffic.py: the
# kubeadm cluster's requests as ~1 KB Metadata events, 3% real attack
# events) are produced to a 3-partition topic of a private broker. Then, in
# this order on the same broker and topic:
#   kcat -G (balanced consumer, its own group, -e: exit at the end of every
#       partition), output to /dev/null: the baseline, events/s;
#   kaudit run --idle-exit 1 (2 workers, batches of 500) with a fresh group
#       and database: from its start, the first finding stored, the last
#       finding stored (the drain), and the exit; events/s over the drain;
#       peak memory (VmHWM, /usr/bin/time -f %M) with the configured
#       kafka.properties (KAUDIT_BENCH_PROPS, JSON, added to the defaults).
# Prints one line per figure; no figure is asserted.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export KAUDIT=${KAUDIT:-$PWD/bin/kaudit}
count=${COUNT:-500000}
props=${KAUDIT_BENCH_PROPS:-"{}"}
[ -x "$KAUDIT" ] || { echo "bench-daemon: build first (make)" >&2; exit 1; }
cache=/tmp/kaudit-bench
mkdir -p "$cache"
events=$cache/traffic-$count.jsonl
[ -s "$events" ] || python3 tests/bench/traffic.py "$count" >"$events" ||
    { echo "bench-daemon: could not write $events" >&2; exit 1; }

env_file=$(tests/services/up.sh) || exit 1
# shellcheck disable=SC1090
. "$env_file"
IT_NAME=bench-daemon
# shellcheck source=tests/integration/lib/common.sh
. tests/integration/lib/common.sh
it_init
trap 'it_cleanup; tests/services/down.sh "$env_file" >/dev/null 2>&1' EXIT

now() { date +%s.%N; }
topic=bench-daemon-$$
it_topic "$topic" 3 >/dev/null 2>&1 || { echo "bench-daemon: no topic" >&2; exit 1; }
t0=$(now)
kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -z lz4 -X linger.ms=50 -l "$events" ||
    { echo "bench-daemon: produce failed" >&2; exit 1; }
t1=$(now)
bytes=$(stat -c %s "$events")
awk -v n="$count" -v b="$bytes" -v s="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" \
    'BEGIN { printf "input: %d events, %.1f MB, produced in %.2f s\n", n, b / 1e6, s }'

# kcat: the same topic through a balanced consumer of its own group.
t0=$(now)
got=$(kcat -C -G "bench-kcat-$$" -b "$KAUDIT_KAFKA_BROKERS" -X auto.offset.reset=earliest \
    -e -q -f 'x\n' "$topic" 2>/dev/null | wc -l)
t1=$(now)
kcat_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
awk -v n="$got" -v s="$kcat_s" 'BEGIN { printf "kcat -G: %d messages in %.2f s: %.0f events/s\n", n, s, n / s }'

# kaudit run with a fresh group and database, REPS times (default 1); with
# KAUDIT_BASE (another binary, such as main's copied aside) the two run
# back to back in each repetition, on the same topic, so that their figures
# compare within one run. KAUDIT_BENCH_LOGS (a directory) keeps each run's
# log, whose timestamps show where the start and the exit go.
IT_KAFKA_PROPS=$(jq -c --argjson p "$props" '{"auto.offset.reset": "earliest"} + $p' <<<'{}')
run_kaudit() {	# BINARY LABEL REPETITION
	local bin=$1 label=$2 rep=$3 t0 t1 rc first last nf
	it_newdb "$IT_DB" || { echo "bench-daemon: no database" >&2; return 1; }
	it_config "$IT_DIR/kaudit.yaml" "$topic" "bench-kaudit-$$-$label-$rep" "ingest:
  workers: 2
  batch_max: 500
  batch_ms: 200"
	# migrated by the binary that runs: another build's schema may differ
	KAUDIT=$bin it_migrate "$IT_DIR/kaudit.yaml" || return 1
	t0=$(now)
	/usr/bin/time -f '%M' -o "$IT_DIR/maxrss" "$bin" run -c "$IT_DIR/kaudit.yaml" --idle-exit 1 \
	    >"$IT_DIR/run.log" 2>&1
	rc=$?
	t1=$(now)
	[ -n "${KAUDIT_BENCH_LOGS:-}" ] && mkdir -p "$KAUDIT_BENCH_LOGS" &&
	    { echo "start $t0 exit $t1"; cat "$IT_DIR/run.log"; } >"$KAUDIT_BENCH_LOGS/$label-$rep.log"
	read -r first last nf <<<"$(it_sql "select extract(epoch from min(created_at)),
	    extract(epoch from max(created_at)), count(*) from kaudit.findings")"
	awk -v t0="$t0" -v t1="$t1" -v f="$first" -v l="$last" -v nf="$nf" -v n="$count" \
	    -v ks="$kcat_s" -v rss="$(cat "$IT_DIR/maxrss")" -v rc="$rc" -v p="$props" \
	    -v who="$label#$rep" 'BEGIN {
		drain = l - t0
		printf "kaudit run (%s): exit %d; %d findings; kafka.properties %s\n", who, rc, nf, p
		printf "  start to first stored finding: %.2f s\n", f - t0
		printf "  start to last stored finding (drain): %.2f s: %.0f events/s = %.2fx kcat\n", drain, n / drain, (n / drain) / (n / ks)
		printf "  last finding to exit (--idle-exit 1): %.2f s\n", t1 - l
		printf "  peak memory: %.0f MB\n", rss / 1024
	}'
	grep -E 'messages [0-9]+ events' "$IT_DIR/run.log" | tail -n 1 | sed 's/^/  /'
}
for rep in $(seq 1 "${REPS:-1}"); do
	[ -n "${KAUDIT_BASE:-}" ] && run_kaudit "$KAUDIT_BASE" base "$rep"
	run_kaudit "$KAUDIT" this "$rep"
done
