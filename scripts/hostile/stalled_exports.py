#!/usr/bin/env python3
"""Stalled exports against a live Shuffify server (issue 8, item 4).

Opens N exports (default 600) from sockets that never read their bodies
(a small SO_RCVBUF, so the server's writes back up at once), spread over a
few users, and while they are open measures that `GET /health` and another
user's `GET /api/activity/recent` still answer: latencies (p50/p99) and
errors. Counts the 429s (the per-user and per-instance export caps), waits
past the server's send timeout, checks that a stalled user's export slot
is free again, measures once more, and closes everything.

Standard library only. Loopback only: it refuses any other host. Every
loop is bounded in count and in time (--max-seconds).

    python3 scripts/hostile/stalled_exports.py --base http://127.0.0.1:8080 \\
        --sqlite /tmp/shuffify-load.db --rows-per-user 5000

With --sqlite PATH (the server's SQLite file), the exporting users are
given --rows-per-user activity rows directly in that file, so that each
export has far more to send than socket buffers hold. Without it, seed
the exporting users some other way first.
"""

import argparse
import http.client
import ipaddress
import json
import socket
import sqlite3
import statistics
import sys
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

PASSWORD = "stalled-exports-pw"


def loopback_only(host):
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    sys.exit(f"refusing {host!r}: this script only talks to loopback addresses")


class Client:
    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout

    def request(self, method, path, token=None, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            res = conn.getresponse()
            payload = res.read()
            return res.status, payload, dict(res.getheaders())
        finally:
            conn.close()

    def account(self, username):
        """Registers `username` (an existing one is fine) and logs in: (id, token)."""
        self.request("POST", "/api/auth/register", body={"username": username, "password": PASSWORD})
        status, payload, _ = self.request(
            "POST", "/api/auth/login", body={"username": username, "password": PASSWORD}
        )
        if status != 200:
            sys.exit(f"login of {username} failed: {status} {payload[:200]!r}")
        body = json.loads(payload)
        return body["user"]["id"], body["token"]


def seed_sqlite(path, user_ids, rows_per_user):
    """Gives each user `rows_per_user` rows, written as the service writes them."""
    db = sqlite3.connect(path, timeout=30)
    start = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=1)
    with db:
        for uid in user_ids:
            (have,) = db.execute("SELECT count(*) FROM activity_log WHERE user_id = ?", (uid,)).fetchone()
            rows = []
            for i in range(max(0, rows_per_user - have)):
                t = (start - timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f")
                rows.append((uid, "shuffle", f"seeded shuffle {i} " + "x" * 120, "user", t))
            db.executemany(
                "INSERT INTO activity_log (user_id, activity_type, description, actor_type, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
    db.close()


def open_stalled(host, port, token, rcvbuf):
    """Sends an export request on a socket that will never read its body."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((host, port))
    s.sendall(
        (
            f"GET /api/activity/export?format=ndjson HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return s


def status_of(s):
    """Reads only the first bytes of the answer: its status line."""
    try:
        head = s.recv(512)
        return int(head.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def measure(client, path, token, count, deadline):
    """`count` sequential requests: latencies in ms, and how many failed."""
    latencies, errors = [], 0
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        try:
            status, _, _ = client.request("GET", path, token)
            if status != 200:
                errors += 1
        except OSError:
            errors += 1
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 2) if latencies else None,
        "max_ms": round(max(latencies), 2) if latencies else None,
    }


def process_facts(pid):
    facts = {}
    if not pid:
        return facts
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "Threads"):
                    facts[key] = value.strip()
    except OSError:
        pass
    return facts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="http://127.0.0.1:8080")
    ap.add_argument("--exports", type=int, default=600, help="stalled exports to open")
    ap.add_argument("--exporters", type=int, default=20, help="users the exports are spread over")
    ap.add_argument("--rows-per-user", type=int, default=5000)
    ap.add_argument("--sqlite", help="the server's SQLite file, to seed the exporters' rows")
    ap.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF of the stalled sockets")
    ap.add_argument("--probes", type=int, default=200, help="requests per measurement")
    ap.add_argument("--send-timeout", type=float, default=10, help="the server's STREAM_SEND_TIMEOUT_SECS")
    ap.add_argument("--pid", type=int, help="the server's pid, to report its RSS and threads")
    ap.add_argument("--max-seconds", type=float, default=180)
    args = ap.parse_args()

    url = urllib.parse.urlsplit(args.base)
    host, port = url.hostname, url.port or 80
    loopback_only(host)
    deadline = time.monotonic() + args.max_seconds
    client = Client(host, port, timeout=10)
    report = {"exports": args.exports, "exporters": args.exporters}

    users = [client.account(f"stall{i:03d}") for i in range(args.exporters)]
    _, bystander = client.account("bystander")
    if args.sqlite:
        seed_sqlite(args.sqlite, [uid for uid, _ in users], args.rows_per_user)
    report["before"] = process_facts(args.pid)
    report["baseline_health"] = measure(client, "/health", None, args.probes, deadline)

    sockets, statuses = [], {}
    try:
        for i in range(args.exports):
            if time.monotonic() > deadline:
                break
            _, token = users[i % len(users)]
            try:
                sockets.append(open_stalled(host, port, token, args.rcvbuf))
            except OSError as e:
                statuses[f"connect error: {e.__class__.__name__}"] = statuses.get(
                    f"connect error: {e.__class__.__name__}", 0
                ) + 1
        stalled = []
        for s in sockets:
            status = status_of(s)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status == 200:
                stalled.append(s)  # never read again
            else:
                s.close()
        report["export_statuses"] = statuses
        report["open_stalled"] = len(stalled)
        report["during"] = process_facts(args.pid)
        report["health_while_stalled"] = measure(client, "/health", None, args.probes, deadline)
        report["recent_while_stalled"] = measure(
            client, "/api/activity/recent", bystander, args.probes, deadline
        )

        # Past the send timeout, the stalled exports' slots are free again,
        # though their sockets are still open and unread.
        time.sleep(min(args.send_timeout + 3, max(0, deadline - time.monotonic())))
        uid, token = users[0]
        fresh = open_stalled(host, port, token, 1 << 20)
        report["export_after_timeout_status"] = status_of(fresh)
        fresh.close()
        report["after_timeout"] = process_facts(args.pid)
        report["health_after_timeout"] = measure(client, "/health", None, args.probes, deadline)
    finally:
        for s in sockets:
            s.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
