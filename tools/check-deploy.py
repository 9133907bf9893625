#!/usr/bin/env python3
"""check-deploy.py: checks the files in deploy/ that no compiler reads.

- The audit policy against the fields of audit.k8s.io/v1 Policy (no schema
  tool for it exists here), then the level it gives each request the shipped
  rules depend on, and that credentials are never logged with their bodies.
- The Kubernetes manifests: every file parses, the kustomization lists them
  all, the expected kinds are there, selectors, ports, volumes and secret
  keys agree, the pods run as non-root with nothing to escalate, and the
  kaudit configuration in the ConfigMap passes `kaudit check`.
- The Dockerfile and the systemd unit: built on Debian 12, non-root,
  hardened directives present; the image's file system (deploy/docker/
  rootfs.sh) runs kaudit under chroot; `systemd-analyze verify` when present.

Prints "PASS deploy:NAME" or "FAIL deploy:NAME: FILE:LINE: why" lines; exits
1 when any check failed. Options point it at other files (tests/cli/deploy.sh
feeds it broken ones):
  tools/check-deploy.py [--policy FILE] [--k8s DIR] [--dockerfile FILE]
                        [--unit FILE] [--kaudit BIN] [--only policy,k8s,image,unit]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

MAX_BYTES = 1 << 20   # a deploy file larger than this is not ours

failures = 0


def report(name, errors):
    global failures
    if errors:
        failures += 1
        for e in errors:
            print("FAIL deploy:%s: %s" % (name, e))
    else:
        print("PASS deploy:%s" % name)


class LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings remember each key's line (1-based)."""


class LineDict(dict):
    lines = None

    def line(self, key=None):
        lines = self.lines or {}
        return lines.get(key, lines.get("__self__", 0))


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    d = LineDict()
    d.lines = {"__self__": node.start_mark.line + 1}
    for knode, vnode in node.value:
        key = loader.construct_object(knode, deep=True)
        if key in d:
            # PyYAML would keep the last silently; the API server's reader may not.
            raise yaml.constructor.ConstructorError(None, None, "duplicate key \"%s\"" % key,
                                                    knode.start_mark)
        d[key] = loader.construct_object(vnode, deep=True)
        d.lines[key] = knode.start_mark.line + 1
    return d


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_all(path):
    """(documents, error): every document of a YAML file, or why it failed."""
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None, "%s:1: larger than %d bytes" % (path, MAX_BYTES)
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.load_all(f, Loader=LineLoader) if d is not None], None
    except (OSError, UnicodeDecodeError) as e:
        return None, "%s:1: %s" % (path, e)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return None, "%s:%d: %s" % (path, mark.line + 1 if mark else 1,
                                     getattr(e, "problem", None) or e)


def where(path, d, key=None):
    return "%s:%d" % (path, d.line(key) if isinstance(d, LineDict) else 0)


# --- audit policy -------------------------------------------------------

POLICY_KEYS = {"apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"}
RULE_KEYS = {"level", "users", "userGroups", "verbs", "resources", "namespaces",
             "nonResourceURLs", "omitStages", "omitManagedFields"}
GR_KEYS = {"group", "resources", "resourceNames"}
LEVELS = ["None", "Metadata", "Request", "RequestResponse"]
STAGES = {"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}
# The verbs the API server records: resource requests', then the lowercase
# HTTP methods of non-resource requests.
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete",
         "deletecollection", "proxy", "*", "post", "put", "head", "options"}


def str_list(path, d, key, errors, allowed=None):
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        errors.append("%s: %s must be a list of strings" % (where(path, d, key), key))
        return []
    for s in v:
        if allowed is not None and s not in allowed:
            errors.append("%s: %s: \"%s\" is not one of %s" %
                          (where(path, d, key), key, s, ", ".join(sorted(allowed))))
    return v


