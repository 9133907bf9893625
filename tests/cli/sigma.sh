#!/usr/bin/env bash
# sigma.sh — Sigma rule files as users point kaudit at them: `scan --rules`
# with a file and a folder, `rules:` in the config (kaudit check), `rules
# list` naming the source, each Sigma correlation type through `scan` (which
# runs the state engine), and the file:line errors of malformed rules.
# Run by cli.sh; prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-sigma.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fx=tests/fixtures/corpus/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
sig=tests/fixtures/corpus/sigma-kubernetes-audit
corr=tests/rules/sigma/correlations.yml

ok()   { echo "PASS cli:$1"; }
bad()  { echo "FAIL cli:$1: $2"; }
check() {	# name, condition-command...
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name" "$*"; fi
}
jqt() {	# jq filter over the JSON lines of a file: true or not
	jq -e -s "$1" "$2" >/dev/null
}

# --- scan with a Sigma file, and with the folder ------------------------------
"$K" scan --rules "$sig/kubernetes_audit_exec_into_container.yml" "$fx/exec_pod.json" \
    >"$tmp/file.out" 2>"$tmp/file.err"
check sigma-scan-file-exit-0 test $? -eq 0
check sigma-scan-file-finding jqt 'length == 1 and .[0].rule == "a1b0ca4e-7835-413e-8471-3ff2b8a66be6"
    and .[0].title == "Potential Remote Command Execution In Pod Container"
    and .[0].message == "Potential Remote Command Execution In Pod Container (Sigma rule by Leo Tsaousis (@laripping))" and .[0].severity == "medium" and .[0].category == "exec"
    and .[0].tags == ["T1609", "mitre_execution"]' "$tmp/file.out"
