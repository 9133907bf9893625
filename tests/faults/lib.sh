# lib.sh — the fault suite's harness (sourced by tests/faults/faults.sh).
#
# The suite runs on services of its own, started here in its work dir: a
# Kafka broker (kafka.sh), a PostgreSQL (pg.sh, made durable) and a webhook
# receiver (receiver.py), so that it may stop and break them without
# touching the shared ones of tests/run.sh. Each fault gets its own
# database, topic, group and receiver path (fault_setup), and ends with
# fault_check, which compares PostgreSQL and the receiver with what
# `kaudit scan` finds in the events the fault sent, and appends one row to
# the table that fault_table prints:
#   losses      findings of scan missing from PostgreSQL, plus stored
#               findings to deliver that the receiver never got
#   duplicates  finding rows beyond one per (rule, dedup or audit_id), plus
#               findings the receiver got under more than one delivery id
#   repeats     requests repeated with the same delivery id (at-least-once
#               delivery after a crash; allowed)
# The checks themselves come from tests/integration/lib/common.sh.

# shellcheck shell=bash
IT_NAME=faults
# shellcheck source=../integration/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib/common.sh"

F_MOUNTS=()

f_cleanup() {
	local m
	for m in "${F_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null
	done
	tests/services/kafka.sh stop "$IT_DIR/broker" >/dev/null 2>&1
	tests/services/pg.sh stop "$IT_DIR" >/dev/null 2>&1
	it_cleanup
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# f_init: work dir, binary copy, corpus, the suite's broker, database and
# receiver. Sets KAUDIT_KAFKA_BROKERS, KAUDIT_PG_URL and KAUDIT_RECEIVER_LOG
# for the helpers of common.sh.
f_init() {
	[ -x "$KAUDIT" ] || it_abort setup "$KAUDIT not built"
	IT_DIR=$(mktemp -d /tmp/kaudit-faults.XXXXXX)
	trap f_cleanup EXIT
	cp "$KAUDIT" "$IT_DIR/kaudit" || it_abort setup "cannot copy $KAUDIT"
	KAUDIT=$IT_DIR/kaudit
	IT_CORPUS=$(it_corpus) || it_abort setup "corpus not found in ../shared/corpus or /work/shared/corpus"
	F_TABLE=$IT_DIR/table.tsv
	: >"$F_TABLE"
	mkdir -p "$IT_DIR/broker"
	tests/services/kafka.sh start "$IT_DIR/broker" >"$IT_DIR/brokers" 2>"$IT_DIR/kafka.err" &
	local kpid=$!
	KAUDIT_PG_URL=$(tests/services/pg.sh start "$IT_DIR" 2>"$IT_DIR/pg.err") ||
	    { cat "$IT_DIR/pg.err" >&2; it_abort setup "could not start the suite's PostgreSQL"; }
	# pg.sh trades durability for speed (synchronous_commit off) and stops
	# with -m immediate: a commit acknowledged just before a stop would be
	# gone with its offsets stored. A real server keeps what it acknowledged.
	it_sql "alter system set synchronous_commit = on" "$KAUDIT_PG_URL" >/dev/null &&
	    it_sql "select pg_reload_conf()" "$KAUDIT_PG_URL" >/dev/null ||
	    it_abort setup "could not make the suite's PostgreSQL durable"
	wait "$kpid" || { cat "$IT_DIR/kafka.err" >&2; it_abort setup "the suite's broker did not start"; }
	KAUDIT_KAFKA_BROKERS=$(cat "$IT_DIR/brokers")
	it_receiver_start hooks || it_abort setup "could not start a receiver"
	F_RECV_PORT=$IT_RECV_PORT
	F_RECV_PID=$IT_RECV_PID
	KAUDIT_RECEIVER_LOG=$IT_DIR/hooks.jsonl
	export KAUDIT_KAFKA_BROKERS KAUDIT_PG_URL KAUDIT_RECEIVER_LOG
}

# f_events FILE REAL_COPIES ATTACK_COPIES TAG: real cluster traffic (the
# kubeadm cluster of tests/fixtures plus the OpenShift and test-infra
# captures, few findings) and the Falco and Panther attack events (many
# findings), each copy with its own auditIDs.
f_events() {
	local out=$1 real=$2 attack=$3 tag=$4
	[ -s "$IT_DIR/kubeadm.jsonl" ] || python3 tests/noise/csv2audit.py \
	    tests/fixtures/corpus/hkerma-kubernetes-event-dataset/audit-logs.csv >"$IT_DIR/kubeadm.jsonl" ||
	    return 1
	{
		[ "$real" -gt 0 ] && python3 tests/integration/lib/replicate.py --copies "$real" --tag "$tag" \
		    "$IT_DIR/kubeadm.jsonl" \
		    "$IT_CORPUS"/openshift-cluster-logging-operator/test/functional/filters/apiaudit/vrl/testdata/audit_in.log \
		    "$IT_CORPUS"/kubernetes-test-infra-logviewer/parsing_test_events.jsonl
		[ "$attack" -gt 0 ] && python3 tests/integration/lib/replicate.py --copies "$attack" --tag "$tag" \
		    "$IT_CORPUS"/falcosecurity-falco-trace-files/test/trace_files/k8s_audit/*.json \
		    "$IT_CORPUS/panther-labs-panther-analysis/panther_k8s_audit_native.jsonl"
	} >"$out" 2>/dev/null
	[ -s "$out" ]
}

# f_setup NAME [EXTRA_YAML]: database, 3-partition topic, group, config and
# receiver path of one fault. Sets F_NAME, F_TOPIC, F_CFG, F_LOG, F_PATH,
# F_METRICS (a port) and IT_DB_URL. F_PROPS may add librdkafka properties.
f_setup() {
	F_NAME=$1
	local extra=${2:-} db=faults_${1//-/_}
	IT_DB_URL=${KAUDIT_PG_URL%/*}/$db
	it_newdb "$db" || it_abort "$F_NAME:setup" "could not create database $db"
	F_TOPIC=faults-$F_NAME-$$
	F_CFG=$IT_DIR/$F_NAME.yaml
	F_LOG=$IT_DIR/$F_NAME.log
	F_PATH=/f/$F_NAME-$$/
	F_METRICS=$(free_port)
	# A killed consumer keeps its partitions until its session times out
	# (the broker's minimum: 6 s); max.poll.interval.ms 10 s makes an
	# outage of a few seconds longer than it. queued.max.messages.kbytes
	# bounds what each consumer prefetches (librdkafka's default, 64 MiB,
	# per worker, would dominate the daemon's memory on a backlog).
	IT_KAFKA_PROPS="{\"auto.offset.reset\": \"earliest\", \"session.timeout.ms\": \"6000\",
  \"heartbeat.interval.ms\": \"1000\", \"max.poll.interval.ms\": \"10000\",
  \"queued.max.messages.kbytes\": \"16384\"${F_PROPS:+, $F_PROPS}}"
	it_config "$F_CFG" "$F_TOPIC" "faults-$F_NAME-$$" "ingest:
  workers: 2
  batch_max: ${F_BATCH:-100}
  batch_ms: 100
alert:
  webhooks:
    - { name: receiver, url: \"http://127.0.0.1:$F_RECV_PORT${F_PATH}hook\", timeout_ms: 2000 }
  backoff_ms: 200
  max_backoff_ms: 2000
metrics:
  listen: \"127.0.0.1:$F_METRICS\"
# a stop under the sanitizers may take longer than the 30 s default
shutdown_timeout: 100s
$extra"
	it_migrate "$F_CFG" || it_abort "$F_NAME:setup" "kaudit migrate failed"
	it_topic "$F_TOPIC" 3 >/dev/null 2>&1 || it_abort "$F_NAME:setup" "could not create topic $F_TOPIC"
	echo "  $(date -u +%H:%M:%S) fault $F_NAME" >&2
}

# f_stream FILE RATE: replays FILE into the fault's topic at RATE events/s
# in the background; sets F_STREAM (wait for it with f_stream_wait).
f_stream() {
	python3 tests/integration/lib/pace.py --rate "$2" "$1" |
	    kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$F_TOPIC" -X message.max.bytes=16000000 \
	    2>>"$IT_DIR/$F_NAME.kcat" &
	F_STREAM=$!
	IT_PIDS+=("$F_STREAM")
}

f_stream_wait() {
	wait "$F_STREAM" || it_fail "$F_NAME:produce" "the producer failed ($(tail -n 1 "$IT_DIR/$F_NAME.kcat"))"
}

# f_start: the daemon in the background; IT_PID.
f_start() {
	it_start "$F_CFG" "$F_LOG"
}

# f_metric NAME_PREFIX: the sum of the samples of a metric (lines starting
# with NAME_PREFIX), or nothing when /metrics does not answer.
f_metric() {
	curl -s -m 5 "http://127.0.0.1:$F_METRICS/metrics" 2>/dev/null |
	    awk -v p="$1" 'index($0, p) == 1 { s += $NF; n++ } END { if (n) printf "%d\n", s }'
}

# f_mem PID: "VmRSS VmHWM" of a process in kB.
f_mem() {
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r + 0, h + 0 }' "/proc/$1/status" 2>/dev/null
}

# f_want FILE: the (audit_id, rule) set scan finds, without the rules with
# memory (see it_plain), in $IT_DIR/$F_NAME.want; prints its size.
f_want() {
	it_scan_set "$1" | it_plain >"$IT_DIR/$F_NAME.want"
	wc -l <"$IT_DIR/$F_NAME.want"
}

# f_wait_done WANT LIMIT: until WANT findings of the rules without memory
# are stored and every delivery is done, at most LIMIT seconds.
f_wait_done() {
	it_wait_sql "select ((select count(*) from kaudit.findings where $(it_plain_sql)) >= $1
	    and not exists (select 1 from kaudit.outbox where state <> 'done'))::int" "$2"
}

# f_stop: SIGTERM and wait; a failure when the daemon does not exit 0.
f_stop() {
	kill -TERM "$IT_PID" 2>/dev/null
	it_wait_exit "$IT_PID" 120
	local rc=$?
	[ "$rc" -eq 0 ] && it_ok "$F_NAME:sigterm-exit-0" ||
	    { it_fail "$F_NAME:sigterm-exit-0" "exited $rc"; it_show_log "$F_LOG"; }
}

# f_check WHAT RUNS: compares the stored findings and the deliveries with
# scan's set; PASS/FAIL lines and one table row.
f_check() {
	local what=$1 runs=$2 d=$IT_DIR/$F_NAME lost extra dup n nd nout notdone dlost ddup reqs ids
	it_db_set | it_plain >"$d.got"
	it_same "$F_NAME:findings-equal-scan" "$d.want" "$d.got"
	lost=$(comm -23 "$d.want" "$d.got" | wc -l)
	extra=$(comm -13 "$d.want" "$d.got" | wc -l)
	read -r n nd <<<"$(it_sql "select count(*), count(distinct (rule, coalesce(dedup, audit_id))) from kaudit.findings")"
	dup=$((n - nd))
	[ "$dup" -eq 0 ] && it_ok "$F_NAME:no-duplicate-findings" ||
	    it_fail "$F_NAME:no-duplicate-findings" "$n rows for $nd distinct findings"

	read -r nout notdone <<<"$(it_sql "select count(*), count(*) filter (where state <> 'done') from kaudit.outbox")"
	it_alerting_ids >"$d.alerting"
	[ "$nout" = "$(wc -l <"$d.alerting")" ] && [ "$notdone" = 0 ] && it_ok "$F_NAME:outbox-all-done" ||
	    it_fail "$F_NAME:outbox-all-done" "$(wc -l <"$d.alerting") findings to deliver, $nout outbox rows, $notdone not done"
	# One finding id per request, then per distinct delivery id.
	it_received_ids "$F_PATH" >"$d.received-all"
	it_received "$F_PATH" | cut -f1 | LC_ALL=C sort -u >"$d.ids"
	LC_ALL=C join -t "$(printf '\t')" "$d.ids" "$IT_DIR/.outbox-map" | cut -f2 | LC_ALL=C sort >"$d.by-id"
	LC_ALL=C sort -u "$d.by-id" >"$d.received"
	it_same "$F_NAME:every-finding-delivered" "$d.alerting" "$d.received"
	dlost=$(comm -23 "$d.alerting" "$d.received" | wc -l)
	ddup=$(($(wc -l <"$d.by-id") - $(wc -l <"$d.received")))
	[ "$ddup" -eq 0 ] && it_ok "$F_NAME:one-delivery-id-per-finding" ||
	    it_fail "$F_NAME:one-delivery-id-per-finding" "$ddup findings delivered under a second delivery id"
	reqs=$(wc -l <"$d.received-all")
	ids=$(wc -l <"$d.ids")
	[ "$extra" -gt 0 ] && what+="; $extra findings scan does not give"
	printf '%s\t%s\t%s\t%d (%d findings, %d deliveries)\t%d (%d findings, %d deliveries)\t%d\n' \
	    "$F_NAME" "$what" "$runs" $((lost + dlost)) "$lost" "$dlost" $((dup + ddup)) "$dup" "$ddup" \
	    $((reqs - ids)) >>"$F_TABLE"
	it_log "$F_NAME: $(wc -l <"$d.want") findings expected, $n stored, $nout deliveries, $reqs requests"
}

# f_skip FAULT WHAT WHY: a fault that could not run; a failure when CI=true.
f_skip() {
	printf '%s\t%s\tSKIPPED: %s\t-\t-\t-\n' "$1" "$2" "$3" >>"$F_TABLE"
	if [ "${CI:-}" = true ]; then
		it_fail "$1:skipped" "$3"
	else
		echo "SKIP faults:$1: $3"
	fi
}

# f_table: the table of every fault run, as Markdown.
f_table() {
	echo "| fault | checked | runs | losses | duplicates | repeats (same delivery id) |"
	echo "|---|---|---|---|---|---|"
	awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$F_TABLE"
}
