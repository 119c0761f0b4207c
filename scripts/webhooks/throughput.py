#!/usr/bin/env python3
"""Webhook throughput and lag: USERS users with one webhook each write ROWS
activity rows in all (playlist creates, from 8 client threads) against a
`serve` process; a receiver on 127.0.0.1 takes every delivery. Reports
deliveries per second (first write to last delivery) and the lag of each
delivery from its row's commit (the item's `created_at`): p50, p99, max.

    scripts/webhooks/throughput.py [--binary target/release/shuffify]
        [--database-url sqlite:///tmp/hooks.db | postgres://...] [--rows 10000] [--users 100]

Standard library only. Everything stays on loopback.
"""
import argparse, json, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from serve import Server, call, stop_all_on_signals  # noqa: E402

received = []  # (event id, arrival unix time, created_at unix time)
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        now = time.time()
        item = json.loads(body)
        created = datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")).timestamp()
        with lock:
            received.append((self.headers["Shuffify-Event-Id"], now, created))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/shuffify")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--users", type=int, default=100)
    args = ap.parse_args()
    stop_all_on_signals()
    db_url = args.database_url or f"sqlite:///tmp/webhook-throughput-{os.getpid()}.db"

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/in"

    server = Server(args.binary, db_url, {"WEBHOOK_ALLOW_PRIVATE": "true",
                                           "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}, wait=20)
    base = server.base
    try:
        tokens = []
        tag = os.getpid()
        for n in range(args.users):
            name = f"hooks{tag}u{n}"
            call(base, "POST", "/api/auth/register", body={"username": name, "password": "correct horse"})
            tokens.append(call(base, "POST", "/api/auth/login",
                               body={"username": name, "password": "correct horse"})["token"])
            call(base, "POST", "/api/webhooks", tokens[-1], {"url": hook_url})
        per_user = args.rows // args.users

        def write(token):
            for n in range(per_user):
                call(base, "POST", "/api/playlists", token, {"name": f"p{n}"})

        started = time.time()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, tokens))
        written = time.time()
        total = per_user * args.users
        deadline = time.time() + 600
        while len(received) < total and time.time() < deadline:
            time.sleep(0.05)
        with lock:
            got = list(received)
        last = max(r[1] for r in got)
        lags = sorted(r[1] - r[2] for r in got)
        pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
        backend = "postgres" if db_url.startswith("postgres") else "sqlite"
        print(json.dumps({
            "backend": backend, "rows": total, "delivered": len(got),
            "distinct": len({r[0] for r in got}),
            "write_secs": round(written - started, 2),
            "deliveries_per_sec": round(len(got) / (last - started), 1),
            "lag_p50_ms": round(pick(0.50) * 1000, 1), "lag_p99_ms": round(pick(0.99) * 1000, 1),
            "lag_max_ms": round(lags[-1] * 1000, 1),
        }))
    finally:
        server.stop(timeout=10)
        receiver.shutdown()


if __name__ == "__main__":
    sys.exit(main())
