#!/usr/bin/env bash
# cli.sh — the command-line contract of DESIGN.md, exercised on the built
# binary: exit codes, `file:line: message` errors from check, scan on stdin
# and files, and docs/rules.md being the output of `rules list --markdown`.
# Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fx=tests/fixtures/corpus/falcosecurity-falco-trace-files/test/trace_files/k8s_audit

ok()   { echo "PASS cli:$1"; }
bad()  { echo "FAIL cli:$1: $2"; }
check() {	# name, condition-command...
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name" "$*"; fi
}

"$K" --version >"$tmp/v" 2>&1
check version grep -Eq '^kaudit [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/v"
"$K" --help >"$tmp/h" 2>&1
check help-lists-commands grep -q 'migrate' "$tmp/h"
for cmd in run scan check migrate rules; do
	"$K" "$cmd" -h >"$tmp/h.$cmd" 2>&1
	rc=$?
	check "help-$cmd" test "$rc" -eq 0 -a -s "$tmp/h.$cmd"
done
"$K" frobnicate >/dev/null 2>&1
check unknown-command-exit-2 test $? -eq 2

# scan: the same findings from a file and from stdin.
"$K" scan "$fx/exec_pod.json" >"$tmp/f1"
rc=$?
"$K" scan - <"$fx/exec_pod.json" >"$tmp/f2"
check scan-file-exit-0 test "$rc" -eq 0
check scan-stdin-equals-file cmp -s "$tmp/f1" "$tmp/f2"
check scan-finds-exec grep -q '"rule":"k8s.exec.pod"' "$tmp/f1"
check scan-jsonl-per-line sh -c "jq -e -s 'length > 0 and all(.[]; .audit_id and .severity and .category and (.tags|length>0))' '$tmp/f1' >/dev/null"

# scan: undecodable input is reported with its offset and exits 1.
printf '{"kind":"Event","auditID":"a","verb":"get"}\n{not json\n' >"$tmp/bad.jsonl"
"$K" scan "$tmp/bad.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
check scan-bad-input-exit-1 test "$rc" -eq 1
check scan-bad-input-names-line grep -q 'line 2' "$tmp/err"

# check: a config naming a broken rule file fails with file:line.
cat >"$tmp/rules.yaml" <<'YAML'
- rule: t.broken
  title: broken
  description: x
  condition: verb = create and no.such.field = 1
  output: x
  severity: high
  category: exec
  tags: [T1609]
YAML
printf 'rules: ["%s"]\n' "$tmp/rules.yaml" >"$tmp/cfg.yaml"
"$K" check -c "$tmp/cfg.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-broken-rule-exit-1 test "$rc" -eq 1
check check-broken-rule-file-line grep -q "^$tmp/rules.yaml:4: " "$tmp/err"
printf 'kafka:\n  brokerz: x\n' >"$tmp/cfg2.yaml"
"$K" check -c "$tmp/cfg2.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-unknown-key-exit-1 test "$rc" -eq 1
check check-unknown-key-file-line grep -q "^$tmp/cfg2.yaml:2: unknown key \"kafka.brokerz\"" "$tmp/err"
"$K" check -c config/kaudit.example.yaml >"$tmp/out" 2>&1
check check-example-config-ok test $? -eq 0

# check: disabled ids and tags that match no rule are reported where they were set.
printf 'cluster: x\ndisabled_rules: [k8s.exec.pod, k8s.no.such.rule]\ndisabled_tags: [T1609]\n' >"$tmp/cfg3.yaml"
"$K" check -c "$tmp/cfg3.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-unknown-disabled-rule-exit-1 test "$rc" -eq 1
check check-unknown-disabled-rule-file-line grep -q "^$tmp/cfg3.yaml:2: disabled_rules: rule \"k8s.no.such.rule\" is not defined" "$tmp/err"

# check: librdkafka properties are checked where they were set: unknown
# properties and strategy lists mixing eager and cooperative are refused;
# cooperative-sticky is warned about on a librdkafka with its known bugs.
printf 'cluster: x\nkafka:\n  properties: {"no.such.property": "1"}\n' >"$tmp/cfg4.yaml"
"$K" check -c "$tmp/cfg4.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-unknown-kafka-property-exit-1 test "$rc" -eq 1
check check-unknown-kafka-property-file-line grep -q "^$tmp/cfg4.yaml:3: kafka property no.such.property=1: " "$tmp/err"
printf 'kafka:\n  properties: {"partition.assignment.strategy": "cooperative-sticky,range"}\n' >"$tmp/cfg5.yaml"
"$K" check -c "$tmp/cfg5.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-mixed-strategies-exit-1 test "$rc" -eq 1
check check-mixed-strategies-file-line grep -q "^$tmp/cfg5.yaml:2: .*mixes eager .* and cooperative" "$tmp/err"
printf 'kafka:\n  properties: {"partition.assignment.strategy": "cooperative-sticky"}\n' >"$tmp/cfg6.yaml"
"$K" check -c "$tmp/cfg6.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-cooperative-exit-0 test "$rc" -eq 0
rdk=$(pkg-config --modversion rdkafka 2>/dev/null || echo 0)
if [ "$(printf '%s\n' "$rdk" 2.6.1 | sort -V | head -n 1)" != 2.6.1 ]; then
	check check-cooperative-warns-librdkafka-$rdk grep -q "$tmp/cfg6.yaml:2: .*cooperative-sticky with librdkafka $rdk has known bugs" "$tmp/err"
else
	check check-cooperative-no-warning-librdkafka-$rdk test ! -s "$tmp/err"
fi
printf 'kafka:\n  properties: {"partition.assignment.strategy": "roundrobin"}\n' >"$tmp/cfg7.yaml"
"$K" check -c "$tmp/cfg7.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-eager-strategy-quiet test "$rc" -eq 0 -a ! -s "$tmp/err"

# docs/rules.md is generated from the rule files and must be current.
"$K" rules list --markdown >"$tmp/rules.md" 2>&1
check docs-rules-md-current cmp -s "$tmp/rules.md" docs/rules.md

# make layers: a lower folder that includes a higher one fails the check.
mkdir -p "$tmp/tree"
for d in base analyze ingest schema alert app; do mkdir -p "$tmp/tree/$d"; done
printf '#include "base/buf.h"\n' >"$tmp/tree/analyze/ok.c"
tools/layers.sh "$tmp/tree" >"$tmp/layers.ok" 2>&1
check layers-clean-tree-passes test $? -eq 0
printf '#include "app/config.h"\n' >"$tmp/tree/analyze/bad.c"
printf '#include "schema/db.h"\n' >"$tmp/tree/ingest/peer.c"
tools/layers.sh "$tmp/tree" >"$tmp/layers.bad" 2>&1
check layers-upward-include-fails test $? -eq 1
check layers-names-the-file grep -q 'analyze/bad.c:1: includes app/' "$tmp/layers.bad"
check layers-peer-include-fails grep -q 'ingest/peer.c:1: includes schema/' "$tmp/layers.bad"
