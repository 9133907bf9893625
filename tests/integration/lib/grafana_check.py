#!/usr/bin/env python3
"""grafana_check.py DASHBOARD DB_URL FROM TO CLUSTER — runs every SQL query
of a Grafana dashboard (panel targets and template variables) against
PostgreSQL with psql, after expanding Grafana's macros the way its
PostgreSQL data source does for the range [FROM, TO] (RFC 3339). CLUSTER is
the text $cluster becomes (e.g. 'prod' or the dashboard's allValue).

Prints one line per query: `ok ROWS SUM TITLE` (SUM: the total of a
`value` column, 0 without one) or `error TITLE: MESSAGE`; exits 1 when any
query failed or none was found."""
import datetime
import json
import re
import subprocess
import sys

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(text, default):
    m = re.fullmatch(r"'?(\d+)([smhdw])'?", text.strip())
    if text.strip() in ("$__interval", "$__interval_ms"):
        return default
    if not m:
        raise ValueError(f"interval {text!r}")
    return int(m.group(1)) * UNITS[m.group(2)]


def args_of(sql, start):
    """The text between the parenthesis at start and its match."""
    depth = 0
    for i in range(start, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return sql[start + 1:i], i + 1
    raise ValueError("unbalanced macro")


def split_last_comma(text):
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        c = text[i]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
        elif c == "," and depth == 0:
            return text[:i], text[i + 1:]
    return text, None


def expand(sql, t_from, t_to, cluster, interval):
    out = sql
    while True:
        m = re.search(r"\$__(timeFilter|timeGroupAlias|timeGroup|timeFrom|timeTo)\(", out)
        if not m:
            break
        inner, end = args_of(out, m.end() - 1)
        name = m.group(1)
        if name == "timeFilter":
            rep = f"{inner} BETWEEN '{t_from}' AND '{t_to}'"
        elif name == "timeFrom":
            rep = f"'{t_from}'"
        elif name == "timeTo":
            rep = f"'{t_to}'"
        else:
            col, step = split_last_comma(inner)
            n = seconds(step, interval)
            rep = f"floor(extract(epoch from {col})/{n})*{n}"
            if name == "timeGroupAlias":
                rep += ' AS "time"'
        out = out[:m.start()] + rep + out[end:]
    out = out.replace("$__interval_ms", str(interval * 1000)).replace("$__interval", f"'{interval}s'")
    out = out.replace("${cluster}", cluster).replace("$cluster", cluster)
    if "$" in re.sub(r"\$\d|'[^']*'", "", out):
        raise ValueError(f"unexpanded macro in: {out}")
    return out


def run(url, sql):
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--csv", url, "-c", sql],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    lines = p.stdout.splitlines()
    header = lines[0].split(",") if lines else []
    total = 0
    if "value" in header:
        k = header.index("value")
        import csv
        for row in csv.reader(lines[1:]):
            total += float(row[k] or 0)
    return (len(lines) - 1 if lines else 0, total), None


def main():
    path, url, t_from, t_to, cluster = sys.argv[1:6]
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    span = (datetime.datetime.fromisoformat(t_to.replace("Z", "+00:00")) -
            datetime.datetime.fromisoformat(t_from.replace("Z", "+00:00"))).total_seconds()
    interval = max(60, int(span / 1000))  # about Grafana's choice for ~1000 px
    queries = []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]
            queries.append((f"variable {v['name']}", q if isinstance(q, str) else q.get("rawSql", "")))
    for p in dash.get("panels", []):
        for t in p.get("targets", []):
            queries.append((p["title"], t["rawSql"]))
    failed = 0
    for title, sql in queries:
        try:
            res, err = run(url, expand(sql, t_from, t_to, cluster, interval))
        except ValueError as e:
            res, err = None, str(e)
        if err is not None:
            print(f"error {title}: {err}")
            failed += 1
        else:
            print(f"ok {res[0]} {res[1]:g} {title}")
    sys.exit(1 if failed or not queries else 0)


main()
