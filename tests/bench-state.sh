#!/usr/bin/env bash
# bench-state.sh — `make bench-state`: what memory across events costs.
#
#   1. Throughput: `kaudit scan --threads 1` over the bench file of
#      `make bench` (real corpus events, 64 MB), best of 3, with the shipped
#      pack and with the same pack stripped of its correlations and of every
#      `suppress`: events/s of each and their ratio.
#   2. Memory: maximum resident size of `kaudit scan` over N events of N
#      distinct users (N keys in the state engine, each one match in a
#      value_count window), against N events of one user (one key): the
#      difference per 100,000 keys.
# Benchmarks print figures; nothing here passes or fails.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

runs=3
dir=/tmp/kaudit-bench
tmp=$(mktemp -d /tmp/kaudit-bench-state.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -x bin/kaudit ] || { echo "bench-state: bin/kaudit not built (make)" >&2; exit 1; }

file=$dir/events-64mb.jsonl
[ -s "$file" ] || KAUDIT_BENCH_MB=64 tests/bench.sh >/dev/null || exit 1

# The pack without memory: no correlation file, no suppress key.
mkdir -p "$tmp/stateless"
for f in config/rules/*.yaml; do
	[ "$(basename "$f")" = correlations.yaml ] && continue
	sed '/^  suppress:/d' "$f" >"$tmp/stateless/$(basename "$f")"
done

best() {	# label, scan args...
	local label=$1 best=0 r
	shift
	for ((i = 0; i < runs; i++)); do
		r=$(bin/kaudit scan --threads 1 --stats "$@" "$file" 2>&1 >/dev/null |
		    sed -n 's/.* events\/s \([0-9.]*\) .*/\1/p')
		awk -v a="$r" -v b="$best" 'BEGIN { exit !(a > b) }' && best=$r
	done
	printf '  %-42s %10.0f events/s\n' "$label" "$best" >&2
	echo "$best"
}

echo "bench-state: $(wc -l <"$file") events ($(($(stat -c %s "$file") / 1048576)) MB), best of $runs, one thread"
on=$(best "shipped pack (memory across events on)")
off=$(best "pack without correlations or suppress" --rules "$tmp/stateless")
awk -v a="$on" -v b="$off" 'BEGIN { printf "  stateful rules cost: %.1f%% of the throughput (on %.0f, off %.0f events/s)\n", (1 - a / b) * 100, a, b }'

cat >"$tmp/keys.yaml" <<'YAML'
- rule: b.read
  title: read
  condition: verb = get
  severity: info
  category: inventory
  alert: false
- correlation: b.many
  title: many
  type: value_count
  rules: [b.read]
  group_by: [ka.actor]
  timespan: 1h
  condition: {gte: 1000, field: objectRef.name}
  severity: low
  category: inventory
YAML
gen() {	# N users
	python3 - "$1" "$2" <<'PY'
import sys
n, users = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    sys.stdout.write('{"kind":"Event","auditID":"k-%d","verb":"get","user":{"username":"user-%d"},'
                     '"objectRef":{"resource":"secrets","namespace":"ns","name":"s-%d"},'
                     '"stageTimestamp":"2026-03-01T10:%02d:%02d.%06dZ"}\n'
                     % (i, i % users, i, (i // 60000) % 60, (i // 1000) % 60, i % 1000000))
PY
}
rss() {	# file -> max RSS in KB
	/usr/bin/time -f %M bin/kaudit scan --threads 1 --rules "$tmp/keys.yaml" "$1" 2>&1 >/dev/null | tail -n 1
}
for n in 100000 200000; do
	gen "$n" "$n" >"$tmp/many.jsonl"
	gen "$n" 1 >"$tmp/one.jsonl"
	a=$(rss "$tmp/many.jsonl")
	b=$(rss "$tmp/one.jsonl")
	awk -v n="$n" -v a="$a" -v b="$b" 'BEGIN { printf "  %d keys: %d KB resident, one key: %d KB: %.1f MB per 100,000 keys\n", n, a, b, (a - b) / 1024 * 100000 / n }'
done
