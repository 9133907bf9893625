#!/usr/bin/env bash
# restart.sh — a daemon stopped mid-stream loses nothing and duplicates
# nothing once it runs again.
#
# A few thousand distinct events (real Falco and Panther events, each copy with
# its own auditID) go to a 3-partition topic. The daemon is stopped once some
# findings are stored — with SIGKILL (no chance to clean up: offsets stored
# only after the database commit must make the replay exact) and with SIGTERM
# (must exit 0) — then run again with --idle-exit. The findings must equal
# what `kaudit scan` finds in the same events, each stored once, each
# delivered (after SIGKILL a delivery may repeat: at-least-once; after SIGTERM
# it must not).
IT_NAME=restart
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
panther=$IT_CORPUS/panther-labs-panther-analysis
events=$IT_DIR/events.jsonl
python3 tests/integration/lib/replicate.py --copies 17 --tag restart \
    "$falco"/*.json "$panther/panther_k8s_audit_native.jsonl" >"$events" ||
    it_abort setup "could not build the event file"
nev=$(wc -l <"$events")
it_scan_set "$events" >"$IT_DIR/want"
it_plain <"$IT_DIR/want" >"$IT_DIR/want-plain"
it_log "$nev events, $(wc -l <"$IT_DIR/want") findings expected"

# round VARIANT SIGNAL: one topic, database and receiver path per variant.
round() {
	local v=$1 sig=$2 db url topic cfg log rc at_stop final hook
	db=it_restart_${v}
	url=${KAUDIT_PG_URL%/*}/$db
	topic=it-restart-$v-$$
	hook=$KAUDIT_RECEIVER_URL/it/$IT_RUN-$v/hook
	cfg=$IT_DIR/$v.yaml
	log=$IT_DIR/$v.log
	it_newdb "$db" || { it_fail "$v:setup" "could not create database $db"; return; }
	IT_DB_URL=$url
	# A killed consumer leaves the group only when its session times out;
	# until then it keeps its partitions and a restarted --idle-exit daemon
	# would go idle without them. The broker's minimum session: 6 s.
	IT_KAFKA_PROPS='{"auto.offset.reset": "earliest", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}'
	# Small batches, so the stop lands between many transactions.
	it_config "$cfg" "$topic" "it-restart-$v-$$" "ingest:
  workers: 2
  batch_max: 20
  batch_ms: 50
alert:
  webhooks:
    - name: receiver
      url: \"$hook\"
  max_attempts: 8
  backoff_ms: 200
# the test's limit on a stop, not shutdown_timeout's default (30 s): under
# the sanitizers a state owner's close has taken longer than that
shutdown_timeout: 100s"
	it_migrate "$cfg" || { it_fail "$v:migrate" "kaudit migrate failed"; return; }
	it_topic "$topic" 3 || { it_fail "$v:produce" "could not create topic $topic"; return; }
	it_produce_lines "$topic" "$events" || { it_fail "$v:produce" "kcat failed"; return; }

	it_start "$cfg" "$log"
	if ! it_wait_sql "select count(*) from kaudit.findings" 60; then
		it_fail "$v:first-findings" "no finding stored within 60 s"
		it_show_log "$log"
		kill -KILL "$IT_PID" 2>/dev/null
		return
	fi
	kill -"$sig" "$IT_PID"
	it_wait_exit "$IT_PID" 30
	rc=$?
	[ "$sig" = KILL ] && sleep 8
	at_stop=$(it_sql "select count(*) from kaudit.findings")
	if [ "$sig" = TERM ]; then
		[ "$rc" -eq 0 ] && it_ok "$v:sigterm-exit-0" ||
		    { it_fail "$v:sigterm-exit-0" "exited $rc after SIGTERM"; it_show_log "$log"; }
	fi

	echo "--- restart" >>"$log"
	it_run_idle "$v:restart-exit-0" "$cfg" "$log" 120 5
	final=$(it_sql "select count(*) from kaudit.findings")
	if [ "$at_stop" -lt "$final" ]; then
		it_ok "$v:stopped-mid-stream"
	else
		it_fail "$v:stopped-mid-stream" "all $final findings were in before the stop: the test did not interrupt anything"
	fi
	it_log "$v: $at_stop findings at the stop, $final at the end"

	it_db_set >"$IT_DIR/$v.got"
	it_plain <"$IT_DIR/$v.got" >"$IT_DIR/$v.got-plain"
	it_same "$v:findings-equal-scan" "$IT_DIR/want-plain" "$IT_DIR/$v.got-plain"
	read -r n nd <<<"$(it_sql "select count(*), count(distinct (rule, coalesce(dedup, audit_id))) from kaudit.findings")"
	[ "$n" = "$nd" ] && it_ok "$v:no-duplicate-findings" ||
	    it_fail "$v:no-duplicate-findings" "$n rows for $nd distinct findings"

	read -r nout nnotdone <<<"$(it_sql "select count(*), count(*) filter (where state <> 'done') from kaudit.outbox")"
	it_alerting_ids >"$IT_DIR/$v.alerting-ids"
	nalert=$(wc -l <"$IT_DIR/$v.alerting-ids")
	[ "$nout" = "$nalert" ] && [ "$nnotdone" = 0 ] && it_ok "$v:outbox-all-done" ||
	    it_fail "$v:outbox-all-done" "$nalert findings to deliver, $nout outbox rows, $nnotdone not done"

	it_received "/it/$IT_RUN-$v/" >"$IT_DIR/$v.received"
	it_received_ids "/it/$IT_RUN-$v/" >"$IT_DIR/$v.received-all"
	LC_ALL=C sort -u "$IT_DIR/$v.received-all" >"$IT_DIR/$v.received-set"
	it_same "$v:every-finding-delivered" "$IT_DIR/$v.alerting-ids" "$IT_DIR/$v.received-set"
	dups=$(($(wc -l <"$IT_DIR/$v.received-all") - $(wc -l <"$IT_DIR/$v.received-set")))
	if [ "$sig" = TERM ]; then
		[ "$dups" -eq 0 ] && it_ok "$v:delivered-once" ||
		    it_fail "$v:delivered-once" "$dups deliveries repeated after a clean stop"
	else
		it_log "$v: $dups deliveries repeated after SIGKILL (at-least-once)"
	fi
}

round kill KILL
round term TERM
it_done
