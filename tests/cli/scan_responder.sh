#!/usr/bin/env bash
# scan_responder.sh — kaudit scan as a responder runs it on an exported log:
# gzip input (files, stdin, any name, several members, cut short), --format
# json|table (escaped values), --min-severity, --since/--until, the progress
# line and the summary, and the defaults: quiet stderr and JSON lines when
# not on a terminal, table, progress and summary on one (run under script(1)).
# Run by cli.sh; prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-scanr.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fx=tests/fixtures/corpus/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
pan=tests/fixtures/corpus/panther-labs-panther-analysis/panther_k8s_audit_native.jsonl

ok()   { echo "PASS cli:$1"; }
bad()  { echo "FAIL cli:$1: $2"; }
check() {	# name, condition-command...
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name" "$*"; fi
}
usage_error() {	# name, expected-message-part, scan arguments...
	local name=$1 want=$2; shift 2
	"$K" scan "$@" </dev/null >"$tmp/u.out" 2>"$tmp/u.err"
	local rc=$?
	if [ "$rc" -eq 2 ] && grep -qF -- "$want" "$tmp/u.err"; then
		ok "$name"
	else
		bad "$name" "exit $rc, stderr: $(head -c 200 "$tmp/u.err")"
	fi
}

"$K" scan -h >"$tmp/help" 2>&1
for opt in --format --min-severity --since --until --progress --no-progress --summary --no-summary gzip; do
	check "scan-help-mentions-${opt#--}" grep -q -- "$opt" "$tmp/help"
done

# --- gzip ------------------------------------------------------------------
"$K" scan "$pan" >"$tmp/plain.out" 2>"$tmp/plain.err"
check scan-plain-ok sh -c "test $? -eq 0 && test -s '$tmp/plain.out' && test ! -s '$tmp/plain.err'"
gzip -c "$pan" >"$tmp/events.jsonl.gz"
"$K" scan "$tmp/events.jsonl.gz" >"$tmp/gz.out" 2>"$tmp/gz.err"
check scan-gz-exit-0 test $? -eq 0
check scan-gz-equals-plain cmp -s "$tmp/plain.out" "$tmp/gz.out"
check scan-gz-quiet-stderr test ! -s "$tmp/gz.err"
cp "$tmp/events.jsonl.gz" "$tmp/renamed.json"
"$K" scan "$tmp/renamed.json" >"$tmp/gz2.out" 2>&1
check scan-gz-by-magic-not-name cmp -s "$tmp/plain.out" "$tmp/gz2.out"
"$K" scan - <"$tmp/events.jsonl.gz" >"$tmp/gz3.out" 2>&1
check scan-gz-on-stdin cmp -s "$tmp/plain.out" "$tmp/gz3.out"
# two members (cat a.gz b.gz) are one stream, as for gzip -d
head -n 100 "$pan" | gzip -c >"$tmp/two.gz"
tail -n +101 "$pan" | gzip -c >>"$tmp/two.gz"
"$K" scan "$tmp/two.gz" >"$tmp/gz4.out" 2>&1
check scan-gz-two-members cmp -s "$tmp/plain.out" "$tmp/gz4.out"
# a pretty-printed event compressed
gzip -c "$fx/exec_pod.json" >"$tmp/exec.gz"
"$K" scan "$fx/exec_pod.json" >"$tmp/exec.plain" 2>&1
"$K" scan "$tmp/exec.gz" >"$tmp/exec.out" 2>&1
check scan-gz-pretty-printed sh -c "cmp -s '$tmp/exec.plain' '$tmp/exec.out' && grep -q k8s.exec.pod '$tmp/exec.out'"
# cut short: what came before is scanned, the error said, exit 1
size=$(stat -c %s "$tmp/events.jsonl.gz")
head -c $((size - 100)) "$tmp/events.jsonl.gz" >"$tmp/short.gz"
"$K" scan "$tmp/short.gz" >"$tmp/short.out" 2>"$tmp/short.err"
rc=$?
check scan-gz-cut-short-exit-1 test "$rc" -eq 1
check scan-gz-cut-short-says-so grep -q "^kaudit scan: $tmp/short.gz: offset [0-9]*: gzip data cut short" "$tmp/short.err"
check scan-gz-cut-short-keeps-findings test "$(wc -l <"$tmp/short.out")" -gt 10
# a tarball (a managed service's export) is refused, saying what to do instead
mkdir -p "$tmp/tar"
cp "$pan" "$tmp/tar/audit.jsonl"
tar -czf "$tmp/export.tar.gz" -C "$tmp/tar" audit.jsonl
"$K" scan "$tmp/export.tar.gz" >"$tmp/tar.out" 2>"$tmp/tar.err"
rc=$?
check scan-tarball-exit-1 sh -c "test $rc -eq 1 && test ! -s '$tmp/tar.out'"
check scan-tarball-says-extract grep -qF "export.tar.gz: offset 0: a tar archive, not JSON: extract its files first (tar -xzOf FILE | kaudit scan -)" "$tmp/tar.err"
tar -xzOf "$tmp/export.tar.gz" | "$K" scan - >"$tmp/tar2.out" 2>&1
check scan-tarball-extracted-to-stdin cmp -s "$tmp/plain.out" "$tmp/tar2.out"
# decode errors in a gzip file name the same lines and offsets as in the plain file
{ head -n 50 "$pan"; echo '{not json'; tail -n +51 "$pan"; } >"$tmp/broken.jsonl"
gzip -c "$tmp/broken.jsonl" >"$tmp/broken.gz"
"$K" scan "$tmp/broken.jsonl" 2>&1 >/dev/null | sed 's/^[^:]*: //' >"$tmp/broken.plain.err"
"$K" scan "$tmp/broken.gz" 2>&1 >/dev/null | sed 's/^[^:]*: //' >"$tmp/broken.gz.err"
check scan-gz-error-lines-as-plain sh -c "grep -q '^line 51: ' '$tmp/broken.gz.err' && cmp -s '$tmp/broken.plain.err' '$tmp/broken.gz.err'"

