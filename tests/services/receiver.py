#!/usr/bin/env python3
"""receiver.py — a webhook receiver for tests and the demo.

Records every request as one JSON line
  {"time", "method", "path", "headers": {...}, "body": <text>}
appended and flushed to --log before it answers, so a test that saw the
answer also sees the record. Answers:
  /fail...                 500
  /flaky/K/<rest>          500 for the first K requests to that exact path, then 200
  /slow/MS/<rest>          sleeps MS milliseconds, then 200
  /gone/K/<rest>           410 Gone for the first K requests to that exact
                           path (the hook is back once re-enabled), then 200
  /bad/K/<rest>            400 with a body holding control characters and a
                           bidi override, for the first K requests to that
                           exact path, then 200
  /ratelimit/K/S/<rest>    429 with Retry-After: S (seconds) for the first K
                           requests to that exact path, then 200
  /unavail/K/S/<rest>      503 with Retry-After: an HTTP date S seconds ahead,
                           for the first K requests to that exact path, then 200
  /signed/S1,S2.../<rest>  verifies the Standard Webhooks signature with each
                           secret Si (whsec_..., URL-encoded) using the reference
                           implementation (the standardwebhooks package, from the
                           venv tests/services/pyenv.sh makes); the record gains
                           "signature": {"verified": true only when every secret
                           verified, "secrets": [one result per secret: "ok" or
                           the reason]}; 401 when not verified, else the
                           answer for /<rest> (so /signed/S/flaky/1/x fails once)
  anything else            200
Usage: receiver.py --port P --log FILE [--backlog N]
                   [--tls-cert PEM --tls-key PEM [--client-ca PEM]]
(port 0: pick a free one; the port is printed alone on the first line of
stdout). With --tls-cert and --tls-key it speaks HTTPS only; with
--client-ca too, a client must present a certificate that chains to it, and
a handshake without one is refused. Each refused handshake is one line
"tls: refused: REASON" on stderr (the log records requests only). Binds 127.0.0.1
only, with SO_REUSEADDR, so a test can stop it and start it again on the same
port. --backlog sets the listen backlog (default 128; Python's http.server
keeps 5).
"""

import argparse
import email.utils
import json
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from standardwebhooks.webhooks import Webhook
except ImportError:  # run by a python without the venv of pyenv.sh
    Webhook = None

MAX_BODY = 64 * 1024 * 1024


class Recorder:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8")
        self.seen = {}

    def record(self, rec):
        line = json.dumps(rec, ensure_ascii=False)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()

    def count(self, path):
        """Returns how many requests reached path, this one included."""
        with self.lock:
            n = self.seen.get(path, 0) + 1
            self.seen[path] = n
            return n


def first_k(path, prefix):
    """K of /prefix/K/..., or None."""
    parts = path.split("/")
    # "", prefix, K, rest...
    if len(parts) >= 3 and parts[1] == prefix:
        try:
            return int(parts[2])
        except ValueError:
            return None
    return None


def flaky_limit(path):
    return first_k(path, "flaky")


def counted(path, prefix):
    """(K, S) of /prefix/K/S/..., or None."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == prefix:
        try:
            return int(parts[2]), int(parts[3])
        except ValueError:
            return None
    return None


def slow_ms(path):
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "slow":
        try:
            return max(0, int(parts[2]))
        except ValueError:
            return None
    return None


def signed_secrets(path):
    """The secrets of a /signed/S1,S2/... path, or None."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "signed":
        return [urllib.parse.unquote(s) for s in parts[2].split(",") if s]
    return None


