#!/usr/bin/env bash
# alert_group.sh — grouped notifications on real services, and grouping
# across a restart.
#
# A webhook groups exec and attach findings by [rule, user] with a short
# group_wait (2 s) and group_interval (3 s). Real Falco events, each copy
# with its own auditID and a user of our choosing, make three groups: the
# receiver must get one notification per group carrying every finding of
# it. A second wave then brings two more findings to one group and opens a
# fourth: one notification each, the first group's saying what is new and
# the running count, made at least group_interval after its first.
#
# Then the restart: another webhook (group_wait 5 s) and new events; once
# their findings are stored the daemon is killed with SIGKILL before
# group_wait passes, and a new daemon, in a new consumer group so it reads
# every event again, runs until idle. The receiver must get exactly one
# notification per group, with every finding, none lost, none counted
# twice, none repeated.
IT_NAME=alert_group
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
topic=it-alert-group-$$
IT_KAFKA_PROPS='{"auto.offset.reset": "earliest", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}'

# events FILE PREFIX USER COUNT: COUNT copies of FILE's event for USER.
events() {
	local i
	for ((i = 0; i < $4; i++)); do
		jq -c --arg id "$2-$3-$i" --arg u "$3" '.auditID = $id | .user.username = $u' "$1"
	done
}

# A user name with a NUL escape and a byte that is not UTF-8, and one with
# U+FFFD in both places: the same value once stored, so the same group.
hostile=$'ev\xef\xbf\xbdil\xef\xbf\xbd'
hostile_events() {
	jq -c '.auditID = "w1x-hostile-0" | .user.username = "@U@"' "$1" |
	    sed 's/@U@/ev\\u0000il\xff/'
	jq -c '.auditID = "w1x-hostile-1" | .user.username = "@U@"' "$1" |
	    sed 's/@U@/ev\\ufffdil\\ufffd/'
}

# notes PATH: the group notifications the receiver got under PATH, one a
# line: rule, user, count, new, notification, group_id, audit_ids.
notes() {
	jq -r --arg p "$1" 'select(.path | startswith($p)) | (.body | fromjson) |
	    [.group.rule, .group.user, .count, .new, .notification, .group_id,
	     ([.findings[].audit_id] | join(","))] | @tsv' "$KAUDIT_RECEIVER_LOG" | sort
}

