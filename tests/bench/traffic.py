#!/usr/bin/env python3
"""traffic.py COUNT [--attack-pct P] [--seed S] > events.jsonl

Realistic audit traffic for the benchmarks: the routine control-plane and
admin requests of a real kubeadm cluster (the hkerma dataset's 16k rows, as
tests/noise/csv2audit.py rebuilds them) with the fields a Metadata-level
event of a real API server carries and the CSV lost (groups, source IPs,
user agent, authorization annotations, objectRef.apiVersion, a stage
timestamp a few milliseconds on): about 1 KB each. P percent (3 by default)
are real attack events (Falco's k8s_audit trace files and Panther's native
events), each compacted to one line. Every event gets an auditID of its own,
so that COUNT events give COUNT distinct findings keys. The output depends on
COUNT, P and S only.
"""
import argparse
import glob
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "noise"))
import csv2audit  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "fixtures", "corpus")

AGENTS = {
    "system:node:": "kubelet/v1.26.1 (linux/amd64) kubernetes/8f94681",
    "system:kube-controller-manager": "kube-controller-manager/v1.26.1 (linux/amd64) "
                                      "kubernetes/8f94681/leader-election",
    "system:kube-scheduler": "kube-scheduler/v1.26.1 (linux/amd64) kubernetes/8f94681/scheduler",
    "system:apiserver": "kube-apiserver/v1.26.1 (linux/amd64) kubernetes/8f94681",
    "system:serviceaccount:": "Go-http-client/2.0",
    "kubernetes-admin": "kubectl/v1.26.1 (linux/amd64) kubernetes/8f94681",
}
GROUPS = {
    "system:node:": ["system:nodes", "system:authenticated"],
    "system:serviceaccount:": ["system:serviceaccounts", "system:authenticated"],
    "kubernetes-admin": ["system:masters", "system:authenticated"],
}


def pick(table, user, default):
    for prefix, value in table.items():
        if user.startswith(prefix):
            return value
    return default


def enrich(ev, rng):
    """The fields a Metadata event of a real API server has beyond the CSV's."""
    user = ev["user"]["username"]
    ev["user"]["uid"] = "%08x-%04x-4%03x-a%03x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
        rng.getrandbits(12), rng.getrandbits(48))
    ev["user"]["groups"] = pick(GROUPS, user, ["system:authenticated"])
    if user.startswith("system:serviceaccount:"):
        ev["user"]["extra"] = {
            "authentication.kubernetes.io/pod-name": ["pod-%05d" % rng.randrange(99999)],
            "authentication.kubernetes.io/pod-uid": ["%032x" % rng.getrandbits(128)],
        }
    ev["sourceIPs"] = ["10.0.%d.%d" % (rng.randrange(4), rng.randrange(2, 250))]
    ev["userAgent"] = pick(AGENTS, user, "Go-http-client/2.0")
    ref = ev.get("objectRef")
    if ref is not None:
        ref["apiVersion"] = "v1"
    ts = ev["requestReceivedTimestamp"]
    ev["stageTimestamp"] = ts[:-4] + "%03dZ" % rng.randrange(1000)
    code = ev.get("responseStatus", {}).get("code", 200)
    allowed = code < 400
    ev["annotations"] = {
        "authorization.k8s.io/decision": "allow" if allowed else "forbid",
        "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "system:%s" of '
                                       'ClusterRole "system:%s" to Group "%s"' % (
                                           ev["verb"], ev["verb"], ev["user"]["groups"][0])
                                       if allowed else "",
    }
    return ev


def routine():
    path = os.path.join(CORPUS, "hkerma-kubernetes-event-dataset", "audit-logs.csv")
    out = []
    with open(path, newline="") as f:
        import csv
        for row in csv.reader(f):
            if len(row) >= 12 and row[9]:
                out.append(csv2audit.event(row))
    return out


def attacks():
    out = []
    falco = os.path.join(CORPUS, "falcosecurity-falco-trace-files", "test", "trace_files", "k8s_audit")
    for name in sorted(glob.glob(os.path.join(falco, "*.json"))):
        with open(name) as f:
            try:
                ev = json.load(f)
            except ValueError:
                continue
        if isinstance(ev, dict) and ev.get("kind") == "Event":
            out.append(ev)
    with open(os.path.join(CORPUS, "panther-labs-panther-analysis", "panther_k8s_audit_native.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("count", type=int)
    ap.add_argument("--attack-pct", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    base, bad = routine(), attacks()
    out = sys.stdout
    every = 100.0 / a.attack_pct if a.attack_pct > 0 else 0
    next_bad = every / 2 if every else a.count + 1
    for i in range(a.count):
        if i >= next_bad:
            ev = dict(bad[rng.randrange(len(bad))])
            next_bad += every
        else:
            ev = enrich(json.loads(json.dumps(base[i % len(base)])), rng)
        ev["auditID"] = "%s-b%07d" % (str(ev.get("auditID", "x"))[:36], i)
        out.write(json.dumps(ev, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
