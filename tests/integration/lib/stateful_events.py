#!/usr/bin/env python3
"""stateful_events.py — audit events for the daemon's memory-across-events
tests, as JSON lines, for the rules of tests/rules/stateful/engine.yaml.

For each of N users, in event-time order within each user: secrets read one
by one (every third user past the value_count threshold), denied bursts,
a binding of another user followed by that user's exec (temporal_ordered
on the binding's subjects), an old kubectl used again and again (suppress),
and a Deployment, its ReplicaSet and its privileged pod (attribution). The
lines are then shuffled with a fixed seed, so the events of one key arrive
on several source partitions in another order than their times: the daemon
must still find what `kaudit scan` finds in time order.

usage: stateful_events.py [--users N] [--seed S] [--tag T] > events.jsonl
"""
import argparse
import datetime
import json
import random
import sys

T0 = datetime.datetime(2026, 3, 1, 10, 0, 0, tzinfo=datetime.timezone.utc)


def ts(seconds):
    t = T0 + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond


def event(aid, t, verb, user, ref, **kw):
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
         "auditID": aid, "stage": "ResponseComplete", "verb": verb,
         "user": {"username": user, "groups": ["system:authenticated"]},
         "sourceIPs": ["203.0.113.7"], "objectRef": ref,
         "responseStatus": {"code": kw.pop("code", 200)},
         "requestReceivedTimestamp": ts(t), "stageTimestamp": ts(t)}
    e.update(kw)
    return e


def user_events(u, tag, base):
    out = []
    name = "user-%d" % u
    ns = "team-%d" % u
    # value_count: 6 distinct secrets for every third user, 3 for the others
    for i in range(6 if u % 3 == 0 else 3):
        out.append(event("%s-sec-%d-%d" % (tag, u, i), base + i * 20, "get", name,
                         {"resource": "secrets", "namespace": ns, "name": "s-%d" % i}))
    # event_count: 5 denied within a minute for every other user
    if u % 2 == 0:
        for i in range(5):
            out.append(event("%s-den-%d-%d" % (tag, u, i), base + 200 + i * 5, "list", name,
                             {"resource": "pods", "namespace": "kube-system"}, code=403))
    # temporal_ordered: an admin binds the user, who then execs
    out.append(event("%s-bind-%d" % (tag, u), base + 300, "create", "admin",
                     {"resource": "rolebindings", "namespace": ns, "name": "b-%d" % u},
                     code=201,
                     requestObject={"kind": "RoleBinding",
                                    "metadata": {"name": "b-%d" % u, "namespace": ns},
                                    "roleRef": {"kind": "Role", "name": "exec"},
                                    "subjects": [{"kind": "User", "name": name}]}))
    out.append(event("%s-exec-%d" % (tag, u), base + 360, "create", name,
                     {"resource": "pods", "subresource": "exec", "namespace": ns,
                      "name": "web"}, code=101,
                     requestURI="/api/v1/namespaces/%s/pods/web/exec?command=sh" % ns))
    # suppress: the same old client four times
    for i in range(4):
        e = event("%s-old-%d-%d" % (tag, u, i), base + 400 + i * 600, "get", name,
                  {"resource": "configmaps", "namespace": ns})
        e["userAgent"] = "kubectl/v1.18.2 (linux/amd64) kubernetes/abc"
        out.append(e)
    # attribution: Deployment by the user, ReplicaSet and pod by controllers
    tmpl = {"spec": {"containers": [{"name": "c", "image": "nginx",
                                     "securityContext": {"privileged": True}}]}}
    out.append(event("%s-dep-%d" % (tag, u), base + 500, "create", name,
                     {"resource": "deployments", "namespace": ns, "name": "app",
                      "apiGroup": "apps"}, code=201,
                     responseObject={"kind": "Deployment",
                                     "metadata": {"name": "app", "namespace": ns},
                                     "spec": {"template": tmpl}}))
    out.append(event("%s-rs-%d" % (tag, u), base + 501, "create",
                     "system:serviceaccount:kube-system:deployment-controller",
                     {"resource": "replicasets", "namespace": ns, "name": "app-1",
                      "apiGroup": "apps"}, code=201,
                     responseObject={"kind": "ReplicaSet",
                                     "metadata": {"name": "app-1", "namespace": ns,
                                                  "ownerReferences": [{"kind": "Deployment",
                                                                       "name": "app",
                                                                       "controller": True}]},
                                     "spec": {"template": tmpl}}))
    out.append(event("%s-pod-%d" % (tag, u), base + 502, "create",
                     "system:serviceaccount:kube-system:replicaset-controller",
                     {"resource": "pods", "namespace": ns, "name": "app-1-x"}, code=201,
                     responseObject={"kind": "Pod",
                                     "metadata": {"name": "app-1-x", "namespace": ns,
                                                  "ownerReferences": [{"kind": "ReplicaSet",
                                                                       "name": "app-1",
                                                                       "controller": True}]},
                                     "spec": tmpl["spec"]}))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tag", default="st")
    ap.add_argument("--sorted", action="store_true", help="in event-time order")
    a = ap.parse_args()
    events = []
    for u in range(a.users):
        events.extend(user_events(u, a.tag, u * 7))
    if a.sorted:
        events.sort(key=lambda e: e["stageTimestamp"])
    else:
        # out of order, but never by more than the default lateness (10m)
        rnd = random.Random(a.seed)
        events.sort(key=lambda e: e["stageTimestamp"])
        keyed = [(i + rnd.uniform(0, 60), e) for i, e in enumerate(events)]
        keyed.sort(key=lambda x: x[0])
        events = [e for _, e in keyed]
    for e in events:
        sys.stdout.write(json.dumps(e, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
