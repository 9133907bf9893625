#!/usr/bin/env bash
# alert_delivery.sh — what each answer of a receiver does to a delivery, on
# the real daemon and receiver, and the `kaudit alerts` commands an on-call
# person uses afterwards.
#
# Every alerting finding of a few real events goes to "ok" (200) and "gone"
# (/gone/1/: 410 for its first request, then 200); one rule each goes to
# "limited" (/ratelimit/1/2/: 429 with Retry-After: 2, then 200), "maint"
# (/unavail/1/2/: 503 with Retry-After as an HTTP date 2 s ahead), "bad"
# (/bad/1/: 400 with a hostile body, then 200) and "hang" (answers after 2 s,
# timeout_ms 300). Checks: ok gets each finding once; a 429 and a 503 wait
# what Retry-After said (backoff_ms 100 would retry after 100 ms); a timeout
# retries until alert.max_age (6 s here) and is dead then, with the reason
# (max_backoff_ms 3000 caps the waits, and would cap a Retry-After);
# a 400 is dead at once with the response kept, shown escaped by `alerts
# list`, and `alerts retry ID` delivers it; a 410 disables "gone" (its rows
# pending, not claimed, listed as disabled) and `alerts enable gone`
# delivers every one of them: nothing lost, repeats only of the delivery
# that got the 410, under the same delivery id.
IT_NAME=alert_delivery
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-alert-delivery-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
events=$IT_DIR/events.jsonl
for f in exec_pod attach_pod create_nginx_pod_privileged create_cluster_role_wildcard_verbs; do
	jq -c '.auditID += "-delivery"' "$falco/$f.json"
