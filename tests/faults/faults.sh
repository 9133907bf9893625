#!/usr/bin/env bash
# faults.sh — the fault suite: the daemon under crashes, outages and a full
# disk loses no finding and stores none twice, and every delivery arrives.
#
#   faults.sh short   the `make check` version (a few minutes)
#   faults.sh soak    `make soak`: longer outages, more crashes, a 2M-event
#                     backlog; the table is also written to
#                     $KAUDIT_FAULTS_TABLE (default build/faults-table.md)
#
# Faults, each on the suite's own broker, PostgreSQL and receiver (lib.sh):
#   crash-loop      50k events streamed while the daemon is SIGKILLed at
#                   random points and started again (3 / 20 times)
#   broker-restart  the broker stopped mid-stream (20 s / 30 s: longer than
#                   max.poll.interval.ms, so the group drops the workers)
#                   and started again
#   pg-outage       PostgreSQL stopped mid-stream (12 s / 60 s, longer than
#                   max.poll.interval.ms): the daemon stays in the group, its
#                   memory stays bounded, it resumes without a restart
#   webhook-down    the receiver down (10 s / 3 min): deliveries held, then
#                   all received
#   disk-full       the findings' tablespace on a small tmpfs, filled: a
#                   clear error (log, kaudit_db_retries_total), nothing
#                   lost once space is freed, no restart
#   backlog (soak)  2M events waiting before the daemon starts: VmHWM under
#                   a bound while it drains, kaudit_consumer_lag visible and 0
# Then the table: fault, what was checked, runs, losses, duplicates.
# KAUDIT_FAULTS=crash-loop,disk-full runs some of them.
MODE=${1:-short}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
case $MODE in
short)	KILLS=3 BROKER_DOWN=20 PG_DOWN=12 HOOK_DOWN=10 ;;
soak)	KILLS=20 BROKER_DOWN=30 PG_DOWN=60 HOOK_DOWN=180 ;;
*)	echo "usage: faults.sh short|soak" >&2; exit 2 ;;
esac
FAULTS=${KAUDIT_FAULTS:-crash-loop,broker-restart,pg-outage,webhook-down,disk-full,backlog}
# The sanitizers' shadow memory and quarantine (256 MiB) come on top.
RSS_BOUND_MB=${KAUDIT_FAULTS_RSS_MB:-$([ -n "${SANITIZE:-}" ] && echo 1536 || echo 512)}
f_init

wanted() { case ",$FAULTS," in *,"$1",*) return 0 ;; esac; return 1; }

# crash-loop: kills at random points 1-6 s apart over a stream paced to
# last about as long as the kills.
crash_loop() {
	local ev=$IT_DIR/crash.jsonl want i rate nev at=() final last at_end
	f_events "$ev" 3 2 crash || it_abort crash-loop:setup "could not build the events"
	f_setup crash-loop
	nev=$(wc -l <"$ev")
	want=$(f_want "$ev")
	# A restarted daemon waits out the killed one's session (6 s) before
	# it gets partitions: about 10 s a kill.
	rate=$((nev / (KILLS * 10 + 10) + 1))
	f_stream "$ev" "$rate"
	f_start
	last=0
	for ((i = 1; i <= KILLS; i++)); do
		# Each kill lands while the daemon works: once it stored more
		# than at the last kill, 0 to 3 s later.
		it_wait_sql "select (count(*) > $last)::int from kaudit.findings" 60 ||
		    it_fail crash-loop:progress "no new finding within 60 s after restart $((i - 1))"
		sleep "$((RANDOM % 3)).$((RANDOM % 10))"
		kill -KILL "$IT_PID"
		wait "$IT_PID" 2>/dev/null
		last=$(it_sql "select count(*) from kaudit.findings")
		at+=("$last")
		echo "--- faults: SIGKILL $i" >>"$F_LOG"
		f_start
	done
	f_stream_wait
	at_end=$(it_sql "select count(*) from kaudit.findings")
	f_wait_done "$want" 300 || it_fail crash-loop:drained "not every finding stored and delivered within 300 s"
	f_stop
	# Every kill must have interrupted the stream, not a finished run.
	final=$(it_sql "select count(*) from kaudit.findings")
	[ "${at[-1]}" -lt "$final" ] && it_ok crash-loop:killed-mid-stream ||
	    it_fail crash-loop:killed-mid-stream "all $final findings were stored before the last kill"
	it_log "crash-loop: $nev events at $rate/s, $at_end findings when the stream ended"
	f_check "$nev events streamed at $rate/s, SIGKILLed at random points (findings stored at each kill: ${at[*]} of $final), restarted each time" "$KILLS kills"
}