def verify(secrets, body, headers):
    """Verifies body and headers against each secret with the reference
    implementation: (every one verified, one "ok" or reason per secret)."""
    if Webhook is None:
        return False, ["the standardwebhooks package is not installed "
                       "(run the receiver with tests/services/pyenv.sh's python)"]
    results = []
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers, json_parse=False)
            results.append("ok")
        except Exception as e:  # the reason goes to the record
            results.append("%s: %s" % (type(e).__name__, e))
    return bool(results) and all(r == "ok" for r in results), results


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY a client
    # on a kept-alive connection waits out a delayed ACK (40 ms) on each.
    disable_nagle_algorithm = True
    server_version = "kaudit-receiver/1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def answer(self, code, text, headers=None):
        data = (text + "\n").encode()
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.answer(413, str(e))
            return
        path = self.path.split("?", 1)[0]
        rec = self.server.recorder
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + ".%06dZ" % (time.time() % 1 * 1e6),
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
        }
        secrets = signed_secrets(path)
        if secrets is not None:
            ok, results = verify(secrets, body, dict(self.headers.items()))
            entry["signature"] = {"verified": ok, "secrets": results}
        rec.record(entry)
        n = rec.count(path)
        if secrets is not None:
            if not entry["signature"]["verified"]:
                self.answer(401, "signature: %s" % "; ".join(entry["signature"]["secrets"]))
                return
            path = "/" + "/".join(path.split("/")[3:])
        if path.startswith("/fail"):
            self.answer(500, "failing on purpose")
            return
        k = flaky_limit(path)
        if k is not None and n <= k:
            self.answer(500, "flaky: request %d of %d failing" % (n, k))
            return
        k = first_k(path, "gone")
        if k is not None and n <= k:
            self.answer(410, "this hook was deleted")
            return
        k = first_k(path, "bad")
        if k is not None and n <= k:
            # what a hostile or broken receiver may answer: an escape
            # sequence, a bidi override, a bell
            self.answer(400, "rejected: \x1b[31mfield\x1b[0m \u202eevil\u202c \x07")
            return
        ks = counted(path, "ratelimit")
        if ks is not None and n <= ks[0]:
            self.answer(429, "slow down", {"Retry-After": str(ks[1])})
            return
        ks = counted(path, "unavail")
        if ks is not None and n <= ks[0]:
            when = email.utils.formatdate(time.time() + ks[1], usegmt=True)
            self.answer(503, "maintenance", {"Retry-After": when})
            return
        ms = slow_ms(path)
        if ms:
            time.sleep(ms / 1000.0)
        self.answer(200, "ok")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a client opening a few
    # dozen connections at once loses SYNs and waits out a 1 s retransmit.
    request_queue_size = 128
    tls = None  # an ssl.SSLContext when serving HTTPS

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            # the handshake runs in the request's thread (finish_request):
            # a slow or refused client must not hold up accept()
            sock = self.tls.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request.settimeout(10)
                request.do_handshake()
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                print("tls: refused: %s" % e, file=sys.stderr, flush=True)
                linger(request)
                return
        super().finish_request(request, client_address)


def linger(sock):
    """Closes a refused connection the way web servers do: end our side,
    then read what the client still sends for a moment. Closed at once with
    its request unread, the connection would end in a reset that reaches
    the client before the TLS alert saying why."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_WR)
        sock.settimeout(1)
        while socket.socket.recv(sock, 4096):
            pass
    except OSError:
        pass


def tls_context(cert, key, client_ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def main():
    ap = argparse.ArgumentParser(description="record webhook deliveries")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--backlog", type=int, default=Server.request_queue_size)
    ap.add_argument("--tls-cert", help="server certificate chain, PEM: serve HTTPS")
    ap.add_argument("--tls-key", help="its private key, PEM")
    ap.add_argument("--client-ca", help="require a client certificate signed by this CA")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        ap.error("--client-ca needs --tls-cert and --tls-key")

    # listen() runs in the constructor, with the class's value
    Server.request_queue_size = args.backlog
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        server.tls = tls_context(args.tls_cert, args.tls_key, args.client_ca)
    server.daemon_threads = True
    server.recorder = Recorder(args.log)
    print(server.server_address[1], flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