# wait_notes PATH N SECONDS: until the receiver got N notifications there.
wait_notes() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(notes "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

# hook NAME PATH WAIT: a webhook grouping the exec and attach findings.
hook() {
	printf '    - name: %s
      url: "%s"
      rules: [k8s.exec.pod, k8s.exec.attach]
      group_by: [rule, user]
      group_wait: %s
      group_interval: 3s
      repeat_interval: 4h
' "$1" "$KAUDIT_RECEIVER_URL$2" "$3"
}

alerts="alert:
  poll_ms: 100
  backoff_ms: 200
  webhooks:"

# --- grouping -------------------------------------------------------------
path1=/it/$IT_RUN/grouped
cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-alert-group-$$" "$alerts
$(hook grouped "$path1" 2s)"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 2 || it_abort produce "could not create topic $topic"
{
	events "$falco/exec_pod.json" w1x alice 4
	events "$falco/exec_pod.json" w1x bob 2
	events "$falco/attach_pod.json" w1a alice 3
	hostile_events "$falco/exec_pod.json"
} >"$IT_DIR/wave1.jsonl"
log=$IT_DIR/daemon.log
it_start "$cfg" "$log"
started=$(date +%s.%N)
it_produce_lines "$topic" "$IT_DIR/wave1.jsonl" || it_abort produce "kcat failed"
if ! wait_notes "$path1" 4 40; then
	it_fail wave1-notified "$(notes "$path1" | wc -l) of 4 group notifications within 40 s"
	it_show_log "$log"
fi
notes "$path1" | cut -f1-5 >"$IT_DIR/wave1.got"
printf '%s\n' "k8s.exec.attach	alice	3	3	1" "k8s.exec.pod	alice	4	4	1" \
    "k8s.exec.pod	bob	2	2	1" "k8s.exec.pod	$hostile	2	2	1" | sort >"$IT_DIR/wave1.want"
it_same wave1-one-notification-per-group "$IT_DIR/wave1.want" "$IT_DIR/wave1.got"
# each carries exactly its group's findings
bad=$(notes "$path1" | awk -F '\t' -v h="$hostile" '{ n = split($7, a, ",")
    p = ($1 == "k8s.exec.pod" ? "w1x-" : "w1a-") ($2 == h ? "hostile" : $2) "-"
    for (i = 1; i <= n; i++) if (index(a[i], p) != 1) b++
    if (n != $3) b++ } END { print b + 0 }')
[ "$bad" = 0 ] && it_ok wave1-findings-in-their-group ||
    it_fail wave1-findings-in-their-group "$bad findings out of place or missing"
# the whole wave went out as one notification per group: group_wait held
# them (the daemon may take a while to join its consumer group, so the
# wait is measured in the database, from the group's opening)
early=$(it_sql "select count(*) from kaudit.alert_groups g join kaudit.outbox o on o.group_id = g.id
    where o.created_at < g.opened_at + interval '2 seconds'")
[ "$early" = 0 ] && it_ok wave1-after-group-wait ||
    it_fail wave1-after-group-wait "$early notifications made before group_wait"

{
	events "$falco/exec_pod.json" w2x alice 2
	events "$falco/exec_pod.json" w2x carol 1
} >"$IT_DIR/wave2.jsonl"
it_produce_lines "$topic" "$IT_DIR/wave2.jsonl" || it_abort produce "kcat failed"
if ! wait_notes "$path1" 6 30; then
	it_fail wave2-notified "$(notes "$path1" | wc -l) of 6 group notifications within 30 s"
	it_show_log "$log"
fi
sleep 1	# nothing more may come
notes "$path1" | cut -f1-5 >"$IT_DIR/wave2.got"
printf '%s\n' "k8s.exec.attach	alice	3	3	1" "k8s.exec.pod	alice	4	4	1" \
    "k8s.exec.pod	alice	6	2	2" "k8s.exec.pod	bob	2	2	1" \
    "k8s.exec.pod	carol	1	1	1" "k8s.exec.pod	$hostile	2	2	1" |
    sort >"$IT_DIR/wave2.want"
it_same wave2-new-and-count "$IT_DIR/wave2.want" "$IT_DIR/wave2.got"
ids=$(notes "$path1" | awk -F '\t' '$2 == "alice" && $5 == 2 { print $7 }')
[ "$ids" = "w2x-alice-0,w2x-alice-1" ] || [ "$ids" = "w2x-alice-1,w2x-alice-0" ] &&
    it_ok wave2-only-new-findings || it_fail wave2-only-new-findings "second notification carries $ids"
gap=$(it_sql "select extract(epoch from max(o.created_at) - min(o.created_at))
    from kaudit.outbox o join kaudit.alert_groups g on g.id = o.group_id
    where g.key->>'user' = 'alice' and g.key->>'rule' = 'k8s.exec.pod'")
awk -v g="$gap" 'BEGIN { exit !(g >= 3.0) }' && it_ok wave2-after-group-interval ||
    it_fail wave2-after-group-interval "second notification $gap s after the first (group_interval 3s)"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 30 && it_ok sigterm-exit-0 ||
    it_fail sigterm-exit-0 "the daemon did not exit 0 after SIGTERM"
it_log "grouping: $(notes "$path1" | wc -l) notifications, $(awk -v s="$started" \
    'BEGIN { "date +%s.%N" | getline n; printf "%.1f", n - s }') s"

# --- grouping across a restart --------------------------------------------
path2=/it/$IT_RUN/restart
topic2=$topic-restart
cfg2=$IT_DIR/restart.yaml
it_config "$cfg2" "$topic2" "it-alert-group-r1-$$" "$alerts
$(hook restart "$path2" 5s)"
it_topic "$topic2" 2 || it_abort produce "could not create topic $topic2"
{
	events "$falco/exec_pod.json" rx dave 5
	events "$falco/attach_pod.json" ra dave 2
	events "$falco/exec_pod.json" rx erin 3
} >"$IT_DIR/restart.jsonl"
log2=$IT_DIR/restart.log
it_start "$cfg2" "$log2"
it_produce_lines "$topic2" "$IT_DIR/restart.jsonl" || it_abort produce "kcat failed"
members="select count(*) from kaudit.alert_group_members m join kaudit.alert_groups g
    on g.id = m.group_id where g.webhook = 'restart'"
for ((i = 0; i < 200; i++)); do
	[ "$(it_sql "$members")" -ge 10 ] && break
	sleep 0.1
done
kill -KILL "$IT_PID"
it_wait_exit "$IT_PID" 10
n=$(it_sql "$members")
[ "$n" = 10 ] && it_ok restart-findings-grouped-before-kill ||
    it_fail restart-findings-grouped-before-kill "$n of 10 findings in their groups at the kill"
read -r made due <<<"$(it_sql "select count(*) filter (where o.id is not null),
    count(distinct g.id) filter (where g.next_notify_at > now())
    from kaudit.alert_groups g left join kaudit.outbox o on o.group_id = g.id
    where g.webhook = 'restart'")"
if [ "$made" = 0 ] && [ "$due" = 3 ] && [ "$(notes "$path2" | wc -l)" = 0 ]; then
	it_ok restart-killed-before-group-wait
else
	it_fail restart-killed-before-group-wait "at the kill: $made notifications made, $due of 3 groups still waiting"
fi
echo "--- restart" >>"$log2"
sed -i "s/it-alert-group-r1-$$/it-alert-group-r2-$$/" "$cfg2"
it_run_idle restart-exit-0 "$cfg2" "$log2" 60 3
notes "$path2" | cut -f1-5 >"$IT_DIR/restart.got"
printf '%s\n' "k8s.exec.attach	dave	2	2	1" "k8s.exec.pod	dave	5	5	1" \
    "k8s.exec.pod	erin	3	3	1" >"$IT_DIR/restart.want"
it_same restart-one-notification-per-group "$IT_DIR/restart.want" "$IT_DIR/restart.got"
notes "$path2" | cut -f7 | tr ',' '\n' | sort >"$IT_DIR/restart.ids"
sed -E 's/.*"auditID":"([^"]*)".*/\1/' "$IT_DIR/restart.jsonl" | sort >"$IT_DIR/restart.want-ids"
it_same restart-every-finding-once "$IT_DIR/restart.want-ids" "$IT_DIR/restart.ids"
n=$(jq -r --arg p "$path2" 'select(.path | startswith($p)) | [.headers | to_entries[] |
    select(.key | ascii_downcase == "x-kaudit-delivery") | .value][0]' \
    "$KAUDIT_RECEIVER_LOG" | sort | uniq -d | wc -l)
[ "$n" = 0 ] && it_ok restart-none-repeated || it_fail restart-none-repeated "$n deliveries repeated"
read -r nf dup <<<"$(it_sql "select count(*), count(*) - count(distinct (audit_id, rule))
    from kaudit.findings where audit_id like 'r_-%'")"
it_log "restart: $nf findings stored ($dup duplicates), $(notes "$path2" | wc -l) notifications"

it_done
