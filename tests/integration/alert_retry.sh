#!/usr/bin/env bash
# alert_retry.sh — failed webhook deliveries are retried with backoff and end
# dead after alert.max_attempts when it is set, queryable in kaudit.outbox.
#
# Two webhooks get every finding of a few real events: "flaky" answers 500 to
# its first two requests (the receiver's /flaky/2/...), then 200; "down"
# always answers 500 (/fail...). Every flaky row must end done with the
# two failures accounted for in its attempts; every down row dead after
# exactly max_attempts attempts, each attempt seen by the receiver, though
# the down webhook's circuit opens on the way (its probes are attempts too).
IT_NAME=alert_retry
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-alert-retry-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
max_attempts=3
backoff_ms=100
flaky_path=/flaky/2/it/$IT_RUN/flaky
down_path=/fail/it/$IT_RUN/down
events=$IT_DIR/events.jsonl
for f in exec_pod attach_pod create_nginx_pod_privileged; do
	jq -c '.auditID += "-retry"' "$falco/$f.json"
done >"$events"

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-alert-retry-$$" "alert:
  webhooks:
    - name: flaky
      url: \"$KAUDIT_RECEIVER_URL$flaky_path\"
    - name: down
      url: \"$KAUDIT_RECEIVER_URL$down_path\"
  max_attempts: $max_attempts
  backoff_ms: $backoff_ms
  max_backoff_ms: 300"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$events" || it_abort produce "kcat failed"
it_scan_set "$events" >"$IT_DIR/want"

log=$IT_DIR/daemon.log
# Until every row has ended: --idle-exit does not wait for the rows of an
# open circuit, which are not due until its next probe.
# The findings of rules without memory are known in advance: two rows each.
want_rows=$(($(it_plain <"$IT_DIR/want" | it_alerting | wc -l) * 2))
it_start "$cfg" "$log"
it_wait_sql "select (count(*) >= $want_rows and count(*) filter (where state = 'pending') = 0)::int
    from kaudit.outbox" 60 || it_log "rows still pending after 60 s"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 20
rc=$?
[ "$rc" -eq 0 ] && it_ok daemon-exit ||
    { it_fail daemon-exit "kaudit run exited $rc after SIGTERM"; it_show_log "$log"; }

it_db_set >"$IT_DIR/got"
it_plain <"$IT_DIR/want" >"$IT_DIR/want-plain"
it_plain <"$IT_DIR/got" >"$IT_DIR/got-plain"
it_same findings-equal-scan "$IT_DIR/want-plain" "$IT_DIR/got-plain"
# the findings that are delivered (not those of alert: false rules)
it_alerting <"$IT_DIR/got" >"$IT_DIR/got-alerting"
nfind=$(it_alerting_ids | wc -l)
[ "$nfind" -gt 0 ] || it_abort findings "no finding stored: nothing to deliver"

# flaky: all done; attempts add up to one per finding plus the two 500s.
read -r rows ndone attempts <<<"$(it_sql "select count(*), count(*) filter (where state = 'done'), coalesce(sum(attempts), 0) from kaudit.outbox where webhook = 'flaky'")"
if [ "$rows" = "$nfind" ] && [ "$ndone" = "$rows" ] && [ "$attempts" = $((nfind + 2)) ]; then
	it_ok flaky-delivered-after-retries
else
	it_fail flaky-delivered-after-retries "$nfind findings: $rows rows, $ndone done, $attempts attempts (want $((nfind + 2)))"
fi
n=$(it_received "$flaky_path" | wc -l)
nid=$(it_received "$flaky_path" | cut -f1 | sort -u | wc -l)
[ "$n" = $((nfind + 2)) ] && [ "$nid" = "$nfind" ] && it_ok flaky-requests-seen ||
    it_fail flaky-requests-seen "receiver saw $n requests for $nid deliveries (want $((nfind + 2)) for $nfind)"
it_received "$flaky_path" | cut -f2,3 | sort -u >"$IT_DIR/flaky-set"
it_same flaky-every-finding "$IT_DIR/got-alerting" "$IT_DIR/flaky-set"

# A retry waits at least backoff_ms after the failure before it.
gap=$(it_sql "select coalesce(min(extract(epoch from d2.attempted_at - d1.attempted_at) * 1000), -1)::int
	from kaudit.delivery_attempts d1 join kaudit.delivery_attempts d2
	  on d2.outbox_id = d1.outbox_id and d2.id > d1.id
	 and not exists (select 1 from kaudit.delivery_attempts d3
	                 where d3.outbox_id = d1.outbox_id and d3.id > d1.id and d3.id < d2.id)
	join kaudit.outbox o on o.id = d1.outbox_id
	where o.webhook = 'down'")
it_log "$nfind findings; smallest gap between two attempts of one delivery: $gap ms"
# The attempt time is taken when an attempt ends, so allow some slack.
[ "$gap" -ge $((backoff_ms * 8 / 10)) ] && it_ok retry-backoff ||
    it_fail retry-backoff "smallest gap between attempts of one delivery is $gap ms (backoff_ms $backoff_ms)"

# down: every row dead after exactly max_attempts, each attempt recorded.
read -r rows dead bad_attempts status <<<"$(it_sql "select count(*), count(*) filter (where state = 'dead'), count(*) filter (where attempts <> $max_attempts), string_agg(distinct coalesce(last_status::text, 'null'), ',') from kaudit.outbox where webhook = 'down'")"
if [ "$rows" = "$nfind" ] && [ "$dead" = "$rows" ] && [ "$bad_attempts" = 0 ] && [ "$status" = 500 ]; then
	it_ok down-dead-after-max-attempts
else
	it_fail down-dead-after-max-attempts "$nfind findings: $rows rows, $dead dead, $bad_attempts without $max_attempts attempts, last_status $status"
fi
n=$(it_sql "select count(*) from kaudit.delivery_attempts d join kaudit.outbox o on o.id = d.outbox_id where o.webhook = 'down' and d.http_status = 500")
[ "$n" = $((nfind * max_attempts)) ] && it_ok down-attempts-recorded ||
    it_fail down-attempts-recorded "$n attempts with status 500 recorded, want $((nfind * max_attempts))"
n=$(it_received "$down_path" | wc -l)
[ "$n" = $((nfind * max_attempts)) ] && it_ok down-requests-seen ||
    it_fail down-requests-seen "receiver saw $n requests, want $((nfind * max_attempts))"

it_done
