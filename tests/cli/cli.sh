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
check help-lists-alerts grep -q 'kaudit alerts retry' "$tmp/h"
for sub in list retry enable; do
	"$K" alerts "$sub" -h >"$tmp/h.alerts.$sub" 2>&1
	check "help-alerts-$sub" test $? -eq 0 -a -s "$tmp/h.alerts.$sub"
done
"$K" alerts list --state nope >/dev/null 2>"$tmp/err"
check alerts-bad-state-exit-2 test $? -eq 2
check alerts-bad-state-says-why grep -q '"nope" is not one of' "$tmp/err"
"$K" alerts retry >/dev/null 2>&1
check alerts-retry-needs-ids-exit-2 test $? -eq 2
"$K" alerts retry 12x >/dev/null 2>&1
check alerts-retry-bad-id-exit-2 test $? -eq 2
check help-lists-retention grep -q 'kaudit retention -c FILE \[--dry-run\]' "$tmp/h"
"$K" retention >/dev/null 2>&1
check retention-needs-config-exit-2 test $? -eq 2
"$K" retention -c /nonexistent.yaml --frob >/dev/null 2>&1
check retention-bad-option-exit-2 test $? -eq 2
# archive.when is compiled with the rules: a bad field is a config error
# at its line; the default compiles without the shipped macros.
printf 'archive:\n  enabled: true\n  when: "nosuch.field = 1"\n' >"$tmp/arch.yaml"
"$K" check -c "$tmp/arch.yaml" >/dev/null 2>"$tmp/err"
check archive-when-bad-field-exit-1 test $? -eq 1
check archive-when-bad-field-line grep -q 'arch.yaml:3: archive.when: unknown field "nosuch.field"' "$tmp/err"
printf 'archive:\n  enabled: maybe\n' >"$tmp/arch2.yaml"
"$K" check -c "$tmp/arch2.yaml" >/dev/null 2>"$tmp/err"
check archive-enabled-bool grep -q 'archive.enabled: expected true or false, got "maybe"' "$tmp/err"
printf 'retention:\n  findings: 0\n' >"$tmp/ret.yaml"
"$K" check -c "$tmp/ret.yaml" >/dev/null 2>"$tmp/err"
check retention-needs-unit grep -q 'retention.findings: expected a duration' "$tmp/err"
# findings: every subcommand has -h; usage errors exit 2 before any
# database is asked (the port below has no server).
check help-lists-findings grep -q 'kaudit findings suppress' "$tmp/h"
for sub in list show ack resolve reopen suppress suppressions lift; do
	"$K" findings "$sub" -h >"$tmp/h.findings.$sub" 2>&1
	check "help-findings-$sub" test $? -eq 0 -a -s "$tmp/h.findings.$sub"
done
printf 'postgres:\n  url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"\n' >"$tmp/nodb.yaml"
fcli() {	# name, expected exit, stderr pattern, args...
	local name=$1 want=$2 pat=$3 rc
	shift 3
	"$K" findings "$@" -c "$tmp/nodb.yaml" >/dev/null 2>"$tmp/ferr"
	rc=$?
	if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$tmp/ferr"; then
		ok "findings-$name"
	else
		bad "findings-$name" "exit $rc (want $want), stderr: $(head -c 300 "$tmp/ferr")"
	fi
}
fcli bad-status 2 '"nope" is not one of' list --status nope
fcli bad-severity 2 '"hihg" is not one of' list --severity hihg
fcli bad-since 2 'expected an RFC 3339 time' list --since yesterday
fcli bad-limit 2 '--limit' list --limit 0
fcli ack-needs-ids 2 'give finding ids' ack
fcli ack-bad-id 2 'ID:' resolve 12x
fcli show-one-id 2 'usage:' show 1 2
fcli suppress-needs-reason 2 'are required' suppress --when 'user = x' --for 1h
fcli suppress-bad-field 2 'unknown finding field "user.name"' suppress --when 'user.name = x' \
    --for 1h --reason r
fcli suppress-bad-for 2 'expected a duration' suppress --when 'user = x' --for 5 --reason r
fcli suppress-short-for 2 'at least 1s' suppress --when 'user = x' --for 10ms --reason r
fcli option-not-for-sub 2 'does not apply' ack --when x 1
fcli dry-run-no-reason 2 'takes --when' suppress --when 'user = x' --dry-run --reason r
fcli limit-needs-dry-run 2 'go with --dry-run' suppress --when 'user = x' --for 1h \
    --reason r --limit 3
