#!/usr/bin/env python3
"""Login floods against a live server (issue 8, items 1-3).

    python3 scripts/hostile/auth_flood.py http://127.0.0.1:8080 --pid SERVER_PID

1. 10,000 failed logins with distinct junk usernames (1 KiB, uppercase: they
   break the registration rules): the server's RSS before and after.
2. 40 parallel wrong passwords for one real user: how many were checked
   (401) and how many refused (429).
3. 200 parallel logins (from this one address) while another user reads
   GET /api/me: that user's latencies.
Standard library only; loopback only; every loop is bounded.
"""

import argparse
import json
import threading
import uuid

from common import Client, parallel, rss_kib, tally


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", nargs="?", default="http://127.0.0.1:8080")
    p.add_argument("--pid", type=int, required=True, help="the server's pid, for its RSS")
    args = p.parse_args()
    c = Client(args.base)

    names = [f"u{uuid.uuid4().hex[:6]}" for _ in range(2)]
    tokens = []
    for name in names:
        assert c.call_raw("POST", "/api/auth/register",
                      {"username": name, "password": "flood-password"})[0] == 201
        status, raw, _ = c.call_raw("POST", "/api/auth/login",
                                {"username": name, "password": "flood-password"})
        assert status == 200, raw
        tokens.append(json.loads(raw)["token"])

    before = rss_kib(args.pid)
    statuses = {}
    for i in range(10_000):
        junk = f"JUNK{i:05d}" + "X" * 1000
        status = c.call_raw("POST", "/api/auth/login", {"username": junk, "password": "x"})[0]
        statuses[status] = statuses.get(status, 0) + 1
    after = rss_kib(args.pid)
    print(f"1. 10,000 junk-name logins: {statuses}; RSS {before / 1024:.1f} -> "
          f"{after / 1024:.1f} MiB ({(after - before) / 1024:+.1f} MiB)")

    results = parallel(40, lambda i: c.call_raw("POST", "/api/auth/login",
                                            {"username": names[0], "password": f"wrong-{i}"}))
    print(f"2. 40 parallel wrong passwords for one user: {tally(results)}")

    stop = threading.Event()
    latencies = []

    def read_me():
        for _ in range(100_000):
            if stop.is_set():
                return
            status, _, elapsed = c.call_raw("GET", "/api/me", token=tokens[1])
            latencies.append((status, elapsed))

    reader = threading.Thread(target=read_me)
    reader.start()
    before = rss_kib(args.pid)
    results = parallel(200, lambda i: c.call_raw("POST", "/api/auth/login",
                                             {"username": f"nobody{i:04d}",
                                              "password": "not-the-password"}))
    peak = rss_kib(args.pid)
    stop.set()
    reader.join()
    ok = sorted(e for s, e in latencies if s == 200)
    p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] if ok else float("nan")
    print(f"3. 200 parallel logins: {tally(results)}; RSS {before / 1024:.1f} -> "
          f"{peak / 1024:.1f} MiB; another user's GET /api/me meanwhile: {len(latencies)} "
          f"reads, non-200 {sum(1 for s, _ in latencies if s != 200)}, "
          f"p99 {p99 * 1000:.1f} ms, max {ok[-1] * 1000 if ok else float('nan'):.1f} ms")


if __name__ == "__main__":
    main()
