#!/usr/bin/env bash
# route_when.sh — webhooks whose `when:` conditions differ each receive
# exactly the findings their condition holds on, through the real daemon,
# PostgreSQL and receiver.
#
# Falco's trace files go through the daemon with two webhooks told apart by
# their receiver paths: "exec" wants technique T1609 at medium and above,
# "priv" high and critical rbac and workload findings without T1609 (so no
# finding is meant for both, and many for neither). What each should get is
# worked out with jq from the findings the daemon stored; what each got is
# read from its outbox rows and from the receiver's log.
IT_NAME=route_when
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
it_init

topic=it-route-when-$$
falco=$IT_CORPUS/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
files=()
for f in "$falco"/*.json; do
	# a deliberately malformed document: bad_input.sh's
	[ "$(basename "$f")" = fal_01_003.json ] || files+=("$f")
done

cfg=$IT_DIR/kaudit.yaml
it_config "$cfg" "$topic" "it-route-when-$$" "alert:
  webhooks:
    - name: exec
      url: \"$KAUDIT_RECEIVER_URL/it/$IT_RUN/exec\"
      when: '\"T1609\" in tags and severity >= medium'
    - name: priv
      url: \"$KAUDIT_RECEIVER_URL/it/$IT_RUN/priv\"
      when: |
        category in (rbac, workload) and severity >= high
        and not (tags contains T1609)
  max_attempts: 8
  backoff_ms: 200"
"$KAUDIT" check -c "$cfg" >"$IT_DIR/check.log" 2>&1 || {
	sed 's/^/    /' "$IT_DIR/check.log" >&2
	it_abort check "kaudit check refused the config"
}
it_migrate "$cfg" || it_abort migrate "kaudit migrate failed"
it_topic "$topic" 3 || it_abort produce "could not create topic $topic"
it_produce_files "$topic" -- "${files[@]}" || it_abort produce "kcat failed"

log=$IT_DIR/daemon.log
it_run_idle daemon-exit "$cfg" "$log" 120 5

# What each webhook should get: the stored findings of alerting rules that
# its condition holds on (the same conditions, written in jq).
it_sql "select finding::text from kaudit.findings" >"$IT_DIR/findings.jsonl"
want() {	# jq condition
	jq -r "def rank: {info: 0, low: 1, medium: 2, high: 3, critical: 4}[.severity];
	    select($1) | [.audit_id // \"\", .rule] | @tsv" "$IT_DIR/findings.jsonl" |
	    it_alerting | sort -u
}
want '(.tags | index("T1609")) and rank >= 2' >"$IT_DIR/want-exec"
want '(.category == "rbac" or .category == "workload") and rank >= 3 and
    ((.tags | index("T1609")) | not)' >"$IT_DIR/want-priv"
nall=$(it_alerting <<<"$(jq -r '[.audit_id // "", .rule] | @tsv' "$IT_DIR/findings.jsonl")" | sort -u | wc -l)
nexec=$(wc -l <"$IT_DIR/want-exec")
npriv=$(wc -l <"$IT_DIR/want-priv")
it_log "$nall alerting findings: $nexec for exec, $npriv for priv"
if [ "$nexec" -gt 0 ] && [ "$npriv" -gt 0 ] && [ $((nexec + npriv)) -lt "$nall" ]; then
	it_ok conditions-split-findings
else
	it_fail conditions-split-findings "$nall findings: $nexec for exec, $npriv for priv (both must get some, and some none)"
fi

for hook in exec priv; do
	# the outbox rows the router made for the webhook
	it_sql "select f.audit_id, f.rule from kaudit.outbox o join kaudit.findings f
	    on f.id = o.finding_id where o.webhook = '$hook'" | sort >"$IT_DIR/outbox-$hook"
	dups=$(uniq -d "$IT_DIR/outbox-$hook" | wc -l)
	sort -u "$IT_DIR/outbox-$hook" >"$IT_DIR/outbox-$hook-set"
	if [ "$dups" -eq 0 ]; then
		it_same "routed-$hook" "$IT_DIR/want-$hook" "$IT_DIR/outbox-$hook-set"
	else
		it_fail "routed-$hook" "$dups findings with more than one outbox row"
	fi
	# what its receiver path got: each of those findings, once
	it_received "/it/$IT_RUN/$hook" | cut -f2,3 | sort >"$IT_DIR/got-$hook"
	dups=$(uniq -d "$IT_DIR/got-$hook" | wc -l)
	sort -u "$IT_DIR/got-$hook" >"$IT_DIR/got-$hook-set"
	if [ "$dups" -eq 0 ]; then
		it_same "delivered-$hook" "$IT_DIR/want-$hook" "$IT_DIR/got-$hook-set"
	else
		it_fail "delivered-$hook" "$dups findings delivered more than once"
	fi
done

both=$(comm -12 "$IT_DIR/got-exec-set" "$IT_DIR/got-priv-set" | wc -l)
[ "$both" -eq 0 ] && it_ok no-finding-at-both ||
    it_fail no-finding-at-both "$both findings reached both webhooks"

it_done
