#!/usr/bin/env bash
# gateway.sh — kaudit gateway on real Kafka, PostgreSQL and TLS: what the
# API server POSTs lands in the topic (one message per event, keyed by
# auditID, the cluster in a header) and flows through kaudit run to
# PostgreSQL as `kaudit scan` finds it; what is not let in or not an
# EventList produces nothing; with Kafka stopped a POST gets 503, and the
# API server's retry after the broker is back lands every event: in the
# topic at least once, in PostgreSQL once.
#
# The broker is a private one in the test's directory (stopped and started
# again mid-test, its data kept); PostgreSQL is the shared one.
IT_NAME=gateway
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/certs.sh
. "$(dirname "$0")/lib/certs.sh"
it_init

kafka_stop() { tests/services/kafka.sh stop "$IT_DIR" >/dev/null 2>&1; }
trap 'kafka_stop; it_cleanup' EXIT
brokers=$(tests/services/kafka.sh start "$IT_DIR" 2>"$IT_DIR/kafka.err") ||
    { cat "$IT_DIR/kafka.err" >&2; it_abort setup "could not start a private Kafka broker"; }
KAUDIT_KAFKA_BROKERS=$brokers
it_certs "$IT_DIR/tls" || it_abort setup "openssl could not make the certificates"
tls=$IT_DIR/tls