ls "$fx"/*.json | grep -v fal_01_003 | xargs cat >"$tmp/all.json"	# fal_01_003.json is no audit event
"$K" scan --rules "$sig" "$tmp/all.json" >"$tmp/dir.out" 2>"$tmp/dir.err"
check sigma-scan-dir-exit-0 test $? -eq 0
for id in a1b0ca4e-7835-413e-8471-3ff2b8a66be6 40967487-139b-4811-81d9-c9767a92aa5a \
    a80d927d-ac6e-443f-a867-e8d6e3897318 10b97915-ec8d-455f-a815-9a78926585f6 \
    58d31a75-a4f8-4c40-985b-373d58162ca2 e31bae15-83ed-473e-bf31-faf4f8a17d36; do
	check "sigma-scan-dir-fires-${id%%-*}" grep -q "\"rule\":\"$id\"" "$tmp/dir.out"
done
for id in 402b955c-8fe0-4a8c-b635-622b4ac5f902 c5cd1b20-36bb-488d-8c05-486be3d0cb97 \
    84b777bd-c946-4d17-aa2e-c39f5a454325 ad9012a6-e518-4432-9890-f3b82b8fc71f \
    597a7e84-187d-458b-9e4f-2f5a0e676711; do
	check "sigma-scan-dir-silent-${id%%-*}" sh -c "! grep -q '\"rule\":\"$id\"' '$tmp/dir.out'"
	check "sigma-scan-dir-warns-${id%%-*}" grep -q "warning: sigma rule $id: " "$tmp/dir.err"
done
check sigma-warning-names-field grep -q \
    "kubernetes_audit_hostpath_mount.yml:24: warning: .*field \"hostPath\" is no path of an audit event" "$tmp/dir.err"
check sigma-warning-allow grep -q \
    "kubernetes_audit_potential_enumeration_activity.yml:24: warning: .*responseStatus.code is a number .* 'ALLOW'" "$tmp/dir.err"

# --- rules list names the source ------------------------------------------------
"$K" rules list --rules "$sig" >"$tmp/list.out" 2>/dev/null
check sigma-rules-list-source grep -q \
    "^a1b0ca4e-7835-413e-8471-3ff2b8a66be6 .* sigma $sig/kubernetes_audit_exec_into_container.yml" "$tmp/list.out"
check sigma-rules-list-16 test "$(grep -c " sigma $sig/" "$tmp/list.out")" -eq 16

# --- rules: in the config ----------------------------------------------------------
sed -e "s#^rules: \[\]#rules: [\"$PWD/$sig\", \"$PWD/config/rules\"]#" config/kaudit.example.yaml >"$tmp/cfg.yaml"
check sigma-config-edited grep -q "sigma-kubernetes-audit" "$tmp/cfg.yaml"
"$K" check -c "$tmp/cfg.yaml" >"$tmp/check.out" 2>"$tmp/check.err"
check sigma-config-check-ok test $? -eq 0
check sigma-config-check-warns grep -q "warning: sigma rule 402b955c-8fe0-4a8c-b635-622b4ac5f902" "$tmp/check.err"
printf -- '- rule: t.local\n  title: t\n  severity: low\n  category: exec\n  condition: verb = create\n' \
    >"$tmp/local.yaml"
cp "$sig/kubernetes_audit_exec_into_container.yml" "$tmp/bad.yml"
sed -i 's/^level: medium/level: severe/' "$tmp/bad.yml"
sed -e "s#^rules: \[\]#rules: [\"$tmp/bad.yml\"]#" config/kaudit.example.yaml >"$tmp/badcfg.yaml"
"$K" check -c "$tmp/badcfg.yaml" >"$tmp/badcheck.out" 2>&1
check sigma-config-check-bad-level sh -c "test $? -eq 1 && grep -q '^$tmp/bad.yml:[0-9]*: sigma: unknown level \"severe\"' '$tmp/badcheck.out'"

# --- correlations through scan -------------------------------------------------------
bash tests/rules/sigma/series.sh >"$tmp/series.jsonl"
"$K" scan --rules "$corr" "$tmp/series.jsonl" >"$tmp/corr.out" 2>"$tmp/corr.err"
check sigma-corr-scan-exit-0 test $? -eq 0
check sigma-corr-event-count jqt '[.[] | select(.rule == "11111111-0000-4000-8000-000000000101")] |
    length == 1 and .[0].correlation.key == {"user.username": "mallory"} and .[0].severity == "high"' "$tmp/corr.out"
check sigma-corr-value-count jqt '[.[] | select(.rule == "11111111-0000-4000-8000-000000000102")] |
    length == 1 and .[0].correlation.distinct == 5' "$tmp/corr.out"
check sigma-corr-temporal jqt '[.[] | select(.rule == "11111111-0000-4000-8000-000000000103")] |
    length == 1 and .[0].correlation.key == {"user.username": "mallory"}' "$tmp/corr.out"
check sigma-corr-temporal-ordered jqt '[.[] | select(.rule == "11111111-0000-4000-8000-000000000104")] |
    length == 1 and .[0].correlation.key == {"sa": "backdoor"}' "$tmp/corr.out"
check sigma-corr-bob-below-threshold jqt '[.[] | select(.correlation.key."user.username" == "bob")] |
    length == 0' "$tmp/corr.out"
# generate: false hides pod_exec's own findings; true (value_count) keeps secret_read's
check sigma-corr-generate-false jqt '[.[] | select(.rule == "11111111-0000-4000-8000-000000000002")] |
    length == 0' "$tmp/corr.out"
check sigma-corr-generate-true jqt '[.[] | select(.rule == "11111111-0000-4000-8000-000000000001")] |
    length == 9' "$tmp/corr.out"

# --- malformed Sigma files: file:line errors -------------------------------------------
sigma_error() {	# name, expected regex of the message, YAML of the detection...
	local name=$1 want=$2
	printf 'title: bad\nid: 22222222-0000-4000-8000-000000000001\nlogsource:\n    product: kubernetes\n    service: audit\ndetection:\n%s\nlevel: low\n' \
	    "$3" >"$tmp/$name.yml"
	"$K" rules list --rules "$tmp/$name.yml" >"$tmp/e.out" 2>"$tmp/e.err"
	local rc=$?
	if [ "$rc" -ne 0 ] && grep -qE "^$tmp/$name.yml:[0-9]+: $want" "$tmp/e.err"; then
		ok "sigma-error-$name"
	else
		bad "sigma-error-$name" "exit $rc, stderr: $(head -c 300 "$tmp/e.err")"
	fi
}
sigma_error unknown-modifier 'sigma: unknown modifier "endwith"' \
    '    sel:
        verb|endwith: x
    condition: sel'
sigma_error expand 'sigma: modifier expand: placeholders' \
    '    sel:
        user.username|expand: "%admins%"
    condition: sel'
sigma_error utf16 'sigma: modifier utf16le is not supported' \
    '    sel:
        requestURI|utf16le|base64offset|contains: x
    condition: sel'
sigma_error missing-selection 'sigma condition: unknown search identifier "selection"' \
    '    sel:
        verb: get
    condition: selection and sel'
sigma_error bad-condition 'sigma condition: expected .\).' \
    '    sel:
        verb: get
    condition: (sel or sel'
sigma_error no-match-pattern 'sigma condition: no search identifier matches "filter_\*"' \
    '    sel:
        verb: get
    condition: sel and not 1 of filter_*'
sigma_error keywords 'sigma: keyword search' \
    '    keywords:
        - mimikatz
    condition: keywords'
sigma_error aggregation 'sigma condition: aggregations' \
    '    sel:
        verb: get
    condition: sel | count() > 5'
sigma_error missing-condition 'sigma: detection: missing condition' \
    '    sel:
        verb: get'
sigma_error bad-regex 'sigma: bad regex' \
    '    sel:
        requestURI|re: "(unclosed"
    condition: sel'
sigma_error bad-cidr 'sigma: bad CIDR' \
    '    sel:
        sourceIPs|cidr: 10.0.0.0/33
    condition: sel'
sigma_error gt-needs-number 'sigma: responseStatus.code: lt/lte/gt/gte need a number' \
    '    sel:
        responseStatus.code|gt: many
    condition: sel'
sigma_error bad-level 'sigma: unknown level "severe"' \
    '    sel:
        verb: get
    condition: sel
level: severe'
printf 'action: global\ntitle: x\nlogsource: {product: kubernetes, service: audit}\n---\ndetection:\n    sel: {verb: get}\n    condition: sel\n' >"$tmp/global.yml"
"$K" rules list --rules "$tmp/global.yml" >/dev/null 2>"$tmp/g.err"
check sigma-error-action-global sh -c "test $? -ne 0 && grep -q '^$tmp/global.yml:1: sigma: action: global: rule collections' '$tmp/g.err'"
cat >"$tmp/lt.yml" <<'YAML'
title: few
id: 33333333-0000-4000-8000-000000000001
correlation:
    type: event_count
    rules: [x]
    timespan: 1h
    condition: {lt: 3}
level: low
YAML
"$K" rules list --rules "$tmp/lt.yml" >/dev/null 2>"$tmp/lt.err"
check sigma-error-corr-lt grep -q "^$tmp/lt.yml:[0-9]*: sigma correlation condition: lt is not supported" "$tmp/lt.err"
