#!/usr/bin/env bash
# pipeline.sh — real corpus events through Kafka, the daemon, PostgreSQL and
# the webhook receiver must give exactly what `kaudit scan` gives for the same
# input, each finding delivered once.
#
# Message shapes produced: JSON lines (one message per line: OpenShift
# audit_in.log, Panther native events, AKS diagnostic records), one compact
# event per message (Falco trace files), pretty-printed documents (OpenShift
# samples), one EventList and one AKS records envelope built from Falco events
# with their own auditIDs, so those two shapes are checked by name.
IT_NAME=pipeline
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-pipeline-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
ocp=$IT_CORPUS/openshift-cluster-logging-operator
panther=$IT_CORPUS/panther-labs-panther-analysis
infra=$IT_CORPUS/kubernetes-test-infra-logviewer

# Falco's fal_01_003.json is a deliberately malformed document: bad_input.sh's.
falco_files=()
for f in "$falco"/*.json; do
	[ "$(basename "$f")" = fal_01_003.json ] || falco_files+=("$f")
done
pretty_files=("$ocp"/hack/logsamples/*.json "$ocp/test/functional/filters/apiaudit/vrl/log5607_sample.json")
line_files=("$ocp/test/functional/filters/apiaudit/vrl/testdata/audit_in.log"
	"$panther/panther_k8s_audit_native.jsonl" "$panther/panther_aks_diagnostic_wrapped.jsonl")

# One EventList: exec and attach sessions plus real node traffic.
eventlist=$IT_DIR/eventlist.json
{
	jq -c '.auditID += "-eventlist"' "$falco/exec_pod.json" "$falco/attach_pod.json"
	cat "$infra/parsing_test_events.jsonl"
} | jq -cs '{kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: .}' >"$eventlist"
# One AKS diagnostic envelope around a real exec event, the event as a string.
aks=$IT_DIR/aks.json
jq -c '.auditID += "-aks"' "$falco/exec_pod.json" >"$IT_DIR/aks-inner.json"
head -n 1 "$panther/panther_aks_diagnostic_wrapped.jsonl" |
    jq -c --rawfile ev "$IT_DIR/aks-inner.json" '{records: [.properties.log = ($ev | rtrimstr("\n"))]}' >"$aks"

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-pipeline-$$"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"

produced=0
for f in "${line_files[@]}"; do
	it_produce_lines "$topic" "$f" || it_abort produce "kcat failed on $f"
	produced=$((produced + $(grep -vc '^[[:space:]]*$' "$f")))
done
it_produce_files "$topic" -- "${falco_files[@]}" "${pretty_files[@]}" "$eventlist" "$aks" ||
    it_abort produce "kcat failed on single-message files"
produced=$((produced + ${#falco_files[@]} + ${#pretty_files[@]} + 2))
it_log "produced $produced messages to $topic"

it_scan_set "${line_files[@]}" "${falco_files[@]}" "${pretty_files[@]}" "$eventlist" "$aks" >"$IT_DIR/want"

log=$IT_DIR/daemon.log
it_run_idle daemon-exit "$cfg" "$log" 120 5

it_db_set >"$IT_DIR/got"
it_plain <"$IT_DIR/want" >"$IT_DIR/want-plain"
it_plain <"$IT_DIR/got" >"$IT_DIR/got-plain"
it_same findings-equal-scan "$IT_DIR/want-plain" "$IT_DIR/got-plain"
it_log "$(wc -l <"$IT_DIR/got") findings in the database, $(wc -l <"$IT_DIR/want") from scan"

for shape in eventlist aks; do
	n=$(grep -c -- "-$shape"$'\t' "$IT_DIR/got-plain")
	w=$(grep -c -- "-$shape"$'\t' "$IT_DIR/want-plain")
	if [ "$w" -gt 0 ] && [ "$n" = "$w" ]; then
		it_ok "$shape-message"
	else
		it_fail "$shape-message" "$n findings from the $shape message in the database, scan has $w"
	fi
done

read -r nout nnotdone <<<"$(it_sql "select count(*), count(*) filter (where state <> 'done') from kaudit.outbox")"
it_alerting_ids >"$IT_DIR/alerting-ids"
nfind=$(wc -l <"$IT_DIR/alerting-ids")
if [ "$nout" = "$nfind" ] && [ "$nnotdone" = 0 ] && [ "$nfind" -gt 0 ]; then
	it_ok outbox-all-done
else
	it_fail outbox-all-done "$nfind findings, $nout outbox rows, $nnotdone not done"
fi

# Deliveries: each outbox row exactly once, each finding exactly once.
it_received "/it/$IT_RUN/" >"$IT_DIR/received"
it_sql "select id from kaudit.outbox" | sort >"$IT_DIR/outbox-ids"
cut -f1 "$IT_DIR/received" | sort >"$IT_DIR/delivery-ids"
dups=$(uniq -d "$IT_DIR/delivery-ids" | wc -l)
if [ -s "$IT_DIR/outbox-ids" ] && [ "$dups" -eq 0 ] && cmp -s "$IT_DIR/outbox-ids" "$IT_DIR/delivery-ids"; then
	it_ok delivered-once-by-id
else
	it_fail delivered-once-by-id "$(wc -l <"$IT_DIR/delivery-ids") requests for $(wc -l <"$IT_DIR/outbox-ids") outbox rows, $dups ids repeated"
fi
it_received_ids "/it/$IT_RUN/" >"$IT_DIR/received-findings"
dups=$(uniq -d "$IT_DIR/received-findings" | wc -l)
LC_ALL=C sort -u "$IT_DIR/received-findings" >"$IT_DIR/received-set"
if [ "$dups" -eq 0 ]; then
	it_same delivered-once-by-finding "$IT_DIR/alerting-ids" "$IT_DIR/received-set"
else
	it_fail delivered-once-by-finding "$dups findings delivered more than once"
fi

it_done
