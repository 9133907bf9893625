#!/usr/bin/env bash
# lifecycle.sh — suppressions through the real daemon, Kafka, PostgreSQL and
# receiver, and `kaudit findings` on what the daemon stored.
#
# Phase 1: a suppression made with `kaudit findings suppress` before the
# daemon starts (category authn or exec) holds on findings of the ingest
# workers and of the state owners alike: each is stored, with one
# 'suppressed' history row naming the suppression, and gets no outbox row
# and no delivery; every other alerting finding is delivered once.
# Phase 2, with the daemon running: a second suppression is made and the
# first lifted; the daemon picks both up at once (NOTIFY), so of the same
# events sent again under new auditIDs the findings of the second
# suppression's rule are stored suppressed and the exec and authn ones are
# delivered. Then list, show, ack, resolve and the suppressions listing are
# checked against the database.
IT_NAME=lifecycle
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-lifecycle-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
files=()
for f in "$falco"/*.json; do
	# a deliberately malformed document: bad_input.sh's
	[ "$(basename "$f")" = fal_01_003.json ] || files+=("$f")
done

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-lifecycle-$$" "alert:
  webhooks:
    - name: receiver
      url: \"$IT_HOOK\"
  max_attempts: 8
  backoff_ms: 200
  suppressions_refresh: 1h"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"

fk() { "$KAUDIT" findings "$@" -c "$cfg"; }

out=$(fk suppress --when 'category in (authn, exec)' --for 2h --reason "it's <noisy>" --by it-$$) ||
    it_abort suppress "kaudit findings suppress failed: $out"
sup_a=$(sed -n 's/^suppression \([0-9]*\): holds until .*/\1/p' <<<"$out")
[ -n "$sup_a" ] || it_abort suppress "no suppression id in \"$out\""

it_produce_files "$topic" -- "${files[@]}" || it_abort produce "kcat failed"
log=$IT_DIR/daemon.log
it_run_idle daemon-exit "$cfg" "$log" 120 5 || it_abort daemon "the daemon did not finish"

# What should be suppressed: the stored findings the condition holds on
# (the same condition in SQL).
it_sql "select id from kaudit.findings where category in ('authn', 'exec')" |
    LC_ALL=C sort >"$IT_DIR/want-suppressed"
it_sql "select finding_id from kaudit.finding_history where status = 'suppressed'
    and suppression_id = $sup_a and actor = 'kaudit'" | LC_ALL=C sort >"$IT_DIR/suppressed"
