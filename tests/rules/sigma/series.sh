#!/usr/bin/env bash
# series.sh [SUFFIX] — prints, as JSON lines, a series for each Sigma
# correlation of correlations.yml: five secret reads by mallory (five names),
# an exec by mallory, a service account created then bound by eve, and four
# reads of one secret by bob (below every threshold). SUFFIX is appended to
# each auditID (a run's own ids). Used by tests/cli/sigma.sh and
# tests/integration/sigma.sh.
set -u
sfx=${1:-}
ev() {	# auditID, seconds, verb, resource, subresource, name, user [, extra JSON]
	printf '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%s","stage":"ResponseComplete","verb":"%s","requestURI":"/x","user":{"username":"%s"},"objectRef":{"resource":"%s",%s"namespace":"shop","name":"%s"},"responseStatus":{"code":200},"stageTimestamp":"2026-04-02T09:%02d:%02d.000000Z"%s}\n' \
	    "$1$sfx" "$3" "$7" "$4" "${5:+\"subresource\":\"$5\",}" "$6" $(($2 / 60)) $(($2 % 60)) "${8:-}"
}
for i in 1 2 3 4 5; do ev "c-get-$i" $((i * 10)) get secrets "" "db-$i" mallory; done
ev c-exec 100 create pods exec web-0 mallory
ev c-sa 200 create serviceaccounts "" backdoor eve
ev c-crb 230 create clusterrolebindings "" backdoor-admin eve \
    ',"requestObject":{"subjects":[{"kind":"ServiceAccount","name":"backdoor","namespace":"shop"}]}'
for i in 1 2 3 4; do ev "n-get-$i" $((400 + i)) get secrets "" db bob; done
