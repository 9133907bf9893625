#!/usr/bin/env bash
# bench-scan.sh — `make bench-scan`: the `kaudit scan` rows of the
# performance table, measured in one run:
#
#   throughput   scan (default threads, every shipped rule) against
#                jq -c 'select(.objectRef.subresource=="exec")' on realistic
#                traffic (tests/bench/traffic.py, 200k events of about 1 KB)
#                and on large attack-heavy corpus events
#                (tests/bench/corpus_file.sh, 64 MB): events/s and MB/s by
#                wall time, and the ratios by wall and by CPU (user + system)
#                time, best of RUNS (default 3) each;
#   memory       scan's peak resident memory (--stats peak_mb) on 200k and
#                400k realistic events, default threads and one thread;
#   startup      scan of a one-event file, best of 20, in ms;
#   rule count   scan of the 200k file with 10, 50, 200 and all of the
#                shipped rules and correlations enabled
#                (tests/bench/rule_subset.py), stateful rules on (as
#                shipped) and off (no suppress, no correlation): events/s
#                by wall time and CPU microseconds per event, best of RUNS
#                (the baseline's too).
#
# BASELINE=path/to/kaudit measures that build the same way in the same run
# and checks that its findings on the 200k file are byte-identical to this
# build's (sorted, and as printed); BASELINE=main builds the main branch in
# a temporary directory first. Files are kept in /tmp/kaudit-bench-scan.
# Prints figures only: nothing here asserts a speed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
K=${KAUDIT:-bin/kaudit}
runs=${RUNS:-3}
dir=/tmp/kaudit-bench-scan
baseline=${BASELINE:-}

die() { echo "bench-scan: $*" >&2; exit 1; }

[ -x "$K" ] || die "$K not built (make)"
command -v jq >/dev/null || die "jq not found (tests/services/deps.sh)"
mkdir -p "$dir"
if [ "$baseline" = main ]; then
	bdir=$(mktemp -d /tmp/kaudit-bench-main.XXXXXX)
	echo "bench-scan: building main in $bdir" >&2
	git archive main | tar -x -C "$bdir" && make -C "$bdir" -j2 >"$bdir/build.log" 2>&1 ||
	    die "cannot build main (see $bdir/build.log)"
	baseline=$bdir/bin/kaudit
fi

traffic() {	# COUNT: prints the path of COUNT realistic events, made once
	local f=$dir/traffic-$1.jsonl
	[ -s "$f" ] || { python3 tests/bench/traffic.py "$1" >"$f.tmp" && mv "$f.tmp" "$f"; } ||
	    die "traffic.py failed"
	echo "$f"
}

# best CMD...: runs CMD $runs times, stdout to /dev/null; prints the best
# wall and the best CPU (user + system) seconds.
best() {
	local i bw= bc= r w c
	for ((i = 0; i < runs; i++)); do
		/usr/bin/time -o "$dir/time.out" -f '%e %U %S' "$@" >/dev/null 2>>"$dir/stderr.log" ||
		    die "$1 failed (see $dir/stderr.log)"
		r=$(tail -n 1 "$dir/time.out")
		w=$(echo "$r" | awk '{ print $1 }')
		c=$(echo "$r" | awk '{ print $2 + $3 }')
		if [ -z "$bw" ] || awk -v a="$w" -v b="$bw" 'BEGIN { exit !(a < b) }'; then bw=$w; fi
		if [ -z "$bc" ] || awk -v a="$c" -v b="$bc" 'BEGIN { exit !(a < b) }'; then bc=$c; fi
	done
	echo "$bw $bc"
}

row() {	# label "wall cpu" events bytes
	local w c
	read -r w c <<<"$2"
	awk -v l="$1" -v w="$w" -v c="$c" -v e="$3" -v b="$4" 'BEGIN {
		if (w <= 0) w = 0.001
		printf "  %-34s %7.2f s wall %7.2f s cpu %9.0f events/s %7.1f MB/s\n",
		    l, w, c, e / w, b / 1e6 / w }'
}

ratio() {	# label "jq wall cpu" "scan wall cpu"
	local jw jc sw sc
	read -r jw jc <<<"$2"
	read -r sw sc <<<"$3"
	awk -v l="$1" -v jw="$jw" -v jc="$jc" -v sw="$sw" -v sc="$sc" 'BEGIN {
		printf "  %-34s %.1fx jq by wall time, %.1fx by CPU time\n", l, jw / sw, jc / sc }'
}

