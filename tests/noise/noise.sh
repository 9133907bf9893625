#!/usr/bin/env bash
# noise.sh — the shipped pack on real cluster traffic: what it finds per
# 10,000 events by severity, and that routine control-plane activity never
# raises anything above info.
#   - OpenShift 4.12 and GCE scale-test captures (full audit events), scanned
#     with --platform openshift: OpenShift's operators are its control plane
#   - 16k events of a kubeadm cluster installing Helm charts (hkerma dataset,
#     a CSV projection turned back into Metadata-level events by csv2audit.py)
# Prints figures and "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
fx=tests/fixtures/corpus
tmp=$(mktemp -d /tmp/kaudit-noise.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Identities of the control plane and node agents in these captures.
cp_users='^(system:(node:|kube-|apiserver|serviceaccount:(kube-system|openshift-[a-z-]+):)|system:serviceaccount:openshift-)'

figures() {	# name findings-file events
	local n=$3
	printf '  %s: %d events, findings per 10,000 events:' "$1" "$n"
	for s in critical high medium low info; do
		c=$(jq -r --arg s "$s" 'select(.severity == $s) | .rule' "$2" | wc -l)
		printf ' %s %s' "$s" "$(awk -v c="$c" -v n="$n" 'BEGIN { printf "%.0f", c * 10000 / n }')"
	done
	echo
}

check_cp_quiet() {	# name findings-file: nothing above info by control-plane users
	local loud
	loud=$(jq -r --arg re "$cp_users" 'select(.severity != "info" and ((.user // "") | test($re))) | "\(.severity) \(.rule) \(.user)"' "$2" | sort | uniq -c)
	if [ -z "$loud" ]; then
		echo "PASS noise:$1:control-plane-quiet"
	else
		echo "FAIL noise:$1:control-plane-quiet: findings above info for control-plane identities:"
		echo "$loud" | sed 's/^/    /'
	fi
}

real="$fx/openshift-cluster-logging-operator/test/functional/filters/apiaudit/vrl/testdata/audit_in.log
$fx/openshift-cluster-logging-operator/hack/logsamples/raw_audit_kubernetes.json
$fx/openshift-cluster-logging-operator/hack/logsamples/raw_audit_openshift.json
$fx/openshift-cluster-logging-operator/hack/logsamples/raw_audit_oauth-apiserver.json
$fx/kubernetes-test-infra-logviewer/parsing_test_events.jsonl"
# scanned NAME OUT MIN [OPTION]... FILE...: scans FILEs into OUT, checks at least MIN
# events were read and sets n to their count; 1 (after a FAIL line) if not.
scanned() {
	local name=$1 out=$2 min=$3
	shift 3
	"$K" scan --stats "$@" >"$out" 2>"$out.err"
	n=$(sed -n 's/.*events \([0-9]*\) .*/\1/p' "$out.err" | tail -n 1)
	if [ -z "$n" ] || [ "$n" -lt "$min" ]; then
		echo "FAIL noise:$name:scanned: expected at least $min events, scan said: $(tail -n 1 "$out.err")"
		return 1
	fi
	echo "PASS noise:$name:scanned"
}

# shellcheck disable=SC2086
if scanned openshift "$tmp/real" 100 --platform openshift $real; then
	figures "OpenShift and test-infra" "$tmp/real" "$n"
	check_cp_quiet openshift "$tmp/real"
fi

python3 tests/noise/csv2audit.py "$fx/hkerma-kubernetes-event-dataset/audit-logs.csv" >"$tmp/hk.jsonl"
if scanned kubeadm "$tmp/hk" 16000 "$tmp/hk.jsonl"; then
	figures "kubeadm cluster (Helm installs)" "$tmp/hk" "$n"
	check_cp_quiet kubeadm "$tmp/hk"
	# The person installing charts writes RBAC, webhooks and DaemonSets:
	# worth a record, never a page.
	above=$(jq -r 'select(.severity | IN("medium","high","critical")) | "\(.severity) \(.rule) \(.user)"' "$tmp/hk" | sort | uniq -c)
	if [ -z "$above" ]; then
		echo "PASS noise:kubeadm:nothing-above-low"
	else
		echo "FAIL noise:kubeadm:nothing-above-low:"
		echo "$above" | sed 's/^/    /'
	fi
fi
