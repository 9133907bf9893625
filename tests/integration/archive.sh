#!/usr/bin/env bash
# archive.sh — the month partitions and the event archive through the
# daemon: both stages of one exec, their stageTimestamps in two months, make
# one finding per rule and two archived events; a redelivered topic adds
# nothing; a control plane's lease renewal is not archived, a person's read
# is; an old event gets its month on demand; the daemon counts what it
# archived; `kaudit retention --dry-run` lists the old months and drops
# nothing, the daemon's start drops them (with their outbox rows), and
# `kaudit retention` then finds nothing left to drop. The daemon and the
# retention command run as a login role of kaudit_writer (0011_roles.sql),
# `kaudit migrate` as the owner.
IT_NAME=archive
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-archive-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
infra=$IT_CORPUS/kubernetes-test-infra-logviewer
now=$(date -u +%Y-%m)
prev=$(date -u -d "$now-01 -1 month" +%Y-%m)

# The exec of the corpus, received at the last second of last month; its
# second stage is stamped in this month.
events=$IT_DIR/events.jsonl
{
	jq -c --arg m "$prev" --arg n "$now" '
	    .auditID = "arch-exec-\($m)" |
	    .requestReceivedTimestamp = ("\($m)-" + "28T23:59:59.000000Z") |
	    (.stageTimestamp = ("\($m)-" + "28T23:59:59.500000Z"), .stage = "ResponseStarted"),
	    (.stageTimestamp = ("\($n)-" + "01T00:00:01.000000Z"), .stage = "ResponseComplete")' \
	    "$falco/exec_pod.json"
	# as it came (2018): a month made on demand, dropped by retention
	jq -c '.auditID = "arch-old"' "$falco/exec_pod.json"
	# the node lease renewals of the corpus (control plane: not archived)
	cat "$infra/parsing_test_events.jsonl"
	# a person's read (archived, no rule fires)
	jq -c --arg n "$now" '.auditID = "arch-read" | .verb = "get" | .objectRef.subresource = null |
	    .objectRef.resource = "configmaps" | .stage = "ResponseComplete" |
	    .requestReceivedTimestamp = "\($n)-01T00:00:02Z" | .stageTimestamp = "\($n)-01T00:00:02Z"' \
	    "$falco/exec_pod.json"
} >"$events"

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-archive-$$"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
# From here on, as the writer.
wrole=it_archive_writer_$$
it_sql "drop role if exists $wrole; create role $wrole login in role kaudit_writer" >/dev/null ||
    it_abort role "cannot create role $wrole"
trap 'it_sql "drop role if exists $wrole" >/dev/null 2>&1; it_cleanup' EXIT
IT_DB_URL_OWNER=$IT_DB_URL
IT_DB_URL=$(sed -E "s#://[^@/]*@#://$wrole@#" <<<"$IT_DB_URL")
it_config "$cfg" "$topic" "it-archive-$$" "retention:
  findings: 0d
  events: 0d"
IT_DB_URL=$IT_DB_URL_OWNER
it_topic "$topic" 2 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$events" || it_abort produce "kcat failed"
log=$IT_DIR/daemon.log
it_run_idle daemon-exit "$cfg" "$log" 120 3

# (findings of one event; a correlation's finding goes by its own time)
read -r nrules nfind <<<"$(it_sql "select count(distinct rule), count(*) from kaudit.findings
    where audit_id = 'arch-exec-$prev' and dedup is null")"
