#!/usr/bin/env bash
# kafka_secure.sh — kaudit against a broker that wants TLS and SASL: one
# broker of this test's own (kafka.sh start-secure: a SASL_SSL listener with
# SCRAM-SHA-512, PLAIN and OAUTHBEARER, an SSL listener that requires a
# client certificate, certificates from a private CA made with openssl),
# real PostgreSQL.
#
# The kafka.properties of every case are the examples of docs/operations.md
# ("### Kafka"), with this test's addresses and files in place of the
# page's. The happy paths (mTLS, SCRAM-SHA-512, PLAIN, OAUTHBEARER with
# unsigned tokens) each store what `kaudit scan` finds in the same events,
# in a database of their own; `kaudit gateway` produces over SCRAM-SHA-512.
# The refusals (a CA that did not sign the broker's certificate, a wrong
# password) are logged once per cause with the broker's or TLS's reason,
# counted in kaudit_kafka_errors_total, leave /readyz at 503, store and
# commit nothing, and stop on SIGTERM within shutdown_timeout. No password
# appears in any log. OIDC, which Debian 12's librdkafka is built without,
# is refused by `kaudit run` as the page says.
IT_NAME=kafka-secure
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/certs.sh
. "$(dirname "$0")/lib/certs.sh"
it_init

kdir=$IT_DIR/broker
tls=$IT_DIR/tls
mkdir -p "$kdir"
trap 'tests/services/kafka.sh stop "$kdir" >/dev/null 2>&1; it_cleanup' EXIT
it_certs "$tls" || it_abort setup "openssl could not make the certificates"
export KAFKA_SASL_PASSWORD=scram-$$-Secret0123
export KAFKA_KEY_PASSWORD=key-$$-Secret4567
# the client key, encrypted, as the page's mTLS example has it
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$tls/client.key" -out "$tls/client-enc.key" \
    -passout env:KAFKA_KEY_PASSWORD || it_abort setup "could not encrypt the client key"
read -r plain sasl ssl < <(tests/services/kafka.sh start-secure "$kdir" "$tls" kaudit \
    "$KAFKA_SASL_PASSWORD" 2>"$IT_DIR/kafka.err") ||
    { cat "$IT_DIR/kafka.err" >&2; it_abort broker "the secure broker did not start"; }
[ -n "$ssl" ] || it_abort broker "start-secure printed no SSL address"
KAUDIT_KAFKA_BROKERS=$plain

# --- the page's examples, as YAML flow mappings with this test's files -------
python3 - "$tls" "$IT_DIR/props" <<'PY' || it_abort docs "could not read the examples of docs/operations.md"
import json, os, re, sys, yaml
tls, out = sys.argv[1], sys.argv[2]
text = open("docs/operations.md", encoding="utf-8").read()
files = {"/etc/kaudit/tls/kafka-ca.pem": tls + "/ca.pem",
         "/etc/kaudit/tls/kaudit.pem": tls + "/client.pem",
         "/etc/kaudit/tls/kaudit.key": tls + "/client-enc.key"}
os.makedirs(out, exist_ok=True)
found = re.findall(r"<!-- kafka_secure.sh: (\w+) -->\n+```yaml\n(.*?)```", text, re.S)
for name, block in found:
    props = yaml.safe_load(block)["kafka"]["properties"]
    props = {k: files.get(v, v) for k, v in props.items()}
    open(os.path.join(out, name), "w").write(json.dumps(props))
sys.exit(0 if {n for n, _ in found} >= {"mtls", "scram", "plain", "oauthbearer"} else 1)
PY
props() { cat "$IT_DIR/props/$1"; }
# the same properties with one value replaced
props_with() {	# example key value
	jq -c --arg k "$2" --arg v "$3" '.[$k] = $v' "$IT_DIR/props/$1"
}

