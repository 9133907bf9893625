#!/usr/bin/env bash
# up.sh — starts Kafka, PostgreSQL and the webhook receiver on 127.0.0.1 in a
# fresh temp dir and prints the path of an env file there (export lines:
# KAUDIT_SERVICES_DIR, KAUDIT_KAFKA_BROKERS, KAUDIT_PG_URL,
# KAUDIT_RECEIVER_URL, KAUDIT_RECEIVER_LOG and the PIDs). Progress goes to
# stderr; stdout carries the path only, so `env=$(up.sh)` works. Exits
# non-zero, after stopping whatever did start, when a service fails.
# Stop everything with down.sh ENVFILE.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/kaudit-services.XXXXXX)
chmod 755 "$dir"

say() { echo "up.sh: $*" >&2; }

fail() {
	say "$*"
	"$here/kafka.sh" stop "$dir" >/dev/null 2>&1
	"$here/pg.sh" stop "$dir" >/dev/null 2>&1
	[ -n "${rpid:-}" ] && kill "$rpid" 2>/dev/null
	if [ "${KAUDIT_KEEP:-0}" = 1 ]; then
		say "kept $dir"
	else
		rm -rf "$dir"
	fi
	exit 1
}

start_receiver() {
	local i py
	mkdir -p "$dir/receiver"
	: >"$dir/receiver/requests.jsonl"
	# The venv with the Standard Webhooks reference implementation, which
	# the receiver's /signed/ paths verify with; without it they answer 401.
	if ! py=$("$here/pyenv.sh"); then
		say "no venv with standardwebhooks: /signed/ paths cannot verify"
		py=python3
	fi
	setsid "$py" "$here/receiver.py" --port 0 --log "$dir/receiver/requests.jsonl" \
	    >"$dir/receiver/port" 2>"$dir/receiver/stderr.log" </dev/null &
	rpid=$!
	for ((i = 0; i < 100; i++)); do
		rport=$(head -n 1 "$dir/receiver/port" 2>/dev/null)
		[ -n "$rport" ] && return 0
		kill -0 "$rpid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/receiver/stderr.log" >&2
	return 1
}

say "starting Kafka and PostgreSQL in $dir"
# Kafka (a JVM) is the slow one: PostgreSQL and the receiver start meanwhile.
"$here/kafka.sh" start "$dir" >"$dir/kafka.out" 2>"$dir/kafka.err" </dev/null &
kjob=$!
"$here/pg.sh" start "$dir" >"$dir/pg.out" 2>"$dir/pg.err" </dev/null &
pjob=$!
start_receiver || fail "receiver did not start"
wait "$pjob"; prc=$?
wait "$kjob"; krc=$?
[ "$prc" -eq 0 ] || { cat "$dir/pg.err" >&2; fail "PostgreSQL did not start"; }
[ "$krc" -eq 0 ] || { cat "$dir/kafka.err" >&2; fail "Kafka did not start"; }

brokers=$(cat "$dir/kafka.out")
pg_url=$(cat "$dir/pg.out")
env_file=$dir/env
cat >"$env_file" <<ENV
export KAUDIT_SERVICES_DIR='$dir'
export KAUDIT_KAFKA_BROKERS='$brokers'
export KAUDIT_KAFKA_PID='$(cat "$dir/kafka/pid")'
export KAUDIT_PG_URL='$pg_url'
export KAUDIT_PG_PID='$(cat "$dir/pg/pid")'
export KAUDIT_RECEIVER_URL='http://127.0.0.1:$rport'
export KAUDIT_RECEIVER_LOG='$dir/receiver/requests.jsonl'
export KAUDIT_RECEIVER_PID='$rpid'
ENV
say "Kafka $brokers, PostgreSQL $pg_url, receiver http://127.0.0.1:$rport"
echo "$env_file"
