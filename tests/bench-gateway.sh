#!/usr/bin/env bash
# bench-gateway.sh — `make bench-gateway`: what kaudit gateway sustains on
# this machine. A private broker (a topic of 3 partitions, acks=all,
# idempotent), the gateway with TLS and a client certificate verified
# against client_ca, and tests/bench_gateway.py POSTing EventLists of 100
# real events (the kubeadm cluster's, fresh auditIDs) over CONNS kept-alive
# connections (default 4) for SECONDS (default 15). Prints requests/s,
# events/s and the latency of the 200s (p50, p99), each 200 given only
# after Kafka acknowledged all 100 events. The client shares the machine's
# cores with the gateway and the broker.
set -u
cd "$(dirname "$0")/.." || exit 1
export KAUDIT=${KAUDIT:-bin/kaudit}
[ -x "$KAUDIT" ] || { echo "bench-gateway: build first (make)" >&2; exit 1; }

env_file=$(tests/services/up.sh) || exit 1
# shellcheck disable=SC1090
. "$env_file"
IT_NAME=bench_gateway
# shellcheck source=tests/integration/lib/common.sh
. tests/integration/lib/common.sh
# shellcheck source=tests/integration/lib/certs.sh
. tests/integration/lib/certs.sh
it_init
trap 'it_cleanup; tests/services/down.sh "$env_file" >/dev/null 2>&1' EXIT

it_certs "$IT_DIR/tls" || { echo "bench-gateway: openssl failed" >&2; exit 1; }
topic=bench-gateway-$$
it_topic "$topic" 3 >/dev/null 2>&1 || true
python3 tests/noise/csv2audit.py \
    tests/fixtures/corpus/hkerma-kubernetes-event-dataset/audit-logs.csv >"$IT_DIR/all.jsonl"
head -n 100 "$IT_DIR/all.jsonl" >"$IT_DIR/kubeadm.jsonl"
python3 tests/integration/lib/replicate.py --copies 1 --tag bench "$IT_DIR/kubeadm.jsonl" |
    jq -cs '{kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: .}' \
    >"$IT_DIR/body.json"
events=$(jq '.items | length' "$IT_DIR/body.json")
it_config "$IT_DIR/gateway.yaml" "$topic" "bench" "gateway:
  listen: \"127.0.0.1:0\"
  tls_cert: \"$IT_DIR/tls/server.pem\"
  tls_key: \"$IT_DIR/tls/server.key\"
  client_ca: \"$IT_DIR/tls/ca.pem\"
  metrics_listen: \"\""
it_gateway_start "$IT_DIR/gateway.yaml" "$IT_DIR/gateway.log" ||
    { cat "$IT_DIR/gateway.log" >&2; exit 1; }
gw=$IT_GW_PID
port=$IT_GW_PORT
python3 tests/bench_gateway.py --port "$port" --ca "$IT_DIR/tls/ca.pem" \
    --cert "$IT_DIR/tls/client.pem" --key "$IT_DIR/tls/client.key" --body "$IT_DIR/body.json" \
    --events "$events" --conns "${CONNS:-4}" --seconds "${SECONDS_RUN:-15}"
rc=$?
kill -TERM "$gw"
it_wait_exit "$gw" 20
kcat -C -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" -e -q -f '\n' 2>/dev/null | wc -l |
    awk '{ print "bench-gateway: " $1 " messages in the topic" }'
exit $rc
