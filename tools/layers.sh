#!/usr/bin/env bash
# layers.sh — the folder order, checked: a folder may include its own headers
# and those of folders below it, never those of a folder above it or beside
# it. Prints the include counts between folders, then one line per
# violation; exits 1 when there is any. `make layers` runs it, and so does
# `make check`. An argument names another tree to check (the tests use it
# to show that a violation fails).
#
#   base      the ground: buffers, allocation, logging, clocks, the JSON
#             tokenizer, the YAML reader, UTF-8, hashing, file reading, the
#             HTTP server (libmicrohttpd) and the Prometheus metrics registry
#   analyze   the rule language and engine (no I/O)
#   ingest    Kafka, message decoding, webhook bodies } side by side: neither
#   schema    PostgreSQL and the migrations       } includes the other
#   alert     webhook delivery and routing
#   app       the process: main, the commands, configuration, the worker
set -u
cd "${1:-$(dirname "$0")/..}" || exit 2

declare -A rank=([base]=0 [analyze]=1 [ingest]=2 [schema]=2 [alert]=3 [app]=9)
folders=(base analyze ingest schema alert app)
declare -A count=()
bad=0

for from in "${folders[@]}"; do
	while IFS=: read -r file line inc; do
		to=${inc#*\"}
		to=${to%%/*}
		[ -n "${rank[$to]+x}" ] || continue
		[ "$to" = "$from" ] && continue
		count[$from:$to]=$(( ${count[$from:$to]:-0} + 1 ))
		if (( rank[$to] >= rank[$from] )); then
			echo "FAIL layers: $file:$line: includes $to/ (${inc#*#include }), which is not below $from/"
			bad=1
		fi
	done < <(grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z]+/' \
	    "$from"/*.c "$from"/*.h 2>/dev/null)
done

printf '%-8s' "from\\to"
for to in "${folders[@]}"; do printf '%8s' "$to"; done
echo
for from in "${folders[@]}"; do
	printf '%-8s' "$from"
	for to in "${folders[@]}"; do printf '%8s' "${count[$from:$to]:--}"; done
	echo
done
[ "$bad" -eq 0 ] && echo "PASS layers: every include points down"
exit "$bad"
