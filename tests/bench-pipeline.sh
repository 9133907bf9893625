#!/usr/bin/env bash
# bench-pipeline.sh — `make bench-pipeline`: end-to-end throughput of the
# daemon on the real services. The input is real cluster traffic: the 16k
# events of a kubeadm cluster (tests/fixtures, hkerma dataset) plus the
# OpenShift and test-infra captures, COPIES times over (default 6) with fresh
# auditIDs, produced to a 3-partition topic; then `kaudit run` (2 workers,
# batches of 500) until the group has committed everything. Prints events/s
# through Kafka -> rules -> PostgreSQL, measured from the daemon's first to
# last database commit, and findings/s.
set -u
cd "$(dirname "$0")/.." || exit 1
export KAUDIT=${KAUDIT:-bin/kaudit}
copies=${COPIES:-6}
[ -x "$KAUDIT" ] || { echo "bench-pipeline: build first (make)" >&2; exit 1; }

env_file=$(tests/services/up.sh) || exit 1
# shellcheck disable=SC1090
. "$env_file"
IT_NAME=bench
# shellcheck source=tests/integration/lib/common.sh
. tests/integration/lib/common.sh
it_init
trap 'it_cleanup; tests/services/down.sh "$env_file" >/dev/null 2>&1' EXIT

topic=bench-$$
it_topic "$topic" 3 >/dev/null 2>&1 || true
python3 tests/noise/csv2audit.py \
    tests/fixtures/corpus/hkerma-kubernetes-event-dataset/audit-logs.csv >"$IT_DIR/kubeadm.jsonl"
python3 tests/integration/lib/replicate.py --copies "$copies" --tag bench "$IT_DIR/kubeadm.jsonl" \
    "$IT_CORPUS"/openshift-cluster-logging-operator/test/functional/filters/apiaudit/vrl/testdata/audit_in.log \
    "$IT_CORPUS"/kubernetes-test-infra-logviewer/parsing_test_events.jsonl \
    >"$IT_DIR/events.jsonl" 2>/dev/null
events=$(wc -l <"$IT_DIR/events.jsonl")
bytes=$(wc -c <"$IT_DIR/events.jsonl")
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || { echo "produce failed" >&2; exit 1; }
it_config "$IT_DIR/kaudit.yaml" "$topic" "bench-$$" "ingest:
  workers: 2
  batch_max: 500
  batch_ms: 200"
it_migrate "$IT_DIR/kaudit.yaml" || exit 1

start=$(date +%s.%N)
it_run "$IT_DIR/kaudit.yaml" "$IT_DIR/run.log" 900 --idle-exit 1
rc=$?
end=$(date +%s.%N)
span=$(it_sql "select extract(epoch from max(created_at) - min(created_at)) from kaudit.findings")
findings=$(it_sql "select count(*) from kaudit.findings")
delivered=$(it_sql "select count(*) from kaudit.outbox where state = 'done'")
awk -v e="$events" -v b="$bytes" -v f="$findings" -v s="$span" -v w0="$start" -v w1="$end" \
    -v d="$delivered" -v rc="$rc" 'BEGIN {
	printf "pipeline: %d events (%.1f MB) -> %d findings, %d webhook deliveries; daemon exit %d\n", e, b / 1e6, f, d, rc
	printf "  first to last findings commit: %.2f s: %.0f events/s, %.1f MB/s, %.0f findings/s\n", s, e / s, b / 1e6 / s, f / s
	printf "  whole run (group join, drain check and alert delivery included): %.2f s\n", w1 - w0
}'
grep -E 'messages [0-9]+ events' "$IT_DIR/run.log" | tail -n 1 | sed 's/^/  /'
