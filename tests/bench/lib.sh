# lib.sh — shared by tests/bench/latency.sh and tests/bench/scale.sh
# (sourced, not run): the realistic traffic file and the private services.
# shellcheck shell=bash

# bench_traffic COUNT: prints the path of COUNT realistic events of
# tests/bench/traffic.py, written once under /tmp/kaudit-bench and kept.
bench_traffic() {
	local f=/tmp/kaudit-bench/traffic-$1.jsonl
	mkdir -p /tmp/kaudit-bench || return 1
	[ -s "$f" ] || { python3 tests/bench/traffic.py "$1" >"$f.tmp" && mv "$f.tmp" "$f"; } ||
	    return 1
	echo "$f"
}

# bench_services NAME: starts a private Kafka broker and PostgreSQL
# (tests/services/up.sh), exports their addresses, loads the helpers of
# tests/integration/lib/common.sh as test NAME (a work directory, a
# database) and stops the services on exit.
bench_services() {
	bench_env=$(tests/services/up.sh) || return 1
	# shellcheck disable=SC1090
	. "$bench_env"
	IT_NAME=$1
	# shellcheck source=tests/integration/lib/common.sh
	. tests/integration/lib/common.sh
	it_init
	trap 'it_cleanup; tests/services/down.sh "$bench_env" >/dev/null 2>&1' EXIT
}
