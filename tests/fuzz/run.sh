#!/usr/bin/env bash
# tests/fuzz/run.sh — libFuzzer runs of every tests/fuzz/fuzz_*.c.
#
# The library is rebuilt with clang and -fsanitize=fuzzer-no-link,address,
# undefined into build/libfuzzer, each target is linked with
# -fsanitize=fuzzer and run for FUZZ_SECONDS (default 60) from its seeds in
# tests/fuzz/seeds/<target>/. New inputs go to a scratch corpus under
# build/libfuzzer; a crash is saved to tests/fuzz/crashes/<target>/ so that
# `make fuzz-replay` replays it from then on. Prints "PASS fuzz <target>" or
# "FAIL fuzz <target>" per target.
#   FUZZ_SECONDS=600 tests/fuzz/run.sh            all targets, 10 minutes each
#   tests/fuzz/run.sh fuzz_json                   one target
set -u
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
out=build/libfuzzer
san="address,undefined"

if ! command -v clang >/dev/null 2>&1; then
	echo "clang not found; installing it (apt-get install -y clang)"
	apt-get install -y clang >/dev/null || { echo "FAIL fuzz: clang is not available"; exit 1; }
fi

# The library as the Makefile builds it, but with clang and fuzzer
# instrumentation; warnings stay visible but do not stop a fuzzing run.
mkdir -p "$out"
if ! make --no-print-directory CC=clang BUILD="$out" \
    WARN="-Wall -Wextra -Wno-unused-parameter" \
    OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,$san" \
    "$out/libkaudit.a" >"$out/build.log" 2>&1; then
	echo "FAIL fuzz: the library did not build with clang:"
	tail -n 20 "$out/build.log"
	exit 1
fi

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for src in tests/fuzz/fuzz_*.c; do
		[ -f "$src" ] && targets+=("$(basename "$src" .c)")
	done
fi

fail=0
for t in "${targets[@]}"; do
	bin="$out/fuzz/$t"
	corpus="$out/corpus/$t"
	crashes="tests/fuzz/crashes/$t"
	mkdir -p "$out/fuzz" "$corpus" "$crashes"
	# shellcheck disable=SC2046
	if ! clang -std=c11 -D_GNU_SOURCE -O1 -g -I. -I"$out/gen" -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,$san -o "$bin" "tests/fuzz/$t.c" "$out/libkaudit.a" \
	    $(pkg-config --libs rdkafka jansson libpq libcurl yaml-0.1 libpcre2-8 libcrypto zlib) -pthread -lm; then
		echo "FAIL fuzz $t: does not build"
		fail=$((fail + 1))
		continue
	fi
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	[ ${#dict[@]} -eq 0 ] && [ -f tests/fuzz/json.dict ] && case $t in fuzz_json|fuzz_decode|fuzz_eval|fuzz_format)
		dict=(-dict=tests/fuzz/json.dict);; esac
	seeds=()
	[ -d "tests/fuzz/seeds/$t" ] && seeds=("tests/fuzz/seeds/$t")
	if "$bin" "${dict[@]}" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
	    "$corpus" "${seeds[@]}" >"$out/$t.log" 2>&1; then
		echo "PASS fuzz $t ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" |
		    grep -o '[0-9]*$') runs in ${seconds}s)"
	else
		echo "FAIL fuzz $t (log: $out/$t.log; inputs saved in $crashes/)"
		grep -m5 -E 'ERROR|SUMMARY' "$out/$t.log" | sed 's/^/    /'
		fail=$((fail + 1))
	fi
	rmdir "$crashes" 2>/dev/null || true
done
rmdir tests/fuzz/crashes 2>/dev/null || true
[ "$fail" -eq 0 ]
