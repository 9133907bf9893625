#!/usr/bin/env bash
# reload.sh — SIGHUP on the real daemon, Kafka, PostgreSQL and receiver.
#
# The daemon starts with rule set A (one rule on ConfigMap creations) and
# webhook path /a. Then:
#   1. a rule file that does not compile: the reload is refused with the
#      file:line message `kaudit check` gives, the daemon keeps running set A
#      and events sent afterwards still get A's finding;
#   2. a config that names a file that is not there: refused likewise;
#   3. rule set B (another rule id, same condition) and webhook path /b, sent
#      while 300 events are in flight: the reload is applied; every one of
#      the 300 events gets a finding of A or of B (none dropped), events sent
#      after it get B's only, and B's findings go to /b;
#   4. SIGTERM: exit 0.
IT_NAME=reload
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-reload-$$
cfg=$IT_DIR/kaudit.yaml
log=$IT_DIR/daemon.log

# rules_file FILE ID: one rule on ConfigMap creations.
rules_file() {
	cat >"$1" <<EOF
- rule: $2
  title: ConfigMap created ($2)
  description: reload test rule
  condition: objectRef.resource = configmaps and verb = create
  output: "%{user.username} created configmap %{objectRef.name}"
  severity: medium
  category: inventory
EOF
}

# write_config RULES_FILE HOOK_PATH
write_config() {
	it_config "$cfg" "$topic" "it-reload-$$" "alert:
  webhooks:
    - name: receiver
      url: \"$KAUDIT_RECEIVER_URL/it/$IT_RUN/$2\"
  max_attempts: 8
  backoff_ms: 200
rules: [\"$1\"]
shutdown_timeout: 20s"
}

# events PREFIX FIRST LAST: ConfigMap creations with auditIDs PREFIX-N.
events() {
	local i
	for ((i = $2; i <= $3; i++)); do
		printf '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",'
		printf '"auditID":"%s-%d","stage":"ResponseComplete","verb":"create",' "$1" "$i"
		printf '"requestURI":"/api/v1/namespaces/default/configmaps",'
		printf '"user":{"username":"alice"},"sourceIPs":["10.0.0.1"],'
		printf '"objectRef":{"resource":"configmaps","namespace":"default","name":"cm-%d","apiVersion":"v1"},' "$i"
		printf '"responseStatus":{"code":201},'
		printf '"requestReceivedTimestamp":"2026-11-02T10:00:00.000000Z",'
		printf '"stageTimestamp":"2026-11-02T10:00:00.100000Z"}\n'
	done
}

send() {	# PREFIX FIRST LAST
	events "$@" >"$IT_DIR/send.jsonl"
	it_produce_lines "$topic" "$IT_DIR/send.jsonl" || it_abort produce "kcat failed"
}

# wait_log TEXT N SECONDS: until the log holds TEXT N times.
wait_log() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(grep -cF -- "$1" "$log")" -ge "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

count() {	# SQL condition on kaudit.findings
	it_sql "select count(*) from kaudit.findings where $1"
}

rules_file "$IT_DIR/a.yaml" it.reload.a
rules_file "$IT_DIR/b.yaml" it.reload.b
write_config "$IT_DIR/a.yaml" a
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"
it_start "$cfg" "$log"
pid=$IT_PID

send first 1 5
it_wait_sql "select (count(*) = 5)::int from kaudit.findings where rule = 'it.reload.a'" 60 &&
    it_ok set-a-runs || { it_show_log "$log"; it_abort set-a-runs "no finding of set A"; }

# 1. A rule file that does not compile.
printf -- '- rule: it.reload.broken\n  condition: verb = = create\n' >"$IT_DIR/broken.yaml"
write_config "$IT_DIR/broken.yaml" a
"$KAUDIT" check -c "$cfg" >"$IT_DIR/check.out" 2>&1 && it_fail check-refuses "check accepted it"
want=$(grep -m1 -o "$IT_DIR/broken.yaml:[0-9]*: .*" "$IT_DIR/check.out")
kill -HUP "$pid"
if wait_log "reload refused" 1 30; then
	it_ok broken-rules-refused
else
	it_fail broken-rules-refused "no 'reload refused' in the log"
fi
[ -n "$want" ] && grep -qF -- "$want" "$log" && it_ok refusal-says-what-check-says ||
    it_fail refusal-says-what-check-says "the log lacks \"$want\""
kill -0 "$pid" 2>/dev/null && it_ok still-running || it_abort still-running "the daemon exited"
send refused 1 5
it_wait_sql "select (count(*) = 5)::int from kaudit.findings where rule = 'it.reload.a'
    and audit_id like 'refused-%'" 60 && it_ok old-set-kept ||
    it_fail old-set-kept "$(count "audit_id like 'refused-%'") finding(s) for 5 events"

# 2. A rule file that is not there.
write_config "$IT_DIR/missing.yaml" a
kill -HUP "$pid"
wait_log "reload refused" 2 30 && it_ok missing-file-refused ||
    it_fail missing-file-refused "no second 'reload refused' in the log"

# 3. Set B and webhook /b while events are in flight.
write_config "$IT_DIR/b.yaml" b
events flight 1 300 >"$IT_DIR/flight.jsonl"
it_produce_lines "$topic" "$IT_DIR/flight.jsonl" &
prod=$!
kill -HUP "$pid"
wait "$prod" || it_fail produce "kcat failed"
wait_log "reload applied" 1 60 && it_ok reload-applied ||
    { it_show_log "$log"; it_abort reload-applied "no 'reload applied' in the log"; }
send after 1 5
it_wait_sql "select (count(*) = 5)::int from kaudit.findings where audit_id like 'after-%'" 60
n=$(count "audit_id like 'after-%' and rule = 'it.reload.b'")
m=$(count "audit_id like 'after-%' and rule <> 'it.reload.b'")
[ "$n" = 5 ] && [ "$m" = 0 ] && it_ok new-set-in-force ||
    it_fail new-set-in-force "after the reload: $n finding(s) of B, $m of others (want 5, 0)"
it_wait_sql "select (count(distinct audit_id) = 300)::int from kaudit.findings
    where audit_id like 'flight-%'" 60
n=$(it_sql "select count(distinct audit_id) from kaudit.findings where audit_id like 'flight-%'")
it_log "events in flight: $(count "audit_id like 'flight-%' and rule = 'it.reload.a'") by set A, $(count "audit_id like 'flight-%' and rule = 'it.reload.b'") by set B"
[ "$n" = 300 ] && it_ok none-dropped || it_fail none-dropped "$n of the 300 events in flight have a finding"
# B's findings go to /b, once each (the webhook keeps its name, so what
# A left in the outbox goes there too).
for ((i = 0; i < 150; i++)); do
	[ "$(it_received "/it/$IT_RUN/b" | wc -l)" -ge "$(count "rule = 'it.reload.b'")" ] && break
	sleep 0.2
done
it_sql "select id from kaudit.findings where rule = 'it.reload.b'" | LC_ALL=C sort >"$IT_DIR/want-b"
it_received_ids "/it/$IT_RUN/b" | grep -Fxf "$IT_DIR/want-b" >"$IT_DIR/got-b"
it_same new-webhook-gets-new-findings "$IT_DIR/want-b" "$IT_DIR/got-b"
n=$(it_received "/it/$IT_RUN/a" | awk -F '\t' '$3 == "it.reload.b"' | wc -l)
[ "$n" = 0 ] && it_ok old-webhook-dropped || it_fail old-webhook-dropped "$n finding(s) of B went to /a"

# 4. SIGTERM.
kill -TERM "$pid"
it_wait_exit "$pid" 40
rc=$?
[ "$rc" = 0 ] && it_ok sigterm-exit-0 || { it_fail sigterm-exit-0 "exit $rc"; it_show_log "$log"; }
it_done
