# common.sh — shared by tests/integration/*.sh (sourced, not run).
#
# Each test gets its own database (it_NAME), topic, consumer group and receiver
# path (/it/NAME-PID/...), so tests share the services from tests/services/up.sh
# but none of their rows. The service addresses come from the environment
# that tests/run.sh exported from up.sh's env file.
#
# it_ok CHECK / it_fail CHECK WHY print "PASS NAME:CHECK" / "FAIL NAME:CHECK: WHY";
# it_done exits non-zero when any check failed.

# shellcheck shell=bash
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.." || exit 1

IT_NAME=${IT_NAME:?IT_NAME must be set before sourcing common.sh}
IT_FAILS=0
IT_PIDS=()
KAUDIT=${KAUDIT:-bin/kaudit}

it_ok() { echo "PASS $IT_NAME:$1"; }
it_fail() { echo "FAIL $IT_NAME:$1: $2"; IT_FAILS=$((IT_FAILS + 1)); }
it_log() { echo "  $IT_NAME: $*" >&2; }

# Ends the test at once: the remaining checks cannot run.
it_abort() {
	it_fail "$1" "$2"
	exit 1
}

it_cleanup() {
	local p
	for p in "${IT_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ "${KAUDIT_KEEP:-0}" = 1 ]; then
		it_log "kept $IT_DIR"
	else
		rm -rf "$IT_DIR"
	fi
}

it_done() {
	[ "$IT_FAILS" -eq 0 ]
	exit $?
}

# The shared corpus sits beside the clone; a copy on this machine otherwise.
it_corpus() {
	local d
	for d in ${KAUDIT_CORPUS:-} ../shared/corpus /work/shared/corpus; do
		[ -d "$d/falcosecurity-falco-trace-files" ] && { echo "$d"; return 0; }
	done
	return 1
}