fcli dry-run-bad-since 2 '--since' suppress --when 'user = x' --dry-run --since soon
fcli lift-needs-ids 2 'give suppression ids' lift
fcli unknown-sub 2 'unknown command' frob
fcli no-database 1 'kaudit findings list: ' list
for cmd in run scan check migrate rules alerts retention findings; do
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
# shutdown_timeout (the bounded stop of kaudit run): bounds and where it shows.
printf 'shutdown_timeout: 500ms\n' >"$tmp/cfg3.yaml"
"$K" check -c "$tmp/cfg3.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-shutdown-timeout-min-exit-1 test "$rc" -eq 1
check check-shutdown-timeout-file-line grep -q "^$tmp/cfg3.yaml:1: .*shutdown_timeout" "$tmp/err"
"$K" run --help >"$tmp/out" 2>&1
check run-help-sighup grep -q 'SIGHUP reads the config' "$tmp/out"
check run-help-shutdown-timeout grep -q 'within shutdown_timeout' "$tmp/out"
# docs/alerting.md: the example of its Grouping section is a valid config.
awk '/^## / { s = $0 == "## Grouping" } s && /^```yaml$/ { y = 1; next }
    y && /^```$/ { exit } y' docs/alerting.md >"$tmp/grouping.yaml"
"$K" check -c "$tmp/grouping.yaml" >"$tmp/out" 2>&1
check docs-grouping-example-ok test $? -eq 0 -a -s "$tmp/grouping.yaml"
check docs-grouping-example-groups grep -q 'group_by: \[rule, user\]' "$tmp/grouping.yaml"

# docs/alerting.md's example of formats and signatures is a valid configuration.
awk '/<!-- example: alert-formats -->/ { on = 1; next } on && /^```yaml/ { next }
    on && /^```/ { exit } on' docs/alerting.md >"$tmp/alert-formats.yaml"
SLACK_PATH=T0/B0/x TEAMS_URL=https://example.invalid/workflows PD_KEY=k \
    KAUDIT_WHSEC_NEW=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
    KAUDIT_WHSEC_OLD=whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA \
    "$K" check -c "$tmp/alert-formats.yaml" >"$tmp/out" 2>&1
check docs-alert-formats-example-ok sh -c "test $? -eq 0 && grep -q 'webhooks:' '$tmp/alert-formats.yaml'"
# and a bad template in it is refused at its line
sed 's/"rule": "%{rule}"/"rule": %{rule}x/' "$tmp/alert-formats.yaml" >"$tmp/alert-bad.yaml"
SLACK_PATH=x TEAMS_URL=https://x/ PD_KEY=k KAUDIT_WHSEC_NEW=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
    KAUDIT_WHSEC_OLD=nope "$K" check -c "$tmp/alert-bad.yaml" >"$tmp/out" 2>&1
check docs-alert-formats-bad-refused sh -c "grep -q 'alert-bad.yaml:16: .*not valid JSON' '$tmp/out' &&
    grep -q 'alert-bad.yaml:20: .*secret 2' '$tmp/out' && ! grep -q nope '$tmp/out'"
# check: a webhook's when condition is compiled with the config; a field
# that is not a finding's, a bad severity and a syntax error are reported at
# the line of the condition (in a block scalar, the condition's own line),
# each with the webhook's name.
cat >"$tmp/when.yaml" <<'YAML'
alert:
  webhooks:
    - name: soc
      url: "http://127.0.0.1:9/a"
      when: foo = 1
    - url: "http://127.0.0.1:9/b"
      when: |
        category = exec
        and severity >= hihg
      name: late
    - name: broken
      url: "http://127.0.0.1:9/c"
      when: category = exec and (
    - name: fine
      url: "http://127.0.0.1:9/d"
      when: '"T1609" in tags'
YAML
"$K" check -c "$tmp/when.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-when-exit-1 test "$rc" -eq 1
check check-when-unknown-field-file-line grep -qxF "$tmp/when.yaml:5: alert.webhooks[soc].when: unknown finding field \"foo\" (column 1)" "$tmp/err"
check check-when-severity-file-line grep -qF "$tmp/when.yaml:9: alert.webhooks[late].when: \"hihg\" is not a severity" "$tmp/err"
check check-when-syntax-file-line grep -qxF "$tmp/when.yaml:13: alert.webhooks[broken].when: unexpected end of condition (column 22)" "$tmp/err"
check check-when-three-errors test "$(wc -l <"$tmp/err")" -eq 3

# docs/alerting.md: its example config passes check, and so does every
# condition of its table of examples.
awk '/^## Routing with when/ { s = 1 } s && /^```yaml/ { y = 1; next } y && /^```/ { exit } y' \
    docs/alerting.md >"$tmp/alerting.yaml"
"$K" check -c "$tmp/alerting.yaml" >"$tmp/out" 2>&1
rc=$?
check check-alerting-doc-example-ok test "$rc" -eq 0 -a -s "$tmp/alerting.yaml"
check check-alerting-doc-example-has-when grep -q 'when:' "$tmp/alerting.yaml"
{
	echo "alert:"
	echo "  webhooks:"
	awk '/^### Examples/ { s = 1; next } s && /^###/ { exit } s && /^\|---/ { t = 1; next }
	    t && /^\| `/' docs/alerting.md |
	    sed 's/^| `\(.*\)` | .*/\1/' | while IFS= read -r w; do
		i=$((${i:-0} + 1))
		printf '    - name: ex%d\n      url: "http://127.0.0.1:9/%d"\n      when: %s\n' "$i" "$i" "'${w//\'/\'\'}'"
	done
} >"$tmp/examples.yaml"
"$K" check -c "$tmp/examples.yaml" >"$tmp/out" 2>&1
rc=$?
check check-alerting-doc-table-ok test "$rc" -eq 0 -a "$(grep -c 'when:' "$tmp/examples.yaml")" -ge 10

