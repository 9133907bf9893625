#!/usr/bin/env bash
# bench-db.sh BENCH_BINARY — `make bench-db`: findings/s, rows/s and bytes
# through the daemon's batch write alone (tests/bench_db.c), on realistic
# traffic (tests/bench/traffic.py): first a backlog of findings (the events
# some rule fires on, cycled with fresh auditIDs), then the whole traffic
# mix, where archived events are most of the rows. Each run writes into a
# fresh database. Uses the services of KAUDIT_PG_URL when set, else starts
# its own PostgreSQL.
#   BENCH_DB_N        findings per run (default 50000)
#   BENCH_DB_REPEAT   runs of each kind; the best is the figure (default 3)
#   BENCH_DB_HOOKS    webhooks each finding goes to (default 1)
set -u
bench=$1
n=${BENCH_DB_N:-50000}
repeat=${BENCH_DB_REPEAT:-3}
hooks=${BENCH_DB_HOOKS:-1}
tmp=$(mktemp -d /tmp/kaudit-bench-db.XXXXXX)
own=
if [ -z "${KAUDIT_PG_URL:-}" ]; then
	url=$(tests/services/pg.sh start "$tmp") || exit 1
	own=$tmp
	export KAUDIT_PG_URL=$url
fi
trap '[ -n "$own" ] && tests/services/pg.sh stop "$own" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
python3 tests/bench/traffic.py 20000 >"$tmp/traffic.jsonl" || exit 1
rc=0
for mode in firing all; do
	flag=
	[ "$mode" = all ] && flag=--all
	for i in $(seq "$repeat"); do
		echo "== $mode, run $i of $repeat"
		"$bench" --findings "$n" --hooks "$hooks" $flag "$tmp/traffic.jsonl" || rc=1
	done
done
exit $rc