# it_init: checks the environment, makes a work dir and a fresh database.
it_init() {
	local v
	for v in KAUDIT_KAFKA_BROKERS KAUDIT_PG_URL KAUDIT_RECEIVER_URL KAUDIT_RECEIVER_LOG; do
		[ -n "${!v:-}" ] || it_abort setup "$v is not set (run through tests/run.sh, which starts tests/services/up.sh)"
	done
	[ -x "$KAUDIT" ] || it_abort setup "$KAUDIT not built"
	IT_DIR=$(mktemp -d "/tmp/kaudit-it-$IT_NAME.XXXXXX")
	trap it_cleanup EXIT
	# A private copy: scan and run must be the same binary even when the
	# tree is rebuilt while the test runs.
	cp "$KAUDIT" "$IT_DIR/kaudit" || it_abort setup "cannot copy $KAUDIT"
	KAUDIT=$IT_DIR/kaudit
	IT_CORPUS=$(it_corpus) || it_abort setup "corpus not found in ../shared/corpus or /work/shared/corpus"
	IT_DB=it_${IT_NAME//-/_}
	IT_DB_URL=${KAUDIT_PG_URL%/*}/$IT_DB
	it_newdb "$IT_DB" || it_abort setup "could not create database $IT_DB"
	# Receiver paths carry the pid too: a rerun against the same receiver
	# must not see the requests (or the /flaky counters) of an earlier run.
	IT_RUN=$IT_NAME-$$
	IT_HOOK=$KAUDIT_RECEIVER_URL/it/$IT_RUN/hook
}

it_newdb() {	# name
	psql -X -q -v ON_ERROR_STOP=1 "$KAUDIT_PG_URL" -c "set client_min_messages to warning" \
	    -c "drop database if exists $1" -c "create database $1" >/dev/null
}

# it_sql SQL [URL]: one query, unaligned, tab-separated, no header.
it_sql() {
	psql -X -A -t -q -F $'\t' -v ON_ERROR_STOP=1 "${2:-$IT_DB_URL}" -c "$1"
}

# it_config FILE TOPIC GROUP [EXTRA_YAML]: writes a daemon config. EXTRA_YAML
# is appended and may hold ingest/alert overrides (the keys below are left out
# when EXTRA_YAML has them). IT_KAFKA_PROPS (a YAML flow mapping) replaces the
# librdkafka properties.
it_config() {
	local file=$1 topic=$2 group=$3 extra=${4:-} props=${IT_KAFKA_PROPS:-}
	[ -n "$props" ] || props='{"auto.offset.reset": "earliest"}'
	{
		echo "cluster: it-$IT_NAME"
		echo "kafka:"
		echo "  brokers: \"$KAUDIT_KAFKA_BROKERS\""
		echo "  topics: [\"$topic\"]"
		echo "  group: \"$group\""
		echo "  properties: $props"
		echo "postgres:"
		echo "  url: \"$IT_DB_URL\""
		echo "log_level: info"
		if ! grep -q '^ingest:' <<<"$extra"; then
			echo "ingest:"
			echo "  workers: 2"
			echo "  batch_max: 200"
			echo "  batch_ms: 100"
		fi
		if ! grep -q '^alert:' <<<"$extra"; then
			echo "alert:"
			echo "  webhooks:"
			echo "    - name: receiver"
			echo "      url: \"$IT_HOOK\""
			echo "  max_attempts: 8"
			echo "  backoff_ms: 200"
		fi
		[ -n "$extra" ] && printf '%s\n' "$extra"
	} >"$file"
}

# it_migrate CONFIG: applies the schema to this test's database.
it_migrate() {
	"$KAUDIT" migrate -c "$1" >"$IT_DIR/migrate.log" 2>&1 || {
		sed 's/^/    /' "$IT_DIR/migrate.log" >&2
		return 1
	}
}

# it_topic NAME PARTITIONS: creates a topic (kafka.sh uses TopicCommand).
it_topic() {
	tests/services/kafka.sh topic "$KAUDIT_KAFKA_BROKERS" "$1" "$2"
}

# it_produce_lines TOPIC FILE [kcat args]: one message per non-empty line.
it_produce_lines() {
	local topic=$1 file=$2
	shift 2
	# -a: a line that is not UTF-8 (hostile input) is a line, not "binary"
	grep -a -v '^[[:space:]]*$' "$file" |
	    kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -X message.max.bytes=16000000 "$@"
}

# it_produce_files TOPIC [kcat args] -- FILE...: one message per file.
it_produce_files() {
	local topic=$1 args=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -X message.max.bytes=16000000 \
	    "${args[@]}" "$@"
}

# it_run CONFIG LOG TIMEOUT [run args]: runs the daemon in the foreground,
# bounded by TIMEOUT seconds; returns its exit status (124 on timeout).
it_run() {
	local cfg=$1 log=$2 limit=$3
	shift 3
	timeout -k 5 "$limit" "$KAUDIT" run -c "$cfg" "$@" >>"$log" 2>&1
}

# it_run_idle CHECK CONFIG LOG LIMIT IDLE: the daemon with --idle-exit IDLE,
# stopped after LIMIT seconds; passes CHECK when it exits 0, else fails it
# and shows the log. Returns the exit status.
it_run_idle() {
	local name=$1 cfg=$2 log=$3 limit=$4 idle=$5 rc
	it_run "$cfg" "$log" "$limit" --idle-exit "$idle"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		it_ok "$name"
	else
		it_fail "$name" "kaudit run --idle-exit $idle exited $rc (limit $limit s)"
		it_show_log "$log"
	fi
	return "$rc"
}

# it_gateway_start CONFIG LOG: kaudit gateway in the background; sets
# IT_GW_PID and IT_GW_PORT (its HTTPS port, from the log) once it listens.
# Returns 1 when it does not within 10 s.
it_gateway_start() {
	local i
	"$KAUDIT" gateway -c "$1" >>"$2" 2>&1 &
	IT_GW_PID=$!
	IT_PIDS+=("$IT_GW_PID")
	for ((i = 0; i < 100; i++)); do
		IT_GW_PORT=$(grep -o 'port [0-9]*), POST' "$2" | tail -n 1 | grep -o '[0-9]*')
		[ -n "$IT_GW_PORT" ] && return 0
		kill -0 "$IT_GW_PID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# it_start CONFIG LOG: the daemon in the background; sets IT_PID.
it_start() {
	"$KAUDIT" run -c "$1" >>"$2" 2>&1 &
	IT_PID=$!
	IT_PIDS+=("$IT_PID")
}

# it_wait_exit PID SECONDS: waits for a background daemon; its exit status,
# or 124 (after killing it) when it outlives SECONDS.
it_wait_exit() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			return $?
		fi
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 124
}

# it_term_timed PID SECONDS: sends SIGTERM and waits as it_wait_exit does;
# sets IT_RC to the exit status and IT_MS to the milliseconds it took.
it_term_timed() {
	local t0
	t0=$(date +%s%N)
	kill -TERM "$1"
	it_wait_exit "$1" "$2"
	IT_RC=$?
	IT_MS=$((($(date +%s%N) - t0) / 1000000))
}

# it_wait_sql SQL SECONDS: polls until SQL returns a non-empty, non-zero value.
it_wait_sql() {
	local i v
	for ((i = 0; i < $2 * 5; i++)); do
		v=$(it_sql "$1" 2>/dev/null)
		[ -n "$v" ] && [ "$v" != 0 ] && return 0
		sleep 0.2
	done
	return 1
}

# it_scan_set FILE...: the sorted (audit_id, rule) set `kaudit scan` prints.
it_scan_set() {
	"$KAUDIT" scan "$@" 2>>"$IT_DIR/scan.err" | jq -r '[.audit_id, .rule] | @tsv' | sort -u
}

# it_plain: filters an (audit_id, rule) set on stdin down to the rules
# without memory across events. A suppressed rule's finding is made by the
# first of its matches to arrive and a correlation's by the event that
# completes it: which one that is depends on the order events arrive in,
# file order for `kaudit scan`, several partitions read in parallel for the
# daemon. So (audit_id, rule) sets are compared on the other rules here;
# stateful.sh compares the stateful findings by their keys and counts.
it_plain() {
	awk -F '\t' -v ids="$(it_stateful_ids | tr '\n' ' ')" '
	    BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
	    !($2 in skip)'
}

# it_stateful_ids: the ids of the rules that remember (suppress,
# correlations), one a line.
it_stateful_ids() {
	"$KAUDIT" rules list | awk 'NR > 1 && (/ once per / ||
	    / (event_count|value_count|temporal|temporal_ordered|first_seen) /) { print $1 }'
}

# it_plain_sql: an SQL condition on kaudit.findings that holds for the
# findings it_plain keeps.
it_plain_sql() {
	local ids
	ids=$(it_stateful_ids | sed "s/.*/'&'/" | paste -sd, -)
	echo "rule not in (${ids:-''})"
}

# it_alerting: filters an (audit_id, rule) set on stdin down to the rules
# whose findings are delivered (not `alert: false`).
it_alerting() {
	local ids
	ids=$("$KAUDIT" rules list | awk 'NR > 1 && / no alert/ { print $1 }')
	awk -F '\t' -v ids="$(echo "$ids" | tr '\n' ' ')" '
	    BEGIN { n = split(ids, a, " "); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
	    !($2 in skip)'
}

# it_alerting_ids: the ids of the stored findings that are delivered (rules
# without `alert: false`), sorted. Counts every finding: one event may make
# several stateful findings of one rule (one per correlation key), which an
# (audit_id, rule) set would count once.
it_alerting_ids() {
	it_sql "select id, rule from kaudit.findings" | it_alerting | cut -f1 | LC_ALL=C sort
}

# it_received_ids PATH_PREFIX: the finding id of every request the receiver
# recorded under PATH_PREFIX (through its delivery id), one a line, sorted:
# a finding delivered twice appears twice.
it_received_ids() {
	it_received "$1" | cut -f1 | LC_ALL=C sort >"$IT_DIR/.received-ids"
	it_sql "select id, finding_id from kaudit.outbox" | LC_ALL=C sort >"$IT_DIR/.outbox-map"
	LC_ALL=C join -t "$(printf '\t')" "$IT_DIR/.received-ids" "$IT_DIR/.outbox-map" | cut -f2 | LC_ALL=C sort
}

# it_db_set: the sorted (audit_id, rule) set in kaudit.findings.
it_db_set() {
	it_sql "select audit_id, rule from kaudit.findings" | sort -u
}

# it_received PATH_PREFIX: requests the receiver recorded under
# $KAUDIT_RECEIVER_URL/PATH_PREFIX, one per line: delivery id, audit_id, rule
# (a null audit_id reads as "", as in scan_set and the audit_id column).
it_received() {
	it_received_in "$KAUDIT_RECEIVER_LOG" "$1"
}

# it_received_in LOG PATH_PREFIX: the same from another receiver's log.
it_received_in() {
	jq -r --arg p "$2" '
	    select(.path | startswith($p)) |
	    ([.headers | to_entries[] | select(.key | ascii_downcase == "x-kaudit-delivery") | .value][0] // "-") as $id |
	    (.body | fromjson? // {}) as $f |
	    [$id, ($f.audit_id // ""), ($f.rule // "-")] | @tsv' "$1"
}

# it_receiver_start NAME [PORT [receiver.py args...]]: a receiver of this
# test's own, logging to $IT_DIR/NAME.jsonl, on PORT (0 or none: a free
# one); sets IT_RECV_PORT and IT_RECV_PID. Started again on the same port
# after it_receiver_stop, it stands for a webhook that was down and is back.
it_receiver_start() {
	local name=$1 port=${2:-0} try i
	shift
	[ $# -gt 0 ] && shift
	for ((try = 0; try < 20; try++)); do
		: >"$IT_DIR/$name.port"
		python3 tests/services/receiver.py --port "$port" --log "$IT_DIR/$name.jsonl" "$@" \
		    >"$IT_DIR/$name.port" 2>>"$IT_DIR/$name.err" </dev/null &
		IT_RECV_PID=$!
		IT_PIDS+=("$IT_RECV_PID")
		for ((i = 0; i < 100; i++)); do
			IT_RECV_PORT=$(head -n 1 "$IT_DIR/$name.port" 2>/dev/null)
			[ -n "$IT_RECV_PORT" ] && return 0
			kill -0 "$IT_RECV_PID" 2>/dev/null || break
			sleep 0.1
		done
		# the port may still be held by the receiver just stopped
		sleep 0.25
	done
	return 1
}

# it_receiver_stop PID: stops a receiver of it_receiver_start; returns once
# it is gone and its port refuses connections.
it_receiver_stop() {
	local i
	kill "$1" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# it_same CHECK WANT_FILE GOT_FILE: passes when both sorted sets are equal and
# WANT is not empty; otherwise says what differs.
it_same() {
	local check=$1 want=$2 got=$3 missing extra
	if [ ! -s "$want" ]; then
		it_fail "$check" "expected set is empty"
		return
	fi
	missing=$(comm -23 "$want" "$got" | wc -l)
	extra=$(comm -13 "$want" "$got" | wc -l)
	if [ "$missing" -eq 0 ] && [ "$extra" -eq 0 ]; then
		it_ok "$check"
		return
	fi
	local why
	why="$(wc -l <"$want") expected, $missing missing"
	[ "$missing" -gt 0 ] && why+=" (e.g. $(comm -23 "$want" "$got" | head -n 1 | tr '\t' ' '))"
	why+=", $extra unexpected"
	[ "$extra" -gt 0 ] && why+=" (e.g. $(comm -13 "$want" "$got" | head -n 1 | tr '\t' ' '))"
	it_fail "$check" "$why"
}

# it_show_log FILE: the tail of a daemon log, on stderr (kept by tests/run.sh).
it_show_log() {
	echo "  --- $1 (tail)" >&2
	tail -n 30 "$1" | sed 's/^/    /' >&2
}
