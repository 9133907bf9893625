#!/usr/bin/env bash
# falco_rules.sh — a Falco rules file named under `rules:` in the daemon's
# config, with an override file after it: Falco's trace files through the
# real Kafka broker, PostgreSQL and receiver give the findings `kaudit scan
# --rules` gives with the same files, stored and delivered under the Falco
# rules' names.
IT_NAME=falco_rules
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-falco-rules-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
rules=("$PWD/tests/fixtures/corpus/falco-k8saudit-rules/k8s_audit_rules.falco-2023.yaml"
	"$PWD/tests/rules/falco/allow_namespace_foo.yaml")
files=()
for f in "$falco"/*.json; do
	# a deliberately malformed document: bad_input.sh's
	[ "$(basename "$f")" = fal_01_003.json ] || files+=("$f")
done

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-falco-rules-$$" "rules: [\"${rules[0]}\", \"${rules[1]}\"]"
"$KAUDIT" check -c "$cfg" >"$IT_DIR/check.log" 2>&1 || {
	sed 's/^/    /' "$IT_DIR/check.log" >&2
	it_abort check "kaudit check refused the config"
}
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"
it_produce_files "$topic" -- "${files[@]}" || it_abort produce "kcat failed"
it_scan_set --rules "${rules[0]}" --rules "${rules[1]}" "${files[@]}" >"$IT_DIR/want"

it_run_idle daemon-exit "$cfg" "$IT_DIR/daemon.log" 120 5
it_db_set >"$IT_DIR/got"
it_same findings-equal-scan "$IT_DIR/want" "$IT_DIR/got"

# The override file took effect: namespace foo is allowed, so the creations
# of namespace foo that the rules file alone calls disallowed are not.
it_scan_set --rules "${rules[0]}" "${files[@]}" >"$IT_DIR/alone"
n=$(grep -c $'\tCreate Disallowed Namespace$' "$IT_DIR/got")
m=$(grep -c $'\tCreate Disallowed Namespace$' "$IT_DIR/alone")
if [ "$n" -eq 0 ] && [ "$m" -gt 0 ]; then
	it_ok override-applied
else
	it_fail override-applied "$n Create Disallowed Namespace findings with the override (want 0), $m without (want some)"
fi

# Stored as Falco renders it, and delivered under the rule's name.
msg=$(it_sql "select finding->>'message' from kaudit.findings where rule = 'Attach/Exec Pod'
    and finding->>'name' = 'nginx-deployment-7998647bdf-phvq7' and finding->>'subresource' = 'exec'")
if [ "$msg" = "Attach/Exec to pod (user=minikube-user pod=nginx-deployment-7998647bdf-phvq7 resource=pods ns=default action=exec command=bash)" ]; then
	it_ok stored-message
else
	it_fail stored-message "message of Attach/Exec Pod: \"$msg\""
fi
it_wait_sql "select case when count(*) > 0 and count(*) filter (where state <> 'done') = 0 then 1 else 0 end from kaudit.outbox" 30 ||
    it_fail outbox-done "the outbox did not empty"
if it_received "/it/$IT_RUN/" | cut -f3 | grep -qx 'Attach/Exec Pod'; then
	it_ok delivered-by-name
else
	it_fail delivered-by-name "no delivery of Attach/Exec Pod reached the receiver"
fi

it_done