# --- --format --------------------------------------------------------------
"$K" scan --format json "$pan" >"$tmp/json.out" 2>&1
check scan-format-json-is-default-off-terminal cmp -s "$tmp/plain.out" "$tmp/json.out"
"$K" scan --format table "$pan" >"$tmp/table.out" 2>&1
check scan-format-table-header grep -Eq '^TIME +SEVERITY +RULE +MESSAGE$' "$tmp/table.out"
check scan-format-table-one-line-per-finding test "$(($(wc -l <"$tmp/table.out") - 1))" -eq "$(wc -l <"$tmp/plain.out")"
check scan-format-table-row-without-time grep -Eq '^- +medium +k8s\.exec\.pod +attacker@example.com ran ' "$tmp/table.out"
# a user name that would drive the terminal is shown escaped
printf '{"auditID":"esc-1","stage":"ResponseComplete","verb":"create","user":{"username":"\\u001b]0;pwned\\u0007\\u001b[2Jmallory\\u202e"},"requestURI":"/api/v1/namespaces/shop/pods/web-0/exec?command=sh","objectRef":{"resource":"pods","subresource":"exec","namespace":"shop","name":"web-0"},"responseStatus":{"code":101},"stageTimestamp":"2026-10-01T09:00:00Z"}\n' >"$tmp/esc.jsonl"
"$K" scan --format table "$tmp/esc.jsonl" >"$tmp/esc.out" 2>&1
check scan-format-table-row grep -Eq '^2026-10-01T09:00:00Z +medium +k8s\.exec\.pod +' "$tmp/esc.out"
ctl=$(printf '[\001-\010\013-\037\177]')
check scan-format-table-no-raw-control sh -c "! LC_ALL=C grep -q '$ctl' '$tmp/esc.out'"
check scan-format-table-escapes-shown grep -qF '\u{001B}]0;pwned\u{0007}\u{001B}[2Jmallory\u{202E}' "$tmp/esc.out"
usage_error scan-format-rejects-csv '--format: expected json or table, got "csv"' --format csv "$pan"

# --- --min-severity --------------------------------------------------------
"$K" scan --min-severity high "$pan" >"$tmp/high.out" 2>&1
check scan-min-severity-high-only sh -c "jq -e -s 'length > 0 and all(.[]; .severity == \"high\" or .severity == \"critical\")' '$tmp/high.out' >/dev/null"
check scan-min-severity-keeps-all-high test "$(wc -l <"$tmp/high.out")" -eq "$(jq -r 'select(.severity == "high" or .severity == "critical") | .rule' "$tmp/plain.out" | wc -l)"
"$K" scan --min-severity info "$pan" >"$tmp/info.out" 2>&1
check scan-min-severity-info-is-all cmp -s "$tmp/plain.out" "$tmp/info.out"
usage_error scan-min-severity-rejects-unknown '--min-severity: expected info, low, medium, high or critical, got "severe"' --min-severity severe "$pan"

