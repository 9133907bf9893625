#!/usr/bin/env bash
# sigma.sh — Sigma rule files named by `rules:` in the daemon's config.
#
# The config names SigmaHQ's Kubernetes audit rules, the Sigma correlation
# rules of tests/rules/sigma/correlations.yml and the shipped pack. Falco's
# trace events and a series for each Sigma correlation type go through Kafka;
# the findings stored in PostgreSQL must be those `kaudit scan` finds with
# the same rules (single-event findings by audit ID and rule, correlations
# by rule and key), a Sigma finding must carry the rule's UUID, title,
# level, category and tags, and its alert must reach the webhook receiver.
IT_NAME=sigma
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-sigma-$$
sig=$PWD/tests/fixtures/corpus/sigma-kubernetes-audit
corr=$PWD/tests/rules/sigma/correlations.yml
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
events=$IT_DIR/events.jsonl
for f in "$falco"/*.json; do
	[ "${f##*/}" = fal_01_003.json ] && continue	# no audit event
	jq -c . "$f"
done >"$events"
# a series for each Sigma correlation type (tests/rules/sigma/series.sh)
bash tests/rules/sigma/series.sh "-$$" >>"$events"

"$KAUDIT" scan --rules "$sig" --rules "$corr" --rules config/rules "$events" 2>>"$IT_DIR/scan.err" |
    jq -r '[.rule, (if .correlation then (.correlation.key | to_entries | sort_by(.key) |
        from_entries | tojson) else .audit_id end)] | @tsv' |
    sort -u >"$IT_DIR/want"
nsig=$(grep -c '^[0-9a-f]\{8\}-' "$IT_DIR/want")
it_log "$(wc -l <"$events") events, $(wc -l <"$IT_DIR/want") findings expected, $nsig of Sigma rules"

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-sigma-$$" "rules: [\"$sig\", \"$corr\", \"$PWD/config/rules\"]
stateful:
  topic: \"it-sigma-signals-$$\"
  partitions: 1
  workers: 1
  lateness: 2h"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$events" -p 0 || it_abort produce "kcat failed"
it_run_idle daemon "$cfg" "$IT_DIR/daemon.log" 120 6

check_warned() {
	if grep -q "warning: sigma rule 402b955c-8fe0-4a8c-b635-622b4ac5f902: field \"hostPath\"" "$IT_DIR/daemon.log"; then
		it_ok daemon-prints-sigma-warnings
	else
		it_fail daemon-prints-sigma-warnings "no warning for hostPath in the daemon's log"
	fi
}
check_warned
it_sql "select rule, coalesce(correlation->>'key', audit_id) from kaudit.findings" |
    while IFS=$'\t' read -r r k; do
	    # a key as the expected set writes it: compact, keys sorted
	    if [ "${k#\{}" != "$k" ]; then k=$(jq -S -c . <<<"$k"); fi
	    printf '%s\t%s\n' "$r" "$k"
    done | sort -u >"$IT_DIR/got"
it_same findings-equal-scan "$IT_DIR/want" "$IT_DIR/got"

row=$(it_sql "select title, severity, category, array_to_string(tags, ',') from kaudit.findings
    where rule = 'a1b0ca4e-7835-413e-8471-3ff2b8a66be6' limit 1")
want=$'Potential Remote Command Execution In Pod Container\tmedium\texec\tT1609,mitre_execution'
[ "$row" = "$want" ] && it_ok sigma-finding-fields || it_fail sigma-finding-fields "got '$row'"
n=$(it_sql "select count(*) from kaudit.findings where rule in ('11111111-0000-4000-8000-000000000101',
    '11111111-0000-4000-8000-000000000102', '11111111-0000-4000-8000-000000000103',
    '11111111-0000-4000-8000-000000000104')")
[ "$n" = 4 ] && it_ok sigma-correlations-stored || it_fail sigma-correlations-stored "$n of 4"

id=$(it_sql "select id from kaudit.findings where rule = 'a1b0ca4e-7835-413e-8471-3ff2b8a66be6' limit 1")
for ((i = 0; i < 100; i++)); do
	it_received_ids "/it/$IT_RUN/" | grep -qx "$id" && break
	sleep 0.2
done
if it_received_ids "/it/$IT_RUN/" | grep -qx "$id"; then
	it_ok sigma-alert-delivered
else
	it_fail sigma-alert-delivered "finding $id of the Sigma exec rule never reached the receiver"
fi
it_done
