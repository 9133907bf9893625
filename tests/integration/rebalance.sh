#!/usr/bin/env bash
# rebalance.sh — two daemons share a consumer group through rebalances: one
# joins late, the other leaves midway (SIGTERM), and together they store
# exactly the findings `kaudit scan` finds, each once.
#
# Run once with partition.assignment.strategy cooperative-sticky (incremental
# assign/unassign: librdkafka refuses the eager calls there, and the group's
# rebalance then never finishes: nothing is consumed) and once with the
# default eager strategies (range, roundrobin). Distinct events (real Falco
# and Panther events, each copy with its own auditID) go to a 4-partition
# topic in three rounds: A alone; B joining; after A left. Each daemon runs
# two workers, so the group has two to four members.
IT_NAME=rebalance
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
panther=$IT_CORPUS/panther-labs-panther-analysis
for r in 1 2 3; do
	python3 tests/integration/lib/replicate.py --copies 4 --tag "rebalance$r" \
	    "$falco"/*.json "$panther/panther_k8s_audit_native.jsonl" >"$IT_DIR/round$r.jsonl" ||
	    it_abort setup "could not build the event files"
done
it_scan_set "$IT_DIR"/round[123].jsonl >"$IT_DIR/want"
want1=$(it_scan_set "$IT_DIR/round1.jsonl" | it_plain | wc -l)
plain=$(it_plain_sql)
it_log "$(cat "$IT_DIR"/round[123].jsonl | wc -l) events in 3 rounds, $(wc -l <"$IT_DIR/want") findings expected"

# The linked librdkafka, for the check that cooperative-sticky is warned
# about where it has known bugs (kaudit warns below 2.6.1).
rdk=$(pkg-config --modversion rdkafka 2>/dev/null || echo 0)
rdk_old=0
[ "$(printf '%s\n' "$rdk" 2.6.1 | sort -V | head -n 1)" != 2.6.1 ] && rdk_old=1

# assigned_partitions LOG: partitions that log's workers were ever given.
assigned_partitions() {
	sed -n 's/.*worker [0-9]*: assigned [1-9][0-9]* partition(s) [^ ]*\[\([0-9,]*\)\].*/\1/p' "$1" |
	    tr ',' '\n' | sort -u | wc -l
}

