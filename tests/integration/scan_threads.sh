#!/usr/bin/env bash
# scan_threads.sh — `kaudit scan --threads N` prints exactly what one thread
# prints: the same findings in the same order, the same errors on stderr (with
# lines and offsets counted from the start of the file), the same exit status
# and the same --stats counts.
#
# Every corpus file is scanned with --split-min 0, so even small files are cut
# into chunks (pretty-printed documents, CSV and broken input included, where
# one thread must take over without a trace). Then inputs built to stress the
# cutting: a JSON-lines file past the default split size whose events repeat
# in every chunk (the de-duplication across chunks), the same with broken
# lines in the middle and near the start, a top-level array with one element
# per line, pretty-printed EventLists back to back, and errors inside a long
# envelope field, whose messages the decoder cuts at a fixed length. Needs no
# services.
IT_NAME=scan_threads
. "$(dirname "$0")/lib/common.sh"

[ -x "$KAUDIT" ] || it_abort setup "$KAUDIT not built"
corpus=$(it_corpus) || it_abort setup "corpus not found in ../shared/corpus or /work/shared/corpus"
IT_DIR=$(mktemp -d /tmp/kaudit-it-scan-threads.XXXXXX)
trap it_cleanup EXIT

# scan_out OUT ARGS...: stdout to OUT.out, stderr to OUT.err, status to OUT.rc.
scan_out() {
	local out=$1
	shift
	"$KAUDIT" scan "$@" >"$out.out" 2>"$out.err"
	echo $? >"$out.rc"
}

# same CHECK FILE [ARGS...]: against --threads 1, --threads 2 with the chunks
# it picks itself, and --threads 4 with chunks of 8 KB (hundreds of them: the
# threads wait for the writing to catch up).
same() {
	local check=$1 file=$2 t why=
	shift 2
	scan_out "$IT_DIR/t1" --threads 1 "$@" "$file"
	scan_out "$IT_DIR/t2" --threads 2 "$@" "$file"
	scan_out "$IT_DIR/t4" --threads 4 --chunk-bytes 8192 "$@" "$file"
	for t in 2 4; do
		cmp -s "$IT_DIR/t1.out" "$IT_DIR/t$t.out" || why+=" stdout differs with $t threads;"
		cmp -s "$IT_DIR/t1.err" "$IT_DIR/t$t.err" || why+=" stderr differs with $t threads;"
		cmp -s "$IT_DIR/t1.rc" "$IT_DIR/t$t.rc" || why+=" exit status differs with $t threads;"
	done
	if [ -n "$why" ]; then
		it_fail "$check" "$file:$why"
		return 1
	fi
	return 0
}

# 1. Every corpus file, cut as small as the splitter allows.
n=0
bad=0
while IFS= read -r f; do
	n=$((n + 1))
	same "corpus" "$f" --split-min 0 || bad=$((bad + 1))
done < <(find "$corpus" tests/fixtures -type f ! -name SOURCE.txt | sort)
[ "$n" -gt 50 ] || it_fail corpus "only $n corpus files found"
[ "$bad" -eq 0 ] && [ "$n" -gt 50 ] && it_ok "corpus ($n files, 2 and 4 threads)"

# 2. JSON lines past the default split size, every event repeated in each
# chunk: only the first copy of each (audit_id, rule) may print.
lines=$IT_DIR/lines.jsonl
base=$IT_DIR/base.jsonl
cat "$corpus/openshift-cluster-logging-operator/test/functional/filters/apiaudit/vrl/testdata/audit_in.log" \
    "$corpus/kubernetes-test-infra-logviewer/parsing_test_events.jsonl" \
    "$corpus/panther-labs-panther-analysis/panther_k8s_audit_native.jsonl" \
    "$corpus/panther-labs-panther-analysis/panther_gke_cloud_logging.jsonl" >"$base"