# docs/alerting.md's example of delivery settings is a valid configuration,
# and a rate that is not a plain decimal is refused at its line.
awk '/<!-- example: alert-delivery -->/ { on = 1; next } on && /^```yaml/ { next }
    on && /^```/ { exit } on' docs/alerting.md >"$tmp/alert-delivery.yaml"
SLACK_PATH=T0/B0/x "$K" check -c "$tmp/alert-delivery.yaml" >"$tmp/out" 2>&1
check docs-alert-delivery-example-ok sh -c "test $? -eq 0 && grep -q 'rate_limit:' '$tmp/alert-delivery.yaml'"
sed 's/rate_limit: 1 /rate_limit: 1e0 /' "$tmp/alert-delivery.yaml" >"$tmp/alert-delivery-bad.yaml"
SLACK_PATH=x "$K" check -c "$tmp/alert-delivery-bad.yaml" >"$tmp/out" 2>&1
check docs-alert-delivery-bad-refused grep -q 'alert-delivery-bad.yaml:6: rate_limit: expected a number per second' "$tmp/out"

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

# check: librdkafka properties are checked where they were set: unknown
# properties and strategy lists mixing eager and cooperative are refused;
# cooperative-sticky is warned about on a librdkafka with its known bugs.
printf 'cluster: x\nkafka:\n  properties: {"no.such.property": "1"}\n' >"$tmp/kcfg4.yaml"
"$K" check -c "$tmp/kcfg4.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-unknown-kafka-property-exit-1 test "$rc" -eq 1
check check-unknown-kafka-property-file-line grep -q "^$tmp/kcfg4.yaml:3: kafka property no.such.property=1: " "$tmp/err"
printf 'kafka:\n  properties: {"partition.assignment.strategy": "cooperative-sticky,range"}\n' >"$tmp/kcfg5.yaml"
"$K" check -c "$tmp/kcfg5.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-mixed-strategies-exit-1 test "$rc" -eq 1
check check-mixed-strategies-file-line grep -q "^$tmp/kcfg5.yaml:2: .*mixes eager .* and cooperative" "$tmp/err"
printf 'kafka:\n  properties: {"partition.assignment.strategy": "cooperative-sticky"}\n' >"$tmp/kcfg6.yaml"
"$K" check -c "$tmp/kcfg6.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
check check-cooperative-exit-0 test "$rc" -eq 0
rdk=$(pkg-config --modversion rdkafka 2>/dev/null || echo 0)
if [ "$(printf '%s\n' "$rdk" 2.6.1 | sort -V | head -n 1)" != 2.6.1 ]; then
	check check-cooperative-warns-librdkafka-$rdk grep -q "$tmp/kcfg6.yaml:2: .*cooperative-sticky with librdkafka $rdk has known bugs" "$tmp/err"
else
	check check-cooperative-no-warning-librdkafka-$rdk test ! -s "$tmp/err"
fi
printf 'kafka:\n  properties: {"partition.assignment.strategy": "roundrobin"}\n' >"$tmp/kcfg7.yaml"
"$K" check -c "$tmp/kcfg7.yaml" >"$tmp/out" 2>"$tmp/err"
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

# Numeric option values are parsed strictly (base/num.h): each bad value is
# a usage error (exit 2) whose message names the option, before any input
# is read, any config loaded or any service reached.
bad_option() {	# name, expected-message-part, command...
	local name=$1 want=$2; shift 2
	"$@" </dev/null >"$tmp/opt.out" 2>"$tmp/opt.err"
	local rc=$?
	if [ "$rc" -eq 2 ] && grep -qF -- "$want" "$tmp/opt.err"; then
		ok "$name"
	else
		bad "$name" "exit $rc, stderr: $(head -c 200 "$tmp/opt.err")"
	fi
}
printf 'cluster: x\n' >"$tmp/run.yaml"
for v in abc '' ' 5' 5s 1e3 nan inf -1 +1 0x10 0 0.0001 604801 1.5.2; do
	bad_option "run-idle-exit-rejects-'$v'" "--idle-exit: " "$K" run -c "$tmp/run.yaml" --idle-exit "$v"
done
for opt in max-bytes threads split-min chunk-bytes; do
	for v in -1 abc '' ' 1' '1 ' +1 0x10 1e3 1.5 010 18446744073709551616; do
		bad_option "scan-$opt-rejects-'$v'" "--$opt: " "$K" scan --"$opt" "$v" "$fx/exec_pod.json"
	done
done
bad_option scan-threads-rejects-0 "--threads: 0 is out of range [1, 64]" "$K" scan --threads 0 "$fx/exec_pod.json"
bad_option scan-threads-rejects-65 "--threads: 65 is out of range [1, 64]" "$K" scan --threads 65 "$fx/exec_pod.json"
bad_option scan-chunk-bytes-rejects-0 "--chunk-bytes: 0 is out of range" "$K" scan --chunk-bytes 0 "$fx/exec_pod.json"
bad_option scan-max-bytes-names-value '--max-bytes: -1 is out of range [0, ' "$K" scan --max-bytes -1 "$fx/exec_pod.json"
# and good values still work
"$K" scan --max-bytes 0 --threads 1 --split-min 0 --chunk-bytes 4096 "$fx/exec_pod.json" >"$tmp/opt.ok" 2>&1
check scan-good-numeric-options test $? -eq 0 -a -s "$tmp/opt.ok"
"$K" scan --max-bytes 100 "$fx/exec_pod.json" >/dev/null 2>"$tmp/opt.err"
check scan-max-bytes-applies sh -c "grep -q 'larger than\|exceeds' '$tmp/opt.err'"

# tools/embed.sh: whatever bytes a rule or migration holds come out of the
# compiler unchanged, under the project's own -std=c11 -Werror: trigraphs
# (??) ??= ??/ ??'), backslashes (one ending a line), quotes, tabs, CR, a NUL,
# UTF-8, a byte that is not UTF-8, a %, and no final newline.
mkdir -p "$tmp/embed"
{
	printf 'condition: name regex "(a??)" and x = "??=" or y = "??/"\n'
	printf "quote \" and ??' and ??( ??! ??< ??> ??- and %%s%%n\n"
	printf 'backslash at the end \\\n'
	printf 'tab\there, CR\r\n'
	printf 'NUL \000 here, \303\251t\303\251 \342\230\203 and \377 \\x41b \\101\n'
	printf 'no final newline ??'
} >"$tmp/embed/tricky.yaml"
printf '' >"$tmp/embed/empty.sql"
sh tools/embed.sh embedded_test "$tmp/embed/tricky.yaml" "$tmp/embed/empty.sql" >"$tmp/embed/files.inc"
cat >"$tmp/embed/main.c" <<'C'
#include <stdio.h>
#include "base/embed.h"
#include "files.inc"
int
main(int argc, char **argv)
{
	const struct embedded_file *e = &embedded_test[argv[1][0] - '0'];

	(void)argc;
	fprintf(stderr, "%s %zu\n", e->name, embedded_test_count);
	return fwrite(e->text, 1, e->len, stdout) == e->len && e->text[e->len] == '\0' ? 0 : 1;
}
C
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror -Wtrigraphs -pedantic -I. -I"$tmp/embed" \
    -o "$tmp/embed/show" "$tmp/embed/main.c" 2>"$tmp/embed/cc.err"; then
	ok embed-compiles-with-trigraph-warnings
	"$tmp/embed/show" 0 >"$tmp/embed/out0" 2>"$tmp/embed/name0"
	check embed-bytes-identical cmp "$tmp/embed/tricky.yaml" "$tmp/embed/out0"
	check embed-name-and-count grep -qx 'tricky.yaml 2' "$tmp/embed/name0"
	"$tmp/embed/show" 1 >"$tmp/embed/out1" 2>/dev/null
	check embed-empty-file cmp "$tmp/embed/empty.sql" "$tmp/embed/out1"
else
	bad embed-compiles-with-trigraph-warnings "$(head -c 300 "$tmp/embed/cc.err")"
fi

# rules test: a folder holding only .yml test files is run, and a rule
# folder holding only a .yml rule file is loaded (base/file.c file_is_yaml
# is the one test of both loaders).
mkdir -p "$tmp/yml/r"
cat >"$tmp/yml/r/exec.yml" <<'YAML'
- rule: t.yml.exec
  title: exec
  description: x
  condition: objectRef.subresource = exec
  stages: [ResponseStarted, ResponseComplete]
  output: "exec into %{objectRef.name}"
  severity: high
  category: exec
  tags: [T1609]
YAML
cat >"$tmp/yml/only.yml" <<YAML
rules: [r]
cases:
  - name: yml rule fires
    file: $PWD/$fx/exec_pod.json
    fire: [t.yml.exec]
  - name: yml rule near miss
    file: $PWD/$fx/create_configmap.json
    not_fire: [t.yml.exec]
YAML
"$K" rules test "$tmp/yml" >"$tmp/yml.out" 2>&1
check rules-test-runs-yml-files grep -qx "PASS $tmp/yml/only.yml: yml rule fires" "$tmp/yml.out"
check rules-test-runs-yml-near-miss grep -qx "PASS $tmp/yml/only.yml: yml rule near miss" "$tmp/yml.out"
"$K" rules list --rules "$tmp/yml/r" >"$tmp/yml.list" 2>&1
check rules-dir-loads-yml grep -q '^t.yml.exec ' "$tmp/yml.list"
check rules-list-source-file grep -Eq "^t.yml.exec .* yes +$tmp/yml/r/" "$tmp/yml.list"
"$K" rules list >"$tmp/pack.list" 2>&1
check rules-list-source-pack grep -Eq '^k8s.exec.pod .* yes +pack$' "$tmp/pack.list"
"$K" scan --rules "$tmp/yml/r" "$fx/exec_pod.json" >"$tmp/yml.scan" 2>&1
check scan-rules-dir-loads-yml grep -q '"rule":"t.yml.exec"' "$tmp/yml.scan"

# rules test: a test file or an event file over the size limit is a failure
# that says so, never read in part. The limit is the one `rules -h` states;
# the files are sparse (truncate), so the test costs one read of the limit.
limit=$("$K" rules -h 2>&1 | sed -n 's/.*larger than \([0-9][0-9]*\) bytes.*/\1/p')
check rules-test-limit-documented test -n "$limit"
mkdir -p "$tmp/big"
{ tr -d '\n' <"$fx/exec_pod.json"; echo; } >"$tmp/big/events.jsonl"
truncate -s $((limit + 1)) "$tmp/big/events.jsonl"
cat >"$tmp/big/case.yaml" <<YAML
rules: [$tmp/yml/r]
cases:
  - name: first line of a big file
    file: events.jsonl
    line: 1
    fire: [t.yml.exec]
YAML
"$K" rules test "$tmp/big" >"$tmp/big.out" 2>&1
check rules-test-big-event-file-fails grep -q "^FAIL $tmp/big/case.yaml: first line of a big file: .*larger than $limit bytes" "$tmp/big.out"
rm -f "$tmp/big/events.jsonl"
cp "$tmp/yml/only.yml" "$tmp/big/huge.yaml"
truncate -s $((limit + 1)) "$tmp/big/huge.yaml"
"$K" rules test "$tmp/big" >"$tmp/big.out" 2>&1
check rules-test-big-test-file-fails grep -q "^FAIL $tmp/big/huge.yaml: larger than $limit bytes" "$tmp/big.out"
rm -rf "$tmp/big"

# kaudit scan as a responder runs it: gzip, --format, --min-severity,
# --since/--until, progress line and summary (their own file).
KAUDIT=$K tests/cli/scan_responder.sh
# Falco rules files: their own file.
KAUDIT=$K tests/cli/falco.sh
# Sigma rule files: their own file.
KAUDIT=$K tests/cli/sigma.sh
# query and report: their own file.
bash tests/cli/query_report.sh
# kaudit gateway's command line and configuration: its own file.
KAUDIT=$K bash tests/cli/gateway_cli.sh
# deploy/: the audit policy, manifests, image and unit (tools/check-deploy.py).
KAUDIT=$K bash tests/cli/deploy.sh
# metrics, logs and redaction (observe_cli.sh).
KAUDIT=$K bash tests/cli/observe_cli.sh