# broker-restart: half the events, the broker away mid-drain, the rest.
broker_restart() {
	local ev=$IT_DIR/broker.jsonl want
	f_events "$ev" 1 2 broker || it_abort broker-restart:setup "could not build the events"
	f_setup broker-restart
	want=$(f_want "$ev")
	split -n l/2 "$ev" "$IT_DIR/broker-half."
	it_produce_lines "$F_TOPIC" "$IT_DIR/broker-half.aa" || it_abort broker-restart:produce "kcat failed"
	f_start
	it_wait_sql "select count(*) from kaudit.findings" 60 ||
	    { it_show_log "$F_LOG"; it_abort broker-restart:first "no finding within 60 s"; }
	echo "--- faults: broker stopped" >>"$F_LOG"
	tests/services/kafka.sh stop "$IT_DIR/broker" >/dev/null 2>&1
	sleep "$BROKER_DOWN"
	kill -0 "$IT_PID" 2>/dev/null && it_ok broker-restart:alive-while-away ||
	    it_fail broker-restart:alive-while-away "the daemon died with the broker away"
	tests/services/kafka.sh restart "$IT_DIR/broker" >/dev/null 2>"$IT_DIR/kafka-restart.err" ||
	    { cat "$IT_DIR/kafka-restart.err" >&2; it_abort broker-restart:restart "the broker did not start again"; }
	echo "--- faults: broker back" >>"$F_LOG"
	it_produce_lines "$F_TOPIC" "$IT_DIR/broker-half.ab" || it_abort broker-restart:produce "kcat failed"
	f_wait_done "$want" 180 || it_fail broker-restart:drained "not every finding stored and delivered within 180 s"
	f_stop
	f_check "broker stopped ${BROKER_DOWN} s mid-stream, restarted (kafka.sh restart)" 1
}

# pg-outage: like tests/integration/db_outage.sh, with events streamed
# through the outage and the daemon's memory read each second.
pg_outage() {
	local ev=$IT_DIR/pg.jsonl want i rss0 hwm0 rss hwm max_rss=0 pid
	f_events "$ev" 1 2 pg || it_abort pg-outage:setup "could not build the events"
	f_setup pg-outage
	want=$(f_want "$ev")
	f_stream "$ev" $(($(wc -l <"$ev") / (PG_DOWN + 10) + 1))
	f_start
	pid=$IT_PID
	it_wait_sql "select count(*) from kaudit.findings" 60 ||
	    { it_show_log "$F_LOG"; it_abort pg-outage:first "no finding within 60 s"; }
	for ((i = 0; i < 100; i++)); do
		grep -q 'worker 0: assigned' "$F_LOG" && grep -q 'worker 1: assigned' "$F_LOG" && break
		sleep 0.2
	done
	read -r rss0 hwm0 <<<"$(f_mem "$pid")"
	echo "--- faults: postgres stopped" >>"$F_LOG"
	tests/services/pg.sh stop "$IT_DIR" >/dev/null 2>&1
	for ((i = 0; i < PG_DOWN; i++)); do
		sleep 1
		read -r rss hwm <<<"$(f_mem "$pid")"
		[ "${rss:-0}" -gt "$max_rss" ] && max_rss=$rss
	done
	kill -0 "$pid" 2>/dev/null || { it_show_log "$F_LOG"; it_abort pg-outage:alive "the daemon died during the outage"; }
	grep -q 'cannot commit; holding' "$F_LOG" && it_ok pg-outage:worker-holds ||
	    it_fail pg-outage:worker-holds "no worker held a batch for the database"
	tests/services/pg.sh restart "$IT_DIR" 2>"$IT_DIR/pg.err" ||
	    { cat "$IT_DIR/pg.err" >&2; it_abort pg-outage:restart "PostgreSQL did not start again"; }
	echo "--- faults: postgres back" >>"$F_LOG"
	f_stream_wait
	f_wait_done "$want" 180 || it_fail pg-outage:drained "not every finding stored and delivered within 180 s"
	echo "--- faults: stopping" >>"$F_LOG"
	f_stop
	sed -n '/^--- faults: postgres stopped/,/^--- faults: stopping/p' "$F_LOG" >"$IT_DIR/pg-outage.window"
	local bad='MAXPOLL|max\.poll\.interval|revoked|assigned [0-9]+ partition|rebalance|lost'
	if grep -qiE "$bad" "$IT_DIR/pg-outage.window"; then
		it_fail pg-outage:kept-group "$(grep -iE "$bad" "$IT_DIR/pg-outage.window" | head -n 1)"
	else
		it_ok pg-outage:kept-group
	fi
	[ "$hwm" -le $((RSS_BOUND_MB * 1024)) ] && it_ok pg-outage:memory-bounded ||
	    it_fail pg-outage:memory-bounded "VmHWM $((hwm / 1024)) MiB over the bound of $RSS_BOUND_MB MiB"
	it_log "pg-outage: VmRSS $((rss0 / 1024)) MiB before, at most $((max_rss / 1024)) MiB during ${PG_DOWN} s; VmHWM $((hwm / 1024)) MiB"
	f_check "PostgreSQL stopped ${PG_DOWN} s mid-stream (> max.poll.interval.ms 10 s): no eviction; VmRSS $((rss0 / 1024)) -> max $((max_rss / 1024)) MiB, VmHWM $((hwm / 1024)) MiB (bound $RSS_BOUND_MB)" 1
}