# --- the events, produced over the plaintext listener ------------------------
topic=it-secure-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
python3 tests/integration/lib/replicate.py --copies 1 --tag sec "$falco"/*.json \
    >"$IT_DIR/events.jsonl" || it_abort setup "could not build the events"
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
nevents=$(wc -l <"$IT_DIR/events.jsonl")
it_scan_set "$IT_DIR/events.jsonl" | it_plain >"$IT_DIR/want"
it_log "$nevents events, $(wc -l <"$IT_DIR/want") findings from scan"

cat >"$IT_DIR/rule.yaml" <<'EOF'
- rule: it.secure.configmap
  title: ConfigMap created
  description: secure connection test rule
  condition: objectRef.resource = configmaps and verb = create
  output: "%{user.username} created configmap %{objectRef.name}"
  severity: medium
  category: inventory
EOF

# case NAME BROKERS PROPS GROUP [EXTRA]: a config of its own, on a database
# of its own; sets cfg and db.
case_config() {
	local name=$1
	db=it_kafka_secure_$name
	it_newdb "$db" || it_abort "$name-setup" "could not create database $db"
	cfg=$IT_DIR/$name.yaml
	IT_DB_URL=${KAUDIT_PG_URL%/*}/$db KAUDIT_KAFKA_BROKERS=$2 IT_KAFKA_PROPS=$3 \
	    it_config "$cfg" "$topic" "$4" "metrics:
  listen: \"127.0.0.1:0\"
shutdown_timeout: 5s
${5:-}"
	it_migrate "$cfg" || it_abort "$name-setup" "kaudit migrate failed"
}

metrics_port() {	# log: the port the daemon logged, waiting for it
	local i p
	for ((i = 0; i < 50; i++)); do
		p=$(grep -o 'readyz (port [0-9]*' "$1" | grep -o '[0-9]*$')
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# --- refusals: wrong CA (stateful pack: the signals topic's producer meets
# it first) and wrong password (one plain rule: the workers' consumers) -----
refused_group=it-secure-refused-$$
case_config badca "$sasl" "$(props_with scram ssl.ca.location "$tls/other-ca.pem")" "$refused_group"
badca_cfg=$cfg
case_config badpw "$sasl" "$(props_with scram sasl.password wrong-$$-Password89)" \
    "$refused_group" "rules: [\"$IT_DIR/rule.yaml\"]"
badpw_cfg=$cfg
declare -A pid port
for c in badca badpw; do
	cfgv=${c}_cfg
	"$KAUDIT" run -c "${!cfgv}" >"$IT_DIR/$c.log" 2>&1 &
	pid[$c]=$!
	IT_PIDS+=("${pid[$c]}")
done
for c in badca badpw; do
	port[$c]=$(metrics_port "$IT_DIR/$c.log") || { it_show_log "$IT_DIR/$c.log"; it_abort "$c-start" "no metrics port"; }
done
errors() {	# case cause: kaudit_kafka_errors_total{reason=cause} of the case
	curl -s "http://127.0.0.1:${port[$1]}/metrics" >"$IT_DIR/$1.metrics"
	awk -v k="kaudit_kafka_errors_total{reason=\"$2\"}" '$1 == k { print $2 }' "$IT_DIR/$1.metrics"
}
for c in badca badpw; do
	case $c in
	badca) cause=tls; why='certificate verify failed' ;;
	badpw) cause=authentication; why='SASL authentication error: Authentication failed during authentication due to invalid credentials' ;;
	esac
	log=$IT_DIR/$c.log
	# librdkafka tries again (and reports again) after a backoff
	for ((i = 0; i < 100; i++)); do
		n=$(errors "$c" "$cause")
		[ "${n:-0}" -ge 2 ] && break
		sleep 0.1
	done
	ready=$(curl -s -o "$IT_DIR/$c.ready" -w '%{http_code}' "http://127.0.0.1:${port[$c]}/readyz")
	[ "$ready" = 503 ] && grep -q 'not ready' "$IT_DIR/$c.ready" && it_ok "$c-not-ready" ||
	    it_fail "$c-not-ready" "/readyz answered $ready: $(head -c 200 "$IT_DIR/$c.ready")"
	lines=$(grep -c "kaudit error: kafka $cause: .*$why" "$log")
	[ "$lines" = 1 ] && it_ok "$c-logged-once" ||
	    { it_fail "$c-logged-once" "$lines lines of cause $cause with \"$why\""; it_show_log "$log"; }
	# more errors than lines: the later ones were counted, not logged
	[ "${n:-0}" -ge 2 ] && it_ok "$c-counted" ||
	    it_fail "$c-counted" "kaudit_kafka_errors_total{reason=\"$cause\"} is ${n:-absent}"
	it_log "$c: $n $cause errors counted, $lines logged, $(wc -l <"$log") log lines"
	t0=$(date +%s%N)
	kill -TERM "${pid[$c]}"
	it_wait_exit "${pid[$c]}" 15
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$rc" = 0 ] && [ "$ms" -le 5000 ] && it_ok "$c-sigterm" ||
	    { it_fail "$c-sigterm" "exit $rc after $ms ms (shutdown_timeout 5 s)"; it_show_log "$log"; }
	[ "$(it_sql "select count(*) from kaudit.findings" "${KAUDIT_PG_URL%/*}/it_kafka_secure_$c")" = 0 ] &&
	    it_ok "$c-nothing-stored" || it_fail "$c-nothing-stored" "findings were stored"
done

# --- happy paths, side by side: each example on its listener ----------------
# scram reads with the refused daemons' group: it finding every event shows
# that they committed no offset.
declare -A group=([mtls]=it-secure-mtls-$$ [scram]=$refused_group [plain]=it-secure-plain-$$
    [oauthbearer]=it-secure-oauth-$$)
for c in mtls scram plain oauthbearer; do
	b=$sasl
	[ "$c" = mtls ] && b=$ssl
	case_config "$c" "$b" "$(props "$c")" "${group[$c]}"
	it_run "$cfg" "$IT_DIR/$c.log" 120 --idle-exit 2 &
	pid[$c]=$!
done
for c in mtls scram plain oauthbearer; do
	wait "${pid[$c]}"
	rc=$?
	[ "$rc" = 0 ] && it_ok "$c-run" || { it_fail "$c-run" "kaudit run exited $rc"; it_show_log "$IT_DIR/$c.log"; }
	it_sql "select audit_id, rule from kaudit.findings" "${KAUDIT_PG_URL%/*}/it_kafka_secure_$c" |
	    sort -u | it_plain >"$IT_DIR/got-$c"
	it_same "$c-findings-as-scan" "$IT_DIR/want" "$IT_DIR/got-$c"
done
grep -q 'kaudit warn: .*unsigned tokens, which only a test broker takes' "$IT_DIR/oauthbearer.log" &&
    it_ok oauthbearer-warned || it_fail oauthbearer-warned "no warning about the unsigned tokens"

# --- kaudit gateway produces over SASL_SSL (SCRAM-SHA-512) -------------------
gtopic=it-secure-gw-$$
export IT_GW_TOKEN=tok-$$-0123456789abcdef
gcfg=$IT_DIR/gateway.yaml
KAUDIT_KAFKA_BROKERS=$sasl IT_KAFKA_PROPS=$(props scram) it_config "$gcfg" "$gtopic" \
    "it-secure-gw-$$" "gateway:
  listen: \"127.0.0.1:0\"
  tls_cert: \"$tls/server.pem\"
  tls_key: \"$tls/server.key\"
  tokens: [\"\${IT_GW_TOKEN}\"]
  timeout_ms: 10000"
it_gateway_start "$gcfg" "$IT_DIR/gateway.log" ||
    { it_show_log "$IT_DIR/gateway.log"; it_abort gateway-start "kaudit gateway did not start"; }
head -n 20 "$IT_DIR/events.jsonl" | jq -cs '{kind: "EventList", apiVersion: "audit.k8s.io/v1",
    metadata: {}, items: .}' >"$IT_DIR/post.json"
status=$(curl -s -o "$IT_DIR/post.out" -w '%{http_code}' --max-time 30 --cacert "$tls/ca.pem" \
    -H "Authorization: Bearer $IT_GW_TOKEN" -H 'Content-Type: application/json' \
    --data-binary @"$IT_DIR/post.json" "https://127.0.0.1:$IT_GW_PORT/audit")
[ "$status" = 200 ] && it_ok gateway-post || { it_fail gateway-post "status $status"; it_show_log "$IT_DIR/gateway.log"; }
kcat -C -b "$plain" -t "$gtopic" -e -q 2>/dev/null | jq -r .auditID | sort >"$IT_DIR/gw-got"
head -n 20 "$IT_DIR/events.jsonl" | jq -r .auditID | sort >"$IT_DIR/gw-want"
it_same gateway-lands-in-topic "$IT_DIR/gw-want" "$IT_DIR/gw-got"
kill -TERM "$IT_GW_PID"
it_wait_exit "$IT_GW_PID" 15 >/dev/null

# --- OIDC: refused by this librdkafka, as the page says ----------------------
oidc=$(props_with oauthbearer sasl.oauthbearer.method oidc | jq -c 'del(.["enable.sasl.oauthbearer.unsecure.jwt"], .["sasl.oauthbearer.config"]) +
    {"sasl.oauthbearer.client.id": "kaudit", "sasl.oauthbearer.client.secret": "oidc-secret-0123",
     "sasl.oauthbearer.token.endpoint.url": "https://127.0.0.1:1/token"}')
KAUDIT_KAFKA_BROKERS=$sasl IT_KAFKA_PROPS=$oidc it_config "$IT_DIR/oidc.yaml" "$topic" oidc
timeout 20 "$KAUDIT" run -c "$IT_DIR/oidc.yaml" >"$IT_DIR/oidc.log" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q 'oidc.yaml:[0-9]*: kafka property sasl.oauthbearer.method=oidc: .*not supported in this build: OAuth/OIDC depends on libcurl .*(librdkafka [0-9.]*;' "$IT_DIR/oidc.log"; then
	it_ok oidc-refused-as-documented
elif [ "$rc" = 1 ]; then
	it_fail oidc-refused-as-documented "refused with other words: $(head -c 300 "$IT_DIR/oidc.log")"
else
	it_fail oidc-refused-as-documented "kaudit run took OIDC (exit $rc): this librdkafka has it; update docs/operations.md"
fi
KAUDIT_KAFKA_BROKERS=$sasl IT_KAFKA_PROPS=$(jq -c 'del(.["enable.sasl.oauthbearer.unsecure.jwt"])' \
    "$IT_DIR/props/oauthbearer") it_config "$IT_DIR/notoken.yaml" "$topic" notoken
"$KAUDIT" check -c "$IT_DIR/notoken.yaml" >"$IT_DIR/notoken.out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q 'sasl.mechanism=OAUTHBEARER needs a token source' "$IT_DIR/notoken.out" &&
    it_ok oauthbearer-without-token-refused ||
    it_fail oauthbearer-without-token-refused "exit $rc: $(head -c 300 "$IT_DIR/notoken.out")"

# --- no secret in any log ----------------------------------------------------
leaks=$(grep -l -F -e "$KAFKA_SASL_PASSWORD" -e "$KAFKA_KEY_PASSWORD" -e "wrong-$$-Password89" \
    -e oidc-secret-0123 "$IT_DIR"/*.log | xargs -r -n1 basename | paste -sd' ' -)
[ -z "$leaks" ] && it_ok no-secret-in-logs || it_fail no-secret-in-logs "a password in $leaks"
it_done