part=$(it_sql "select string_agg(distinct c.relname, ',') from kaudit.findings f
    join pg_class c on c.oid = f.tableoid where audit_id = 'arch-exec-$prev' and dedup is null")
if [ "$nrules" -gt 0 ] && [ "$nrules" = "$nfind" ] && [ "$part" = "findings_${prev/-/_}" ]; then
	it_ok one-finding-per-rule-across-stages
else
	it_fail one-finding-per-rule-across-stages "$nfind findings of $nrules rules, in $part"
fi
got=$(it_sql "select string_agg(stage, ',' order by stage) from kaudit.events where audit_id = 'arch-exec-$prev'")
[ "$got" = "ResponseComplete,ResponseStarted" ] && it_ok both-stages-archived ||
    it_fail both-stages-archived "archived stages: $got"
got=$(it_sql "select count(*) from kaudit.events where audit_id = 'arch-read' and username = 'minikube-user'
    and resource = 'configmaps' and verb = 'get' and source_ip is not null")
[ "$got" = 1 ] && it_ok person-read-archived || it_fail person-read-archived "$got rows"
got=$(it_sql "select count(*) from kaudit.events where resource = 'leases' or username like 'system:node:%'")
[ "$got" = 0 ] && it_ok control-plane-routine-not-archived ||
    it_fail control-plane-routine-not-archived "$got lease or node rows archived"
got=$(it_sql "select count(*) from kaudit.findings_2018_10 where audit_id = 'arch-old'")
[ "$got" -gt 0 ] && it_ok old-month-made || it_fail old-month-made "$got findings in findings_2018_10"
total=$(it_sql "select count(*) from kaudit.events")
stat=$(grep -o 'archived [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
[ "$stat" = "$total" ] && it_ok archived-counted ||
    it_fail archived-counted "the daemon counted ${stat:-nothing}, kaudit.events holds $total"

# The same messages again (a new group reads the topic from the start).
# Findings of one event and archived events must not change; a new group
# also has new state, so its correlations are not a redelivery (stateful.sh
# covers those).
IT_DB_URL=$(sed -E "s#://[^@/]*@#://$wrole@#" <<<"$IT_DB_URL_OWNER")
it_config "$cfg.again" "$topic" "it-archive-again-$$" "retention:
  findings: 0d
  events: 0d"
counts="select (select count(*) from kaudit.findings where dedup is null) || ' ' || (select count(*) from kaudit.events)"
before=$(it_sql "$counts")
it_run_idle redelivery-exit "$cfg.again" "$log" 120 3
after=$(it_sql "$counts")
[ "$before" = "$after" ] && it_ok redelivery-adds-nothing ||
    it_fail redelivery-adds-nothing "findings and events $before, then $after"

# Retention: a dry run names the 2018 months and drops nothing.
ret=$IT_DIR/retention.yaml
it_config "$ret" "$topic" "it-archive-again-$$" "retention:
  findings: 400d
  events: 90d"
IT_DB_URL=$IT_DB_URL_OWNER
"$KAUDIT" retention -c "$ret" --dry-run >"$IT_DIR/dry.out" 2>&1
if grep -q '^would drop findings_2018_10 2018-10-01T00:00:00Z to 2018-11-01T00:00:00Z: [1-9]' "$IT_DIR/dry.out" &&
    grep -q '^would drop events_2018_10 ' "$IT_DIR/dry.out" &&
    [ "$(it_sql "select count(*) from kaudit.partitions where partition_name like '%2018_10'")" = 2 ]; then
	it_ok retention-dry-run
else
	it_fail retention-dry-run "$(cat "$IT_DIR/dry.out")"
fi
# The daemon applies it at start (same group: nothing new to read, which
# would make an old month again).
it_run_idle retention-daemon-exit "$ret" "$IT_DIR/ret.log" 120 2
got=$(it_sql "select count(*) from kaudit.partitions where partition_name like '%2018_10'")
orphans=$(it_sql "select count(*) from kaudit.outbox o where finding_id is not null
    and not exists (select 1 from kaudit.findings f where f.id = o.finding_id)")
if [ "$got" = 0 ] && [ "$orphans" = 0 ] && grep -q 'retention: dropped findings_2018_10' "$IT_DIR/ret.log"; then
	it_ok retention-by-daemon
else
	it_fail retention-by-daemon "$got 2018 partitions left, $orphans orphan outbox rows"
	it_show_log "$IT_DIR/ret.log"
fi
# Nothing left for the command; this month's rows untouched.
"$KAUDIT" retention -c "$ret" >"$IT_DIR/ret.out" 2>&1
rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$IT_DIR/ret.out")" = "kaudit retention: dropped 0 rows" ] &&
    [ "$(it_sql "select count(*) from kaudit.events where audit_id like 'arch-exec-%'")" = 2 ]; then
	it_ok retention-command
else
	it_fail retention-command "exit $rc: $(cat "$IT_DIR/ret.out")"
fi
got=$(grep -c "$wrole" "$cfg" "$ret" | grep -c ':1$')
[ "$got" = 2 ] && ! grep -q 'permission denied' "$log" "$IT_DIR/ret.log" && it_ok ran-as-writer ||
    it_fail ran-as-writer "the daemon did not run as $wrole, or was denied something"
it_done