# webhook-down: the receiver stopped while findings keep coming; started
# again on its port after HOOK_DOWN seconds.
webhook_down() {
	local ev=$IT_DIR/hook.jsonl want pending dead
	f_events "$ev" 0 2 hook || it_abort webhook-down:setup "could not build the events"
	f_setup webhook-down
	want=$(f_want "$ev")
	it_receiver_stop "$F_RECV_PID"
	echo "--- faults: receiver stopped" >>"$F_LOG"
	it_produce_lines "$F_TOPIC" "$ev" || it_abort webhook-down:produce "kcat failed"
	f_start
	sleep "$HOOK_DOWN"
	read -r pending dead <<<"$(it_sql "select count(*) filter (where state = 'pending'),
	    count(*) filter (where state = 'dead') from kaudit.outbox")"
	[ "$pending" -gt 0 ] && [ "$dead" -eq 0 ] && it_ok webhook-down:held ||
	    it_fail webhook-down:held "$pending deliveries pending, $dead dead after ${HOOK_DOWN} s"
	it_receiver_start hooks "$F_RECV_PORT" || it_abort webhook-down:receiver "the receiver did not start again"
	F_RECV_PID=$IT_RECV_PID
	echo "--- faults: receiver back" >>"$F_LOG"
	f_wait_done "$want" 180 || it_fail webhook-down:drained "not every delivery done within 180 s"
	f_stop
	f_check "receiver down ${HOOK_DOWN} s with $pending deliveries held, then back on its port" 1
}

# disk-full: kaudit.findings moved to a tablespace on a 4 MiB tmpfs, which a
# file then fills.
disk_full() {
	local ev=$IT_DIR/disk.jsonl want ts=$IT_DIR/ts owner i retries
	if [ "$(id -u)" -ne 0 ]; then
		f_skip disk-full "findings' tablespace full" "needs root to mount a tmpfs (CI runs as root)"
		return
	fi
	mkdir -p "$ts"
	if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$ts" 2>"$IT_DIR/mount.err"; then
		f_skip disk-full "findings' tablespace full" "mount -t tmpfs failed: $(head -n 1 "$IT_DIR/mount.err")"
		return
	fi
	F_MOUNTS+=("$ts")
	owner=postgres
	chown "$owner:" "$ts" || it_abort disk-full:setup "cannot give $ts to $owner"
	f_events "$ev" 0 2 disk || it_abort disk-full:setup "could not build the events"
	f_setup disk-full
	want=$(f_want "$ev")
	it_sql "create tablespace faults_small location '$ts'" >/dev/null 2>&1 ||
	    it_sql "select 1 from pg_tablespace where spcname = 'faults_small'" | grep -q 1 ||
	    it_abort disk-full:setup "could not create the tablespace"
	it_sql "alter table kaudit.findings set tablespace faults_small" >/dev/null ||
	    it_abort disk-full:setup "could not move kaudit.findings"
	dd if=/dev/zero of="$ts/filler" bs=64k 2>/dev/null
	echo "--- faults: disk full" >>"$F_LOG"
	it_produce_lines "$F_TOPIC" "$ev" || it_abort disk-full:produce "kcat failed"
	f_start
	for ((i = 0; i < 60; i++)); do
		grep -q 'No space left on device' "$F_LOG" && break
		sleep 1
	done
	grep -q 'No space left on device' "$F_LOG" && it_ok disk-full:error-logged ||
	    it_fail disk-full:error-logged "no 'No space left on device' in the log within 60 s"
	retries=$(f_metric kaudit_db_retries_total)
	[ "${retries:-0}" -gt 0 ] && it_ok disk-full:retries-metric ||
	    it_fail disk-full:retries-metric "kaudit_db_retries_total is '${retries}'"
	[ "$(it_sql "select count(*) from kaudit.findings")" = 0 ] && it_ok disk-full:nothing-written ||
	    it_fail disk-full:nothing-written "findings stored on a full disk"
	kill -0 "$IT_PID" 2>/dev/null || it_abort disk-full:alive "the daemon died on the full disk"
	rm -f "$ts/filler"
	echo "--- faults: space freed" >>"$F_LOG"
	f_wait_done "$want" 180 || it_fail disk-full:drained "not every finding stored and delivered within 180 s of freeing space"
	f_stop
	f_check "findings' tablespace full (tmpfs 4 MiB): $retries db retries logged with 'No space left on device'; space freed, no restart" 1
	it_sql "alter table kaudit.findings set tablespace pg_default" >/dev/null
	it_sql "drop tablespace faults_small" "$KAUDIT_PG_URL" >/dev/null 2>&1
}

