#!/usr/bin/env bash
# down.sh ENVFILE — stops what up.sh started and removes its directory
# (kept when KAUDIT_KEEP=1, for a look at the broker, server and receiver logs).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: down.sh ENVFILE" >&2; exit 2; }
# shellcheck disable=SC1090
. "$1"
dir=${KAUDIT_SERVICES_DIR:?}
case $dir in /tmp/kaudit-services.*) ;; *) echo "down.sh: refusing to remove $dir" >&2; exit 2 ;; esac

rc=0
if [ -n "${KAUDIT_RECEIVER_PID:-}" ] && kill "$KAUDIT_RECEIVER_PID" 2>/dev/null; then
	for ((i = 0; i < 20; i++)); do
		kill -0 "$KAUDIT_RECEIVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$KAUDIT_RECEIVER_PID" 2>/dev/null
fi
"$here/kafka.sh" stop "$dir" || rc=1
"$here/pg.sh" stop "$dir" || rc=1
if [ "${KAUDIT_KEEP:-0}" = 1 ]; then
	echo "down.sh: kept $dir" >&2
else
	rm -rf "$dir"
fi
exit $rc