topic=it-gateway-$$
it_topic "$topic" 3 || it_abort setup "could not create topic $topic"
export IT_GW_TOKEN=tok-$$-0123456789abcdef
timeout_ms=3000
gcfg=$IT_DIR/gateway.yaml
it_config "$gcfg" "$topic" "it-gateway-$$" "gateway:
  listen: \"127.0.0.1:0\"
  tls_cert: \"$tls/server.pem\"
  tls_key: \"$tls/server.key\"
  client_ca: \"$tls/ca.pem\"
  tokens: [\"\${IT_GW_TOKEN}\"]
  cluster: \"it-gw-prod\"
  max_body_bytes: 1048576
  timeout_ms: $timeout_ms
  metrics_listen: \"127.0.0.1:0\""
starts=0

gw_start() {	# each start logs to a file of its own, where its ports are read
	starts=$((starts + 1))
	glog=$IT_DIR/gateway-$starts.log
	"$KAUDIT" gateway -c "$gcfg" >>"$glog" 2>&1 &
	GW_PID=$!
	IT_PIDS+=("$GW_PID")
	for ((i = 0; i < 100; i++)); do
		port=$(grep -o 'port [0-9]*), POST' "$glog" | tail -n 1 | grep -o '[0-9]*')
		mport=$(grep -o 'metrics port [0-9]*' "$glog" | tail -n 1 | grep -o '[0-9]*$')
		[ -n "$port" ] && return 0
		kill -0 "$GW_PID" 2>/dev/null || break
		sleep 0.1
	done
	it_show_log "$glog"
	it_abort gateway-start "kaudit gateway did not start"
}

# post NAME FILE [curl args]: POSTs FILE; prints the status; the body goes
# to $IT_DIR/NAME.out.
post() {
	local name=$1 file=$2
	shift 2
	curl -s -o "$IT_DIR/$name.out" -D "$IT_DIR/$name.hdr" -w '%{http_code}' --max-time 30 \
	    --cacert "$tls/ca.pem" \
	    -H 'Content-Type: application/json' --data-binary @"$file" "$@" \
	    "https://127.0.0.1:$port/audit"
}
cert=(--cert "$tls/client.pem" --key "$tls/client.key")
token=(-H "Authorization: Bearer $IT_GW_TOKEN")

# messages in the topic, each as KEY TAB CLUSTER-HEADER TAB auditID
topic_dump() {
	kcat -C -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -e -q -J 2>/dev/null |
	    jq -r '[.key, (.headers // [] | .[1] // "-"), (.payload | fromjson | .auditID)] | @tsv'
}

expect() {	# check want got [what]
	if [ "$2" = "$3" ]; then it_ok "$1"; else it_fail "$1" "expected ${4:-}$2, got $3"; fi
}

# Two batches of the Falco trace events, each event with an auditID of its
# batch, as the API server sends them: EventLists of at most 100 events.
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
files=()
for f in "$falco"/*.json; do [ "$(basename "$f")" = fal_01_003.json ] || files+=("$f"); done
for b in 1 2; do
	python3 tests/integration/lib/replicate.py --copies 1 --tag "gw$b" "${files[@]}" \
	    >"$IT_DIR/batch$b.jsonl" || it_abort setup "could not build the events"
	jq -cs '{kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: .[:100]}' \
	    "$IT_DIR/batch$b.jsonl" >"$IT_DIR/batch$b.json"
	jq -c '.items[]' "$IT_DIR/batch$b.json" >"$IT_DIR/sent$b.jsonl"
done
n1=$(wc -l <"$IT_DIR/sent1.jsonl")
n2=$(wc -l <"$IT_DIR/sent2.jsonl")
[ "$n1" -gt 10 ] || it_abort setup "only $n1 events in a batch"

gw_start

# --- 200 after the acknowledgements, one message per event ---------------
expect post-client-cert 200 "$(post ok1 "$IT_DIR/batch1.json" "${cert[@]}")"
expect post-answer "{\"events\":$n1}" "$(tr -d '\n' <"$IT_DIR/ok1.out")"
topic_dump >"$IT_DIR/topic1"
expect one-message-per-event "$n1" "$(wc -l <"$IT_DIR/topic1")"
expect keyed-by-auditid "$n1" "$(awk -F '\t' '$1 == $3' "$IT_DIR/topic1" | wc -l)"
expect cluster-header "$n1" "$(awk -F '\t' '$2 == "it-gw-prod"' "$IT_DIR/topic1" | wc -l)"
jq -r .auditID "$IT_DIR/sent1.jsonl" | sort >"$IT_DIR/want-ids1"
cut -f1 "$IT_DIR/topic1" | sort >"$IT_DIR/got-ids1"
it_same events-are-the-posted-ones "$IT_DIR/want-ids1" "$IT_DIR/got-ids1"

# --- refused requests produce nothing ---------------------------------------
printf '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"x","verb":"get"},<img src=x onerror=alert(1)>' >"$IT_DIR/bad.json"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$IT_DIR/big.json"
expect no-credentials 401 "$(post r1 "$IT_DIR/batch1.json")"
expect wrong-token 401 "$(post r2 "$IT_DIR/batch1.json" -H 'Authorization: Bearer not-the-token-0123456789')"
expect wrong-certificate 401 "$(post r3 "$IT_DIR/batch1.json" --cert "$tls/other.pem" --key "$tls/other.key")"
expect wrong-certificate-with-token 401 "$(post r4 "$IT_DIR/batch1.json" --cert "$tls/other.pem" --key "$tls/other.key" "${token[@]}")"
expect malformed 400 "$(post r5 "$IT_DIR/bad.json" "${cert[@]}")"
expect not-an-eventlist 400 "$(post r6 "$IT_DIR/sent1.jsonl" "${cert[@]}")"
expect oversize 413 "$(post r7 "$IT_DIR/big.json" "${cert[@]}")"
expect oversize-chunked 413 "$(post r8 "$IT_DIR/big.json" "${cert[@]}" -H 'Transfer-Encoding: chunked')"
expect plain-http-refused 000 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "${token[@]}" --data-binary @"$IT_DIR/batch1.json" "http://127.0.0.1:$port/audit")"
expect wrong-method 405 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tls/ca.pem" \
    "${token[@]}" "https://127.0.0.1:$port/audit")"
expect wrong-path 404 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tls/ca.pem" \
    "${token[@]}" --data-binary @"$IT_DIR/batch1.json" "https://127.0.0.1:$port/other")"
expect refused-produce-nothing "$n1" "$(topic_dump | wc -l)"
if grep -q 'gateway: 400 to 127.0.0.1: .*<img src=x onerror' "$glog" &&
    grep -q 'not JSON' "$glog"; then
	it_ok malformed-body-logged
else
	it_fail malformed-body-logged "no log line with the reason and the first bytes of the body"
fi
expect token-over-tls 200 "$(post ok2 "$IT_DIR/batch1.json" "${token[@]}")"
expect token-post-lands "$((2 * n1))" "$(topic_dump | wc -l)"

# --- Kafka stopped: 503; after its restart the retry lands everything -----
kafka_stop
t0=$(date +%s%N)
expect kafka-down-503 503 "$(post d1 "$IT_DIR/batch2.json" "${cert[@]}")"
ms=$((($(date +%s%N) - t0) / 1000000))
# without Retry-After the API server would not send a 503's batch again
expect kafka-down-retry-after 1 "$(grep -i '^retry-after:' "$IT_DIR/d1.hdr" | tr -dc '0-9')"
if [ "$ms" -ge "$timeout_ms" ] && [ "$ms" -lt $((timeout_ms + 5000)) ]; then
	it_ok kafka-down-waits-timeout
else
	it_fail kafka-down-waits-timeout "503 after $ms ms (timeout_ms $timeout_ms)"
fi
tests/services/kafka.sh restart "$IT_DIR" >/dev/null 2>"$IT_DIR/kafka-restart.err" ||
    { cat "$IT_DIR/kafka-restart.err" >&2; it_abort kafka-restart "the broker did not start again"; }
for ((i = 0; i < 10; i++)); do	# the API server retries with backoff
	status=$(post d2 "$IT_DIR/batch2.json" "${cert[@]}")
	[ "$status" = 200 ] && break
	sleep 2
done
expect retry-after-restart 200 "$status"
sleep 1		# what the 503 left queued may land after the retry
topic_dump >"$IT_DIR/topic2"
jq -r .auditID "$IT_DIR/sent2.jsonl" | sort >"$IT_DIR/want-ids2"
grep -F -f "$IT_DIR/want-ids2" "$IT_DIR/topic2" | cut -f1 | sort -u >"$IT_DIR/got-ids2"
it_same retry-lands-every-event "$IT_DIR/want-ids2" "$IT_DIR/got-ids2"
total=$(wc -l <"$IT_DIR/topic2")
if [ "$total" -ge $((2 * n1 + n2)) ]; then
	it_ok at-least-once
else
	it_fail at-least-once "$total messages in the topic, fewer than $((2 * n1 + n2))"
fi
it_log "topic after the outage: $total messages for $((2 * n1 + n2)) posted events"

# --- SIGHUP: logged, the gateway keeps serving -----------------------------------
kill -HUP "$GW_PID"
for ((i = 0; i < 50; i++)); do
	grep -q 'SIGHUP ignored' "$glog" && break
	sleep 0.1
done
if kill -0 "$GW_PID" 2>/dev/null && grep -q 'SIGHUP ignored' "$glog"; then
	it_ok sighup-ignored
else
	it_fail sighup-ignored "the gateway did not log SIGHUP and keep running"
fi

# --- metrics -----------------------------------------------------------------
curl -s "http://127.0.0.1:$mport/metrics" >"$IT_DIR/metrics"
# 200: the first batch twice, the retry once; 401: four refusals
metric() { awk -v k="$1" '$1 == k { print $2 }' "$IT_DIR/metrics"; }
expect metrics-200 3 "$(metric 'kaudit_gateway_requests_total{code="200"}')"
expect metrics-401 4 "$(metric 'kaudit_gateway_requests_total{code="401"}')"
expect metrics-413 2 "$(metric 'kaudit_gateway_requests_total{code="413"}')"
expect metrics-bad-certificate 2 "$(metric 'kaudit_gateway_errors_total{reason="bad_certificate"}')"
expect metrics-events "$((2 * n1 + n2))" "$(metric kaudit_gateway_events_produced_total)"
expect metrics-latency 3 "$(metric kaudit_gateway_produce_seconds_count)"
expect healthz ok "$(curl -s "http://127.0.0.1:$mport/healthz")"

# --- SIGTERM: stops, exit 0 ----------------------------------------------------
kill -TERM "$GW_PID"
it_wait_exit "$GW_PID" $((timeout_ms / 1000 + 10))
expect sigterm-exit-0 0 "$?"

# --- kaudit run: PostgreSQL holds each finding once ------------------------------
it_migrate "$gcfg" || it_abort migrate "kaudit migrate failed"
rlog=$IT_DIR/run.log
it_run_idle run-consumes "$gcfg" "$rlog" 120 3
cat "$IT_DIR/sent1.jsonl" "$IT_DIR/sent2.jsonl" >"$IT_DIR/sent.jsonl"
it_scan_set "$IT_DIR/sent.jsonl" | it_plain >"$IT_DIR/want"
it_db_set | it_plain >"$IT_DIR/got"
it_same findings-as-scan "$IT_DIR/want" "$IT_DIR/got"
expect findings-once 0 "$(it_sql "select count(*) from (select audit_id, rule from kaudit.findings
    group by 1, 2 having count(*) > 1) d")"
expect cluster-from-header it-gw-prod "$(it_sql "select string_agg(distinct cluster, ',') from kaudit.findings")"

# --- the header is hostile too: a name with controls is ignored ---------------
# Two events that make findings, produced with kcat: one under a header
# with an escape sequence (the cluster falls back to the config's), one
# under a plain name (taken).
id=$(it_sql "select audit_id from kaudit.findings where audit_id like '%gw1%' limit 1")
grep -F "\"$id\"" "$IT_DIR/sent1.jsonl" | head -n 1 >"$IT_DIR/one.json"
sed "s/$id/$id-evil/" "$IT_DIR/one.json" | kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" \
    -H "kaudit-cluster=$(printf 'x\033[2J')" -k "$id-evil"
sed "s/$id/$id-named/" "$IT_DIR/one.json" | kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" \
    -H "kaudit-cluster=eu-west-7" -k "$id-named"
it_run_idle run-again "$gcfg" "$rlog" 60 3
expect cluster-header-hostile-ignored "it-$IT_NAME" \
    "$(it_sql "select string_agg(distinct cluster, ',') from kaudit.findings where audit_id = '$id-evil'")"
expect cluster-header-named eu-west-7 \
    "$(it_sql "select string_agg(distinct cluster, ',') from kaudit.findings where audit_id = '$id-named'")"

# --- SIGTERM while a POST waits on a stopped Kafka: 503, then exit 0 ---------
kafka_stop
gw_start
post t1 "$IT_DIR/batch1.json" "${cert[@]}" >"$IT_DIR/t1.status" &
poster=$!
for ((i = 0; i < 50; i++)); do
	curl -s "http://127.0.0.1:$mport/metrics" | grep -q '^kaudit_gateway_requests_waiting 1' && break
	sleep 0.1
done
t0=$(date +%s%N)
kill -TERM "$GW_PID"
it_wait_exit "$GW_PID" $((timeout_ms / 1000 + 10))
expect sigterm-in-flight-exit-0 0 "$?"
wait "$poster"
expect sigterm-in-flight-503 503 "$(cat "$IT_DIR/t1.status")"
ms=$((($(date +%s%N) - t0) / 1000000))
# timeout_ms for the answer, at most 5 s more to flush what it left queued
if [ "$ms" -lt $((timeout_ms + 7500)) ]; then
	it_ok sigterm-bounded
else
	it_fail sigterm-bounded "exit $ms ms after SIGTERM (timeout_ms $timeout_ms)"
fi
it_done
