#!/usr/bin/env bash
# tests/run.sh — runs every test suite and closes with "N passed, N failed".
#
# Suites print "PASS name" / "FAIL name" lines; this script counts them.
# A suite that exits non-zero without printing a FAIL line counts as one
# failure of its own, so a crash can never pass silently.
#   unit         build/*/tests/* binaries (no services)
#   rules        $KAUDIT (bin/kaudit) rules test tests/rules (golden rule tests)
#   cli          tests/cli/cli.sh: the command-line contract, docs/rules.md current,
#                tests/cli/scan_memory.sh: scan's findings the same however it
#                reads, its peak memory flat as the file grows,
#                and tools/layers.sh: no folder includes one above it
#   noise        tests/noise/noise.sh: the pack on real cluster traffic
#   fuzz         every fuzz target replayed over its seeds (make fuzz-replay)
#   integration  tests/integration/*.sh against real Kafka, PostgreSQL and an
#                HTTP receiver started by tests/services/up.sh (started before
#                the unit suites too: the storage and alert tests need them)
#   faults       tests/faults/faults.sh short: crashes, outages and a full
#                disk on a broker, database and receiver of its own
#                (`make soak` runs the long version)
# KAUDIT_TESTS=unit,rules limits the suites (default: all).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/rel}
SUITES=${KAUDIT_TESTS:-unit,rules,cli,noise,fuzz,integration,faults}
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

# Unit tests of the storage and alert layers and every integration test use
# the real services; start them once for the whole run.
env_file=
case ",$SUITES," in *,unit,*|*,integration,*)
	if env_file=$(tests/services/up.sh); then
		# shellcheck disable=SC1090
		. "$env_file"
		trap 'tests/services/down.sh "$env_file" >/dev/null 2>&1' EXIT
	else
		echo "FAIL services: tests/services/up.sh could not start Kafka, PostgreSQL and the receiver"
		fail=$((fail + 1))
		env_file=
	fi
esac

case ",$SUITES," in *,unit,*)
	for t in "$BUILD"/tests/*; do
		[ -x "$t" ] || continue
		run_suite "unit:$(basename "$t")" "$t"
	done
esac

case ",$SUITES," in *,rules,*)
	run_suite rules "${KAUDIT:-bin/kaudit}" rules test tests/rules
esac

case ",$SUITES," in *,cli,*)
	run_suite cli tests/cli/cli.sh
	run_suite cli-scan-memory tests/cli/scan_memory.sh
	run_suite layers tools/layers.sh
esac

case ",$SUITES," in *,noise,*)
	run_suite noise tests/noise/noise.sh
esac

case ",$SUITES," in *,fuzz,*)
	# Replays every fuzz target's seeds and saved crashes with the normal
	# compiler (and the sanitizers when SANITIZE is set).
	run_suite fuzz-replay make --no-print-directory fuzz-replay SANITIZE="${SANITIZE:-}"
esac

case ",$SUITES," in *,integration,*)
	if [ -n "$env_file" ]; then
		for t in tests/integration/*.sh; do
			[ -f "$t" ] || continue
			run_suite "it:$(basename "$t" .sh)" bash "$t"
		done
	fi
esac

case ",$SUITES," in *,faults,*)
	run_suite faults bash tests/faults/faults.sh short
	grep '^| ' "$log_dir/faults.log"	# the suite's table
esac

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