# --- --since / --until -----------------------------------------------------
for i in 1 2 3 4; do
	printf '{"auditID":"t-%d","stage":"ResponseComplete","verb":"get","user":{"username":"bob"},"requestURI":"/api/v1/namespaces/shop/pods/web-0/exec?command=sh","objectRef":{"resource":"pods","subresource":"exec","namespace":"shop","name":"web-0"},"responseStatus":{"code":101},"stageTimestamp":"2026-10-0%dT12:00:00Z"}\n' "$i" "$i"
done >"$tmp/days.jsonl"
printf '{"auditID":"t-r","stage":"ResponseComplete","verb":"get","user":{"username":"bob"},"requestURI":"/api/v1/namespaces/shop/pods/web-0/exec?command=sh","objectRef":{"resource":"pods","subresource":"exec","namespace":"shop","name":"web-0"},"responseStatus":{"code":101},"requestReceivedTimestamp":"2026-10-02T13:00:00Z"}\n' >>"$tmp/days.jsonl"
printf '{"auditID":"t-none","stage":"ResponseComplete","verb":"get","user":{"username":"bob"},"requestURI":"/api/v1/namespaces/shop/pods/web-0/exec?command=sh","objectRef":{"resource":"pods","subresource":"exec","namespace":"shop","name":"web-0"},"responseStatus":{"code":101}}\n' >>"$tmp/days.jsonl"
ids() { jq -r 'select(.rule == "k8s.exec.pod") | .audit_id' "$1" | sort | tr '\n' ' '; }
"$K" scan "$tmp/days.jsonl" >"$tmp/w0.out" 2>&1
check scan-window-none-all test "$(ids "$tmp/w0.out")" = "t-1 t-2 t-3 t-4 t-none t-r "
"$K" scan --since 2026-10-02 --until 2026-10-03T12:00:00Z "$tmp/days.jsonl" >"$tmp/w1.out" 2>&1
check scan-window-since-until test "$(ids "$tmp/w1.out")" = "t-2 t-r "
"$K" scan --since 2026-10-03T12:00:00Z "$tmp/days.jsonl" >"$tmp/w2.out" 2>&1
check scan-window-since-inclusive test "$(ids "$tmp/w2.out")" = "t-3 t-4 "
"$K" scan --until 2026-10-02T12:00:00.001+00:00 "$tmp/days.jsonl" >"$tmp/w3.out" 2>&1
check scan-window-until-exclusive test "$(ids "$tmp/w3.out")" = "t-1 t-2 "
"$K" scan --since 1h "$tmp/days.jsonl" >"$tmp/w4.out" 2>&1
check scan-window-since-relative-excludes-past test ! -s "$tmp/w4.out"
"$K" scan --until 1h "$tmp/days.jsonl" >"$tmp/w5.out" 2>&1
check scan-window-until-relative-keeps-past test "$(ids "$tmp/w5.out")" = "t-1 t-2 t-3 t-4 t-r "
"$K" scan --summary --since 2026-10-02 "$tmp/days.jsonl" >/dev/null 2>"$tmp/w6.err"
check scan-window-summary-counts-outside grep -Eq '^summary: 4 events \(2 more outside --since/--until or without a time\), [0-9]+ findings' "$tmp/w6.err"
# exports that rewrote the time ("2022-11-29 00:09:04.38", UTC) are read too
"$K" scan --since 2022-11-29T00:09:04Z --until 2022-11-29T00:09:05Z "$pan" >"$tmp/w7.out" 2>&1
check scan-window-export-time-format test "$(jq -r .time "$tmp/w7.out" | sort -u)" = "2022-11-29 00:09:04.38"
usage_error scan-since-rejects-junk '--since: expected an RFC 3339 time' --since yesterday "$pan"
usage_error scan-until-rejects-bad-date '--until: expected' --until 2026-02-30 "$pan"
usage_error scan-since-after-until '--since must come before --until' --since 2026-10-02 --until 2026-10-01 "$pan"