# round VARIANT STRATEGY: STRATEGY empty for librdkafka's default.
round() {
	local v=$1 strat=$2 db url topic cfg alog blog apid bpid rc props i n nd
	db=it_rebalance_$v
	url=${KAUDIT_PG_URL%/*}/$db
	topic=it-rebalance-$v-$$
	cfg=$IT_DIR/$v.yaml
	alog=$IT_DIR/$v-a.log
	blog=$IT_DIR/$v-b.log
	it_newdb "$db" || { it_fail "$v:setup" "could not create database $db"; return; }
	IT_DB_URL=$url
	# Short sessions, as in restart.sh: the broker's minimum is 6 s.
	props='"auto.offset.reset": "earliest", "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"'
	[ -n "$strat" ] && props+=", \"partition.assignment.strategy\": \"$strat\""
	IT_KAFKA_PROPS="{$props}"
	# Small batches, so A's leaving lands between many transactions.
	it_config "$cfg" "$topic" "it-rebalance-$v-$$" "ingest:
  workers: 2
  batch_max: 20
  batch_ms: 50"
	it_migrate "$cfg" || { it_fail "$v:migrate" "kaudit migrate failed"; return; }
	it_topic "$topic" 4 || { it_fail "$v:produce" "could not create topic $topic"; return; }

	it_produce_lines "$topic" "$IT_DIR/round1.jsonl" || { it_fail "$v:produce" "kcat failed"; return; }
	it_start "$cfg" "$alog"
	apid=$IT_PID
	if ! it_wait_sql "select (count(*) >= $want1)::int from kaudit.findings where $plain" 30; then
		it_fail "$v:a-consumes" "A did not store round 1's $want1 findings within 30 s ($(it_sql "select count(*) from kaudit.findings where $plain") stored)"
		it_show_log "$alog"
		kill -KILL "$apid" 2>/dev/null
		return
	fi
	it_ok "$v:a-consumes"

	# B joins late, with --idle-exit: it ends once the group has
	# committed every partition to its end. Round 2 arrives while the
	# group rebalances.
	"$KAUDIT" run -c "$cfg" --idle-exit 5 >>"$blog" 2>&1 &
	bpid=$!
	IT_PIDS+=("$bpid")
	it_produce_lines "$topic" "$IT_DIR/round2.jsonl" || { it_fail "$v:produce" "kcat failed"; return; }
	for ((i = 0; i < 150; i++)); do
		[ "$(assigned_partitions "$blog")" -gt 0 ] && break
		sleep 0.2
	done

	# A leaves midway, while round 3 arrives; B must take over A's
	# partitions.
	kill -TERM "$apid"
	it_produce_lines "$topic" "$IT_DIR/round3.jsonl" || { it_fail "$v:produce" "kcat failed"; return; }
	it_wait_exit "$apid" 30
	rc=$?
	[ "$rc" -eq 0 ] && it_ok "$v:a-sigterm-exit-0" ||
	    { it_fail "$v:a-sigterm-exit-0" "A exited $rc after SIGTERM"; it_show_log "$alog"; }
	it_wait_exit "$bpid" 60
	rc=$?
	[ "$rc" -eq 0 ] && it_ok "$v:b-idle-exit-0" ||
	    { it_fail "$v:b-idle-exit-0" "B (--idle-exit 5) exited $rc"; it_show_log "$blog"; }

	for x in a b; do
		n=$(assigned_partitions "$IT_DIR/$v-$x.log")
		[ "$n" -gt 0 ] && it_ok "$v:$x-was-assigned" ||
		    { it_fail "$v:$x-was-assigned" "no partition assignment in ${x^^}'s log"; it_show_log "$IT_DIR/$v-$x.log"; }
	done
	# After A left, B's workers must have held all four partitions.
	n=$(assigned_partitions "$blog")
	[ "$n" -eq 4 ] && it_ok "$v:b-took-over" ||
	    it_fail "$v:b-took-over" "B was given $n of the 4 partitions"
	# kaudit's own lines about (un)assign calls librdkafka refused; not
	# librdkafka's note that an auto-commit raced a rebalance (COMMITFAIL,
	# harmless: offsets are committed again, or the batch redelivered)
	pat='kafka (incremental )?(assign|unassign) of [0-9]+ partition|kafka rebalance failed'
	if grep -qE "$pat" "$alog" "$blog"; then
		it_fail "$v:assign-calls-succeed" "$(grep -hE "$pat" "$alog" "$blog" | head -n 1)"
	else
		it_ok "$v:assign-calls-succeed"
	fi
	# The strategy really was in force: every assignment line names it.
	proto=eager
	[ "$strat" = cooperative-sticky ] && proto=cooperative
	grep -h 'partition(s).*now assigned' "$alog" "$blog" >"$IT_DIR/$v.assignments"
	if [ -s "$IT_DIR/$v.assignments" ] && ! grep -vq "($proto)" "$IT_DIR/$v.assignments"; then
		it_ok "$v:protocol-$proto"
	else
		it_fail "$v:protocol-$proto" "not every assignment line says ($proto)"
	fi
	if [ "$strat" = cooperative-sticky ] && [ "$rdk_old" = 1 ]; then
		grep -q "cooperative-sticky with librdkafka $rdk has known bugs" "$alog" &&
		    it_ok "$v:old-librdkafka-warned" ||
		    it_fail "$v:old-librdkafka-warned" "no warning about librdkafka $rdk in A's log"
	fi

	it_db_set >"$IT_DIR/$v.got"
	it_plain <"$IT_DIR/want" >"$IT_DIR/want-plain"
	it_plain <"$IT_DIR/$v.got" >"$IT_DIR/$v.got-plain"
	it_same "$v:findings-equal-scan" "$IT_DIR/want-plain" "$IT_DIR/$v.got-plain"
	read -r n nd <<<"$(it_sql "select count(*), count(distinct (rule, coalesce(dedup, audit_id))) from kaudit.findings")"
	[ "$n" = "$nd" ] && it_ok "$v:no-duplicate-findings" ||
	    it_fail "$v:no-duplicate-findings" "$n rows for $nd distinct findings"
	it_log "$v: A was given $(assigned_partitions "$alog"), B $(assigned_partitions "$blog") partition(s); $n findings"
}

round coop cooperative-sticky
round eager ""
it_done
