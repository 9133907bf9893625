#!/usr/bin/env bash
# observe_cli.sh — the daemon's logging and metrics settings, no services:
# log_format json gives one JSON object per line; no credential of the
# configuration (a password in the database URL, sasl.password, webhook
# header values, a Slack URL's path, a query key) appears in any line,
# text or json, even at debug level where the settings are logged; bad
# values of log_format and metrics.listen are refused. Output format of
# cli.sh: "PASS cli:name" / "FAIL cli:name: why".
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-obscli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

check() {	# name, condition-command...
	local name=$1; shift
	if "$@"; then echo "PASS cli:$name"; else echo "FAIL cli:$name: $*"; fi
}

secrets="Kafka-Pass-77 Pg-Pass-42 SlackPath99 Query-Key-11 Hdr-Token-33 Custom-Hdr-55 Ssl-Key-66"
config() {	# format
	cat <<EOF2
kafka:
  brokers: "127.0.0.1:1"
  topics: ["t"]
  properties: {"sasl.password": "Kafka-Pass-77", "sasl.username": "kuser",
    "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
    "ssl.key.password": "Ssl-Key-66"}
postgres:
  url: "postgresql://kaudit:Pg-Pass-42@127.0.0.1:1/kaudit?connect_timeout=2"
alert:
  webhooks:
    - name: hook
      url: "https://hooks.example.invalid/services/T0/B0/SlackPath99?key=Query-Key-11"
      format: slack
      headers: {"Authorization": "Bearer Hdr-Token-33", "X-Api": "Custom-Hdr-55"}
log_level: debug
log_format: $1
EOF2
}

for f in text json; do
	config $f >"$tmp/$f.yaml"
	"$K" run -c "$tmp/$f.yaml" >"$tmp/$f.out" 2>&1
	check "log-$f-run-fails-without-db" test $? -eq 1
	# The lines that carry the credentials are there, redacted.
	check "log-$f-settings-logged" grep -q 'sasl.password=REDACTED' "$tmp/$f.out"
	check "log-$f-url-redacted" grep -q 'postgresql://kaudit:REDACTED@127.0.0.1:1/' "$tmp/$f.out"
	check "log-$f-header-redacted" grep -q 'header Authorization: REDACTED' "$tmp/$f.out"
	for s in $secrets; do
		check "log-$f-no-$s" sh -c "! grep -q '$s' '$tmp/$f.out'"
	done
done
nobj=$(jq -c 'select((.time | type) == "string" and (.msg | type) == "string" and
    (.level | IN("debug", "info", "warn", "error")))' "$tmp/json.out" | wc -l)
check log-json-every-line-an-object test "$nobj" -ge 5 -a "$nobj" -eq "$(wc -l <"$tmp/json.out")"

# A property librdkafka refuses is quoted in the error, value and all.
sed 's/"ssl.key.password": "Ssl-Key-66"/"sasl.oauthbearer.client.secret": "Oauth-Sec-88"/' \
    "$tmp/text.yaml" >"$tmp/oauth.yaml"
"$K" run -c "$tmp/oauth.yaml" >"$tmp/oauth.out" 2>&1
check log-refused-property-exit-1 test $? -eq 1
check log-refused-property-redacted grep -q 'client.secret=REDACTED' "$tmp/oauth.out"
check log-refused-property-no-secret sh -c "! grep -q Oauth-Sec-88 '$tmp/oauth.out'"
check log-text-not-json sh -c "! grep -q '^{' '$tmp/text.out'"

sed 's/^log_format: .*/log_format: yaml/' "$tmp/text.yaml" >"$tmp/bad.yaml"
"$K" check -c "$tmp/bad.yaml" >"$tmp/bad.out" 2>&1
check log-format-bad-exit-1 test $? -eq 1
check log-format-bad-says-where grep -q "bad.yaml:[0-9]*: log_format: \"yaml\" is not one of text, json" "$tmp/bad.out"

# metrics.listen: an address that cannot be listened on stops run before
# any thread starts, with the reason (the database check comes first, so a
# reachable database is not needed to see it: kaudit check accepts it).
printf 'metrics:\n  listen: "127.0.0.1:99999"\n' >"$tmp/m.yaml"
"$K" check -c "$tmp/m.yaml" >"$tmp/m.out" 2>&1
check metrics-listen-in-check test $? -eq 0
"$K" check --example >"$tmp/example.yaml"
check metrics-listen-in-example grep -q '^  listen: ""' "$tmp/example.yaml"
check log-format-in-example grep -q '^log_format: text' "$tmp/example.yaml"

# docs/observability.md: its example configuration passes check.
awk '/<!-- example: observability -->/ { on = 1; next } on && /^```yaml/ { next }
    on && /^```/ { exit } on { print }' docs/observability.md >"$tmp/doc.yaml"
KAUDIT_PG_PASSWORD=x "$K" check -c "$tmp/doc.yaml" >"$tmp/doc.out" 2>&1
check docs-observability-example-ok sh -c "test $? -eq 0 && grep -q '^  listen: ' '$tmp/doc.yaml'"
