#!/usr/bin/env bash
# forensics.sh — the views, the query cookbook, the auditor's report and the
# Grafana dashboard over a database loaded the way production loads it:
# corpus events and tests/fixtures/forensics/events.jsonl (a person with a
# hostile name granting cluster-admin, exec'ing, reading secrets, creating a
# privileged pod; kubelets out of support; an old kubectl calling a removed
# API) through Kafka and the daemon.
#
# Every check compares with SQL over kaudit.findings or with what the
# fixture holds, so each can fail.
IT_NAME=forensics
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-forensics-$$
fixture=tests/fixtures/forensics/events.jsonl
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
ocp=$IT_CORPUS/openshift-cluster-logging-operator
panther=$IT_CORPUS/panther-labs-panther-analysis
line_files=("$fixture" "$ocp/test/functional/filters/apiaudit/vrl/testdata/audit_in.log"
	"$panther/panther_k8s_audit_native.jsonl")
falco_files=()
for f in "$falco"/*.json; do
	[ "$(basename "$f")" = fal_01_003.json ] || falco_files+=("$f")
done

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-forensics-$$"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 2 || it_abort produce "could not create topic $topic"
for f in "${line_files[@]}"; do
	it_produce_lines "$topic" "$f" || it_abort produce "kcat failed on $f"
done
it_produce_files "$topic" -- "${falco_files[@]}" || it_abort produce "kcat failed on Falco files"
it_run_idle daemon-exit "$cfg" "$IT_DIR/daemon.log" 120 5 || it_abort daemon "no data"
it_log "$(it_sql "select count(*) from kaudit.findings") findings stored"

# ---- views ----------------------------------------------------------------

export H='<img src=https://evil.example/x onerror=alert(1)>|`#=cmd'

# it_expect CHECK SQL WANT: one value compared.
it_expect() {
	local got
	got=$(it_sql "$2" 2>&1)
	if [ "$got" = "$3" ]; then it_ok "$1"; else it_fail "$1" "got [$got], want [$3] from: $2"; fi
}

it_expect release-table "select count(*) > 10, bool_or(minor = '1.37') from kaudit.k8s_releases" $'t\tt'
it_expect view-rbac-cluster-admin \
    "select username, role_name, jsonb_array_length(subjects) from kaudit.rbac_changes where audit_id = 'fx-crb-1'" \
    "$H"$'\tcluster-admin\t2'
it_expect view-rbac-role-rules \
    "select string_agg(jsonb_array_length(rules)::text, ',' order by time) from kaudit.rbac_changes where namespace = 'team-a' and name = 'pod-reader'" "1,2"
it_expect view-exec-command \
    "select count(*), min(command), min(container), min(username) from kaudit.exec_sessions where audit_id = 'fx-exec-1'" \
    $'1\tsh -c cat /etc/shadow|base64\tapp\t'"$H"
it_expect view-exec-args "select command_args[3] from kaudit.exec_sessions where audit_id = 'fx-exec-1'" 'cat /etc/shadow|base64'
it_expect view-privileged \
    "select privileged, host_pid, host_network, host_paths::text from kaudit.privileged_workloads where audit_id = 'fx-pod-1'" \
    $'t\tt\tf\t{/}'
it_expect view-secret-by-identity \
    "select requests, allowed, denied, lists from kaudit.secret_access_by_identity where username = '${H//\'/\'\'}'" \
    $'2\t1\t1\t1'
it_expect view-anonymous "select count(*) filter (where audit_id = 'fx-anon-1'), count(*) filter (where audit_id = 'fx-sec-2') from kaudit.anonymous_access" $'1\t0'
it_expect view-findings-daily \
    "select (select sum(findings) from kaudit.findings_daily) = (select count(*) from kaudit.findings)" t
it_expect view-kubelet-versions \
    "select string_agg(node || '=' || version, ',' order by node) from kaudit.kubelet_versions where node in ('node-1', 'node-2')" \
    "node-1=1.20.4,node-2=1.36.1"
it_expect view-client-support \
    "select string_agg(username || ':' || support || ':' || behind_patch::int, ',' order by username) from kaudit.client_support where username in ('system:node:node-1', 'system:node:node-2', 'bob')" \
    "bob:outside:1,system:node:node-1:outside:1,system:node:node-2:supported:1"
it_expect view-outside-support \
    "select count(*) filter (where node = 'node-1'), count(*) filter (where node = 'node-2') from kaudit.versions_outside_support" $'1\t0'
it_expect view-deprecated \
    "select username, api, removed_release, requests from kaudit.deprecated_api_use where username = 'bob'" \
    $'bob\tbatch/v1beta1/cronjobs\t1.25\t1'
it_expect view-one-row-per-request \
    "select count(*) = count(distinct audit_id) from kaudit.audit_requests" t

# ---- the query cookbook: each query once, its answer checked ---------------

# it_query CHECK JQ_FILTER WANT NAME [--param K=V]...: the query's JSON
# output through jq -r FILTER must equal WANT.
it_query() {
	local check=$1 filter=$2 want=$3 got
	shift 3
	if ! "$KAUDIT" query -c "$cfg" "$@" --format json >"$IT_DIR/q.json" 2>"$IT_DIR/q.err"; then
		it_fail "$check" "kaudit query $* failed: $(head -c 300 "$IT_DIR/q.err")"
		return
	fi
	got=$(jq -r "$filter" "$IT_DIR/q.json" 2>&1)
	if [ "$got" = "$want" ]; then it_ok "$check"; else it_fail "$check" "got [$got], want [$want]"; fi
}

it_query query-identity-activity '[.[].audit_id] | join(",")' \
    "fx-crb-1,fx-exec-1,fx-sec-2,fx-sec-3,fx-pod-1" \
    identity-activity --param "user=$H" --param from=2026-11-01 --param to=2026-11-30
# (rules that count once per client and day land on whichever event came
# first: only the exec rules are certain)
it_query query-identity-activity-rules \
    '.[] | select(.audit_id == "fx-exec-1") | .rules | split(" ") | map(select(startswith("k8s.exec."))) | join(" ")' \
    "k8s.exec.credential_read k8s.exec.pod k8s.exec.session k8s.exec.shell" \
    identity-activity --param "user=$H" --param from=2026-11-01 --param to=2026-11-30
it_query query-identity-activity-range 'length' 0 \
    identity-activity --param "user=$H" --param from=2026-11-04 --param to=2026-11-30
it_query query-pod-exec '.[] | [.username == $ENV.H, .command, .container] | @tsv' \
    $'true\tsh -c cat /etc/shadow|base64\tapp' pod-exec --param namespace=team-a --param pod=web-1
it_query query-rbac-history '[.[] | [.verb, (.rules_added | length), (.rules_added[0].resources[0])] | @tsv] | join(";")' \
    $'create\t1\tpods;update\t1\tsecrets' rbac-history --param name=pod-reader --param namespace=team-a
it_query query-cluster-admin '[.[] | select(.binding == "backdoor") | .subject_kind + ":" + .subject] | join(",")' \
    "ServiceAccount:default,User:mallory" cluster-admin-grants --param from=2026-01-01
it_query query-cluster-admin-range 'length' 0 cluster-admin-grants --param from=2026-11-04
it_query query-secrets-by-identity '[.[] | [.username, .requests, .allowed, .denied, .lists] | @tsv] | join(";")' \
    "$H"$'\t2\t1\t1\t1;alice\t1\t1\t0\t0;system:anonymous\t1\t0\t1\t0' \
    secrets-by-identity --param from=2026-11-01 --param to=2026-11-30
it_query query-outside-support '[.[] | select(.username | test("^(bob|system:node:node-[12])$")) | .kind + ":" + .username] | join(",")' \
    "node:system:node:node-1,client:bob" outside-support --param at=2026-12-01
it_query query-outside-support-at 'map(select(.username == "bob")) | length' 0 \
    outside-support --param at=2023-01-01
fid=$(it_sql "select id from kaudit.findings where audit_id = 'fx-exec-1' and rule = 'k8s.exec.shell'")
it_query query-finding-timeline '[.[] | select(.kind == "request") | .audit_id] | unique | join(",")' \
    "fx-crb-1,fx-exec-1,fx-pod-1,fx-sec-2,fx-sec-3" finding-timeline --param "id=$fid" --param minutes=10
it_query query-finding-timeline-self '[.[] | select(.why == "this finding") | .what] | join(",")' \
    "k8s.exec.shell" finding-timeline --param "id=$fid" --param minutes=10

# The table and CSV forms of the same answer: escaped, formulas inert.
"$KAUDIT" query -c "$cfg" secrets-by-identity --param from=2026-11-01 --param to=2026-11-30 \
    --format csv >"$IT_DIR/q.csv"
if head -n 1 "$IT_DIR/q.csv" | grep -q $'^username,requests,allowed,denied,lists,secrets,namespaces,first_seen,last_seen\r$' &&
    [ "$(wc -l <"$IT_DIR/q.csv")" -eq 4 ]; then
	it_ok query-csv
else
	it_fail query-csv "unexpected CSV: $(head -c 300 "$IT_DIR/q.csv")"
fi

it_done
