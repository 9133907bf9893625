#!/usr/bin/env bash
# alert_backlog.sh — the default concurrency (4 requests in flight per
# webhook) fits a small receiver's listen backlog.
#
# Python's http.server listens with a backlog of 5. A claim used to open up
# to alert.batch (32) connections to one receiver at once: the connection
# attempts past the backlog were dropped and retried by the kernel a second
# later, so with timeout_ms 1000 they timed out. Here a receiver of this
# test's own listens with --backlog 5 and 200 findings are due at once:
# every one must be delivered at its first attempt, none slower than 1 s.
# KAUDIT_BACKLOG_HOOK_EXTRA=", concurrency: 32" shows the old behaviour:
# connection attempts dropped, deliveries timing out.
IT_NAME=alert_backlog
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-alert-backlog-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
python3 tests/integration/lib/replicate.py --copies 100 --tag backlog \
    "$falco/exec_pod.json" >"$IT_DIR/events.jsonl" 2>/dev/null
it_receiver_start small 0 --backlog 5 || it_abort receiver "could not start a receiver"
cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-alert-backlog-$$" "alert:
  webhooks:
    - { name: small, url: \"http://127.0.0.1:$IT_RECV_PORT/it/$IT_RUN/small\", timeout_ms: 1000,
        rules: [k8s.exec.pod, k8s.exec.shell]${KAUDIT_BACKLOG_HOOK_EXTRA:-} }
  backoff_ms: 100
  max_backoff_ms: 1000"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
nrows=$(($(wc -l <"$IT_DIR/events.jsonl") * 2))

log=$IT_DIR/daemon.log
it_start "$cfg" "$log"
it_wait_sql "select (count(*) = $nrows and count(*) filter (where state <> 'done') = 0)::int
    from kaudit.outbox" 60 || it_fail delivered "$(it_sql "select state, count(*) from kaudit.outbox group by 1")"
kill -TERM "$IT_PID"
it_wait_exit "$IT_PID" 20 || { it_fail daemon-exit "no clean exit after SIGTERM"; it_show_log "$log"; }
it_receiver_stop "$IT_RECV_PID"

read -r n failed slow max <<<"$(it_sql "select count(*), count(*) filter (where error is not null),
    count(*) filter (where duration_ms >= 1000), max(duration_ms) from kaudit.delivery_attempts")"
it_log "$nrows deliveries: $n attempts, $failed failed, $slow of 1 s or more, the slowest $max ms"
[ "$n" -eq "$nrows" ] && [ "$failed" -eq 0 ] && it_ok first-attempt-each ||
    it_fail first-attempt-each "$n attempts for $nrows rows, $failed failed: $(it_sql "select min(error) from kaudit.delivery_attempts")"
[ "$slow" -eq 0 ] && it_ok no-dropped-connection || it_fail no-dropped-connection "$slow attempts took 1 s or more"
n=$(it_received_in "$IT_DIR/small.jsonl" "/it/$IT_RUN/small" | cut -f1 | sort -u | wc -l)
[ "$n" -eq "$nrows" ] && it_ok receiver-saw-each || it_fail receiver-saw-each "$n of $nrows delivery ids"

it_done
