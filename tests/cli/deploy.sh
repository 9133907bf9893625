#!/usr/bin/env bash
# deploy.sh — tools/check-deploy.py on the shipped deploy/ files (every
# check passes) and on broken copies (each break is reported at its file and
# line): a checker that cannot fail would pass anything.
# Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
K=${KAUDIT:-bin/kaudit}
tmp=$(mktemp -d /tmp/kaudit-deploy.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
C="python3 tools/check-deploy.py --kaudit $K"

ok()  { echo "PASS deploy-cli:$1"; }
bad() { echo "FAIL deploy-cli:$1: $2"; }
# name, expected text in the output, checker options...: the checker must
# exit 1 and say why.
refuses() {
	local name=$1 want=$2; shift 2
	$C "$@" >"$tmp/out" 2>&1
	local rc=$?
	if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$tmp/out"; then
		ok "$name"
	else
		bad "$name" "exit $rc, wanted \"$want\" in: $(grep FAIL "$tmp/out" | head -3)"
	fi
}

# The shipped files: every check passes (the lines go to the runner).
$C >"$tmp/shipped" 2>&1
rc=$?
grep -E '^(PASS|FAIL) ' "$tmp/shipped"
if [ "$rc" -eq 0 ] && ! grep -q '^FAIL' "$tmp/shipped"; then ok shipped-pass; else bad shipped-pass "exit $rc"; fi

# Audit policy: a field of a different version, a bad level, a broken
# resource, both URL kinds, and a Secret logged with its contents.
pol=deploy/audit-policy.yaml
sed 's/^omitManagedFields: true/omitManagedFields: true\nsampling: 10/' $pol >"$tmp/p1.yaml"
n=$(grep -n '^sampling' "$tmp/p1.yaml" | cut -d: -f1)
refuses policy-unknown-field "p1.yaml:$n: unknown field \"sampling\" in Policy" --only policy --policy "$tmp/p1.yaml"
sed '0,/level: Metadata/s//level: Everything/' $pol >"$tmp/p2.yaml"
refuses policy-bad-level "level must be one of None, Metadata, Request, RequestResponse, got 'Everything'" --only policy --policy "$tmp/p2.yaml"
sed 's/resources: \["secrets", "serviceaccounts\/token"\]/resource: ["secrets"]/' $pol >"$tmp/p3.yaml"
refuses policy-gr-field "unknown field \"resource\" in GroupResources" --only policy --policy "$tmp/p3.yaml"
sed 's|nonResourceURLs: \["/healthz\*"|namespaces: ["default"]\n    nonResourceURLs: ["/healthz*"|' $pol >"$tmp/p4.yaml"
refuses policy-urls-and-namespaces "names both nonResourceURLs and resources or namespaces" --only policy --policy "$tmp/p4.yaml"
# Secrets moved out of the first rule: the write rules below would log them.
sed 's/resources: \["secrets", "serviceaccounts\/token"\]/resources: ["serviceaccounts\/token"]/; s/"nodes", "configmaps"\]/"nodes", "configmaps", "secrets"]/' $pol >"$tmp/p5.yaml"
refuses policy-secret-contents "secret-patch-metadata-only: patch core/secrets by alice gets RequestResponse, expected Metadata" --only policy --policy "$tmp/p5.yaml"
sed 's/verbs: \["patch"\]/verbs: ["create"]/' $pol >"$tmp/p6.yaml"
refuses policy-patch-loses-object "pod-patch-stored-object: patch core/pods by alice gets Metadata, expected RequestResponse" --only policy --policy "$tmp/p6.yaml"
sed 's/^omitStages: \["RequestReceived"\]/omitStages: []/' $pol >"$tmp/p7.yaml"
refuses policy-stages "omitStages lacks RequestReceived" --only policy --policy "$tmp/p7.yaml"
sed '0,/level: Metadata/s//level: Metadata\n    level: None/' $pol >"$tmp/p9.yaml"
n=$(grep -n 'level: None' "$tmp/p9.yaml" | head -1 | cut -d: -f1)
refuses policy-duplicate-key "p9.yaml:$n: duplicate key \"level\"" --only policy --policy "$tmp/p9.yaml"
sed 's/verbs: \["watch"\]/verbs: ["wtach"]/' $pol >"$tmp/p10.yaml"
refuses policy-bad-verb "verbs: \"wtach\" is not one of" --only policy --policy "$tmp/p10.yaml"
printf 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: [\n' >"$tmp/p8.yaml"
refuses policy-yaml-error "p8.yaml:5:" --only policy --policy "$tmp/p8.yaml"

# Manifests: each copy of deploy/k8s breaks one thing.
broken() {	# name: a fresh copy in $tmp/name
	rm -rf "${tmp:?}/$1"; cp -r deploy/k8s "$tmp/$1"
}
broken k1; sed -i 's/replicas: 3/replicas: 1/' "$tmp/k1/deployment.yaml"
n=$(grep -n 'replicas: 1' "$tmp/k1/deployment.yaml" | cut -d: -f1)
refuses k8s-one-replica "deployment.yaml:$n: replicas must be 2 or more" --only k8s --k8s "$tmp/k1"
broken k2; rm "$tmp/k2/poddisruptionbudget.yaml"; sed -i '/poddisruptionbudget.yaml/d' "$tmp/k2/kustomization.yaml"
refuses k8s-no-pdb "no PodDisruptionBudget" --only k8s --k8s "$tmp/k2"
broken k3; sed -i 's/app.kubernetes.io\/component: detector/app.kubernetes.io\/component: other/' "$tmp/k3/service.yaml"
refuses k8s-service-selects-nothing "Service kaudit-metrics does not select the Deployment's pods" --only k8s --k8s "$tmp/k3"
broken k4; sed -i 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "$tmp/k4/deployment.yaml"
refuses k8s-writable-root "readOnlyRootFilesystem: true" --only k8s --k8s "$tmp/k4"
broken k5; sed -i '/SOC_WEBHOOK_TOKEN/d' "$tmp/k5/secret.yaml"
refuses k8s-secret-key-missing "container kaudit: \${SOC_WEBHOOK_TOKEN} in kaudit.yaml is in none of its Secrets" --only k8s --k8s "$tmp/k5"
# The daemon given the schema owner's Secret: it must not hold that password.
broken k9
sed -i 's/^          envFrom:$/          envFrom:\n            - secretRef:\n                name: kaudit-migrate/' "$tmp/k9/deployment.yaml"
refuses k8s-daemon-gets-owner-secret "container kaudit gets Secret kaudit-migrate, which kaudit.yaml does not use" --only k8s --k8s "$tmp/k9"
broken k6; sed -i 's/min_severity: high/min_severity: urgent/' "$tmp/k6/configmap.yaml"
n=$(grep -n 'urgent' "$tmp/k6/configmap.yaml" | cut -d: -f1)
refuses k8s-config-refused-by-kaudit "k6/configmap.yaml:$n: min_severity: \"urgent\" is not one of" --only k8s --k8s "$tmp/k6"
broken k7; printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n' >"$tmp/k7/extra.yaml"
refuses k8s-unlisted-file "extra.yaml is not in resources" --only k8s --k8s "$tmp/k7"
broken k8; sed -i 's/policy\/v1/policy\/v1beta1/' "$tmp/k8/poddisruptionbudget.yaml"
refuses k8s-old-api "PodDisruptionBudget must be policy/v1" --only k8s --k8s "$tmp/k8"

# Image and unit.
sed 's/^USER 65532:65532/USER root/' deploy/Dockerfile >"$tmp/Dockerfile"
cp -r deploy/docker "$tmp/docker"
refuses image-root-user "the runtime stage must end with a non-root USER" --only image --dockerfile "$tmp/Dockerfile"
sed 's/^FROM debian:12 AS build/FROM ubuntu:24.04 AS build/' deploy/Dockerfile >"$tmp/Dockerfile"
refuses image-not-debian "build stage must be Debian 12, got ubuntu:24.04 AS build" --only image --dockerfile "$tmp/Dockerfile"
sed 's/^ProtectSystem=strict/ProtectSystem=full/' deploy/systemd/kaudit.service >"$tmp/kaudit.service"
refuses unit-protect-system "ProtectSystem=full is not hardened" --only unit --unit "$tmp/kaudit.service"
sed '/^NoNewPrivileges/d' deploy/systemd/kaudit.service >"$tmp/kaudit.service"
refuses unit-no-new-privileges "NoNewPrivileges= is missing" --only unit --unit "$tmp/kaudit.service"

# docs/operations.md, Secure connections: every yaml example is a
# configuration `kaudit check` accepts (librdkafka checks each property).
python3 - "$tmp/doc" <<'PY'
import os, re, sys
text = open("docs/operations.md", encoding="utf-8").read()
part = text[text.index("## Secure connections"):text.index("## Sizing")]
os.makedirs(sys.argv[1], exist_ok=True)
for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", part, re.S)):
    open(os.path.join(sys.argv[1], "ex%d.yaml" % i), "w").write(block)
PY
n=0
for f in "$tmp"/doc/ex*.yaml; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	if KAFKA_KEY_PASSWORD=x KAFKA_SASL_PASSWORD=x PGPASSWORD=x "$K" check -c "$f" >"$tmp/out" 2>&1; then
		ok "docs-secure-example-$n"
	else
		bad "docs-secure-example-$n" "$(head -c 300 "$tmp/out")"
	fi
done
if [ "$n" -ge 5 ]; then ok docs-secure-examples-found; else bad docs-secure-examples-found "$n examples"; fi
# The limit the page states: this librdkafka refuses OIDC tokens. When a
# build accepts them, this fails and the page must change.
printf 'kafka:\n  properties:\n    sasl.mechanism: "OAUTHBEARER"\n    sasl.oauthbearer.method: "oidc"\n' >"$tmp/oidc.yaml"
"$K" check -c "$tmp/oidc.yaml" >"$tmp/out" 2>&1
if [ $? -eq 1 ] && grep -q 'not supported in this build' "$tmp/out"; then
	ok docs-oidc-unsupported-as-stated
else
	bad docs-oidc-unsupported-as-stated "kaudit check accepted sasl.oauthbearer.method=oidc: update docs/operations.md"
fi
