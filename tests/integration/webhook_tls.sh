#!/usr/bin/env bash
# webhook_tls.sh — webhooks over HTTPS with a private CA (ca_file) and a
# client certificate (client_cert, client_key), on HTTPS receivers of this
# test's own (tests/services/receiver.py --tls-cert --tls-key [--client-ca]).
#
# Four webhooks get every finding (and a fifth, below): "tls" (ca_file, by
# the name localhost) and "siem" (docs/alerting.md's example: ca_file and a
# client certificate, on a receiver that requires one) receive them all;
# "nocert" (no client certificate, on that receiver) is refused in the
# handshake and "wrongca" (another CA as ca_file) refuses the receiver's
# certificate: their deliveries fail with an error naming the certificate
# problem, are counted in kaudit_deliveries_total{outcome="retry"} and stay
# pending. After a SIGHUP with the right files every held delivery
# arrives, once, under its delivery id: nothing lost. kaudit check refuses a
# missing or unreadable file, a file that is not PEM, a certificate without
# its key and these keys on an http:// url; no log shows a key.
IT_NAME=webhook_tls
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=lib/certs.sh
. "$(dirname "$0")/lib/certs.sh"
it_init

tls=$IT_DIR/tls
it_certs "$tls" || it_abort setup "openssl could not make the certificates"

# kaudit check: each bad TLS setting is refused at its line.
# bad NAME LINE WHY WEBHOOK_YAML: check exits 1 with FILE:LINE: ...WHY.
bad() {
	local f=$IT_DIR/check-$1.yaml rc
	printf 'kafka:\n  topics: [t]\nalert:\n  webhooks:\n%s\n' "$4" >"$f"
	"$KAUDIT" check -c "$f" >/dev/null 2>"$IT_DIR/check-$1.err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qF "$f:$2: alert.webhooks: webhook \"h\": $3" "$IT_DIR/check-$1.err"; then
		it_ok "check-$1"
	else
		it_fail "check-$1" "exit $rc: $(head -n 1 "$IT_DIR/check-$1.err")"
	fi
}
u='    - name: h
      url: "https://127.0.0.1:1/x"'
bad missing-ca-file 7 "ca_file $tls/nope.pem: cannot open" "$u
      ca_file: \"$tls/nope.pem\""
bad not-pem 7 "ca_file $tls/server.ext: not a PEM file" "$u
      ca_file: \"$tls/server.ext\""
bad cert-without-key 7 "client_cert and client_key go together: client_key is missing" "$u
      client_cert: \"$tls/client.pem\""
bad http-url 5 "ca_file, client_cert and client_key apply only to an https:// url" \
    "    - name: h
      url: \"http://127.0.0.1:1/x\"
      ca_file: \"$tls/ca.pem\""

it_receiver_start tls 0 --tls-cert "$tls/server.pem" --tls-key "$tls/server.key" ||
    it_abort receiver "could not start the HTTPS receiver"
port1=$IT_RECV_PORT
it_receiver_start mtls 0 --tls-cert "$tls/server.pem" --tls-key "$tls/server.key" \
    --client-ca "$tls/ca.pem" || it_abort receiver "could not start the receiver with client certificates"
port2=$IT_RECV_PORT
p=/it/$IT_RUN