throughput() {	# label file
	local f=$2 e b tj ts tb
	e=$(wc -l <"$f")
	b=$(stat -L -c %s "$f")
	printf '%s: %s, %d events, %.1f MB (%.0f bytes an event)\n' "$1" "$f" "$e" \
	    "$(awk -v b="$b" 'BEGIN { print b / 1e6 }')" "$(awk -v b="$b" -v e="$e" 'BEGIN { print b / e }')"
	tj=$(best jq -c 'select(.objectRef.subresource=="exec")' "$f")
	ts=$(best "$K" scan "$f")
	row "jq select(exec)" "$tj" "$e" "$b"
	row "kaudit scan" "$ts" "$e" "$b"
	ratio "kaudit scan" "$tj" "$ts"
	if [ -n "$baseline" ]; then
		tb=$(best "$baseline" scan "$f")
		row "baseline scan" "$tb" "$e" "$b"
		ratio "baseline scan" "$tj" "$tb"
	fi
}

peak() {	# binary file args...: peak_mb of --stats, or "-" (an older build)
	local k=$1 f=$2 p
	shift 2
	p=$("$k" scan --stats "$@" "$f" 2>&1 >/dev/null | sed -n 's/.* peak_mb \([0-9.]*\)$/\1/p')
	if [ -n "$p" ]; then echo "$p"; return; fi
	/usr/bin/time -o "$dir/time.out" -f '%M' "$k" scan "$@" "$f" >/dev/null 2>>"$dir/stderr.log"
	tail -n 1 "$dir/time.out" | awk '{ printf "%.1f\n", $1 / 1024 }'
}

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)," \
    "load $(cut -d' ' -f1-3 /proc/loadavg); $(jq --version)"
t200=$(traffic 200000)
t400=$(traffic 400000)
large=$(tests/bench/corpus_file.sh 64 "$dir") || exit 1

echo
throughput "realistic traffic" "$t200"
echo
throughput "large corpus events" "$large"

echo
echo "peak resident memory (MB):"
for k in "$K" ${baseline:+"$baseline"}; do
	[ "$k" = "$K" ] && l="kaudit scan" || l="baseline scan"
	printf '  %-34s 200k: %6s  400k: %6s  (--threads 1: %6s, %6s)\n' "$l" \
	    "$(peak "$k" "$t200")" "$(peak "$k" "$t400")" \
	    "$(peak "$k" "$t200" --threads 1)" "$(peak "$k" "$t400" --threads 1)"
done

echo
head -n 1 "$t200" >"$dir/one.jsonl"
echo "startup (scan of one event, best of 20):"
for k in "$K" ${baseline:+"$baseline"}; do
	[ "$k" = "$K" ] && l="kaudit scan" || l="baseline scan"
	bn=
	for ((i = 0; i < 20; i++)); do
		t0=$(date +%s%N)
		"$k" scan "$dir/one.jsonl" >/dev/null 2>&1
		t1=$(date +%s%N)
		if [ -z "$bn" ] || [ $((t1 - t0)) -lt "$bn" ]; then bn=$((t1 - t0)); fi
	done
	awk -v l="$l" -v ns="$bn" 'BEGIN { printf "  %-34s %6.1f ms\n", l, ns / 1e6 }'
done

echo
echo "cost against rule count (200k realistic events, default threads, best of $runs):"
e=$(wc -l <"$t200")
for st in on off; do
	for n in 10 50 200 all; do
		rm -rf "$dir/rules"
		[ "$st" = off ] && sl=--stateless || sl=
		got=$(python3 tests/bench/rule_subset.py "$n" "$dir/rules" $sl) || die "rule_subset.py failed"
		for k in "$K" ${baseline:+"$baseline"}; do
			[ "$k" = "$K" ] && l="kaudit" || l="baseline"
			read -r w c <<<"$(best "$k" scan --rules "$dir/rules" "$t200")"
			awk -v l="$l" -v st="$st" -v n="$got" -v w="$w" -v c="$c" -v e="$e" 'BEGIN {
				if (w <= 0) w = 0.001
				printf "  %-8s stateful %-3s %3d rules %6.2f s wall %6.2f s cpu %8.0f events/s %6.2f us cpu/event\n",
				    l, st, n, w, c, e / w, c * 1e6 / e }'
		done
	done
done

if [ -n "$baseline" ]; then
	echo
	"$K" scan "$t200" >"$dir/new.out"
	"$baseline" scan "$t200" >"$dir/base.out"
	if cmp -s "$dir/new.out" "$dir/base.out"; then
		echo "findings on $t200: identical to the baseline's ($(wc -l <"$dir/new.out") lines)"
	elif cmp -s <(sort "$dir/new.out") <(sort "$dir/base.out"); then
		echo "findings on $t200: identical to the baseline's once sorted (order differs)"
	else
		echo "findings on $t200: DIFFER from the baseline's ($dir/new.out, $dir/base.out)"
	fi
fi
