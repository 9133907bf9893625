#!/usr/bin/env python3
"""bench_gateway.py — POSTs EventLists to kaudit gateway as the API server
would, over kept-alive TLS connections with a client certificate, from
several threads for a while; prints requests/s, events/s and the latency of
the answers (p50, p99, max). Every answer must be 200.

Usage: bench_gateway.py --port P --ca CA --cert C --key K --body FILE
                        --events N [--conns 4] [--seconds 15]
"""

import argparse
import http.client
import ssl
import threading
import time


def worker(a, body, stop, lat, bad):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    conn = http.client.HTTPSConnection("127.0.0.1", a.port, context=ctx, timeout=30)
    hdr = {"Content-Type": "application/json"}
    mine = []
    while not stop.is_set():
        t0 = time.perf_counter()
        conn.request("POST", "/audit", body=body, headers=hdr)
        r = conn.getresponse()
        r.read()
        mine.append(time.perf_counter() - t0)
        if r.status != 200:
            bad.append(r.status)
    conn.close()
    lat.extend(mine)


def main():
    ap = argparse.ArgumentParser()
    for k in ("ca", "cert", "key", "body"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()
    with open(a.body, "rb") as f:
        body = f.read()
    stop, lat, bad = threading.Event(), [], []
    ts = [threading.Thread(target=worker, args=(a, body, stop, lat, bad)) for _ in range(a.conns)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    time.sleep(a.seconds)
    stop.set()
    for t in ts:
        t.join()
    span = time.perf_counter() - t0
    lat.sort()
    n = len(lat)
    if n == 0:
        print("bench-gateway: no request answered")
        return 1
    pct = lambda p: lat[min(n - 1, int(p * n))] * 1000
    print("bench-gateway: %d connections, %d-event EventLists (%d bytes), %.1f s"
          % (a.conns, a.events, len(body), span))
    print("bench-gateway: %d requests, %.0f requests/s, %.0f events/s, %.1f MB/s"
          % (n, n / span, n * a.events / span, n * len(body) / span / 1e6))
    print("bench-gateway: 200 latency p50 %.1f ms, p99 %.1f ms, max %.1f ms"
          % (pct(0.50), pct(0.99), lat[-1] * 1000))
    if bad:
        print("bench-gateway: %d answers were not 200 (e.g. %d)" % (len(bad), bad[0]))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
