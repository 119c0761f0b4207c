#!/usr/bin/env python3
"""Memory under a login flood: the server's RSS before and after 50 parallel
clients send wrong passwords for 10 s, then for 60 s more.

    cargo build --release
    python3 scripts/hostile/login_memory.py --binary target/release/shuffify

Runs twice, each time on a fresh `serve` (SQLite in a temporary directory,
SCHEDULER_ENABLED=false) that this script starts and stops:

1. from one address: the address's login bucket answers most attempts 429;
2. spread over many addresses: the server is started with
   TRUSTED_PROXIES=127.0.0.1/32 and every request carries a random
   X-Forwarded-For, so a server that honours it hashes as fast as its
   hashers can. Whether it did is printed: a run whose answers are mostly
   429 was still limited as one address.

With --loopback-sources a third run follows: each attempt comes from its own
socket address in 127.0.0.0/8, so the server's per-address buckets see many
clients whether or not it reads X-Forwarded-For, and the hashers are
saturated on any build.

Each attempt names either one of two real users (wrong password) or a new
random well-formed username. Reported per phase: RSS from /proc/PID/status
(VmRSS) before and after, the hashes done (401s), the 429s, other answers,
and the p99 of another user's GET /api/me meanwhile. The goal is RSS growth
of at most 64 MiB after the 60 s. Standard library only; loopback only.
"""

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from common import Client, rss_kib

CLIENTS = 50
PHASES = (10, 60)
GOAL_MIB = 64


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, spread):
    workdir = tempfile.mkdtemp(prefix="shuffify-login-memory-")
    port = free_port()
    env = dict(os.environ,
               DATABASE_URL=f"sqlite://{workdir}/flood.db",
               BIND_ADDR=f"127.0.0.1:{port}",
               SCHEDULER_ENABLED="false",
               RUST_LOG="warn")
    if spread:
        env["TRUSTED_PROXIES"] = "127.0.0.1/32"
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    client = Client(f"http://127.0.0.1:{port}")
    for _ in range(300):
        try:
            if client.call_raw("GET", "/health")[0] == 200:
                return proc, client
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def random_address():
    return "10.{}.{}.{}".format(random.randrange(256), random.randrange(256),
                                random.randrange(1, 255))


def login_from(client, source, body):
    """POST /api/auth/login from the local address `source`; the status."""
    conn = http.client.HTTPConnection(client.host, client.port, timeout=60,
                                      source_address=(source, 0))
    try:
        conn.request("POST", "/api/auth/login", body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        res = conn.getresponse()
        res.read()
        return res.status
    finally:
        conn.close()


def flood(client, seconds, known, spread, reader_token, sources=False):
    """50 clients for `seconds`; (status tally, /api/me p99 in ms, reads)."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    counts = {}
    latencies = []

    def attacker(i):
        rng = random.Random(i)
        while time.monotonic() < deadline:
            if rng.random() < 0.5:
                username = rng.choice(known)
            else:
                username = "x" + uuid.uuid4().hex[:12]
            headers = {"X-Forwarded-For": random_address()} if spread else None
            body = {"username": username, "password": "wrong-" + uuid.uuid4().hex[:8]}
            try:
                if sources:
                    source = "127.{}.{}.{}".format(rng.randrange(1, 256), rng.randrange(256),
                                                   rng.randrange(1, 255))
                    status = login_from(client, source, body)
                else:
                    status = client.call_raw("POST", "/api/auth/login", body,
                                             headers=headers)[0]
            except OSError:
                status = 0
            with lock:
                counts[status] = counts.get(status, 0) + 1

    def reader():
        while time.monotonic() < deadline:
            try:
                status, _, elapsed = client.call_raw("GET", "/api/me", token=reader_token)
            except OSError:
                status, elapsed = 0, 0.0
            latencies.append((status, elapsed))
            time.sleep(0.05)

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(CLIENTS)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sorted(e for s, e in latencies if s == 200)
    p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))] * 1000 if ok else float("nan")
    return dict(sorted(counts.items())), p99, len(latencies)


def run(binary, spread, sources=False):
    label = "spread over many addresses" if spread else "from one address"
    if sources:
        label = "from many loopback source addresses"
    proc, client = start_server(binary, spread)
    try:
        known = []
        for _ in range(2):
            name = "k" + uuid.uuid4().hex[:10]
            assert client.call_raw("POST", "/api/auth/register",
                                   {"username": name, "password": "flood-password"})[0] == 201
            known.append(name)
        reader = client.sign_up("r" + uuid.uuid4().hex[:10], "reader-password")["token"]
        before = rss_kib(proc.pid)
        print(f"== {label}: RSS before {before / 1024:.1f} MiB")
        elapsed = 0
        for seconds in PHASES:
            counts, p99, reads = flood(client, seconds, known, spread, reader, sources)
            elapsed += seconds
            after = rss_kib(proc.pid)
            growth = (after - before) / 1024
            hashed, limited = counts.get(401, 0), counts.get(429, 0)
            others = {s: n for s, n in counts.items() if s not in (401, 429)}
            print(f"   after {elapsed:>2} s of {CLIENTS} clients ({seconds} s phase): "
                  f"RSS {after / 1024:.1f} MiB ({growth:+.1f} MiB); hashes done (401) "
                  f"{hashed}, 429 {limited}, other {others or 'none'}; "
                  f"GET /api/me p99 {p99:.1f} ms over {reads} reads")
        verdict = "within" if growth <= GOAL_MIB else "OVER"
        print(f"   growth {growth:+.1f} MiB: {verdict} the {GOAL_MIB} MiB goal")
        if spread and not sources:
            honoured = hashed > limited
            print("   X-Forwarded-For was " + (
                "honoured (401s outnumber 429s: the addresses were told apart)" if honoured
                else "NOT honoured (429s dominate: the server limited the flood as "
                     "one address; it has no TRUSTED_PROXIES support)"))
        return growth
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", default="target/release/shuffify",
                   help="the shuffify binary to start (a release build)")
    p.add_argument("--only", choices=["one", "spread", "none"],
                   help="run only one of the two (none: only --loopback-sources)")
    p.add_argument("--loopback-sources", action="store_true",
                   help="a third run from many 127.0.0.0/8 source addresses")
    args = p.parse_args()
    growths = []
    if args.only in (None, "one"):
        growths.append(run(args.binary, spread=False))
    if args.only in (None, "spread"):
        growths.append(run(args.binary, spread=True))
    if args.loopback_sources:
        growths.append(run(args.binary, spread=True, sources=True))
    raise SystemExit(0 if all(g <= GOAL_MIB for g in growths) else 1)


if __name__ == "__main__":
    main()
