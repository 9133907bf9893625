#!/usr/bin/env bash
# gateway_cli.sh — kaudit gateway's command line and configuration, no
# services: its help, usage errors, and every gateway: setting that cannot
# serve refused with the reason before anything listens. Sourced output
# format of cli.sh: "PASS cli:name" / "FAIL cli:name: why".
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-gwcli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

check() {	# name, condition-command...
	local name=$1; shift
	if "$@"; then echo "PASS cli:$name"; else echo "FAIL cli:$name: $*"; fi
}

"$K" --help >"$tmp/h" 2>&1
check gateway-in-help grep -q 'kaudit gateway -c FILE' "$tmp/h"
"$K" gateway -h >"$tmp/gh" 2>&1
check gateway-help-exit-0 test $? -eq 0
check gateway-help-statuses grep -q '503  Kafka did not acknowledge' "$tmp/gh"
"$K" gateway >/dev/null 2>&1
check gateway-needs-config-exit-2 test $? -eq 2
"$K" gateway -c x.yaml extra >/dev/null 2>&1
check gateway-extra-arg-exit-2 test $? -eq 2
"$K" check --example >"$tmp/example.yaml"
for k in listen tls_cert tls_key client_ca tokens topic cluster max_body_bytes timeout_ms \
    max_connections metrics_listen; do
	check "gateway-example-$k" grep -q "^  $k: " "$tmp/example.yaml"
done

# gateway CONFIG-TEXT: runs the gateway on it (nothing may listen: each
# config below is refused); the exit status, stderr in $tmp/err.
gateway() {
	printf 'kafka:\n  brokers: "127.0.0.1:1"\n%s\n' "$1" >"$tmp/g.yaml"
	timeout 10 "$K" gateway -c "$tmp/g.yaml" >/dev/null 2>"$tmp/err"
}
gateway 'gateway:
  listen: "127.0.0.1:0"'
check gateway-no-credentials-exit-1 test $? -eq 1
check gateway-no-credentials-says grep -q 'g.yaml: gateway: neither tokens nor client_ca' "$tmp/err"
export KAUDIT_CLI_TOKEN=0123456789abcdef0123
gateway 'gateway:
  listen: "0.0.0.0:0"
  tokens: ["${KAUDIT_CLI_TOKEN}"]'
check gateway-plain-off-loopback-exit-1 test $? -eq 1
check gateway-plain-off-loopback-says grep -q 'without tls_cert: plain HTTP is only served on a loopback' "$tmp/err"
gateway 'gateway:
  listen: "127.0.0.1:0"
  tokens: ["short"]'
check gateway-short-token grep -q 'tokens\[0\]: shorter than 16 characters' "$tmp/err"
gateway 'gateway:
  listen: "127.0.0.1:0"
  tokens: ["${KAUDIT_CLI_UNSET_TOKEN}"]'
check gateway-token-env-unset grep -q 'g.yaml:5: environment variable KAUDIT_CLI_UNSET_TOKEN is not set' "$tmp/err"
gateway 'gateway:
  listen: "127.0.0.1:0"
  client_ca: "/nonexistent/ca.pem"
  tokens: ["${KAUDIT_CLI_TOKEN}"]'
check gateway-ca-needs-tls grep -q 'client_ca needs tls_cert and tls_key' "$tmp/err"
gateway 'gateway:
  listen: "127.0.0.1:0"
  tls_cert: "/nonexistent/cert.pem"
  tls_key: "/nonexistent/key.pem"
  tokens: ["${KAUDIT_CLI_TOKEN}"]'
check gateway-missing-cert-exit-1 test $? -eq 1
check gateway-missing-cert-says grep -q 'tls_cert /nonexistent/cert.pem' "$tmp/err"
gateway 'gateway:
  listen: "127.0.0.1"
  tokens: ["${KAUDIT_CLI_TOKEN}"]'
check gateway-bad-listen grep -q 'expected HOST:PORT' "$tmp/err"
gateway 'gateway:
  max_body_bytes: 10
  timeout_ms: 0'
check gateway-bounds grep -q 'gateway.max_body_bytes' "$tmp/err"
check gateway-bounds-timeout grep -q 'gateway.timeout_ms' "$tmp/err"
gateway 'gateway:
  lisen: "127.0.0.1:0"'
check gateway-unknown-key grep -q 'g.yaml:4: unknown key "gateway.lisen"' "$tmp/err"

# docs/ingest.md's configurations and deploy/'s are valid: each ```yaml block
# of the page (the gateway's, the AKS one) and deploy/kaudit-gateway.yaml.
awk -v dir="$tmp" '/^ *```yaml/ { n++; f = dir "/doc" n ".yaml"; ind = index($0, "`") - 1; next }
    /^ *```/ { f = ""; next } f { print substr($0, ind + 1) > f }' docs/ingest.md
check docs-ingest-has-examples test -s "$tmp/doc1.yaml" -a -s "$tmp/doc2.yaml"
for f in "$tmp"/doc*.yaml deploy/kaudit-gateway.yaml; do
	KAUDIT_GATEWAY_TOKEN=0123456789abcdef EVENTHUB_CONNECTION_STRING='Endpoint=sb://x/' \
	    "$K" check -c "$f" >"$tmp/check.out" 2>&1
	check "docs-ingest-example-$(basename "$f" .yaml)" test $? -eq 0
done
check docs-ingest-aks-sasl grep -q 'sasl.username: "$ConnectionString"' "$tmp/doc2.yaml"
# the API server's kubeconfig points at the gateway's path
check deploy-kubeconfig-path grep -q 'server: https://127.0.0.1:8443/audit$' deploy/audit-webhook.kubeconfig

# kaudit check applies the gateway's own checks to a config that uses it
printf 'gateway:\n  listen: "0.0.0.0:8443"\n  tokens: ["${KAUDIT_CLI_TOKEN}"]\n' >"$tmp/chk.yaml"
"$K" check -c "$tmp/chk.yaml" >/dev/null 2>"$tmp/err"
check check-gateway-exit-1 test $? -eq 1
check check-gateway-says grep -q 'chk.yaml: gateway: listen 0.0.0.0:8443 without tls_cert' "$tmp/err"
