#!/usr/bin/env bash
# alert_ratelimit.sh — a webhook's rate_limit holds across two kaudit
# processes sharing the outbox, and the excess waits, never dropped.
#
# Process A ingests the events; process B only alerts (its topic stays
# empty); both deliver to "limited" (rate_limit 10, each with its own
# X-Process header). 80 findings are due at once. The receiver must see at
# most 10 in any one second (plus the bucket's one token, and one more of
# tolerance for timing), both processes must have sent some, and every
# finding must arrive: it takes about 8 s. With a limit held per process,
# the two would send up to 20 a second.
IT_NAME=alert_ratelimit
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

rate=10
topic=it-alert-ratelimit-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
python3 tests/integration/lib/replicate.py --copies 40 --tag ratelimit \
    "$falco/exec_pod.json" >"$IT_DIR/events.jsonl" 2>/dev/null
nrows=$(($(wc -l <"$IT_DIR/events.jsonl") * 2))
hook=$KAUDIT_RECEIVER_URL/it/$IT_RUN/limited
conf() {	# file topic group process
	it_config "$1" "$2" "$3" "alert:
  webhooks:
    - { name: limited, url: \"$hook\", rate_limit: $rate, headers: { X-Process: $4 },
        rules: [k8s.exec.pod, k8s.exec.shell] }
  backoff_ms: 100
  max_backoff_ms: 1000"
}
conf "$IT_DIR/a.yaml" "$topic" "it-alert-ratelimit-a-$$" A
conf "$IT_DIR/b.yaml" "$topic-empty" "it-alert-ratelimit-b-$$" B
it_migrate "$IT_DIR/a.yaml" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_topic "$topic-empty" 1 || it_abort produce "could not create topic $topic-empty"

it_start "$IT_DIR/b.yaml" "$IT_DIR/b.log"
pid_b=$IT_PID
it_start "$IT_DIR/a.yaml" "$IT_DIR/a.log"
pid_a=$IT_PID
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
it_wait_sql "select (count(*) = $nrows and count(*) filter (where state <> 'done') = 0)::int
    from kaudit.outbox" 40 || it_fail delivered "$(it_sql "select state, count(*) from kaudit.outbox group by 1")"
kill -TERM "$pid_a" "$pid_b"
it_wait_exit "$pid_a" 20 || it_fail daemon-exit "A: no clean exit after SIGTERM"
it_wait_exit "$pid_b" 20 || it_fail daemon-exit "B: no clean exit after SIGTERM"

# Request times (seconds) and the process of each, from the receiver's log.
jq -r --arg p "/it/$IT_RUN/limited" 'select(.path | startswith($p)) |
    [.time, ([.headers | to_entries[] | select(.key | ascii_downcase == "x-process") | .value][0] // "-")] | @tsv' \
    "$KAUDIT_RECEIVER_LOG" >"$IT_DIR/times"
read -r reqs peak span na nb <<<"$(python3 - "$IT_DIR/times" <<'PY'
import sys
from datetime import datetime, timezone
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
t = sorted(datetime.strptime(r[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() for r in rows)
peak, j = 0, 0
for i in range(len(t)):
    while t[i] - t[j] >= 1.0:
        j += 1
    peak = max(peak, i - j + 1)
span = t[-1] - t[0] if t else 0
print(len(t), peak, "%.1f" % span, sum(r[1] == "A" for r in rows), sum(r[1] == "B" for r in rows))
PY
)"
it_log "$reqs requests over $span s, at most $peak in any second (rate_limit $rate); process A sent $na, B $nb"
[ "$reqs" -eq "$nrows" ] && it_ok each-delivered-once || it_fail each-delivered-once "$reqs requests for $nrows rows"
[ "$peak" -le $((rate + 2)) ] && it_ok rate-held || it_fail rate-held "$peak requests in one second (rate_limit $rate)"
awk -v s="$span" -v n="$nrows" -v r="$rate" 'BEGIN { exit !(s >= (n - 1 - r / 10) / r * 0.9) }' &&
    it_ok excess-waited || it_fail excess-waited "$nrows requests in $span s"
[ "$na" -gt 0 ] && [ "$nb" -gt 0 ] && it_ok both-processes-sent ||
    it_fail both-processes-sent "A sent $na, B $nb"

it_done
