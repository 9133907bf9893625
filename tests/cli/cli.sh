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

# platforms: a name the rules do not know is an error where it was set; a
# known one makes its platform's identities the control plane.
printf 'cluster: x\nplatforms: [openshift, gkee]\n' >"$tmp/cfg4.yaml"
"$K" check -c "$tmp/cfg4.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-unknown-platform-exit-1 test "$rc" -eq 1
check check-unknown-platform-file-line grep -q "^$tmp/cfg4.yaml:2: platforms: unknown platform \"gkee\" (the rules know: aks, eks, gke, openshift)" "$tmp/err"
printf 'cluster: x\nplatforms: [openshift, gke]\n' >"$tmp/cfg5.yaml"
"$K" check -c "$tmp/cfg5.yaml" >"$tmp/out" 2>&1
check check-known-platforms-ok test $? -eq 0
printf '{"auditID":"p1","stage":"ResponseComplete","verb":"create","user":{"username":"system:gcp-controller-manager"},"objectRef":{"resource":"clusterrolebindings","name":"b","apiGroup":"rbac.authorization.k8s.io"},"responseStatus":{"code":201},"requestObject":{"kind":"ClusterRoleBinding","roleRef":{"name":"cluster-admin"}}}\n' >"$tmp/gke.jsonl"
"$K" scan "$tmp/gke.jsonl" >"$tmp/out" 2>&1
check scan-platform-identity-untrusted-by-default grep -q '"rule":"k8s.rbac.clusterrolebinding.cluster_admin"' "$tmp/out"
"$K" scan --platform gke "$tmp/gke.jsonl" >"$tmp/out" 2>&1
rc=$?
check scan-platform-gke-trusts-gke sh -c "test $rc -eq 0 && ! grep -q cluster_admin '$tmp/out'"
"$K" scan --platform openshift --platform gkee "$tmp/gke.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
check scan-unknown-platform-exit-2 test "$rc" -eq 2
check scan-unknown-platform-message grep -q 'platforms: unknown platform "gkee"' "$tmp/err"

# rules test: a test file's platforms are checked like the config's.
mkdir -p "$tmp/rt"
printf 'platforms: [gkee]\ncases:\n  - name: c\n    event: {verb: get}\n' >"$tmp/rt/p.yaml"
"$K" rules test "$tmp/rt" >"$tmp/out" 2>&1
rc=$?
check rules-test-unknown-platform-exit-1 test "$rc" -eq 1
check rules-test-unknown-platform-file-line grep -q "^FAIL $tmp/rt/p.yaml: rules: $tmp/rt/p.yaml:1: platforms: unknown platform \"gkee\"" "$tmp/out"

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
