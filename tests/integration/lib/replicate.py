#!/usr/bin/env python3
"""replicate.py — many distinct audit events from a few real ones.

Usage: replicate.py --copies N --tag TAG FILE...
Reads every audit Event in the files (JSON lines, concatenated or
pretty-printed documents, EventList items) and writes each one N times as
compact JSON lines, every copy with its own auditID (original id, or "noid",
plus TAG, copy and position), so no two lines share an (auditID, rule) key.
"""

import argparse
import json
import sys


def values(text):
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        v, i = dec.raw_decode(text, i)
        yield v


def events(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for v in values(text):
        items = v.get("items") if isinstance(v, dict) and v.get("kind") == "EventList" else [v]
        for ev in items or []:
            if isinstance(ev, dict) and ("verb" in ev or ev.get("kind") == "Event"):
                yield ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, required=True)
    ap.add_argument("--tag", default="r")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    base = [ev for p in args.files for ev in events(p)]
    out = sys.stdout
    for c in range(args.copies):
        for j, ev in enumerate(base):
            ev = dict(ev)
            ev["auditID"] = "%s-%s%d-%d" % (ev.get("auditID") or "noid", args.tag, c, j)
            out.write(json.dumps(ev, separators=(",", ":"), ensure_ascii=False))
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