it_same suppressed-recorded "$IT_DIR/want-suppressed" "$IT_DIR/suppressed"
dups=$(it_sql "select count(*) - count(distinct finding_id) from kaudit.finding_history")
[ "$dups" = 0 ] && it_ok one-history-row-each || it_fail one-history-row-each "$dups extra rows"
# both write paths: an ingest worker's finding (no dedup) and a state
# owner's (dedup)
paths=$(it_sql "select count(distinct (f.dedup is null)) from kaudit.findings f
    join kaudit.finding_history h on h.finding_id = f.id where h.suppression_id = $sup_a")
[ "$paths" = 2 ] && it_ok both-write-paths ||
    it_fail both-write-paths "suppressed findings came from $paths of the 2 write paths"
n=$(it_sql "select count(*) from kaudit.outbox o join kaudit.finding_history h
    on h.finding_id = o.finding_id where h.status = 'suppressed'")
[ "$n" = 0 ] && it_ok suppressed-no-outbox || it_fail suppressed-no-outbox "$n outbox rows"

# Delivered: every alerting finding that is not suppressed, once.
it_alerting_ids | LC_ALL=C comm -23 - "$IT_DIR/want-suppressed" >"$IT_DIR/want-delivered"
it_received_ids "/it/$IT_RUN/hook" >"$IT_DIR/delivered"
it_same others-delivered-once "$IT_DIR/want-delivered" "$IT_DIR/delivered"
n=$(LC_ALL=C comm -12 "$IT_DIR/delivered" "$IT_DIR/want-suppressed" | wc -l)
[ "$n" -eq 0 ] && it_ok suppressed-not-delivered || it_fail suppressed-not-delivered "$n delivered"

# A dry run on what was stored: the same findings, and nothing written.
nall=$(it_sql "select count(*) from kaudit.findings")
nsupp=$(wc -l <"$IT_DIR/want-suppressed")
nrows=$(it_sql "select count(*) from kaudit.suppressions")
fk suppress --when 'category in (authn, exec)' --dry-run --since 2000-01-01T00:00:00Z \
    >"$IT_DIR/dry.txt" 2>&1
if grep -q "^--when holds on $nsupp of the $nall findings stored since 2000-01-01T00:00:00Z" \
    "$IT_DIR/dry.txt" && grep -q '^ *[0-9]*  k8s.exec.pod$' "$IT_DIR/dry.txt" &&
    [ "$(it_sql "select count(*) from kaudit.suppressions")" = "$nrows" ]; then
	it_ok dry-run-counts
else
	it_fail dry-run-counts "want $nsupp of $nall: $(head -n 3 "$IT_DIR/dry.txt")"
fi

# Phase 2: changes while the daemon runs.
# log_wait PATTERN COUNT: until the daemon's log has COUNT lines matching
log_wait() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c "$1" "$IT_DIR/daemon2.log")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
it_start "$cfg" "$IT_DIR/daemon2.log"
log_wait 'suppressions: 1 live' 1 || it_fail watcher-loads "no suppression loaded at start"
out=$(fk suppress --when 'rule = k8s.rbac.change' --for never --reason "phase 2") ||
    it_abort suppress "second suppress failed: $out"
sup_b=$(sed -n 's/^suppression \([0-9]*\): .*/\1/p' <<<"$out")
# refresh is 1h: only the NOTIFY can make these reloads
log_wait 'suppressions: 2 live' 1 && it_ok reloaded-on-add ||
    it_fail reloaded-on-add "no reload within 10 s of a new suppression"
fk lift --reason "over" "$sup_a" >/dev/null || it_fail lift "kaudit findings lift $sup_a failed"
log_wait 'suppressions: 1 live' 2 && it_ok reloaded-on-lift ||
    it_fail reloaded-on-lift "no reload within 10 s of a lift"
for f in "${files[@]}"; do
	jq -c . "$f" | sed -E 's/("auditID":")/\1p2-/g'
done >"$IT_DIR/p2.jsonl"
# and an exec by a user whose name would recolour a terminal and reverse
# the text after it
hostile=$'\e[31mevil\xe2\x80\xae'
jq -c --arg u "$hostile" '.auditID = "p2-hostile" | .user.username = $u' \
    "$falco/exec_pod.json" >>"$IT_DIR/p2.jsonl"
want2=$(it_sql "select count(*) from kaudit.findings where dedup is null")
it_produce_lines "$topic" "$IT_DIR/p2.jsonl" || it_abort produce "kcat failed (phase 2)"
it_wait_sql "select (count(*) >= $want2)::int from kaudit.findings where audit_id like 'p2-%'
    and dedup is null" 60 || it_fail phase2-stored "the phase 2 findings were not stored"
it_sql "select id from kaudit.findings where audit_id like 'p2-%' and rule = 'k8s.rbac.change'" |
    LC_ALL=C sort >"$IT_DIR/want2-suppressed"
it_sql "select finding_id from kaudit.finding_history where suppression_id = $sup_b" |
    LC_ALL=C sort >"$IT_DIR/suppressed2"
it_same new-suppression-holds "$IT_DIR/want2-suppressed" "$IT_DIR/suppressed2"
n=$(it_sql "select count(*) from kaudit.findings f join kaudit.finding_history h
    on h.finding_id = f.id where f.audit_id like 'p2-%' and h.suppression_id = $sup_a")
[ "$n" = 0 ] && it_ok lifted-suppression-ends || it_fail lifted-suppression-ends "$n findings"
it_sql "select id, rule from kaudit.findings where audit_id like 'p2-%' and category = 'exec'" |
    it_alerting | cut -f1 | LC_ALL=C sort >"$IT_DIR/want2-exec"
for ((i = 0; i < 100; i++)); do
	it_received_ids "/it/$IT_RUN/hook" >"$IT_DIR/delivered2"
	[ -z "$(LC_ALL=C comm -23 "$IT_DIR/want2-exec" "$IT_DIR/delivered2")" ] && break
	sleep 0.2
done
LC_ALL=C comm -12 "$IT_DIR/want2-exec" "$IT_DIR/delivered2" >"$IT_DIR/got2-exec"
it_same unsuppressed-delivered "$IT_DIR/want2-exec" "$IT_DIR/got2-exec"
n=$(LC_ALL=C comm -12 "$IT_DIR/delivered2" "$IT_DIR/want2-suppressed" | wc -l)
[ "$n" -eq 0 ] && it_ok new-suppressed-not-delivered ||
    it_fail new-suppressed-not-delivered "$n delivered"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 30
rc=$?
[ "$rc" -eq 0 ] && it_ok daemon2-exit || it_fail daemon2-exit "exited $rc"

# The command on what the daemon stored.
nsup=$(it_sql "select count(*) from kaudit.finding_status where status = 'suppressed'")
n=$(fk list --status suppressed --limit 1000 --json | jq length)
[ "$n" = "$nsup" ] && [ "$n" -gt 0 ] && it_ok list-suppressed ||
    it_fail list-suppressed "list says $n, the view $nsup"
id=$(head -n 1 "$IT_DIR/suppressed")
fk show "$id" >"$IT_DIR/show" 2>&1
grep -q "^finding $id: suppressed" "$IT_DIR/show" &&
    grep -q "suppressed .* kaudit .* suppression $sup_a: it's <noisy>" "$IT_DIR/show" &&
    it_ok show-history || { it_fail show-history "see below"; sed 's/^/    /' "$IT_DIR/show" >&2; }
did=$(head -n 1 "$IT_DIR/delivered")
fk show --json "$did" >"$IT_DIR/show.json"
n=$(jq '[.deliveries[] | select(.state == "done")] | length' "$IT_DIR/show.json")
[ "$n" = 1 ] && it_ok show-deliveries || it_fail show-deliveries "$n done deliveries shown"
fk ack --reason "looking" --by it-$$ "$id" "$did" >/dev/null && it_ok ack ||
    it_fail ack "kaudit findings ack exited $?"
fk resolve --by it-$$ "$did" >/dev/null
s=$(it_sql "select string_agg(status || '/' || changed_by, ',' order by finding_id)
    from kaudit.finding_status where finding_id in ($id, $did)")
want_s="acknowledged/it-$$,resolved/it-$$"
[ "$id" -gt "$did" ] && want_s="resolved/it-$$,acknowledged/it-$$"
[ "$s" = "$want_s" ] && it_ok status-recorded || it_fail status-recorded "got $s, want $want_s"
fk ack "$did" 99999999 >/dev/null 2>"$IT_DIR/ack.err"
[ $? -eq 1 ] && grep -q 'no finding 99999999' "$IT_DIR/ack.err" && it_ok ack-missing-exit-1 ||
    it_fail ack-missing-exit-1 "$(cat "$IT_DIR/ack.err")"
fk list --user "$hostile" >"$IT_DIR/hostile.txt"
if grep -qF 'evil\u{202E}' "$IT_DIR/hostile.txt" && grep -qF '\u{001B}[31m' "$IT_DIR/hostile.txt" &&
    ! LC_ALL=C grep -q $'\e\|\xe2\x80\xae' "$IT_DIR/hostile.txt"; then
	it_ok list-escapes-hostile-user
else
	it_fail list-escapes-hostile-user "$(od -c "$IT_DIR/hostile.txt" | head -5)"
fi
fk suppressions --all --json >"$IT_DIR/sup.json"
n=$(jq --argjson a "$sup_a" '.[] | select(.id == $a and .live == false and .matched > 0
    and .lift_reason == "over") | .id' "$IT_DIR/sup.json")
[ "$n" = "$sup_a" ] && it_ok suppressions-listed || it_fail suppressions-listed "$(cat "$IT_DIR/sup.json")"

it_done