# backlog: 2M events in the topic before the daemon starts.
backlog() {
	local ev=$IT_DIR/backlog.jsonl want nev pid lag max_lag=0 hwm=0 rss t0 t1 last_lag=
	f_events "$ev" "${KAUDIT_BACKLOG_COPIES:-120}" 1 backlog || it_abort backlog:setup "could not build the events"
	F_BATCH=500 f_setup backlog
	nev=$(wc -l <"$ev")
	want=$(f_want "$ev")
	it_produce_lines "$F_TOPIC" "$ev" -X queue.buffering.max.kbytes=65536 ||
	    it_abort backlog:produce "kcat failed"
	t0=$(date +%s)
	f_start
	pid=$IT_PID
	while kill -0 "$pid" 2>/dev/null; do
		read -r rss hwm <<<"$(f_mem "$pid")"
		lag=$(f_metric "kaudit_consumer_lag{topic=\"$F_TOPIC\"")
		if [ -n "$lag" ]; then
			[ "$lag" -gt "$max_lag" ] && max_lag=$lag
			last_lag=$lag
		fi
		[ "$last_lag" = 0 ] && [ "$max_lag" -gt 0 ] && f_wait_done "$want" 1 && break
		[ $(($(date +%s) - t0)) -gt 1200 ] && break
		sleep 2
	done
	t1=$(date +%s)
	[ "$max_lag" -gt 0 ] && [ "$last_lag" = 0 ] && it_ok backlog:lag-visible-then-0 ||
	    it_fail backlog:lag-visible-then-0 "largest lag seen $max_lag, last '$last_lag'"
	[ "$hwm" -le $((RSS_BOUND_MB * 1024)) ] && it_ok backlog:memory-bounded ||
	    it_fail backlog:memory-bounded "VmHWM $((hwm / 1024)) MiB over the bound of $RSS_BOUND_MB MiB"
	f_wait_done "$want" 300 || it_fail backlog:drained "not every finding stored and delivered"
	f_stop
	f_check "$nev events waiting before the start; drained in $((t1 - t0)) s; largest kaudit_consumer_lag $max_lag, then 0; VmHWM $((hwm / 1024)) MiB (bound $RSS_BOUND_MB)" 1
}

wanted crash-loop && crash_loop
wanted broker-restart && broker_restart
wanted pg-outage && pg_outage
wanted webhook-down && webhook_down
wanted disk-full && disk_full
[ "$MODE" = soak ] && wanted backlog && backlog

echo
echo "Faults ($MODE, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)):"
f_table
if [ "$MODE" = soak ]; then
	out=${KAUDIT_FAULTS_TABLE:-build/faults-table.md}
	mkdir -p "$(dirname "$out")"
	{ echo "Faults (soak, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m))"; echo; f_table; } >"$out"
	echo "table written to $out"
fi
it_done