def check_group_resources(path, rule, errors):
    grs = rule.get("resources")
    if grs is None:
        return
    if not isinstance(grs, list):
        errors.append("%s: resources must be a list of {group, resources, resourceNames}" %
                      where(path, rule, "resources"))
        return
    for gr in grs:
        if not isinstance(gr, dict):
            errors.append("%s: a resources entry must be a mapping" % where(path, rule, "resources"))
            continue
        for k in gr:
            if k not in GR_KEYS:
                errors.append("%s: unknown field \"%s\" in GroupResources (%s)" %
                              (where(path, gr, k), k, ", ".join(sorted(GR_KEYS))))
        if "group" in gr and not isinstance(gr["group"], str):
            errors.append("%s: group must be a string" % where(path, gr, "group"))
        for r in str_list(path, gr, "resources", errors):
            # "*", "pods", "pods/log", "*/scale", "pods/*": what the API server accepts.
            if not re.fullmatch(r"(\*|[a-z0-9.-]+)(/(\*|[a-z0-9.-]+))?", r):
                errors.append("%s: resource \"%s\" is not RESOURCE, RESOURCE/SUBRESOURCE, "
                              "*/SUBRESOURCE or *" % (where(path, gr, "resources"), r))
        str_list(path, gr, "resourceNames", errors)


def check_rule(path, i, rule, errors):
    if not isinstance(rule, dict):
        errors.append("%s: rule %d must be a mapping" % (path, i + 1))
        return
    for k in rule:
        if k not in RULE_KEYS:
            errors.append("%s: unknown field \"%s\" in rule %d (%s)" %
                          (where(path, rule, k), k, i + 1, ", ".join(sorted(RULE_KEYS))))
    if rule.get("level") not in LEVELS:
        errors.append("%s: rule %d: level must be one of %s, got %r" %
                      (where(path, rule, "level"), i + 1, ", ".join(LEVELS), rule.get("level")))
    str_list(path, rule, "users", errors)
    str_list(path, rule, "userGroups", errors)
    str_list(path, rule, "namespaces", errors)
    str_list(path, rule, "verbs", errors, VERBS)
    str_list(path, rule, "omitStages", errors, STAGES)
    urls = str_list(path, rule, "nonResourceURLs", errors)
    for u in urls:
        if not u.startswith("/") or "*" in u[:-1]:
            errors.append("%s: nonResourceURL \"%s\" must start with / and may end in *" %
                          (where(path, rule, "nonResourceURLs"), u))
    if urls and (rule.get("resources") or rule.get("namespaces")):
        errors.append("%s: rule %d names both nonResourceURLs and resources or namespaces: "
                      "the API server refuses it" % (where(path, rule), i + 1))
    check_group_resources(path, rule, errors)
    if "omitManagedFields" in rule and not isinstance(rule["omitManagedFields"], bool):
        errors.append("%s: omitManagedFields must be true or false" %
                      where(path, rule, "omitManagedFields"))


def check_policy_fields(path, pol):
    errors = []
    if not isinstance(pol, dict):
        return ["%s:1: a Policy must be a mapping" % path]
    for k in pol:
        if k not in POLICY_KEYS:
            errors.append("%s: unknown field \"%s\" in Policy (%s)" %
                          (where(path, pol, k), k, ", ".join(sorted(POLICY_KEYS))))
    if pol.get("apiVersion") != "audit.k8s.io/v1":
        errors.append("%s: apiVersion must be audit.k8s.io/v1, got %r" %
                      (where(path, pol, "apiVersion"), pol.get("apiVersion")))
    if pol.get("kind") != "Policy":
        errors.append("%s: kind must be Policy, got %r" % (where(path, pol, "kind"), pol.get("kind")))
    str_list(path, pol, "omitStages", errors, STAGES)
    rules = pol.get("rules")
    if not isinstance(rules, list) or not rules:
        errors.append("%s: rules must be a non-empty list" % where(path, pol, "rules"))
        return errors
    for i, r in enumerate(rules):
        check_rule(path, i, r, errors)
    return errors


