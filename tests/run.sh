#!/usr/bin/env bash
# tests/run.sh — runs every test suite and closes with "N passed, N failed".
#
# Suites print "PASS name" / "FAIL name" lines; this script counts them.
# A suite that exits non-zero without printing a FAIL line counts as one
# failure of its own, so a crash can never pass silently.
#   unit         build/*/tests/* binaries (no services)
#   rules        bin/kaudit rules test tests/rules (golden rule tests)
#   integration  tests/integration/*.sh against real Kafka, PostgreSQL and an
#                HTTP receiver started by tests/services/up.sh
# KAUDIT_TESTS=unit,rules limits the suites (default: all).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
SUITES=${KAUDIT_TESTS:-unit,rules,integration}
log_dir=$(mktemp -d /tmp/kaudit-tests.XXXXXX)
pass=0
fail=0

run_suite() {	# name, command...
	local name=$1; shift
	local out="$log_dir/$name.log" rc p f
	"$@" >"$out" 2>&1
	rc=$?
	p=$(grep -c '^PASS ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	grep -E '^(PASS|FAIL) |check failed' "$out" | sed "s|^|[$name] |"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "[$name] FAIL $name exited $rc without a FAIL line; last output:"
		tail -n 20 "$out" | sed 's/^/    /'
		f=1
	elif [ "$f" -gt 0 ]; then
		echo "[$name] log: $out"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}

case ",$SUITES," in *,unit,*)
	for t in "$BUILD"/tests/*; do
		[ -x "$t" ] || continue
		run_suite "unit:$(basename "$t")" "$t"
	done
esac

case ",$SUITES," in *,rules,*)
	run_suite rules bin/kaudit rules test tests/rules
esac

case ",$SUITES," in *,integration,*)
	if ! env_file=$(tests/services/up.sh); then
		echo "FAIL services: tests/services/up.sh could not start Kafka, PostgreSQL and the receiver"
		fail=$((fail + 1))
	else
		# shellcheck disable=SC1090
		. "$env_file"
		for t in tests/integration/*.sh; do
			[ -f "$t" ] || continue
			run_suite "it:$(basename "$t" .sh)" bash "$t"
		done
		tests/services/down.sh "$env_file" >/dev/null 2>&1
	fi
esac

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
