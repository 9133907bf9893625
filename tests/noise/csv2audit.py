#!/usr/bin/env python3
"""csv2audit.py CSV > events.jsonl

Turns the hkerma/kubernetes-event-dataset projection (CSV columns from its
logstash.conf: host, requestReceivedTimestamp, user.username, verb,
objectRef.resource, objectRef.subresource, objectRef.name,
responseObject.metadata.name, requestURI, auditID, stage, responseStatus.code,
...) back into Metadata-level audit.k8s.io/v1 events, so the rule pack can be
measured on 16k events of a real kubeadm cluster. Fields the CSV lacks
(groups, user agent, source IPs, bodies) stay absent, as they would at
audit level None/Metadata with a sparse policy."""
import csv
import json
import re
import sys
from urllib.parse import urlsplit

NS = re.compile(r"/namespaces/([^/?]+)")
GROUP = re.compile(r"^/apis/([^/]+)/")


def event(row):
    (_host, ts, user, verb, res, sub, name, rname, uri, audit_id, stage,
     code) = row[:12]
    path = urlsplit(uri).path
    ref = {}
    if res:
        ref["resource"] = res
    if sub:
        ref["subresource"] = sub
    m = NS.search(path)
    if m and not (res == "namespaces" and path.rstrip("/").endswith("/namespaces/" + m.group(1))):
        ref["namespace"] = m.group(1)
    if name or rname:
        ref["name"] = name or rname
    g = GROUP.match(path)
    ref["apiGroup"] = g.group(1) if g else ""
    ev = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": audit_id, "stage": stage, "requestURI": uri, "verb": verb,
        "user": {"username": user},
        "requestReceivedTimestamp": ts, "stageTimestamp": ts,
    }
    if ref.get("resource"):
        ev["objectRef"] = ref
    if code:
        ev["responseStatus"] = {"metadata": {}, "code": int(code)}
    return ev


def main():
    out = sys.stdout
    with open(sys.argv[1], newline="") as f:
        for row in csv.reader(f):
            if len(row) < 12 or not row[9]:
                continue
            out.write(json.dumps(event(row), separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