def rule_matches(rule, req):
    """The API server's policy matching (k8s.io/apiserver/pkg/audit/policy)."""
    if rule.get("users") and req["user"] not in rule["users"]:
        return False
    if rule.get("userGroups") and not set(rule["userGroups"]) & set(req["groups"]):
        return False
    if rule.get("verbs") and req["verb"] not in rule["verbs"] and "*" not in rule["verbs"]:
        return False
    if "path" in req:
        urls = rule.get("nonResourceURLs")
        if not urls:
            return not rule.get("resources") and not rule.get("namespaces")
        return any(req["path"] == u or (u.endswith("*") and req["path"].startswith(u[:-1]))
                   for u in urls)
    if rule.get("nonResourceURLs"):
        return False
    if rule.get("namespaces") and req.get("namespace", "") not in rule["namespaces"]:
        return False
    if not rule.get("resources"):
        return True
    res = req["resource"]
    base, _, sub = res.partition("/")
    for gr in rule["resources"]:
        if gr.get("group", "") != req["group"]:
            continue
        names = gr.get("resourceNames") or []
        if names and req.get("name") not in names:
            continue
        for r in gr.get("resources") or ["*"]:
            # "pods/*" matches pods and every subresource of it.
            if r == "*" or r == res or r == base + "/*" or (sub and r == "*/" + sub):
                return True
    return False


def policy_level(pol, req):
    for r in pol["rules"]:
        if rule_matches(r, req):
            return r["level"]
    return "None"


def req(verb, group, resource, user="alice", groups=("system:authenticated",)):
    return {"verb": verb, "group": group, "resource": resource, "user": user,
            "groups": list(groups), "namespace": "default"}