# The webhook of docs/alerting.md's example ("siem"), on the receiver that
# requires a client certificate, with this test's files.
doc_hook=$(awk '/<!-- example: webhook-tls -->/ { on = 1; next } on && /^```yaml/ { next }
    on && /^```/ { exit } on' docs/alerting.md | sed -n '/- name: /,$p' |
    sed -e "s|https://siem.example.internal/kaudit|https://127.0.0.1:$port2$p/siem|" \
	-e "s|/etc/kaudit/tls/siem-ca.pem|$tls/ca.pem|" \
	-e "s|/etc/kaudit/tls/kaudit-client.pem|$tls/client.pem|" \
	-e "s|/etc/kaudit/tls/kaudit-client.key|$tls/client.key|")
grep -q "client_key: \"$tls/client.key\"" <<<"$doc_hook" ||
    it_abort setup "no webhook-tls example with a client_key in docs/alerting.md"
# conf WRONGCA_CA NOCERT_EXTRA MORE_WEBHOOKS: the daemon's configuration.
conf() {
	it_config "$IT_DIR/kaudit.yaml" "$topic" "it-webhook-tls-$$" "alert:
  webhooks:
    - name: tls
      url: \"https://localhost:$port1$p/tls\"
      ca_file: \"$tls/ca.pem\"
$doc_hook
    - name: nocert
      url: \"https://127.0.0.1:$port2$p/nocert\"
      ca_file: \"$tls/ca.pem\"$2
    - name: wrongca
      url: \"https://127.0.0.1:$port1$p/wrongca\"
      ca_file: \"$1\"$3
  backoff_ms: 100
  max_backoff_ms: 1000
  poll_ms: 100
metrics:
  listen: \"127.0.0.1:0\""
}
topic=it-webhook-tls-$$
# sysca has no ca_file: the system's CAs, which do not know the private one,
# though the same libcurl handles served webhooks with a ca_file before.
conf "$tls/other-ca.pem" "" "
    - name: sysca
      url: \"https://127.0.0.1:$port1$p/sysca\""
"$KAUDIT" check -c "$IT_DIR/kaudit.yaml" >"$IT_DIR/check.out" 2>&1 &&
    it_ok check-tls-config || it_fail check-tls-config "$(head -n 1 "$IT_DIR/check.out")"
it_migrate "$IT_DIR/kaudit.yaml" || it_abort migrate "kaudit migrate failed"

falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
for f in exec_pod attach_pod create_nginx_pod_privileged; do
	jq -c --arg t "$$" '.auditID += "-" + $t' "$falco/$f.json"
done >"$IT_DIR/events.jsonl"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$IT_DIR/events.jsonl" || it_abort produce "kcat failed"
log=$IT_DIR/daemon.log
it_start "$IT_DIR/kaudit.yaml" "$log"
pid=$IT_PID

nscan=$(it_scan_set "$IT_DIR/events.jsonl" | it_alerting | wc -l)
[ "$nscan" -gt 0 ] || it_abort setup "kaudit scan finds nothing to deliver in the events"
it_wait_sql "select (count(*) = 5 * $nscan and count(*) filter (where webhook in ('tls', 'siem')
    and state <> 'done') = 0)::int from kaudit.outbox" 30 ||
    { it_show_log "$log"; it_abort delivered "the tls and mtls deliveries did not all arrive within 30 s"; }
it_alerting_ids >"$IT_DIR/want"
nwant=$(wc -l <"$IT_DIR/want")
# received NAME RECEIVER_LOG CHECK: every finding arrived once at $p/NAME.
received() {
	it_received_in "$2" "$p/$1" | cut -f1 | LC_ALL=C sort >"$IT_DIR/$1.ids"
	it_sql "select id, finding_id from kaudit.outbox where webhook = '$1'" |
	    LC_ALL=C sort >"$IT_DIR/$1.map"
	LC_ALL=C join -t "$(printf '\t')" "$IT_DIR/$1.ids" "$IT_DIR/$1.map" | cut -f2 |
	    LC_ALL=C sort >"$IT_DIR/$1.got"
	it_same "$3" "$IT_DIR/want" "$IT_DIR/$1.got"
}
received tls "$IT_DIR/tls.jsonl" https-ca-file-delivered
received siem "$IT_DIR/mtls.jsonl" https-client-cert-delivered

# The refused ones: failed, held, with the reason.
it_wait_sql "select (min(attempts) >= 1)::int from kaudit.outbox where webhook = 'sysca'" 20
n=$(it_sql "select count(*) from kaudit.outbox where webhook = 'sysca' and state = 'pending'
    and last_error like 'TLS: the receiver''s certificate does not verify (the system''s CAs): SSL certificate problem%'")
[ "$n" = "$nscan" ] && it_ok system-cas-without-ca-file ||
    it_fail system-cas-without-ca-file "$n of $nscan: $(it_sql "select last_error from kaudit.outbox where webhook = 'sysca' limit 1")"
it_wait_sql "select (count(*) = 2 * $nwant and min(attempts) >= 2)::int from kaudit.outbox
    where webhook in ('nocert', 'wrongca')" 20 ||
    it_fail held-and-retried "$(it_sql "select webhook, state, attempts from kaudit.outbox where webhook in ('nocert', 'wrongca')" | head -n 2 | tr '\n\t' '; ')"
read -r n_pending err_wrong <<<"$(it_sql "select count(*) filter (where state = 'pending'),
    count(*) filter (where last_error like 'TLS: the receiver''s certificate does not verify (ca_file %other-ca.pem): SSL certificate problem%')
    from kaudit.outbox where webhook = 'wrongca'")"
[ "$n_pending" = "$nwant" ] && [ "$err_wrong" = "$nwant" ] && it_ok wrong-ca-error-held ||
    it_fail wrong-ca-error-held "$n_pending pending, $err_wrong with the error, of $nwant: $(it_sql "select last_error from kaudit.outbox where webhook = 'wrongca' limit 1")"
read -r n_pending err_nocert <<<"$(it_sql "select count(*) filter (where state = 'pending'),
    count(*) filter (where last_error like 'TLS: the receiver requires a client certificate (set client_cert and client_key)%')
    from kaudit.outbox where webhook = 'nocert'")"
[ "$n_pending" = "$nwant" ] && [ "$err_nocert" = "$nwant" ] && it_ok no-client-cert-error-held ||
    it_fail no-client-cert-error-held "$n_pending pending, $err_nocert with the error, of $nwant: $(it_sql "select last_error from kaudit.outbox where webhook = 'nocert' limit 1")"
grep -q 'tls: refused: .*PEER_DID_NOT_RETURN_A_CERTIFICATE' "$IT_DIR/mtls.err" &&
    it_ok receiver-refused-no-cert ||
    it_fail receiver-refused-no-cert "the receiver logged no refused handshake: $(head -n 1 "$IT_DIR/mtls.err")"
[ -z "$(it_received_in "$IT_DIR/tls.jsonl" "$p/wrongca")$(it_received_in "$IT_DIR/mtls.jsonl" "$p/nocert")" ] &&
    it_ok refused-nothing-received || it_fail refused-nothing-received "a refused delivery reached a receiver"

mport=$(sed -n 's/.*metrics: .*(port \([0-9]*\)).*/\1/p' "$log" | head -n 1)
retries=$(curl -s "http://127.0.0.1:$mport/metrics" |
    sed -n 's/^kaudit_deliveries_total{webhook="wrongca",outcome="retry"} \([0-9]*\)$/\1/p')
[ -n "$retries" ] && [ "$retries" -ge "$nwant" ] && it_ok wrong-ca-counted ||
    it_fail wrong-ca-counted "kaudit_deliveries_total{webhook=\"wrongca\",outcome=\"retry\"} is '${retries}' (port '$mport')"

# The right files, and SIGHUP: the held deliveries arrive.
conf "$tls/ca.pem" "
      client_cert: \"$tls/client.pem\"
      client_key: \"$tls/client.key\"" ""
kill -HUP "$pid"
if it_wait_sql "select (count(*) filter (where state <> 'done') = 0)::int from kaudit.outbox
    where webhook <> 'sysca'" 30; then
	it_ok held-delivered-after-reload
else
	it_fail held-delivered-after-reload "$(it_sql "select webhook, state, last_error from kaudit.outbox where state <> 'done' and webhook <> 'sysca' limit 1")"
fi
grep -q 'reload applied' "$log" && it_ok reload-applied || it_fail reload-applied "no 'reload applied' in the log"
received wrongca "$IT_DIR/tls.jsonl" wrong-ca-nothing-lost
received nocert "$IT_DIR/mtls.jsonl" no-client-cert-nothing-lost

kill -TERM "$pid"
it_wait_exit "$pid" 30
rc=$?
[ "$rc" -eq 0 ] && it_ok sigterm-exit-0 || { it_fail sigterm-exit-0 "exited $rc"; it_show_log "$log"; }
for r in "${IT_PIDS[@]}"; do
	[ "$r" = "$pid" ] || it_receiver_stop "$r"
done
# The key files' contents never reach the log.
if grep -q -e 'PRIVATE KEY' -e "$(sed -n 2p "$tls/client.key")" "$log"; then
	it_fail no-key-in-log "a private key appears in the daemon log"
else
	it_ok no-key-in-log
fi
it_log "$nwant findings, each delivered to 4 webhooks; wrongca retries before the reload: $retries"
it_done
