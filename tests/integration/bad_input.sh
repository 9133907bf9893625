#!/usr/bin/env bash
# bad_input.sh — bad messages are recorded and never stop the daemon.
#
# One partition, in this order: truncated JSON, binary garbage, a bare number,
# Falco's {"kind": 0} regression document, an object that is not an event, a
# real event padded past ingest.max_message_bytes, then a good event. The good
# event's findings must land, each bad message must have a row in
# kaudit.ingest_errors at its partition and offset, and the daemon must run on
# to a clean --idle-exit.
IT_NAME=bad_input
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-bad-input-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
m=$IT_DIR/msg
mkdir -p "$m"
jq -c '.auditID += "-truncated"' "$falco/exec_pod.json" | head -c 150 >"$m/0-truncated"
printf '\x00\x01\xfe\xff garbage \x80\x81{' >"$m/1-garbage"
printf '42' >"$m/2-number"
cp "$falco/fal_01_003.json" "$m/3-kind-zero"
printf '{"hello":"world","items":3}' >"$m/4-not-an-event"
# 80 KiB of annotation: over the 64 KiB cap below, under Kafka's limits.
jq -c --arg pad "$(head -c 81920 /dev/zero | tr '\0' x)" \
    '.auditID += "-oversize" | .annotations.padding = $pad' "$falco/exec_pod.json" >"$m/5-oversize"
jq -c '.auditID += "-good"' "$falco/exec_pod.json" >"$m/6-good"
bad=(0 1 2 3 4 5)

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-bad-input-$$" "ingest:
  workers: 2
  max_message_bytes: 65536
  batch_max: 100
  batch_ms: 100"
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_files "$topic" -p 0 -- "$m"/0-* "$m"/1-* "$m"/2-* "$m"/3-* "$m"/4-* "$m"/5-* "$m"/6-* ||
    it_abort produce "kcat failed"
# The offsets the checks below rely on: message i at offset i.
sizes=$(kcat -C -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -p 0 -e -q -f '%o:%S\n' | tr '\n' ' ')
want_sizes=""
i=0
for f in "$m"/*; do want_sizes+="$i:$(wc -c <"$f") "; i=$((i + 1)); done
[ "$sizes" = "$want_sizes" ] || it_abort produce "topic holds '$sizes', expected '$want_sizes'"

it_scan_set "$m/6-good" >"$IT_DIR/want"
log=$IT_DIR/daemon.log
it_run_idle daemon-survives "$cfg" "$log" 90 5

it_sql "select audit_id, rule from kaudit.findings where audit_id like '%-good'" | sort -u >"$IT_DIR/got"
it_same good-event-finding "$IT_DIR/want" "$IT_DIR/got"

n=$(it_sql "select count(*) from kaudit.findings where audit_id not like '%-good'")
[ "$n" = 0 ] && it_ok no-finding-from-bad-input ||
    it_fail no-finding-from-bad-input "$n findings from messages that should have been rejected"

it_sql "select partition, \"offset\", error from kaudit.ingest_errors where topic = '$topic' order by 2" \
    >"$IT_DIR/errors"
names=(truncated-json garbage number kind-zero not-an-event oversize)
for o in "${bad[@]}"; do
	check=ingest-error-${names[$o]}
	row=$(awk -F'\t' -v o="$o" '$1 == 0 && $2 == o' "$IT_DIR/errors" | head -n 1)
	if [ -n "$row" ] && [ -n "$(cut -f3 <<<"$row")" ]; then
		it_ok "$check"
		it_log "offset $o: $(cut -f3 <<<"$row")"
	else
		it_fail "$check" "no kaudit.ingest_errors row for partition 0 offset $o"
	fi
done
n=$(awk -F'\t' '$2 == 6' "$IT_DIR/errors" | wc -l)
[ "$n" = 0 ] && it_ok good-event-no-error || it_fail good-event-no-error "the good event has $n error rows"

it_done
