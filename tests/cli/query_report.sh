#!/usr/bin/env bash
# query_report.sh — the command-line contract of `kaudit query` and `kaudit
# report` without a database: help, the cookbook list, usage errors. Run by
# cli.sh; the answers themselves are checked against PostgreSQL by
# tests/integration/forensics.sh.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-cli-qr.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

ok()   { echo "PASS cli:$1"; }
bad()  { echo "FAIL cli:$1: $2"; }
check() {	# name, condition-command...
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name" "$*"; fi
}

for cmd in query report; do
	"$K" "$cmd" -h >"$tmp/h.$cmd" 2>&1
	rc=$?
	check "help-$cmd" test "$rc" -eq 0 -a -s "$tmp/h.$cmd"
done
"$K" --help >"$tmp/h" 2>&1
check help-lists-query grep -q 'kaudit query \[-c FILE\] NAME' "$tmp/h"
check help-lists-report grep -q 'kaudit report \[-c FILE\]' "$tmp/h"

# Every file of schema/queries is in the binary, listed with its title.
"$K" query --list >"$tmp/list" 2>&1
check query-list-exit-0 test $? -eq 0
n=0
for f in schema/queries/*.sql; do
	q=$(basename "$f" .sql)
	grep -qx "$q" "$tmp/list" || bad "query-list-$q" "$q missing from kaudit query --list"
	n=$((n + 1))
done
check query-list-all test "$(grep -c '^[a-z]' "$tmp/list")" -eq "$n" -a "$n" -ge 7
check query-list-params grep -q -- '--param user=text (required)' "$tmp/list"

"$K" query no-such-query >/dev/null 2>"$tmp/err"
check query-unknown-exit-2 test $? -eq 2
check query-unknown-says-why grep -q 'no query "no-such-query"' "$tmp/err"
"$K" query pod-exec >/dev/null 2>"$tmp/err"
check query-missing-param-exit-2 test $? -eq 2
check query-missing-param-says-which grep -q -- '--param namespace=... is required' "$tmp/err"
"$K" query pod-exec --param nope=1 >/dev/null 2>"$tmp/err"
check query-unknown-param-exit-2 test $? -eq 2
"$K" query pod-exec --param namespace >/dev/null 2>"$tmp/err"
check query-param-needs-value-exit-2 test $? -eq 2
"$K" query pod-exec --param namespace=x --format xml >/dev/null 2>"$tmp/err"
check query-bad-format-exit-2 test $? -eq 2

"$K" report --format html >/dev/null 2>"$tmp/err"
check report-needs-output-exit-2 test $? -eq 2
"$K" report --format pdf -o "$tmp/r" >/dev/null 2>"$tmp/err"
check report-bad-format-exit-2 test $? -eq 2
"$K" report --format html -o "$tmp/r.html" --from yesterday-ish >/dev/null 2>"$tmp/err"
check report-bad-time-exit-2 test $? -eq 2
