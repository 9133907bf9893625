#!/usr/bin/env python3
"""latency.py — delivery latency from a finding's commit to its receipt.

Usage: latency.py ROWS LOG PREFIX [PREFIX...]
ROWS is tab-separated lines "outbox id, webhook, finding created_at (epoch
seconds)" from kaudit.outbox joined with kaudit.findings; LOG is a
receiver's requests.jsonl. For each PREFIX (a path prefix, one per
webhook), the first request of each delivery id (X-Kaudit-Delivery) under
it is matched with its row; prints one line per prefix:
    PREFIX n=N missing=M p50=MS p99=MS max=MS
The latency is the receiver's record time minus created_at: created_at is
now() of the transaction that stored the finding (its start), so the figure
includes that transaction's own duration up to its commit. Same machine,
same clock.
"""

import json
import sys
from datetime import datetime, timezone


def ts(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def pct(v, p):
    if not v:
        return float("nan")
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def main():
    rows_path, log_path, prefixes = sys.argv[1], sys.argv[2], sys.argv[3:]
    created = {}
    for line in open(rows_path, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 3:
            created[parts[0]] = float(parts[2])
    first = {p: {} for p in prefixes}
    for line in open(log_path, encoding="utf-8"):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        path = rec.get("path", "")
        for p in prefixes:
            if path.startswith(p):
                hdr = {k.lower(): v for k, v in rec.get("headers", {}).items()}
                did = hdr.get("x-kaudit-delivery")
                if did is not None and did not in first[p]:
                    first[p][did] = ts(rec["time"])
    for p in prefixes:
        lat = sorted((t - created[d]) * 1000.0 for d, t in first[p].items() if d in created)
        missing = sum(1 for d in first[p] if d not in created)
        print("%s n=%d missing=%d p50=%.0f p99=%.0f max=%.0f" % (
            p, len(lat), missing, pct(lat, 50), pct(lat, 99), lat[-1] if lat else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
