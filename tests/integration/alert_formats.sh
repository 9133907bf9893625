#!/usr/bin/env bash
# alert_formats.sh — the daemon renders one finding for each webhook format
# and signs it, against the real receiver.
#
# One real exec event, its user name made hostile (a Slack mention, a
# mention of a user, a Slack link, bold, a bare URL, a template directive,
# a quote), gives one finding of k8s.exec.pod. Five webhooks receive it:
# generic with a template, slack, teams, pagerduty (its url pointed at the
# receiver) and a generic one signed with two secrets. The receiver's
# /signed/ path verifies the signatures with the Standard Webhooks reference
# implementation (the standardwebhooks package, tests/services/pyenv.sh)
# and fails the first attempt (/flaky/1), so the retry shows a fresh
# timestamp under the same webhook-id. Each body is checked with jq against
# its format's documented shape. A payload that cannot be rendered is dead
# at once with the reason, and nothing is sent.
IT_NAME=alert_formats
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-alert-formats-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
hostile='mallory <!channel> <@U123> <https://evil.example|click here> *bold* _x_ https://evil.example/x %{severity} "q\'
events=$IT_DIR/events.jsonl
jq -c --arg u "$hostile" '.auditID += "-formats" | .user.username = $u' \
    "$falco/exec_pod.json" >"$events"

