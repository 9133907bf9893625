#!/usr/bin/env bash
# scan_memory.sh — what `kaudit scan` keeps while it reads large inputs fast:
#
#   1. realistic traffic (tests/bench/traffic.py, 4000 events of about 1 KB
#      with fresh auditIDs) gives the same findings, in the same order, with
#      one thread, with two threads cutting 64 KiB chunks (signals of
#      stateful rules kept by each chunk and replayed in file order), from
#      stdin and from a gzip file;
#   2. peak resident memory (--stats peak_mb) does not grow with a mapped
#      file: the same events repeated 2 and 10 times (3.6 and 18 MB; the
#      repeats add no findings and no state) must peak within 7 MB of each
#      other (half of what the larger file adds; the sanitizers' quarantine
#      takes a few MB), with one thread and with two, with pages given back
#      every 64 KiB. A scan that keeps every page it read differs by 27 MB.
#   3. the file twice gives the findings of the file once, with one thread
#      and with two.
# Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-scanmem.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ok()  { echo "PASS scan-memory:$1"; }
bad() { echo "FAIL scan-memory:$1: $2"; }

python3 tests/bench/traffic.py 4000 >"$tmp/t.jsonl" || { bad setup "traffic.py failed"; exit 1; }

# 1. the same findings whatever the reading
"$K" scan --threads 1 "$tmp/t.jsonl" >"$tmp/t1" 2>"$tmp/t1.err"
n=$(wc -l <"$tmp/t1")
if [ "$n" -ge 100 ]; then ok "traffic-findings ($n)"; else bad traffic-findings "only $n findings"; fi
"$K" scan --threads 2 --split-min 0 --chunk-bytes 65536 "$tmp/t.jsonl" >"$tmp/t2" 2>&1
if cmp -s "$tmp/t1" "$tmp/t2"; then ok threads-2-same; else bad threads-2-same "$(diff "$tmp/t1" "$tmp/t2" | head -c 300)"; fi
"$K" scan - <"$tmp/t.jsonl" >"$tmp/stdin" 2>&1
if cmp -s "$tmp/t1" "$tmp/stdin"; then ok stdin-same; else bad stdin-same "differs from the file's"; fi
gzip -1 -c "$tmp/t.jsonl" >"$tmp/t.jsonl.gz"
"$K" scan "$tmp/t.jsonl.gz" >"$tmp/gz" 2>&1
if cmp -s "$tmp/t1" "$tmp/gz"; then ok gzip-same; else bad gzip-same "differs from the file's"; fi

# 2. peak memory independent of the file's size
for k in 2 10; do
	for ((i = 0; i < k; i++)); do cat "$tmp/t.jsonl"; done >"$tmp/x$k.jsonl"
done
# An event read again (the same auditID) adds nothing: the file twice gives
# the findings of the file once, repeat counts included, whether the copies
# fall in one thread's chunks or in two threads' (each chunk's signals are
# fed to the engine once per event).
for threads in 1 2; do
	"$K" scan --threads "$threads" --split-min 0 --chunk-bytes 65536 "$tmp/x2.jsonl" >"$tmp/rep" 2>&1
	if cmp -s "$tmp/t1" "$tmp/rep"; then ok "read-twice-same-threads-$threads"
	else bad "read-twice-same-threads-$threads" "$(diff "$tmp/t1" "$tmp/rep" | head -c 300)"; fi
done
peak() {	# FILE ARGS...: peak_mb of --stats
	local f=$1
	shift
	"$K" scan --stats "$@" "$f" 2>&1 >/dev/null | sed -n 's/.* peak_mb \([0-9.]*\)$/\1/p'
}
for threads in 1 2; do
	small=$(peak "$tmp/x2.jsonl" --threads "$threads" --split-min 0 --chunk-bytes 65536)
	large=$(peak "$tmp/x10.jsonl" --threads "$threads" --split-min 0 --chunk-bytes 65536)
	if [ -z "$small" ] || [ -z "$large" ]; then
		bad "peak-flat-threads-$threads" "no peak_mb in --stats"
	elif awk -v s="$small" -v l="$large" 'BEGIN { exit !(l - s < 7) }'; then
		ok "peak-flat-threads-$threads ($small MB, $large MB)"
	else
		bad "peak-flat-threads-$threads" "3.6 MB file: $small MB, 18 MB file: $large MB"
	fi
done
