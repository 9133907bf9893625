#!/usr/bin/env bash
# bench-forensics.sh — `make bench-forensics`: how long the cookbook queries
# and a month's report take on a large database.
#
# Loads corpus events and tests/fixtures/forensics/events.jsonl through Kafka
# and the daemon (as tests/integration/forensics.sh does), then copies the
# findings with new audit IDs, users spread over 500 identities and times
# spread over the last 60 days until the table holds KAUDIT_BENCH_FINDINGS
# rows (default 1,000,000), and times each cookbook query (best of 3,
# including the connection) and `kaudit report` for the last 30 days.
# Without an event archive the views read the findings' events. Uses the
# services of KAUDIT_PG_URL etc. when set, else starts its own.
# Benchmarks print figures; nothing here passes or fails.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
N=${KAUDIT_BENCH_FINDINGS:-1000000}
own_env=
if [ -z "${KAUDIT_PG_URL:-}" ]; then
	own_env=$(tests/services/up.sh) || exit 1
	# shellcheck disable=SC1090
	. "$own_env"
fi
IT_NAME=bench_forensics
# shellcheck source=integration/lib/common.sh
. tests/integration/lib/common.sh
it_init
[ -n "$own_env" ] && trap 'it_cleanup; tests/services/down.sh "$own_env" >/dev/null 2>&1' EXIT

topic=bench-forensics-$$
cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "bench-forensics-$$"
it_migrate "$cfg" || exit 1
it_topic "$topic" 2 >/dev/null || exit 1
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
for f in tests/fixtures/forensics/events.jsonl \
    "$IT_CORPUS/openshift-cluster-logging-operator/test/functional/filters/apiaudit/vrl/testdata/audit_in.log" \
    "$IT_CORPUS/panther-labs-panther-analysis/panther_k8s_audit_native.jsonl"; do
	it_produce_lines "$topic" "$f" || exit 1
done
it_produce_files "$topic" -- $(ls "$falco"/*.json | grep -v fal_01_003) || exit 1
it_run "$cfg" "$IT_DIR/daemon.log" 120 --idle-exit 5 || { it_show_log "$IT_DIR/daemon.log"; exit 1; }
seed=$(it_sql "select count(*) from kaudit.findings")

# Findings store their event in the archive since 0012; each copy carries
# it in its own row (as a finding stored before 0012 does), so the views
# read as many events as before.
event=f.event
[ "$(it_sql "select to_regprocedure('kaudit.finding_event(kaudit.findings)') is not null")" = t ] &&
    event='kaudit.finding_event(f)'
t0=$(date +%s%N)
it_sql "
insert into kaudit.findings (audit_id, rule, title, severity, severity_rank, category, tags,
    stage, time, cluster, username, groups, source_ip, source_ip_text, user_agent, verb,
    resource, subresource, namespace, name, code, message, evidence, event, finding, dedup)
select f.audit_id || '-b' || g, f.rule, f.title, f.severity, f.severity_rank, f.category,
    f.tags, f.stage, now() - (random() * interval '60 days'), f.cluster,
    case when f.username like 'system:%' then f.username else f.username || '-' || (g % 500) end,
    f.groups, f.source_ip, f.source_ip_text, f.user_agent, f.verb, f.resource, f.subresource,
    f.namespace, f.name, f.code, f.message, f.evidence,
    jsonb_set($event, '{auditID}', to_jsonb(f.audit_id || '-b' || g)), f.finding,
    case when f.dedup is not null then f.dedup || '-b' || g end
from kaudit.findings f, generate_series(1, ceil(($N - $seed)::numeric / $seed)::int) g
limit greatest($N - $seed, 0)" >/dev/null || exit 1
it_sql "analyze kaudit.findings" >/dev/null
t1=$(date +%s%N)
total=$(it_sql "select count(*) from kaudit.findings")
echo "bench-forensics: $total findings ($seed loaded through the daemon, the rest copied in $(((t1 - t0) / 1000000)) ms)"

user=$(it_sql "select username from kaudit.findings where username like 'alice-%' limit 1")
fid=$(it_sql "select id from kaudit.findings where rule = 'k8s.exec.shell' and time > now() - interval '30 days' limit 1")
best() {	# label, command...
	local label=$1 b=0 t s e
	shift
	for ((i = 0; i < 3; i++)); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>"$IT_DIR/bench.err" || { echo "  $label: failed: $(head -c 200 "$IT_DIR/bench.err")"; return; }
		e=$(date +%s%N)
		t=$(((e - s) / 1000000))
		{ [ "$b" = 0 ] || [ "$t" -lt "$b" ]; } && b=$t
	done
	printf '  %-58s %8d ms\n' "$label" "$b"
}
q() { "$KAUDIT" query -c "$cfg" "$@"; }
s() { it_sql "$1"; }
timings() {
	best "query identity-activity (one user, 7 days)" q identity-activity --param "user=$user"
	best "query pod-exec (namespace team-a)" q pod-exec --param namespace=team-a
	best "query rbac-history (pod-reader)" q rbac-history --param name=pod-reader
	best "query finding-timeline (± 15 min)" q finding-timeline --param "id=$fid"
	best "query cluster-admin-grants" q cluster-admin-grants
	best "query secrets-by-identity (30 days)" q secrets-by-identity
	best "query outside-support" q outside-support
	best "report, last 30 days, html" "$KAUDIT" report -c "$cfg" --from 30d --format html -o "$IT_DIR/r.html"
	# the README's findings queries, by the columns whose indexes 0012 dropped
	best "findings: category exec, 7 days" s "select count(*) from kaudit.findings where category = 'exec' and time > now() - interval '7 days'"
	best "findings: one rule, 30 days" s "select count(*) from kaudit.findings where rule = 'k8s.exec.shell' and time > now() - interval '30 days'"
	best "findings: severity high and above, 1 day" s "select count(*) from kaudit.findings where severity_rank >= 3 and time > now() - interval '1 day'"
	best "findings: tag T1609, 30 days" s "select count(*) from kaudit.findings where tags @> array['T1609'] and time > now() - interval '30 days'"
	best "findings: namespace team-a, 7 days" s "select count(*) from kaudit.findings where left(namespace, 256) = 'team-a' and namespace = 'team-a' and time > now() - interval '7 days'"
	best "findings list: one rule, newest 50" "$KAUDIT" findings list -c "$cfg" --rule k8s.exec.shell --limit 50
}
timings
# KAUDIT_BENCH_FORENSICS_SQL: statements run on the loaded database (such as
# creating an index), then every figure again, for a before/after in one run
if [ -n "${KAUDIT_BENCH_FORENSICS_SQL:-}" ]; then
	it_sql "$KAUDIT_BENCH_FORENSICS_SQL" >/dev/null && it_sql "analyze kaudit.findings" >/dev/null &&
	    { echo "after: $KAUDIT_BENCH_FORENSICS_SQL"; timings; }
fi