# --- the options give the same output whatever the threads ----------------
# (a file cut into 4 KiB chunks over 4 threads against one thread)
for opts in "--format table" "--min-severity medium" "--since 2022-11-29 --until 2024-11-13T20:00:00Z" "--summary"; do
	name=$(echo "$opts" | tr -c 'a-z0-9\n' '-' | sed 's/--*/-/g; s/^-//; s/-$//')
	"$K" scan --threads 1 $opts "$pan" >"$tmp/t1.out" 2>"$tmp/t1.err"
	"$K" scan --threads 4 --split-min 0 --chunk-bytes 4096 $opts "$pan" >"$tmp/t4.out" 2>"$tmp/t4.err"
	sed -i 's/, [0-9.]* s$//' "$tmp/t1.err" "$tmp/t4.err"
	check "scan-threads-same-$name" sh -c "test -s '$tmp/t1.out' && cmp -s '$tmp/t1.out' '$tmp/t4.out' && cmp -s '$tmp/t1.err' '$tmp/t4.err'"
done

# --- summary and progress --------------------------------------------------
"$K" scan --summary "$pan" >"$tmp/s.out" 2>"$tmp/s.err"
n=$(wc -l <"$tmp/plain.out")
events=$("$K" scan --stats "$pan" 2>&1 >/dev/null | awk '{ print $2 }')
check scan-summary-json-unchanged cmp -s "$tmp/plain.out" "$tmp/s.out"
check scan-summary-totals grep -Eq "^summary: $events events, $n findings \\([0-9]+ critical, " "$tmp/s.err"
jq -r '"\(.severity) \(.rule)"' "$tmp/plain.out" | sort | uniq -c | awk '{ print $2, $1, $3 }' | sort >"$tmp/s.want"
awk 'NR > 1 { print $1, $2, $3 }' "$tmp/s.err" | sort >"$tmp/s.got"
check scan-summary-by-rule-as-output cmp -s "$tmp/s.want" "$tmp/s.got"
check scan-summary-most-severe-first sh -c "sed -n 2p '$tmp/s.err' | grep -q '^  critical '"
"$K" scan --progress "$tmp/events.jsonl.gz" >"$tmp/p.out" 2>"$tmp/p.err"
check scan-progress-forced-json-unchanged cmp -s "$tmp/plain.out" "$tmp/p.out"
gzsize=$(stat -c %s "$tmp/events.jsonl.gz")
check scan-progress-forced-line sh -c "grep -Eq '^scan: [0-9.]+ kB of [0-9.]+ kB \\(100%\\), $events events, $n findings, ' '$tmp/p.err'"
"$K" scan --progress - <"$pan" >/dev/null 2>"$tmp/p2.err"
check scan-progress-stdin-no-total grep -Eq "^scan: [0-9.]+ kB, $events events, $n findings, " "$tmp/p2.err"
# not a terminal, no flag: nothing on stderr (scripts keep theirs quiet)
"$K" scan "$tmp/events.jsonl.gz" >/dev/null 2>"$tmp/q.err"
check scan-quiet-stderr-off-terminal test ! -s "$tmp/q.err"

# On a terminal (script(1) gives the command a pty for stdout and stderr):
# a table, the progress line redrawn in place, and the summary.
if command -v script >/dev/null 2>&1; then
	script -qec "$K scan $tmp/events.jsonl.gz" /dev/null >"$tmp/tty.out" 2>&1
	tr -d '\r' <"$tmp/tty.out" >"$tmp/tty.txt"
	check scan-tty-table-by-default grep -Eq '^TIME +SEVERITY +RULE +MESSAGE$' "$tmp/tty.txt"
	check scan-tty-progress-in-place grep -q $'\r''scan: .* events, .* findings, .*'$'\033''\[K' "$tmp/tty.out"
	check scan-tty-summary grep -Eq "^summary: $events events, $n findings" "$tmp/tty.txt"
	script -qec "$K scan --no-progress --no-summary --format json $tmp/events.jsonl.gz" /dev/null >"$tmp/tty2.out" 2>&1
	tr -d '\r' <"$tmp/tty2.out" >"$tmp/tty2.txt"
	check scan-tty-flags-turn-off sh -c "! grep -q '^summary:\|scan: ' '$tmp/tty2.txt' && cmp -s '$tmp/plain.out' '$tmp/tty2.txt'"
else
	bad scan-tty "script(1) not found (util-linux)"
fi
