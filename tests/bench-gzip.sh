#!/usr/bin/env bash
# bench-gzip.sh — `make bench-gzip`: `kaudit scan` against jq on real events,
# plain and gzip-compressed.
#
# Builds a JSON-lines file of at least KAUDIT_BENCH_MB (default 64) MB under
# /tmp from the shared corpus (tests/bench/corpus_file.sh), kept for later
# runs. Then times, best of 3 each, in this run:
#   bin/kaudit scan --stats FILE > /dev/null        every shipped rule
#   jq -c 'select(.objectRef.subresource=="exec")'  one field test
# and prints events/s and MB/s for each, and their ratio. Then the same file
# gzip-compressed (gzip -6, kept next to it), read with the default threads
# (one decompresses ahead while another decodes) and with one, against the
# plain file with the same threads; MB/s count uncompressed bytes throughout.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

min_mb=${KAUDIT_BENCH_MB:-64}
runs=3
dir=/tmp/kaudit-bench

die() { echo "bench-gzip: $*" >&2; exit 1; }

[ -x bin/kaudit ] || die "bin/kaudit not built (make)"
command -v jq >/dev/null || die "jq not found (tests/services/deps.sh)"

# best_of CMD...: runs CMD $runs times (stdout to /dev/null); prints the best
# wall time in seconds.
best_of() {
	local i t0 t1 best=
	for ((i = 0; i < runs; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>>"$dir/stderr.log" || die "$1 failed (see $dir/stderr.log)"
		t1=$(date +%s%N)
		if [ -z "$best" ] || [ $((t1 - t0)) -lt "$best" ]; then best=$((t1 - t0)); fi
	done
	awk -v ns="$best" 'BEGIN { printf "%.3f\n", ns / 1e9 }'
}

file=$(tests/bench/corpus_file.sh "$min_mb" "$dir") || exit 1
bytes=$(stat -c %s "$file")
events=$(wc -l <"$file")
printf 'input     %s\n          %d events, %.1f MB (real corpus events repeated)\n' \
    "$file" "$events" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')"
: >"$dir/stderr.log"

echo "kaudit scan --stats (shipped rules):"
bin/kaudit scan --stats "$file" 2>&1 >/dev/null | sed 's/^/          /'
t_scan=$(best_of bin/kaudit scan --stats "$file")
t_jq=$(best_of jq -c 'select(.objectRef.subresource=="exec")' "$file")

report() {	# label seconds
	awk -v l="$1" -v t="$2" -v e="$events" -v b="$bytes" 'BEGIN {
		printf "%-44s %7.3f s  %10.0f events/s  %7.1f MB/s\n", l, t, e / t, b / 1e6 / t }'
}
echo
echo "best of $runs, wall time:"
report "kaudit scan --stats (every rule)" "$t_scan"
report "jq -c 'select(.objectRef.subresource==\"exec\")'" "$t_jq"
awk -v s="$t_scan" -v j="$t_jq" 'BEGIN { printf "ratio     kaudit scan is %.1fx the speed of jq\n", j / s }'

# gzip: the same events compressed, read as a stream.
gz=$file.gz
[ -s "$gz" ] || { gzip -6 -c "$file" >"$gz.tmp" && mv "$gz.tmp" "$gz"; } || die "gzip failed"
gzbytes=$(stat -c %s "$gz")
t_gz=$(best_of bin/kaudit scan "$gz")
t_gz1=$(best_of bin/kaudit scan --threads 1 "$gz")
t_one=$(best_of bin/kaudit scan --threads 1 "$file")
t_zcat=$(best_of sh -c 'gzip -dc "$1" | bin/kaudit scan -' sh "$gz")
t_gunzip=$(best_of gzip -dc "$gz")
echo
printf 'gzip      %s, %.1f MB (%.1fx smaller)\n' "$gz" "$(awk -v b="$gzbytes" 'BEGIN { print b / 1e6 }')" \
    "$(awk -v a="$bytes" -v b="$gzbytes" 'BEGIN { print a / b }')"
report "kaudit scan FILE (default threads)" "$t_scan"
report "kaudit scan --threads 1 FILE" "$t_one"
report "kaudit scan FILE.gz (default threads)" "$t_gz"
report "kaudit scan --threads 1 FILE.gz" "$t_gz1"
report "gzip -dc FILE.gz | kaudit scan -" "$t_zcat"
report "gzip -dc FILE.gz > /dev/null (gzip(1) alone)" "$t_gunzip"
awk -v g="$t_gz" -v p="$t_scan" -v g1="$t_gz1" -v o="$t_one" 'BEGIN {
	printf "ratio     FILE.gz takes %.2fx the time of FILE (default threads), %.2fx on one thread\n", g / p, g1 / o }'