done >"$events"
base=$KAUDIT_RECEIVER_URL
p=it/$IT_RUN
cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-alert-delivery-$$" "alert:
  webhooks:
    - { name: ok, url: \"$base/$p/ok\" }
    - { name: gone, url: \"$base/gone/1/$p/gone\" }
    - { name: limited, url: \"$base/ratelimit/1/2/$p/limited\", rules: [k8s.exec.pod] }
    - { name: maint, url: \"$base/unavail/1/2/$p/maint\", rules: [k8s.exec.attach] }
    - { name: bad, url: \"$base/bad/1/$p/bad\", rules: [k8s.exec.shell] }
    - { name: hang, url: \"$base/slow/2000/$p/hang\", rules: [k8s.workload.privileged], timeout_ms: 300 }
  backoff_ms: 100
  max_backoff_ms: 3000
  max_age: 6s
  poll_ms: 200"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$events" || it_abort produce "kcat failed"
# One partition, read in file order: the stateful findings are those of scan.
it_scan_set "$events" | it_alerting >"$IT_DIR/want"
nfind=$(wc -l <"$IT_DIR/want")
[ "$nfind" -ge 6 ] || it_abort findings "only $nfind alerting findings in the events"

log=$IT_DIR/daemon.log
it_start "$cfg" "$log"
alerts() { "$KAUDIT" alerts "$@" -c "$cfg"; }
row() {	# webhook -> its outbox id (one row)
	it_sql "select min(id) from kaudit.outbox where webhook = '$1'"
}

# --- 200, 400, 410 -------------------------------------------------------
it_wait_sql "select (count(*) = $nfind)::int from kaudit.outbox where webhook = 'ok' and state = 'done'" 30 ||
    it_fail ok-done "the ok rows are not all done after 30 s"
it_wait_sql "select count(*) from kaudit.outbox where webhook = 'bad' and state = 'dead'" 10 ||
    it_fail bad-dead "the 400 row is not dead"
it_wait_sql "select count(*) from kaudit.webhooks where name = 'gone' and disabled_at is not null" 10 ||
    it_fail gone-disabled "a 410 did not disable gone"
it_received "/$p/ok" | cut -f2,3 | sort >"$IT_DIR/ok-got"
it_same ok-each-finding-once "$IT_DIR/want" "$IT_DIR/ok-got"
read -r st att err <<<"$(it_sql "select state, attempts, left(last_error, 19) from kaudit.outbox where webhook = 'bad'")"
[ "$st $att" = "dead 1" ] && [ "$err" = "HTTP 400: rejected:" ] && it_ok bad-dead-at-once-response-kept ||
    it_fail bad-dead-at-once-response-kept "state $st, $att attempts, last error \"$err\""

# Disabled: its rows wait, listed as disabled; the reason is the answer.
sleep 0.5
read -r pend done <<<"$(it_sql "select count(*) filter (where state = 'pending'), count(*) filter (where state = 'done') from kaudit.outbox where webhook = 'gone'")"
[ "$pend" -ge 1 ] && [ $((pend + done)) -eq "$nfind" ] && it_ok gone-rows-pending ||
    it_fail gone-rows-pending "$pend pending, $done done of $nfind"
sleep 1
n=$(it_sql "select count(*) from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id where o.webhook = 'gone'")
n410=$(it_sql "select count(*) from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id where o.webhook = 'gone' and d.http_status = 410")
[ "$n410" -eq 1 ] && [ "$n" -eq $((done + 1)) ] && it_ok gone-not-claimed-while-disabled ||
    it_fail gone-not-claimed-while-disabled "$n attempts ($n410 answered 410) for $done done rows"
alerts list --state disabled >"$IT_DIR/list-disabled" 2>&1 || it_fail list-disabled "exit $?"
grep -Eq "^gone +disabled .*HTTP 410: this hook was deleted" "$IT_DIR/list-disabled" &&
    [ "$(grep -Ec '^[0-9]+ +gone +disabled ' "$IT_DIR/list-disabled")" -eq "$pend" ] &&
    it_ok list-shows-disabled || { it_fail list-shows-disabled "see below"; cat "$IT_DIR/list-disabled" >&2; }

# The 400's body is hostile: its control characters became spaces when it
# was kept, its bidi override is listed escaped, never raw.
alerts list --state dead --webhook bad >"$IT_DIR/list-dead" 2>&1
if grep -qF 'rejected:  [31mfield [0m \u{202E}evil\u{202C}' "$IT_DIR/list-dead" &&
    ! grep -q $'\x1b' "$IT_DIR/list-dead" && ! grep -q $'\xe2\x80\xae' "$IT_DIR/list-dead"; then
	it_ok list-escapes-errors
else
	it_fail list-escapes-errors "$(grep -a bad "$IT_DIR/list-dead" | tail -n 1 | od -c | head -n 3 | tr -s ' ')"
fi
alerts list --json --state dead >"$IT_DIR/list.json" &&
    jq -e '.deliveries[0].webhook == "bad" and (.deliveries[0].last_error | startswith("HTTP 400: rejected:  [31mfield [0m \u202eevil"))' \
    "$IT_DIR/list.json" >/dev/null && it_ok list-json || it_fail list-json "$(head -c 300 "$IT_DIR/list.json")"

# --- alerts retry ID, alerts enable NAME ---------------------------------
bad_id=$(row bad)
alerts retry "$bad_id" >"$IT_DIR/retry.out" 2>&1 || it_fail retry-command "exit $?: $(cat "$IT_DIR/retry.out")"
it_wait_sql "select count(*) from kaudit.outbox where id = $bad_id and state = 'done' and attempts = 2" 10 &&
    it_ok retry-delivers || it_fail retry-delivers "$(it_sql "select state, attempts, last_error from kaudit.outbox where id = $bad_id")"
alerts retry "$bad_id" >/dev/null 2>&1
[ $? -eq 1 ] && it_ok retry-done-row-refused || it_fail retry-done-row-refused "retry of a done row did not exit 1"
# docs/alerting.md's commands, as written there (list the disabled rows,
# enable gone, list bad's dead row: it was retried above, so none now).
awk '/<!-- example: alerts-commands -->/ { on = 1; next } on && /^```sh/ { next }
    on && /^```/ { exit } on' docs/alerting.md >"$IT_DIR/doc-commands"
grep -q 'alerts enable -c kaudit.yaml gone' "$IT_DIR/doc-commands" ||
    it_fail docs-commands "docs/alerting.md has no alerts-commands example enabling gone"
while read -r cmd args; do
	[ "$cmd" = kaudit ] || continue
	# shellcheck disable=SC2086
	"$KAUDIT" ${args//kaudit.yaml/$cfg} >>"$IT_DIR/doc-commands.out" 2>&1 ||
	    it_fail docs-commands "kaudit $args: exit $?"
done <"$IT_DIR/doc-commands"
grep -q "gone is enabled, its circuit closed" "$IT_DIR/doc-commands.out" && it_ok docs-commands ||
    it_fail docs-commands "$(cat "$IT_DIR/doc-commands.out")"
it_wait_sql "select (count(*) = $nfind)::int from kaudit.outbox where webhook = 'gone' and state = 'done'" 10 &&
    it_ok enable-delivers-all || it_fail enable-delivers-all "$(it_sql "select state, count(*) from kaudit.outbox where webhook = 'gone' group by 1")"
it_received "/gone/1/$p/gone" | cut -f2,3 | sort -u >"$IT_DIR/gone-got"
it_same gone-nothing-lost "$IT_DIR/want" "$IT_DIR/gone-got"
# one request per delivery id, but the one that got the 410: two
reps=$(it_received "/gone/1/$p/gone" | cut -f1 | sort | uniq -c | awk '$1 > 1' | wc -l)
reqs=$(it_received "/gone/1/$p/gone" | wc -l)
[ "$reps" -eq 1 ] && [ "$reqs" -eq $((nfind + 1)) ] && it_ok gone-repeats-same-id ||
    it_fail gone-repeats-same-id "$reqs requests for $nfind deliveries, $reps ids repeated"
alerts enable nosuch >/dev/null 2>&1
[ $? -eq 1 ] && it_ok enable-unknown-exit-1 || it_fail enable-unknown-exit-1 "enable of an unknown destination did not exit 1"

# --- 429, 503, timeouts ---------------------------------------------------
it_wait_sql "select (count(*) = 2)::int from kaudit.outbox where webhook in ('limited', 'maint') and state = 'done'" 15 ||
    it_fail retry-after-done "the 429 and 503 rows are not done"
it_wait_sql "select count(*) from kaudit.outbox where webhook = 'hang' and state = 'dead'" 15 ||
    it_fail hang-dead "the timing-out row is not dead after max_age"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 20 || { it_fail daemon-exit "no clean exit after SIGTERM"; it_show_log "$log"; }

# From the end of the first attempt to the end of the second, in ms.
gap() {
	it_sql "select (extract(epoch from max(d.attempted_at) - min(d.attempted_at)) * 1000)::int
	    from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id where o.webhook = '$1'"
}
read -r st att status <<<"$(it_sql "select state, attempts, (select string_agg(coalesce(http_status, 0)::text, ',' order by id) from kaudit.delivery_attempts d where d.outbox_id = o.id) from kaudit.outbox o where webhook = 'limited'")"
g=$(gap limited)
it_log "429 then 200: attempts $status, ${g} ms apart (Retry-After: 2)"
[ "$st $att $status" = "done 2 429,200" ] && [ "$g" -ge 1900 ] && [ "$g" -lt 4000 ] &&
    it_ok retry-after-429-seconds || it_fail retry-after-429-seconds "$st, $status, ${g} ms apart"
read -r st att status <<<"$(it_sql "select state, attempts, (select string_agg(coalesce(http_status, 0)::text, ',' order by id) from kaudit.delivery_attempts d where d.outbox_id = o.id) from kaudit.outbox o where webhook = 'maint'")"
g=$(gap maint)
it_log "503 then 200: attempts $status, ${g} ms apart (Retry-After: a date 2 s ahead, to the second)"
[ "$st $att $status" = "done 2 503,200" ] && [ "$g" -ge 900 ] && [ "$g" -lt 4000 ] &&
    it_ok retry-after-503-date || it_fail retry-after-503-date "$st, $status, ${g} ms apart"
read -r st att err <<<"$(it_sql "select state, attempts, last_error from kaudit.outbox where webhook = 'hang'")"
age=$(it_sql "select (extract(epoch from max(d.attempted_at) - o.created_at) * 1000)::int from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id where o.webhook = 'hang' group by o.created_at")
it_log "timeouts: $att attempts, the last ${age} ms after the finding: $err"
[ "$st" = dead ] && [ "$att" -ge 4 ] && [ "$age" -ge 5500 ] && [ "$age" -lt 9000 ] &&
    [[ $err == "gave up after $att attempts in alert.max_age 6s: timeout after 300 ms"* ]] &&
    it_ok timeout-retried-until-max-age || it_fail timeout-retried-until-max-age "$st, $att attempts, last at ${age} ms: $err"
n=$(it_sql "select count(*) from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id where o.webhook = 'hang' and d.http_status is not null")
[ "$n" -eq 0 ] && it_ok timeout-no-status || it_fail timeout-no-status "$n timed-out attempts have a status"

it_done