# What the shipped rules read (config/rules/*.yaml) and what must never be
# logged in full. Each: (why, request, least level, most level).
EXPECT = [
    ("secret-read-metadata-only", req("get", "", "secrets"), "Metadata", "Metadata"),
    ("secret-write-metadata-only", req("create", "", "secrets"), "Metadata", "Metadata"),
    ("secret-patch-metadata-only", req("patch", "", "secrets"), "Metadata", "Metadata"),
    ("sa-token-metadata-only", req("create", "", "serviceaccounts/token"), "Metadata", "Metadata"),
    ("tokenreview-metadata-only", req("create", "authentication.k8s.io", "tokenreviews"),
     "Metadata", "Metadata"),
    ("exec-command-in-uri", req("create", "", "pods/exec"), "Metadata", "RequestResponse"),
    ("attach-logged", req("create", "", "pods/attach"), "Metadata", "RequestResponse"),
    ("portforward-logged", req("create", "", "pods/portforward"), "Metadata", "RequestResponse"),
    ("pod-spec-on-create", req("create", "", "pods"), "Request", "RequestResponse"),
    ("pod-owner-by-controller", req("create", "", "pods", "system:serviceaccount:kube-system:replicaset-controller",
                                    ("system:serviceaccounts", "system:authenticated")),
     "Request", "RequestResponse"),
    ("pod-patch-stored-object", req("patch", "", "pods"), "RequestResponse", "RequestResponse"),
    ("ephemeral-container", req("patch", "", "pods/ephemeralcontainers"), "RequestResponse",
     "RequestResponse"),
    ("deployment-spec", req("update", "apps", "deployments"), "Request", "RequestResponse"),
    ("daemonset-patch", req("patch", "apps", "daemonsets"), "RequestResponse", "RequestResponse"),
    ("cronjob-spec", req("create", "batch", "cronjobs"), "Request", "RequestResponse"),
    ("clusterrolebinding-body", req("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
     "Request", "RequestResponse"),
    ("role-patch-stored-object", req("patch", "rbac.authorization.k8s.io", "roles"),
     "RequestResponse", "RequestResponse"),
    ("webhook-config-body", req("create", "admissionregistration.k8s.io",
                                "mutatingwebhookconfigurations"), "Request", "RequestResponse"),
    ("configmap-data", req("update", "", "configmaps"), "Request", "RequestResponse"),
    ("csr-body", req("create", "certificates.k8s.io", "certificatesigningrequests"),
     "Request", "RequestResponse"),
    ("service-exposure", req("create", "", "services"), "Request", "RequestResponse"),
    ("events-delete-logged", req("delete", "", "events"), "Metadata", "RequestResponse"),
    ("secret-list-logged", req("list", "", "secrets"), "Metadata", "Metadata"),
    ("anonymous-healthz-logged", {"verb": "get", "path": "/healthz", "user": "system:anonymous",
                                  "groups": ["system:unauthenticated"]}, "Metadata", "Metadata"),
    ("lease-renewal-dropped", req("update", "coordination.k8s.io", "leases", "system:node:n1",
                                  ("system:nodes", "system:authenticated")), "None", "None"),
]


def check_policy(path):
    docs, err = load_all(path)
    if err:
        report("policy-parses", [err])
        return
    if len(docs) != 1:
        report("policy-parses", ["%s:1: expected one YAML document, got %d" % (path, len(docs))])
        return
    report("policy-parses", [])
    pol = docs[0]
    errors = check_policy_fields(path, pol)
    report("policy-fields", errors)
    if errors:
        return
    errors = []
    for name, r, lo, hi in EXPECT:
        got = policy_level(pol, r)
        if not LEVELS.index(lo) <= LEVELS.index(got) <= LEVELS.index(hi):
            what = r.get("path") or "%s %s/%s" % (r["verb"], r["group"] or "core", r["resource"])
            errors.append("%s:1: %s: %s by %s gets %s, expected %s" %
                          (path, name, what, r["user"], got, lo if lo == hi else lo + ".." + hi))
    report("policy-levels", errors)
    errors = []
    if "RequestReceived" not in (pol.get("omitStages") or []):
        errors.append("%s: omitStages lacks RequestReceived: every request would be logged twice" %
                      where(path, pol, "omitStages"))
    report("policy-one-event-per-request", errors)


# --- Kubernetes manifests -----------------------------------------------

# kind: apiVersion, how many documents of it deploy/k8s must hold at least.
KINDS = {
    "Namespace": ("v1", 1), "ServiceAccount": ("v1", 1), "ConfigMap": ("v1", 1),
    "Secret": ("v1", 1), "Deployment": ("apps/v1", 1), "Service": ("v1", 1),
    "PodDisruptionBudget": ("policy/v1", 1), "NetworkPolicy": ("networking.k8s.io/v1", 1),
}


def load_manifests(d):
    """{file: [docs]} of deploy/k8s, the kustomization apart; errors."""
    out, errors = {}, []
    for name in sorted(os.listdir(d)):
        if not name.endswith((".yaml", ".yml")):
            continue
        docs, err = load_all(os.path.join(d, name))
        if err:
            errors.append(err)
        else:
            out[name] = docs
    return out, errors


def selects(selector, labels):
    ml = (selector or {}).get("matchLabels") or {}
    return bool(ml) and all(labels.get(k) == v for k, v in ml.items())


def check_kustomization(d, files):
    path = os.path.join(d, "kustomization.yaml")
    k = (files.get("kustomization.yaml") or [None])[0]
    if not isinstance(k, dict):
        return ["%s:1: missing or not a mapping" % path]
    errors = []
    if k.get("kind") != "Kustomization":
        errors.append("%s: kind must be Kustomization" % where(path, k, "kind"))
    listed = k.get("resources") or []
    for r in listed:
        if r not in files:
            errors.append("%s: resource %s does not exist" % (where(path, k, "resources"), r))
    for f in files:
        if f != "kustomization.yaml" and f not in listed:
            errors.append("%s: %s is not in resources" % (where(path, k, "resources"), f))
    return errors


def objects(files):
    """[(file, doc)] of every Kubernetes object, the kustomization apart."""
    return [(f, o) for f, docs in files.items() if f != "kustomization.yaml" for o in docs]


def check_kinds(d, objs):
    errors, seen = [], {}
    for f, o in objs:
        path = os.path.join(d, f)
        if not isinstance(o, dict) or not o.get("kind") or not (o.get("metadata") or {}).get("name"):
            errors.append("%s: every object needs kind and metadata.name" % where(path, o))
            continue
        kind = o["kind"]
        seen[kind] = seen.get(kind, 0) + 1
        if kind in KINDS and o.get("apiVersion") != KINDS[kind][0]:
            errors.append("%s: %s must be %s, got %r" % (where(path, o, "apiVersion"), kind,
                                                          KINDS[kind][0], o.get("apiVersion")))
    for kind, (_, n) in KINDS.items():
        if seen.get(kind, 0) < n:
            errors.append("%s:0: no %s" % (d, kind))
    return errors


def first(objs, kind):
    return next(((f, o) for f, o in objs if isinstance(o, dict) and o.get("kind") == kind),
                (None, None))


def check_pod_security(path, spec, errors):
    psc = spec.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
        errors.append("%s: pod securityContext needs runAsNonRoot: true and a runAsUser" %
                      where(path, spec, "securityContext"))
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        errors.append("%s: pod seccompProfile must be RuntimeDefault" %
                      where(path, spec, "securityContext"))
    if spec.get("automountServiceAccountToken") is not False:
        errors.append("%s: automountServiceAccountToken must be false: kaudit never calls the API" %
                      where(path, spec))
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        sc = c.get("securityContext") or {}
        if (sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True
                or (sc.get("capabilities") or {}).get("drop") != ["ALL"]):
            errors.append("%s: container %s needs allowPrivilegeEscalation: false, "
                          "readOnlyRootFilesystem: true, capabilities.drop: [ALL]" %
                          (where(path, c), c.get("name")))
        if not (c.get("resources") or {}).get("limits", {}).get("memory"):
            errors.append("%s: container %s needs a memory limit" % (where(path, c), c.get("name")))


def check_pod_refs(path, spec, objs, errors):
    """Volumes, mounts, ConfigMaps and Secrets a pod names exist."""
    vols = {v.get("name"): v for v in spec.get("volumes") or []}
    cms = {o["metadata"]["name"] for _, o in objs if o.get("kind") == "ConfigMap"}
    secrets = {o["metadata"]["name"] for _, o in objs if o.get("kind") == "Secret"}
    for v in vols.values():
        if "configMap" in v and v["configMap"].get("name") not in cms:
            errors.append("%s: volume %s names ConfigMap %s, which is not here" %
                          (where(path, v), v.get("name"), v["configMap"].get("name")))
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols:
                errors.append("%s: mount of unknown volume %s" % (where(path, m), m.get("name")))
        for e in c.get("envFrom") or []:
            name = (e.get("secretRef") or {}).get("name")
            if name and name not in secrets:
                errors.append("%s: envFrom names Secret %s, which is not here" % (where(path, e), name))


def check_deployment(d, objs):
    f, dep = first(objs, "Deployment")
    if dep is None:
        return ["%s:0: no Deployment" % d]
    path, errors = os.path.join(d, f), []
    spec = dep.get("spec") or {}
    if not isinstance(spec.get("replicas"), int) or spec["replicas"] < 2:
        errors.append("%s: replicas must be 2 or more: the replicas share the consumer group" %
                      where(path, spec, "replicas"))
    tmpl = spec.get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    if not selects(spec.get("selector"), labels):
        errors.append("%s: selector does not select the pod template's labels" %
                      where(path, spec, "selector"))
    pod = tmpl.get("spec") or {}
    check_pod_security(path, pod, errors)
    check_pod_refs(path, pod, objs, errors)
    ports = {p.get("name") for c in pod.get("containers") or [] for p in c.get("ports") or []}
    for c in pod.get("containers") or []:
        for probe in ("livenessProbe", "readinessProbe"):
            get = (c.get(probe) or {}).get("httpGet")
            if not get:
                errors.append("%s: container %s has no %s" % (where(path, c), c.get("name"), probe))
            elif get.get("port") not in ports:
                errors.append("%s: %s port %s is not a container port" %
                              (where(path, c, probe), probe, get.get("port")))
    for kind, key in (("Service", "selector"), ("PodDisruptionBudget", "selector"),
                      ("NetworkPolicy", "podSelector")):
        for g, o in objs:
            if o.get("kind") != kind:
                continue
            sel = (o.get("spec") or {}).get(key) or {}
            sel = sel if "matchLabels" in sel or kind != "Service" else {"matchLabels": sel}
            if not selects(sel, labels):
                errors.append("%s: %s %s does not select the Deployment's pods" %
                              (where(os.path.join(d, g), o.get("spec") or {}, key), kind,
                               o["metadata"]["name"]))
            if kind == "Service":
                for p in (o.get("spec") or {}).get("ports") or []:
                    if p.get("targetPort") not in ports:
                        errors.append("%s: targetPort %s is not a container port" %
                                      (where(os.path.join(d, g), p), p.get("targetPort")))
    return errors


def kaudit_configs(objs):
    """[(file, key, text, line of the text's first line)]: every *.yaml entry of
    the ConfigMaps, each a kaudit configuration."""
    out = []
    for f, o in objs:
        data = (o.get("data") or {}) if o.get("kind") == "ConfigMap" else {}
        for key in data:
            if key.endswith(".yaml"):
                out.append((f, key, data[key], data.line(key) + 1))
    return out


def container_config(c, vols, cms):
    """(key, text) of the ConfigMap entry a container's `-c FILE` names."""
    args = c.get("args") or []
    path = args[args.index("-c") + 1] if "-c" in args[:-1] else None
    for m in c.get("volumeMounts") or []:
        v = vols.get(m.get("name")) or {}
        cm = cms.get((v.get("configMap") or {}).get("name")) or {}
        if m.get("mountPath") == path and m.get("subPath") in cm:
            return m["subPath"], cm[m["subPath"]]
    return path, None


def check_secret_vars(d, objs):
    """Each container gets, from the Secrets it names, every ${VAR} of the
    configuration it runs, and no Secret its configuration does not use."""
    f, dep = first(objs, "Deployment")
    path, errors = os.path.join(d, f), []
    pod = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
    vols = {v.get("name"): v for v in pod.get("volumes") or []}
    cms = {o["metadata"]["name"]: o.get("data") or {} for _, o in objs if o.get("kind") == "ConfigMap"}
    secrets = {o["metadata"]["name"]: set((o.get("stringData") or {}).keys()) |
               set((o.get("data") or {}).keys()) for _, o in objs if o.get("kind") == "Secret"}
    for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        key, text = container_config(c, vols, cms)
        if text is None:
            errors.append("%s: container %s runs -c %s, which no ConfigMap entry is mounted at" %
                          (where(path, c), c.get("name"), key))
            continue
        want = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
        for e in c.get("envFrom") or []:
            name = (e.get("secretRef") or {}).get("name")
            keys = secrets.get(name, set())
            if name and not keys & want:
                errors.append("%s: container %s gets Secret %s, which %s does not use" %
                              (where(path, e), c.get("name"), name, key))
            want -= keys
        for v in sorted(want):
            errors.append("%s: container %s: ${%s} in %s is in none of its Secrets" %
                          (where(path, c), c.get("name"), v, key))
    return errors


def kaudit_check(kaudit, text, env=None):
    """(exit code, stderr) of `kaudit check -c` on a configuration text."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as t:
        t.write(text)
        t.flush()
        p = subprocess.run([kaudit, "check", "-c", t.name], capture_output=True, text=True,
                           env=env, timeout=60)
        return p.returncode, p.stderr.replace(t.name, "kaudit.yaml")


def pending_sections(kaudit, cfg):
    """Top-level sections of cfg this kaudit does not know yet (its --example
    lacks them): the daemon's metrics section lands in a separate change."""
    p = subprocess.run([kaudit, "check", "--example"], capture_output=True, text=True, timeout=60)
    known = set(re.findall(r"^([a-z_]+):", p.stdout, re.M))
    return [k for k in cfg if k not in known] if known else []


def blank_section(text, key):
    """text with the top-level section key blanked out, lines kept in place."""
    out, inside = [], False
    for line in text.split("\n"):
        if re.match(r"[A-Za-z_]", line):
            inside = line.startswith(key + ":")
        out.append("" if inside else line)
    return "\n".join(out)


def check_config(d, objs, kaudit):
    cfgs = kaudit_configs(objs)
    if not any(key == "kaudit.yaml" for _, key, _, _ in cfgs):
        return ["%s:0: no ConfigMap with data kaudit.yaml" % d], []
    errors, skipped = [], []
    for f, key, text, first_line in cfgs:
        path = os.path.join(d, f)
        for k in pending_sections(kaudit, yaml.safe_load(text) or {}):
            if k == "metrics":
                text = blank_section(text, k)
                skipped.append(k)
        env = dict(os.environ)
        for v in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
            env[v] = "placeholder"
        rc, err = kaudit_check(kaudit, text, env)
        if rc != 0:
            # kaudit.yaml:N is line N of the block: report it in the ConfigMap's file.
            err = re.sub(r"kaudit\.yaml:(\d+):",
                         lambda m: "%s:%d:" % (path, int(m.group(1)) + first_line - 1), err)
            lines = [e for e in err.strip().split("\n") if e] or ["%s:0: no message" % path]
            errors += ["%s (kaudit check of %s exited %d)" % (e, key, rc) for e in lines]
    return errors, skipped


def check_k8s(d, kaudit):
    files, errors = load_manifests(d)
    report("k8s-parse", errors)
    if errors:
        return
    report("k8s-kustomization", check_kustomization(d, files))
    objs = objects(files)
    errors = check_kinds(d, objs)
    report("k8s-kinds", errors)
    if errors:
        return
    report("k8s-deployment", check_deployment(d, objs))
    report("k8s-secret-keys", check_secret_vars(d, objs))
    errors, skipped = check_config(d, objs, kaudit)
    for k in skipped:
        print("note: %s: section \"%s\" is not known to %s yet; checked without it" % (d, k, kaudit))
    report("k8s-config-checks", errors)
    if shutil.which("kubectl"):
        p = subprocess.run(["kubectl", "kustomize", d], capture_output=True, text=True, timeout=120)
        report("k8s-kustomize-builds", [] if p.returncode == 0 else
               ["%s:0: kubectl kustomize: %s" % (d, p.stderr.strip())])


# --- image and systemd unit ---------------------------------------------

def directives(path):
    """[(line, instruction, argument)] of a Dockerfile, continuations joined."""
    out, cur, start = [], "", 0
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if not cur:
                start = n
            cur += line.rstrip("\\") + " "
            if not line.endswith("\\"):
                word, _, arg = cur.strip().partition(" ")
                out.append((start, word.upper(), arg.strip()))
                cur = ""
    return out


def check_dockerfile(path):
    errors = []
    ds = directives(path)
    froms = [(n, a) for n, w, a in ds if w == "FROM"]
    if len(froms) < 2:
        errors.append("%s:1: expected a build stage and a runtime stage (multi-stage)" % path)
    for n, a in froms[:-1]:
        if not re.match(r"debian:12(\b|-|\.|@)", a) and not a.startswith("debian:bookworm"):
            errors.append("%s:%d: build stage must be Debian 12, got %s" % (path, n, a))
    final = froms[-1][0] if froms else 0
    users = [(n, a) for n, w, a in ds if w == "USER" and n > final]
    if not users or users[-1][1].split(":")[0] in ("0", "root"):
        errors.append("%s:%d: the runtime stage must end with a non-root USER" % (path, final))
    if not any(w == "ENTRYPOINT" and "kaudit" in a for n, w, a in ds if n > final):
        errors.append("%s:%d: the runtime stage's ENTRYPOINT must be kaudit" % (path, final))
    return errors


def run_in_rootfs(root, argv):
    """Runs argv inside root as uid 65532, by chroot (root) or a user namespace."""
    if os.geteuid() == 0:
        cmd = ["chroot", "--userspec=65532:65532", root] + argv
    elif shutil.which("unshare"):
        cmd = ["unshare", "-r", "chroot", root] + argv
    else:
        return None
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def sanitized(kaudit):
    """Whether kaudit links a sanitizer runtime (make SANITIZE=...)."""
    p = subprocess.run(["ldd", kaudit], capture_output=True, text=True)
    return any(lib in p.stdout for lib in ("libasan", "libubsan", "libtsan"))


def check_rootfs(kaudit, policy_dir):
    """The image's file system alone runs kaudit: no library missing."""
    script = os.path.join(policy_dir, "docker", "rootfs.sh")
    with tempfile.TemporaryDirectory(prefix="kaudit-rootfs.") as t:
        root = os.path.join(t, "root")
        p = subprocess.run(["sh", script, kaudit, root], capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            report("image-rootfs", ["%s:0: %s" % (script, p.stderr.strip())])
            return
        if sanitized(kaudit):
            # AddressSanitizer reads /proc, which the image has not: an
            # instrumented binary is never the one an image ships.
            print("note: %s is a sanitizer build: the image file system was built, not run"
                  % kaudit)
            report("image-rootfs", [])
            return
        p = run_in_rootfs(root, ["/usr/local/bin/kaudit", "check", "--example"])
        if p is None:
            print("note: neither root nor unshare: the image file system was built, not run")
            report("image-rootfs", [])
            return
        ok = p.returncode == 0 and "kafka:" in p.stdout
        report("image-rootfs", [] if ok else ["%s:0: kaudit in the image file system exited %d: %s"
                                              % (script, p.returncode, p.stderr.strip())])


UNIT_NEEDS = [
    ("User", lambda v: v not in ("", "root", "0")), ("ProtectSystem", "strict".__eq__),
    ("NoNewPrivileges", "yes".__eq__), ("CapabilityBoundingSet", "".__eq__),
    ("PrivateTmp", "yes".__eq__), ("ProtectHome", "yes".__eq__),
    ("PrivateDevices", "yes".__eq__), ("RestrictAddressFamilies", bool),
    ("SystemCallFilter", bool), ("MemoryDenyWriteExecute", "yes".__eq__),
    ("ProtectKernelTunables", "yes".__eq__), ("ProtectControlGroups", "yes".__eq__),
    ("RestrictSUIDSGID", "yes".__eq__), ("LockPersonality", "yes".__eq__),
]


def check_unit(path, kaudit):
    errors, seen = [], {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"([A-Za-z]+)=(.*)$", line.strip())
            if m:
                seen.setdefault(m.group(1), (n, m.group(2)))
    for key, ok in UNIT_NEEDS:
        if key not in seen:
            errors.append("%s:0: %s= is missing" % (path, key))
        elif not ok(seen[key][1]):
            errors.append("%s:%d: %s=%s is not hardened" % (path, seen[key][0], key, seen[key][1]))
    report("unit-hardened", errors)
    if not shutil.which("systemd-analyze"):
        print("note: no systemd-analyze: %s not verified" % path)
        return
    with tempfile.TemporaryDirectory(prefix="kaudit-unit.") as t:
        copy = os.path.join(t, "kaudit.service")
        with open(path, encoding="utf-8") as f, open(copy, "w", encoding="utf-8") as g:
            g.write(f.read().replace("/usr/local/bin/kaudit", os.path.abspath(kaudit)))
        p = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True,
                           timeout=60)
        out = (p.stdout + p.stderr).replace(copy, path).strip()
        report("unit-verify", [] if p.returncode == 0 and not out else ["%s:0: %s" % (path, out)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", default="deploy/audit-policy.yaml")
    ap.add_argument("--k8s", default="deploy/k8s")
    ap.add_argument("--dockerfile", default="deploy/Dockerfile")
    ap.add_argument("--unit", default="deploy/systemd/kaudit.service")
    ap.add_argument("--kaudit", default=os.environ.get("KAUDIT", "bin/kaudit"))
    ap.add_argument("--only", default="policy,k8s,image,unit")
    a = ap.parse_args()
    parts = set(a.only.split(","))
    if "policy" in parts:
        check_policy(a.policy)
    if "k8s" in parts:
        check_k8s(a.k8s, a.kaudit)
    if "image" in parts:
        report("dockerfile", check_dockerfile(a.dockerfile))
        check_rootfs(a.kaudit, os.path.dirname(a.dockerfile))
    if "unit" in parts:
        check_unit(a.unit, a.kaudit)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
