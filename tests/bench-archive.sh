#!/usr/bin/env bash
# bench-archive.sh BENCH_BINARY — `make bench-archive`: the event archive's
# write rate through the daemon's batch write (tests/bench_archive.c), on
# the corpus's audit events: 16k events of a kubeadm cluster (the hkerma
# CSV turned back into events), Panther's native events, OpenShift's
# audit_in.log and Falco's trace files, cycled with fresh auditIDs.
# Uses the services of KAUDIT_PG_URL when set, else starts its own.
# BENCH_ARCHIVE_N sets the rows per run (default 100000).
set -u
bench=$1
tmp=$(mktemp -d /tmp/kaudit-bench-archive.XXXXXX)
own=
if [ -z "${KAUDIT_PG_URL:-}" ]; then
	own=$(tests/services/up.sh) || exit 1
	# shellcheck disable=SC1090
	. "$own"
fi
trap 'rm -rf "$tmp"; [ -n "$own" ] && tests/services/down.sh "$own" >/dev/null 2>&1' EXIT
c=tests/fixtures/corpus
python3 tests/noise/csv2audit.py "$c/hkerma-kubernetes-event-dataset/audit-logs.csv" >"$tmp/kubeadm.jsonl"
"$bench" --events "${BENCH_ARCHIVE_N:-100000}" "$tmp/kubeadm.jsonl" \
    "$c/panther-labs-panther-analysis/panther_k8s_audit_native.jsonl" \
    "$c/openshift-cluster-logging-operator/test/functional/filters/apiaudit/vrl/testdata/audit_in.log" \
    "$c"/falcosecurity-falco-trace-files/test/trace_files/k8s_audit/*.json
