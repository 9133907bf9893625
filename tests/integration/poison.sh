#!/usr/bin/env bash
# poison.sh — no event value can stall a partition.
#
# One partition, hostile events first, then good ones. The hostile ones carry
# values PostgreSQL used to refuse, which failed their batch on every retry
# and blocked every later event: stageTimestamps with a sign or a space where
# a digit belongs, an auditID, user name and namespace of a few KB of random
# text (over the btree entry limit) or 8 KB of one letter, and an event
# holding a number jsonb refuses (1e1000000). The daemon must reach a clean
# --idle-exit within a bounded time; the good events' findings must be
# stored; the hostile events' findings too (their bad times as NULL), also
# those of the event jsonb refuses, whose archive row (the finding rows no
# longer hold the event) must be in kaudit.dead_letters at its partition and
# offset; and no batch may have been retried.
IT_NAME=poison
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-poison-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
m=$IT_DIR/msg
mkdir -p "$m"
random_text() {	# characters: base64 of random bytes, which does not compress
	head -c "$1" /dev/urandom | base64 -w 0 | head -c "$1"
}
hostile() {	# file, jq filter, args...
	local out=$1 filter=$2
	shift 2
	jq -c "$@" "$filter" "$falco/exec_pod.json" >"$m/$out"
}
hostile 0-time-sign '.auditID += "-time-sign" | .stageTimestamp = "2024-+1-01T00:00:00Z"'
hostile 1-time-space '.auditID += "-time-space" | .stageTimestamp = "2024-01- 1T00:00:00Z"'
hostile 2-time-year '.auditID += "-time-year" | .stageTimestamp = "+024-01-01T00:00:00Z"'
hostile 3-audit-id '.auditID = $v' --arg v "poison-audit-$(random_text 4000)"
hostile 4-username '.auditID += "-username" | .user.username = $v' \
    --arg v "$(random_text 5000)"
hostile 5-namespace '.auditID += "-namespace" | .objectRef.namespace = $v' \
    --arg v "$(random_text 3000)"
hostile 6-one-letter '.auditID += "-one-letter" | .user.username = $v' \
    --arg v "$(head -c 8192 /dev/zero | tr '\0' a)"
# jq cannot write a number this large; splice it in as text.
jq -c '.auditID += "-number"' "$falco/exec_pod.json" | sed 's/^{/{"x":1e1000000,/' >"$m/7-number"
i=8
for f in exec_pod.json attach_pod.json create_nginx_pod_privileged.json create_clusterrolebinding.json; do
	jq -c --arg s "-good-$i" '.auditID += $s' "$falco/$f" >"$m/$i-good"
	i=$((i + 1))
done

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-poison-$$" "ingest:
  workers: 1
  batch_max: 4
  batch_ms: 100"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
files=()
for ((j = 0; j < i; j++)); do files+=("$m/$j-"*); done
it_produce_files "$topic" -p 0 -- "${files[@]}" || it_abort produce "kcat failed"
n=$(kcat -C -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -p 0 -e -q -f '%o\n' | wc -l)
[ "$n" = "$i" ] || it_abort produce "topic holds $n messages, expected $i"

for ((j = 0; j < i; j++)); do
	it_scan_set "$m/$j-"* >>"$IT_DIR/want"
done
sort -u -o "$IT_DIR/want" "$IT_DIR/want"
grep -q -- '-number' "$IT_DIR/want" || it_abort scan "the number event fires no rule"

# Before the fix the first hostile batch was retried until this timeout.
log=$IT_DIR/daemon.log
it_run "$cfg" "$log" 60 --idle-exit 4
rc=$?
[ "$rc" -eq 0 ] && it_ok daemon-idle-exit ||
    { it_fail daemon-idle-exit "kaudit run --idle-exit 4 exited $rc (stopped after 60 s: still retrying?)"
	it_show_log "$log"; }

it_db_set >"$IT_DIR/got"
it_plain <"$IT_DIR/want" >"$IT_DIR/want-plain"
it_plain <"$IT_DIR/got" >"$IT_DIR/got-plain"
it_same findings-stored "$IT_DIR/want-plain" "$IT_DIR/got-plain"
# every good event after the poison made its findings (a suppressed rule's
# count on one of them)
n=$(grep -c -- '-good-' "$IT_DIR/got")
m=$(it_sql "select count(distinct audit_id) + coalesce(sum(repeats), 0) from kaudit.findings where audit_id ~ '-good-' and rule in (select rule from kaudit.findings where audit_id ~ '-good-' and repeats > 0)")
[ "$n" -gt 0 ] && [ "$(grep -c -- '-good-' "$IT_DIR/want-plain")" = "$(grep -c -- '-good-' "$IT_DIR/got-plain")" ] &&
    it_ok good-events-after-poison || it_fail good-events-after-poison "$n findings of the good events ($m counted on suppressed ones)"

n=$(it_sql "select count(*) from kaudit.findings where audit_id ~ '-time-' and \"time\" is not null")
total=$(it_sql "select count(*) from kaudit.findings where audit_id ~ '-time-'")
[ "$n" = 0 ] && [ "$total" -gt 0 ] && it_ok bad-time-null ||
    it_fail bad-time-null "$n of $total findings with a hostile time have a time"

# The number event's findings are stored (above); its archive row is the
# one dead letter, at its partition and offset, whichever writer (a worker,
# a state owner) met it first.
n=$(it_sql "select count(*) from kaudit.dead_letters where topic = '$topic' and partition = 0
    and \"offset\" = 7 and sqlstate = '22003' and kind = 'event'")
[ "$n" = 1 ] && it_ok dead-letters || it_fail dead-letters "$n dead letters of the number event's archive row"
n=$(it_sql "select count(*) from kaudit.dead_letters where kind <> 'event'")
total=$(it_sql "select count(*) from kaudit.dead_letters")
[ "$n" = 0 ] && [ "$total" = 1 ] && it_ok only-refused-dead-lettered ||
    it_fail only-refused-dead-lettered "$n of $total dead letters are not the refused event's"
n=$(it_sql "select count(*) from kaudit.dead_letters_readable where event_text like '{\"x\":1e1000000,%'")
[ "$n" = "$total" ] && it_ok dead-letter-keeps-event ||
    it_fail dead-letter-keeps-event "$n of $total dead letters hold the event text"

last=$(grep 'dead-letters' "$log" | tail -n 1)
if [[ $last =~ dead-letters\ ([0-9]+)\ db-retries\ ([0-9]+) ]] &&
    [ "${BASH_REMATCH[1]}" = "$total" ] && [ "${BASH_REMATCH[2]}" = 0 ]; then
	it_ok stats
else
	it_fail stats "last stats line: '$last' (want dead-letters $total db-retries 0)"
fi
it_done
