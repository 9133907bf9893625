#!/usr/bin/env python3
"""rule_subset.py: writes a copy of the shipped rule pack into OUTDIR with
only N of its rules and correlations enabled, for `make bench-scan`'s table
of cost against rule count.

    rule_subset.py N|all OUTDIR [--stateless]

The N are spread evenly over the pack's items in file order (every kind of
rule is represented, not only the first file's). The others are switched
off by `- rule: ID` / `enabled: false` items in OUTDIR/zz-subset.yaml, which
loads last; lists and macros stay. A correlation that is kept still has the
rules that feed it evaluated. --stateless also drops every `suppress:` key
and switches every correlation off, so that no rule needs the state engine.
Prints the number of rules and correlations left enabled."""
import os
import re
import sys

ITEM = re.compile(r"^- (rule|correlation):\s*(\S+)\s*$")


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--stateless"):
        sys.exit("usage: rule_subset.py N|all OUTDIR [--stateless]")
    want, out = sys.argv[1], sys.argv[2]
    stateless = len(sys.argv) == 4
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config", "rules")
    os.makedirs(out, exist_ok=True)
    items = []  # (kind, id, disabled in the pack)
    for name in sorted(os.listdir(src)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(src, name)) as f:
            lines = f.read().split("\n")
        kept = []
        cur = None
        for line in lines:
            m = ITEM.match(line)
            if m:
                cur = [m.group(1), m.group(2), False]
                items.append(cur)
            elif line.startswith("- "):
                cur = None
            elif cur is not None and re.match(r"^  enabled:\s*false\s*$", line):
                cur[2] = True
            if stateless and line.startswith("  suppress:"):
                continue
            kept.append(line)
        with open(os.path.join(out, name), "w") as f:
            f.write("\n".join(kept))
    pool = [it for it in items if not it[2] and not (stateless and it[0] == "correlation")]
    n = len(pool) if want == "all" else min(int(want), len(pool))
    chosen = set()
    for i in range(n):
        chosen.add(pool[i * len(pool) // n][1])
    with open(os.path.join(out, "zz-subset.yaml"), "w") as f:
        f.write("# rules switched off for the benchmark (tests/bench/rule_subset.py)\n")
        for _, ident, _ in items:
            if ident not in chosen:
                f.write("- rule: %s\n  enabled: false\n" % ident)
    print(len(chosen))


if __name__ == "__main__":
    main()
