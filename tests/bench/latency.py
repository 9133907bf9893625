#!/usr/bin/env python3
"""latency.py — the two ends of `make bench-latency`.

  latency.py produce --rate N --times OUT FILE
      Writes the lines of FILE to stdout (piped into `kcat -P`) at N lines a
      second, in bursts every 5 ms, each burst flushed. OUT gets one line
      "auditID<TAB>epoch seconds" per event: the time its burst was handed
      to kcat, the event's produce time.

  latency.py report TIMES LOG [--skip S]
      Matches every request of a receiver's log (tests/services/receiver.py,
      one JSON line per request, the body being kaudit's webhook payload)
      with the produce time of the event named by the payload's audit_id,
      the first request of each delivery id only (a retry is not a second
      notification). Requests for events produced in the first S seconds
      (the daemon's start) are left out. Prints the count and p50, p90, p99
      and max of receipt minus produce time in ms, for all notifications
      and apart for those of stateful rules (the payload has a correlation
      or the rule's signals went through the state owners: their finding
      comes one Kafka round trip later). With --rows ROWS (lines "audit_id
      <TAB> created_at epoch" of the notified findings, created_at being now()
      of the transaction that stored them), the same split in two: produce
      to that transaction's start (Kafka, the ingest batch, decoding and
      rules) and from it to receipt (the write, its commit, the alerter's
      wake and claim, the POST).
"""

import argparse
import json
import sys
import time
from datetime import datetime, timezone


def produce(args):
    events = []
    with open(args.file, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                events.append((json.loads(line).get("auditID", ""), line))
    out = sys.stdout
    times = open(args.times, "w", encoding="utf-8")
    start = time.monotonic()
    sent = 0
    while sent < len(events):
        due = min(len(events), int((time.monotonic() - start) * args.rate) + 1)
        if due > sent:
            out.writelines(line for _, line in events[sent:due])
            out.flush()
            now = time.time()
            times.writelines("%s\t%.6f\n" % (aid, now) for aid, _ in events[sent:due])
            sent = due
        time.sleep(0.005)
    times.close()
    return 0


def pct(v, p):
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def line(label, v):
    if not v:
        return "  %-28s n=0" % label
    v.sort()
    return "  %-28s n=%-6d p50=%4.0f  p90=%4.0f  p99=%4.0f  max=%4.0f ms" % (
        label, len(v), pct(v, 50), pct(v, 90), pct(v, 99), v[-1])


def report(args):
    produced = {}
    for row in open(args.times, encoding="utf-8"):
        aid, _, t = row.rstrip("\n").partition("\t")
        produced[aid] = float(t)
    if not produced:
        print("  no events produced")
        return 1
    skip_until = min(produced.values()) + args.skip
    seen = set()
    direct, stateful, unknown = [], [], 0
    stored = {}
    if args.rows:
        for row in open(args.rows, encoding="utf-8"):
            parts = row.rstrip("\n").split("\t")
            if len(parts) == 2:
                stored.setdefault(parts[0], float(parts[1]))
    to_store, to_recv = [], []
    last_got = 0.0
    for rec_line in open(args.log, encoding="utf-8"):
        try:
            rec = json.loads(rec_line)
            body = json.loads(rec.get("body") or "{}")
        except ValueError:
            continue
        hdr = {k.lower(): v for k, v in rec.get("headers", {}).items()}
        did = hdr.get("x-kaudit-delivery")
        if did in seen:
            continue
        seen.add(did)
        t0 = produced.get(body.get("audit_id"))
        if t0 is None:
            unknown += 1
            continue
        if t0 < skip_until:
            continue
        got = datetime.strptime(rec["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc).timestamp()
        ms = (got - t0) * 1000.0
        last_got = max(last_got, got)
        (stateful if body.get("correlation") else direct).append(ms)
        t1 = stored.get(body.get("audit_id"))
        if t1 is not None and not body.get("correlation"):
            to_store.append((t1 - t0) * 1000.0)
            to_recv.append((got - t1) * 1000.0)
    print(line("all notifications", direct + stateful))
    print(line("single-event rules", direct))
    print(line("correlations", stateful))
    if stored:
        print(line("  produce -> transaction", to_store))
        print(line("  transaction -> receipt", to_recv))
    if last_got:
        print("  the last notification came %.1f s after the last event was produced "
              "(the stream lasted %.1f s): %s" % (
                  last_got - max(produced.values()),
                  max(produced.values()) - min(produced.values()),
                  "kept up" if last_got - max(produced.values()) < 1.0 else "fell behind"))
    if unknown:
        print("  %d notifications named no produced event" % unknown)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--times", required=True)
    p.add_argument("file")
    r = sub.add_parser("report")
    r.add_argument("times")
    r.add_argument("log")
    r.add_argument("--skip", type=float, default=0.0)
    r.add_argument("--rows")
    args = ap.parse_args()
    return produce(args) if args.cmd == "produce" else report(args)


if __name__ == "__main__":
    sys.exit(main())
