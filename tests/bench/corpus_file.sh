#!/usr/bin/env bash
# corpus_file.sh MIN_MB DIR — prints the path of a JSON-lines file of at
# least MIN_MB MB under DIR, built (once, then kept) from the shared corpus's
# real audit events: OpenShift audit_in.log, kubernetes/test-infra, Panther
# native events and Falco's k8s_audit trace files compacted with jq -c,
# repeated to size. Attack-heavy and large (several KB an event): the
# benchmarks' "large events" file. Used by tests/bench-gzip.sh and
# tests/bench-scan.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
min_mb=$1
dir=$2
file=$dir/events-${min_mb}mb.jsonl

die() { echo "corpus_file: $*" >&2; exit 1; }

if [ ! -s "$file" ]; then
	corpus=
	for d in ../shared/corpus /work/shared/corpus; do
		[ -d "$d/openshift-cluster-logging-operator" ] && { corpus=$d; break; }
	done
	[ -n "$corpus" ] || die "corpus not found in ../shared/corpus or /work/shared/corpus"
	command -v jq >/dev/null || die "jq not found (tests/services/deps.sh)"
	base=$dir/base.jsonl
	mkdir -p "$dir"
	falco=$corpus/falcosecurity-falco-trace-files/test/trace_files/k8s_audit
	{
		cat "$corpus/openshift-cluster-logging-operator/test/functional/filters/apiaudit/vrl/testdata/audit_in.log"
		cat "$corpus/kubernetes-test-infra-logviewer/parsing_test_events.jsonl"
		cat "$corpus/panther-labs-panther-analysis/panther_k8s_audit_native.jsonl"
		# fal_01_003.json is not an event ({"kind": 0}).
		for f in "$falco"/*.json; do
			[ "$(basename "$f")" = fal_01_003.json ] || jq -c . "$f"
		done
	} | grep -v '^[[:space:]]*$' >"$base" || die "could not read the corpus"
	: >"$file.tmp"
	while [ "$(stat -c %s "$file.tmp")" -lt $((min_mb * 1000000)) ]; do
		cat "$base" >>"$file.tmp"
	done
	mv "$file.tmp" "$file"
fi
echo "$file"
