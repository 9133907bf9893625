#!/usr/bin/env python3
"""pace.py — writes the lines of a file to stdout at a steady rate.

Usage: pace.py --rate N FILE
N lines per second, in small bursts every 10 ms, each burst flushed: piped
into `kcat -P`, the events reach Kafka as a steady stream instead of all at
once. Stops at the end of FILE.
"""

import argparse
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("file")
    args = ap.parse_args()
    with open(args.file, encoding="utf-8") as f:
        lines = [l for l in f if l.strip()]
    start = time.monotonic()
    sent = 0
    out = sys.stdout
    while sent < len(lines):
        due = min(len(lines), int((time.monotonic() - start) * args.rate) + 1)
        if due > sent:
            out.writelines(lines[sent:due])
            out.flush()
            sent = due
        time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main())