# fal_01_003.json is not an event ({"kind": 0}): this file decodes cleanly,
# so nothing forces the scan back to one thread.
for f in "$corpus"/falcosecurity-falco-trace-files/test/trace_files/k8s_audit/*.json; do
	[ "$(basename "$f")" = fal_01_003.json ] || jq -c . "$f"
done >>"$base"
: >"$lines"
while [ "$(stat -c %s "$lines")" -lt $((5 << 20)) ]; do cat "$base" >>"$lines"; done
if same big-lines "$lines"; then
	if [ "$(cat "$IT_DIR/t1.rc")" = 0 ] && [ -s "$IT_DIR/t1.out" ] && [ "$(jq -r '[.audit_id, .rule] | @tsv' "$IT_DIR/t1.out" | sort | uniq -d | wc -l)" -eq 0 ]; then
		it_ok big-lines
	else
		it_fail big-lines "decode errors, no findings, or an (audit_id, rule) printed twice"
	fi
fi

# 3. --stats counts the same.
"$KAUDIT" scan --stats --threads 1 "$lines" 2>&1 >/dev/null | awk '{ print $1, $2, $3, $4, $5, $6 }' >"$IT_DIR/s1"
"$KAUDIT" scan --stats --threads 2 "$lines" 2>&1 >/dev/null | awk '{ print $1, $2, $3, $4, $5, $6 }' >"$IT_DIR/s2"
if grep -q '^events [1-9][0-9]* findings [1-9]' "$IT_DIR/s1" && cmp -s "$IT_DIR/s1" "$IT_DIR/s2"; then
	it_ok stats
else
	it_fail stats "$(cat "$IT_DIR/s1") / $(cat "$IT_DIR/s2")"
fi

# 4. Broken lines in the middle and at the end: errors (with line numbers and
# offsets of the whole file) must not depend on where the chunks start.
broken=$IT_DIR/broken.jsonl
{
	head -n 3000 "$lines"
	echo '{"kind":"Event","auditID":"cut-short","verb":"get",'
	head -n 3000 "$lines"
	echo 'not json at all'
	echo '{"kind":"Event","auditID":"x","verb":"get"} trailing'
	head -n 3000 "$lines"
	printf '{"kind":"Event","auditID":"at-eof"'
} >"$broken"
if same broken-lines "$broken" --split-min 0; then
	if [ "$(cat "$IT_DIR/t1.rc")" = 1 ] && [ "$(wc -l <"$IT_DIR/t1.err")" -ge 4 ]; then
		it_ok broken-lines
	else
		it_fail broken-lines "expected exit 1 and at least 4 errors, got $(cat "$IT_DIR/t1.rc") and $(wc -l <"$IT_DIR/t1.err")"
	fi
fi

# 5. A top-level array with one event per line: every line after the first
# looks like a value start, yet none is one.
array=$IT_DIR/array.json
{
	echo '['
	head -n 2000 "$base" | sed '$!s/$/,/'
	echo ']'
} >"$array"
same array "$array" --split-min 0 && it_ok array

# 6. Pretty-printed EventLists back to back: items indented, lists in column
# 0. Small lists leave column-0 starts near every cut; big ones do not.
for size in small:40 big:400; do
	lists=$IT_DIR/lists-${size%%:*}.json
	for i in 1 2 3 4 5 6 7 8; do
		[ "${size%%:*}" = big ] && [ "$i" -gt 3 ] && break
		head -n "${size#*:}" "$base" | jq -s '{kind: "EventList", apiVersion: "audit.k8s.io/v1", items: .}'
	done >"$lists"
	same "lists-${size%%:*}" "$lists" --split-min 0 && it_ok "lists-${size%%:*}"
done

# 7. A broken line near the start only: the first chunk's error is printed
# by the merge, the other chunks stand.
early=$IT_DIR/early.jsonl
{
	head -n 10 "$base"
	echo '{"kind":"Event","auditID":"cut-short","verb":"get",'
	head -n 6000 "$lines"
} >"$early"
if same early-error "$early" --split-min 0; then
	if grep -q '^.*early.jsonl: line 11: offset [0-9]*: ' "$IT_DIR/t1.err" && [ "$(wc -l <"$IT_DIR/t1.err")" = 1 ]; then
		it_ok early-error
	else
		it_fail early-error "expected one error on line 11, got: $(head -c 300 "$IT_DIR/t1.err")"
	fi
fi

# 8. Errors inside a long envelope field, from the middle of the file on: the
# messages are cut at the decoder's length, which must not depend on where
# one thread took over.
env=$(printf 'envelope%.0s' $(seq 20))
wrapped=$IT_DIR/wrapped.jsonl
{
	head -n 2500 "$base" | jq -c --arg f "$env" '{($f): .}'
	for i in $(seq 40); do
		printf '{"%s":"{\\"kind\\":\\"Event\\",\\"auditID\\":\\"x%s\\", broken %s"}\n' \
		    "$env" "$i" "$(printf 'padding%.0s' $(seq 30))"
		head -n 60 "$base" | jq -c --arg f "$env" '{($f): .}'
	done
} >"$wrapped"
if same envelope-errors "$wrapped" --split-min 0 --envelope "$env"; then
	# the decoder keeps 191 bytes of a message
	cut=$(sed "s|^$wrapped: ||" "$IT_DIR/t1.err" | awk 'length($0) == 191' | wc -l)
	if [ "$(wc -l <"$IT_DIR/t1.err")" = 40 ] && [ "$cut" -gt 0 ]; then
		it_ok envelope-errors
	else
		it_fail envelope-errors "expected 40 errors, some cut at the decoder's length: $(head -c 300 "$IT_DIR/t1.err")"
	fi
fi

# 9. Option errors.
why=
for a in "--threads 0" "--threads x" "--threads 65" "--split-min -1" "--chunk-bytes 0"; do
	# shellcheck disable=SC2086
	"$KAUDIT" scan $a /dev/null >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 2 ] || why+=" $a exited $rc, not 2;"
done
if [ -z "$why" ]; then it_ok options; else it_fail options "$why"; fi

it_done
