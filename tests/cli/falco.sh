#!/usr/bin/env bash
# falco.sh — Falco rules files through the command line: `scan --rules`,
# `rules list`, `check -c` with them under `rules:`, the warning for a rule
# of another source, and `file:line: message` for broken Falco files.
# Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-falco.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fx=tests/fixtures/corpus/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
falco=tests/fixtures/corpus/falco-k8saudit-rules/k8s_audit_rules.falco-2023.yaml

ok()   { echo "PASS cli:falco-$1"; }
bad()  { echo "FAIL cli:falco-$1: $2"; }
jqs()  { jq "$@" >/dev/null; }
check() {	# name, condition-command...
	local name=$1; shift
	if "$@"; then ok "$name"; else bad "$name" "$*"; fi
}

# scan --rules: a finding of a Falco rule, Falco-style.
"$K" scan --format json --rules "$falco" "$fx/exec_pod.json" >"$tmp/f" 2>"$tmp/err"
check scan-exit-0 test $? -eq 0
check scan-finding jqs -e -s 'length == 1 and .[0].rule == "Attach/Exec Pod" and
    .[0].title == "Attach/Exec Pod" and .[0].severity == "low" and .[0].category == "exec" and
    .[0].tags == ["k8s"] and .[0].message == "Attach/Exec to pod (user=minikube-user pod=nginx-deployment-7998647bdf-phvq7 resource=pods ns=default action=exec command=bash)"' "$tmp/f"

# rules list names the file after "falco".
"$K" rules list --rules "$falco" >"$tmp/list" 2>&1
check rules-list-source grep -q "^Attach/Exec Pod .* falco $falco\$" "$tmp/list"

# rules: in the config.
printf 'rules: ["%s", "%s"]\n' "$falco" tests/rules/falco/allow_namespace_foo.yaml >"$tmp/cfg.yaml"
"$K" check -c "$tmp/cfg.yaml" >"$tmp/out" 2>&1
check config-rules-ok test $? -eq 0

# A rule of another source loads with a warning naming it.
cat >"$tmp/mixed.yaml" <<'YAML'
- rule: Shell Spawned
  desc: a syscall rule
  condition: proc.name = sh
  output: "%proc.name"
  priority: WARNING
- rule: Any Exec
  desc: an audit rule
  condition: ka.target.subresource = exec
  output: exec by %ka.user.name
  priority: NOTICE
  source: k8s_audit
YAML
"$K" scan --format json --rules "$tmp/mixed.yaml" "$fx/exec_pod.json" >"$tmp/f" 2>"$tmp/err"
check mixed-exit-0 test $? -eq 0
check mixed-warning grep -q "^$tmp/mixed.yaml:1: warning: Falco rule \"Shell Spawned\" has source syscall, not k8s_audit: skipped" "$tmp/err"
check mixed-finding jqs -e -s 'length == 1 and .[0].rule == "Any Exec"' "$tmp/f"

# Broken Falco files: rules list exits 2 with file:line: message, one each.
broken() {	# name, expected message (grep -E), YAML
	local name=$1 want=$2
	printf '%s\n' "$3" >"$tmp/$name.yaml"
	"$K" rules list --rules "$tmp/$name.yaml" >"$tmp/out" 2>"$tmp/err"
	check "$name-exit-2" test $? -eq 2
	check "$name-message" grep -Eq "^$tmp/$name.yaml:$want" "$tmp/err"
}
rule() {	# condition [priority [output]]: a rule item
	printf -- '- rule: R\n  desc: d\n  condition: %s\n  output: "%s"\n  priority: %s\n  source: k8s_audit\n' \
	    "$1" "${3:-o}" "${2:-WARNING}"
}
broken bad-syntax "5: rule R: condition: unexpected 'ka.user.name', expecting 'or', 'and' \\(column 13\\)" \
    "$(printf -- '- required_engine_version: 15\n\n'; rule 'ka.verb=get ka.user.name=x')"
broken unknown-field "3: rule R: condition: unknown field \"ka.user.nam\"" "$(rule 'ka.user.nam = x')"
broken unknown-macro "3: rule R: condition: unknown macro \"kevt\"" "$(rule 'kevt and ka.verb=get')"
broken bad-priority "5: Falco rule R: unknown priority \"SEVERE\"" "$(rule 'ka.verb=get' SEVERE)"
broken list-field-op "3: rule R: condition: ka.req.pod.containers.image is a list field: only exists, in and intersects apply, not =" \
    "$(rule 'ka.req.pod.containers.image = nginx')"
broken output-field "4: Falco rule R: output: unknown field \"proc.name\"" "$(rule 'ka.verb=get' INFO '%proc.name')"
broken unterminated "3: rule R: condition: unterminated string" "$(rule "ka.verb = 'get")"
broken needs-argument "3: rule R: condition: ka.uri.param needs an argument" "$(rule 'ka.uri.param = x')"
broken items-not-list "2: list items must be a list" \
    "$(printf -- '- list: l\n  items: nope\n- rule: R\n  desc: d\n  condition: ka.verb in (l)\n  output: o\n  priority: INFO\n  source: k8s_audit')"
broken exceptions-shape "11: exception e: each value needs 2 items, one per field" \
    "$(rule 'ka.verb=get'; printf '  exceptions:\n    - name: e\n      fields: [ka.user.name, ka.target.namespace]\n      values:\n        - [alice]\n')"
broken append-unknown "2: list nolist has 'append' key but no list by that name already exists" \
    "$(printf -- '- required_engine_version: 15\n- list: nolist\n  items: [a]\n  append: true\n')"
broken append-and-override "1: list nolist: append and override cannot be used together" \
    "$(printf -- '- list: nolist\n  items: [a]\n  append: true\n  override: {items: append}\n')"
broken missing-output "1: Falco rule R: missing output" \
    "$(printf -- '- rule: R\n  desc: d\n  condition: ka.verb=get\n  priority: INFO\n  source: k8s_audit\n')"
broken macro-cycle "[0-9]+: macro cycle: " \
    "$(printf -- '- macro: a\n  condition: b\n- macro: b\n  condition: a\n'; rule 'a')"
broken unused-macro-syntax "2: macro m: unexpected 'and', expecting a field, a macro or '\\(' \\(column 19\\)" \
    "$(printf -- '- macro: m\n  condition: ka.verb = get and and\n'; rule 'ka.verb = get')"
broken enable-unknown "2: rule Nope has 'enabled' key but no rule by that name already exists" \
    "$(printf -- '- required_engine_version: 15\n- rule: Nope\n  enabled: false\n')"
broken bad-pointer "3: rule R: condition: jevt.value\\[stage\\]: a JSON pointer starts with '/' \\(column 1\\)" "$(rule 'jevt.value[stage] = x')"