# Two secrets (a rotation): one signature each in webhook-signature.
s1=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
s2=whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')
s2_url=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$s2")
base=$KAUDIT_RECEIVER_URL/it/$IT_RUN
signed_path=/signed/$s1,$s2_url/flaky/1/it/$IT_RUN/signed
export IT_PD_KEY=R0UTING0KEY0FOR0THE0TEST0000000
export IT_SECRET_2=$s2

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-alert-formats-$$" "alert:
  webhooks:
    - name: generic
      url: \"$base/generic\"
      rules: [k8s.exec.pod]
      template: |
        {\"text\": \"%{kaudit.summary}\", \"user\": \"%{user}\", \"rule\": \"%{rule}\",
         \"severity\": %{severity}, \"delivery\": %{kaudit.delivery_id},
         \"evidence\": %{evidence}}
    - name: slack
      url: \"$base/slack\"
      rules: [k8s.exec.pod]
      format: slack
    - name: teams
      url: \"$base/teams\"
      rules: [k8s.exec.pod]
      format: teams
    - name: pagerduty
      url: \"$base/pagerduty\"
      rules: [k8s.exec.pod]
      format: pagerduty
      routing_key: \${IT_PD_KEY}
    - name: signed
      url: \"$KAUDIT_RECEIVER_URL$signed_path\"
      rules: [k8s.exec.pod]
      secret: [$s1, \"\${IT_SECRET_2}\"]
    - name: late
      url: \"$base/late\"
      format: slack
      min_severity: critical
  backoff_ms: 1500"
"$KAUDIT" check -c "$cfg" >"$IT_DIR/check.log" 2>&1 && it_ok config-checks ||
    { it_fail config-checks "kaudit check: $(head -n 3 "$IT_DIR/check.log")"; }
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 1 || it_abort produce "could not create topic $topic"
it_produce_lines "$topic" "$events" || it_abort produce "kcat failed"

log=$IT_DIR/daemon.log
it_run_idle daemon-exit "$cfg" "$log" 90 3

read -r rows ndone <<<"$(it_sql "select count(*), count(*) filter (where state = 'done') from kaudit.outbox where webhook <> 'late'")"
[ "$rows" = 5 ] && [ "$ndone" = 5 ] && it_ok all-delivered ||
    { it_fail all-delivered "$rows outbox rows, $ndone done (want 5 and 5)";
      it_sql "select webhook, state, last_error from kaudit.outbox" | sed 's/^/    /' >&2; }

# A payload that cannot be rendered (here a finding that is not a JSON
# object, queued by hand for "late", which took no row of its own): dead at
# once with the reason, nothing sent.
it_sql "update kaudit.findings set finding = '[1]'::jsonb where rule = 'k8s.exec.pod';
	insert into kaudit.outbox (finding_id, webhook)
	select id, 'late' from kaudit.findings where rule = 'k8s.exec.pod'" >/dev/null
it_run "$cfg" "$log" 60 --idle-exit 2
read -r state attempts err <<<"$(it_sql "select state, attempts, last_error from kaudit.outbox where webhook = 'late'")"
n=$(jq -r --arg p "/it/$IT_RUN/late" 'select(.path == $p) | .path' "$KAUDIT_RECEIVER_LOG" | wc -l)
if [ "$state" = dead ] && [ "$n" = 0 ] && grep -q 'cannot render the payload as slack' <<<"$err"; then
	it_ok unrenderable-dead
else
	it_fail unrenderable-dead "state '$state' after $attempts attempt(s), $n requests sent, error: $err"
fi

# body PATH: the body of the last request the receiver saw under PATH.
body() {
	jq -c --arg p "$1" 'select(.path | startswith($p)) | .body | fromjson' \
	    "$KAUDIT_RECEIVER_LOG" | tail -n 1
}
# check NAME JSON JQ_FILTER [jq args]: passes when the filter gives true.
check() {
	local name=$1 json=$2 filter=$3 got
	shift 3
	got=$(jq -r "$@" "$filter" <<<"$json" 2>&1)
	[ "$got" = true ] && it_ok "$name" || it_fail "$name" "${got:-no body}: $(head -c 300 <<<"$json")"
}

generic=$(body "/it/$IT_RUN/generic")
gid=$(jq -r --arg p "/it/$IT_RUN/generic" 'select(.path == $p) | .headers["X-Kaudit-Delivery"]' \
    "$KAUDIT_RECEIVER_LOG" | tail -n 1)
check generic-template "$generic" '.user == $u and .rule == "k8s.exec.pod" and
    .severity == "medium" and .delivery == ($id | tonumber) and
    (.text | startswith("[medium] ")) and .evidence.verb == "create"' \
    --arg u "$hostile" --arg id "$gid"

slack=$(body "/it/$IT_RUN/slack")
check slack-shape "$slack" '
    (.text | type == "string") and .mrkdwn == false and .parse == "none" and
    (.blocks | length) >= 1 and (.blocks | length) <= 50 and
    .blocks[0].type == "header" and .blocks[0].text.type == "plain_text" and
    (.blocks[0].text.text | length) <= 150 and
    all(.blocks[]; .type == "header" or .type == "section" or .type == "context") and
    all(.blocks[] | select(.type == "section") | (.fields // [])[]; (.text | length) <= 2000) and
    all(.blocks[] | select(.type == "section") | (.fields // []); length <= 10) and
    all(.. | objects | select(.type == "mrkdwn"); .verbatim == true and (.text | length) <= 3000)'
check slack-neutralised "$slack" '
    ([.. | strings] | all(test("<|://") | not)) and
    ([.blocks[] | select(.type == "section") | .fields[]?.text | select(startswith("*User*"))][0]
     | test("^\\*User\\*\n`mallory &lt;!channel&gt; &lt;@U123&gt; &lt;https\\[:\\]//evil.example\\|click here&gt; \\*bold\\* _x_ https\\[:\\]//evil.example/x %\\{severity\\} \"q\\\\`$"))'

teams=$(body "/it/$IT_RUN/teams")
check teams-shape "$teams" '
    .type == "message" and (.attachments | length) == 1 and
    .attachments[0].contentType == "application/vnd.microsoft.card.adaptive" and
    .attachments[0].content.type == "AdaptiveCard" and .attachments[0].content.version == "1.4" and
    .attachments[0].content["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json" and
    all(.attachments[0].content.body[]; .type == "TextBlock" or .type == "RichTextBlock") and
    all(.attachments[0].content.body[] | select(.type == "RichTextBlock") | .inlines[]; .type == "TextRun")'
check teams-neutralised "$teams" '
    all(.attachments[0].content.body[] | select(.type == "TextBlock"); .text | test("mallory|evil|bold") | not) and
    ([.. | strings] | all(test("://evil") | not)) and
    any(.attachments[0].content.body[] | select(.type == "RichTextBlock") | .inlines[]; .text | startswith("mallory <!channel>"))'

pd=$(body "/it/$IT_RUN/pagerduty")
check pagerduty-shape "$pd" "
    .routing_key == \"$IT_PD_KEY\" and .event_action == \"trigger\" and
    (.dedup_key | startswith(\"kaudit-k8s.exec.pod-\") and length <= 255) and
    (.payload.summary | length) <= 1024 and (.payload.summary | startswith(\"[medium] \")) and
    .payload.severity == \"warning\" and .payload.source == \"it-$IT_NAME\" and
    .payload.timestamp == \"2018-10-26T13:38:34.902Z\" and .payload.class == \"exec\" and
    .payload.custom_details.rule == \"k8s.exec.pod\" and
    ([.. | strings] | all(test(\"://evil\") | not))"

# signed: a failed first attempt, then the retry; both verified with both
# secrets by the reference implementation, one webhook-id, fresh timestamps.
jq -c --arg p "$signed_path" 'select(.path == $p)' "$KAUDIT_RECEIVER_LOG" >"$IT_DIR/signed.jsonl"
n=$(wc -l <"$IT_DIR/signed.jsonl")
verified=$(jq -r '.signature.secrets | join(",")' "$IT_DIR/signed.jsonl" | sort -u | paste -sd' ')
ids=$(jq -r '.headers["webhook-id"] + "=" + .headers["X-Kaudit-Delivery"]' "$IT_DIR/signed.jsonl" | sort -u)
ts=$(jq -r '.headers["webhook-timestamp"]' "$IT_DIR/signed.jsonl" | sort -u | wc -l)
sigs=$(jq -r '.headers["webhook-signature"] | split(" ") | length' "$IT_DIR/signed.jsonl" | sort -u)
if [ "$n" = 2 ] && [ "$verified" = "ok,ok" ] && [ "$(wc -l <<<"$ids")" = 1 ] &&
    [ "${ids%%=*}" = "${ids#*=}" ] && [ "$ts" = 2 ] && [ "$sigs" = 2 ]; then
	it_ok signed-verified-by-reference
else
	it_fail signed-verified-by-reference "$n requests (want 2), results '$verified' (want ok,ok), ids '$ids', $ts timestamps (want 2), $sigs signatures each (want 2)"
fi
# the secrets never reach the log
if grep -q -e "${s1#whsec_}" -e "${s2#whsec_}" "$log"; then
	it_fail secrets-not-logged "a secret appears in the daemon log"
else
	it_ok secrets-not-logged
fi

it_done
