#!/usr/bin/env bash
# demo.sh — `make demo`: the whole pipeline on this machine, end to end.
#
# Starts a real Kafka broker, PostgreSQL and a webhook receiver on 127.0.0.1,
# replays the real audit events of config/samples into the topic k8s-audit,
# runs kaudit until it has been idle for 5 seconds, then shows the findings
# stored in PostgreSQL and the webhook deliveries the receiver got. Everything
# is stopped and removed at the end (KAUDIT_KEEP=1 keeps the services' dir).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

config=config/kaudit.demo.yaml
topic=k8s-audit
work=$(mktemp -d /tmp/kaudit-demo.XXXXXX)
env_file=

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
die() { echo "demo: $*" >&2; exit 1; }

cleanup() {
	if [ -n "$env_file" ]; then
		step "Stopping Kafka, PostgreSQL and the receiver"
		tests/services/down.sh "$env_file"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

step "Checking packages"
tests/services/deps.sh || die "missing packages (see above)"

step "Building bin/kaudit"
make --no-print-directory bin/kaudit >"$work/build.log" 2>&1 || { cat "$work/build.log"; die "build failed"; }
echo "ok"

step "Starting Kafka 3.9.1 (KRaft), PostgreSQL 15 and a webhook receiver on 127.0.0.1"
env_file=$(tests/services/up.sh) || { env_file=; die "services did not start"; }
# shellcheck disable=SC1090
. "$env_file"
echo "Kafka       $KAUDIT_KAFKA_BROKERS"
echo "PostgreSQL  $KAUDIT_PG_URL"
echo "Webhooks    $KAUDIT_RECEIVER_URL/hooks/soc (every finding), $KAUDIT_RECEIVER_URL/hooks/oncall (high and critical)"

step "Checking $config and applying the schema"
bin/kaudit check -c "$config" || die "kaudit check failed"
bin/kaudit migrate -c "$config" || die "kaudit migrate failed"

step "Producing the sample events of config/samples to topic $topic"
tests/services/kafka.sh topic "$KAUDIT_KAFKA_BROKERS" "$topic" 3 || die "could not create topic $topic"
n=0
for dir in config/samples/*/; do
	files=() lines=0
	for f in "$dir"*; do
		case $f in
		*.json) files+=("$f") ;;
		*.log | *.jsonl)
			grep -v '^[[:space:]]*$' "$f" | kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" ||
			    die "kcat failed on $f"
			lines=$((lines + $(grep -vc '^[[:space:]]*$' "$f"))) ;;
		esac
	done
	if [ ${#files[@]} -gt 0 ]; then
		kcat -P -b "$KAUDIT_KAFKA_BROKERS" -t "$topic" "${files[@]}" || die "kcat failed in $dir"
	fi
	printf '%4d messages  %s\n' $((${#files[@]} + lines)) "$(basename "$dir")"
	n=$((n + ${#files[@]} + lines))
done
echo "$n messages in all"

step "Running kaudit (until idle for 5 s)"
timeout -k 5 180 bin/kaudit run -c "$config" --idle-exit 5 2>&1 | sed 's/^/  | /'
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || die "kaudit run exited $rc"

step "Findings in PostgreSQL (kaudit.findings)"
psql -X -q -P pager=off "$KAUDIT_PG_URL" <<'SQL'
select to_char("time" at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as "time (UTC)",
       severity, rule, username as "user", verb,
       resource || coalesce('/' || subresource, '') as resource,
       coalesce(namespace, '') as namespace, coalesce(name, '') as name
  from kaudit.findings
 order by "time", severity_rank desc, rule;
select severity, count(*) as findings,
       string_agg(distinct category, ', ' order by category) as categories
  from kaudit.findings
 group by severity, severity_rank
 order by severity_rank desc;
SQL

step "Webhook deliveries received"
jq -r '
    (.path | sub("^/hooks/"; "")) as $hook |
    (.body | fromjson? // {}) as $f |
    [$hook, ($f.severity // "?"), ($f.rule // "?"), ($f.audit_id // "?")] | @tsv' \
    "$KAUDIT_RECEIVER_LOG" | column -t -s $'\t' -N WEBHOOK,SEVERITY,RULE,AUDIT_ID
echo
psql -X -q -P pager=off "$KAUDIT_PG_URL" -c \
    "select webhook, state, count(*) as deliveries, sum(attempts) as attempts
       from kaudit.outbox group by 1, 2 order by 1, 2"
