#!/usr/bin/env python3
"""What the live activity stream costs with many streams open (issue 12).

    python3 scripts/load/streams.py --bin target/release/shuffify \
        [--users 200] [--per-user 5] [--writes 40] [--postgres URL]

On a temp SQLite file (or, with --postgres, a fresh database
`shuffify_streams` on that server) it starts `serve`, signs up `--users`
users, and then:

  1. samples the server's CPU time and resident memory for 10 s with no
     stream open (the baseline);
  2. opens `--per-user` streams for every user (1,000 by default: the per
     user cap of 5 times 200 users), each a real HTTP connection;
  3. samples CPU and memory again for 10 s, every stream open and idle
     (the tail's ticks: one statement every 250 ms for 200 users);
  4. writes `--writes` playlists, one user after another, and times how
     long each row takes from the write's answer to its arrival on every
     stream of its user.

Standard library only; loopback only. Read the ratios and the latencies,
not the absolute numbers: the machine is shared.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hostile"))
import common  # noqa: E402
from load import Server  # noqa: E402

PASSWORD = "stream-load-password"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def sample(server, seconds=10):
    """(share of one core, RSS KiB) of the server over `seconds`."""
    start, began = cpu_seconds(server.proc.pid), time.perf_counter()
    time.sleep(seconds)
    used = cpu_seconds(server.proc.pid) - start
    return used / (time.perf_counter() - began), server.rss_kib()


def sign_up(client, name):
    """A token for a new user, waiting out the per-address buckets."""
    for path, expected in (("/api/auth/register", 201), ("/api/auth/login", 200)):
        while True:
            status, body, _ = client.call("POST", path, {"username": name, "password": PASSWORD})
            if status != 429:
                break
            time.sleep(0.2)
        assert status == expected, (path, status, body)
    return body["token"]


class Stream:
    """One open stream: records when each playlist's row arrived."""

    def __init__(self):
        self.arrived = {}

    async def open(self, port, token):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(
            (f"GET /api/activity/stream HTTP/1.1\r\nHost: localhost\r\n"
             f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").encode())
        await self.writer.drain()
        status = await self.reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        while not (await self.reader.readline()).startswith(b": open"):
            pass

    async def read(self):
        while True:
            line = await self.reader.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                item = json.loads(line[6:])
                if item.get("playlist_name"):
                    self.arrived[item["playlist_name"]] = time.perf_counter()


async def run(server, users, per_user, writes):
    client = common.Client(server.base)
    print(f"signing up {len(users)} users ...", flush=True)
    tokens = [sign_up(client, name) for name in users]

    idle_cpu, idle_rss = await asyncio.to_thread(sample, server)
    streams = {token: [Stream() for _ in range(per_user)] for token in tokens}
    print(f"opening {len(tokens) * per_user} streams ...", flush=True)
    for token, mine in streams.items():
        await asyncio.gather(*(s.open(server.port, token) for s in mine))
    readers = [asyncio.create_task(s.read()) for mine in streams.values() for s in mine]
    open_cpu, open_rss = await asyncio.to_thread(sample, server)

    latencies = []
    for i in range(writes):
        token = tokens[i % len(tokens)]
        name = f"latency-{i}"
        status, _, _ = await asyncio.to_thread(
            client.call, "POST", "/api/playlists", {"name": name}, token)
        assert status == 201, status
        answered = time.perf_counter()
        deadline = answered + 10
        while any(name not in s.arrived for s in streams[token]):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{name} did not reach every stream of its user")
            await asyncio.sleep(0.005)
        latencies.append(max(s.arrived[name] for s in streams[token]) - answered)
    for task in readers:
        task.cancel()

    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print()
    print(f"| streams | server CPU (share of a core) | server RSS | write → every stream of its user |")
    print("|---|---|---|---|")
    print(f"| 0 | {idle_cpu:.3f} | {idle_rss / 1024:.1f} MiB | |")
    print(f"| {len(tokens) * per_user} ({len(tokens)} users × {per_user}) | {open_cpu:.3f} | "
          f"{open_rss / 1024:.1f} MiB (+{(open_rss - idle_rss) / 1024:.1f}) | "
          f"p50 {p(0.5):.0f} ms, p90 {p(0.9):.0f} ms, max {latencies[-1] * 1000:.0f} ms "
          f"({writes} writes; mean {statistics.mean(latencies) * 1000:.0f} ms) |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="target/release/shuffify")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=5)
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument("--postgres", help="a server URL; a database shuffify_streams is made on it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        if args.postgres:
            admin = args.postgres
            for sql in ("DROP DATABASE IF EXISTS shuffify_streams", "CREATE DATABASE shuffify_streams"):
                subprocess.run(["psql", admin, "-qc", sql], check=True)
            database_url = admin.rsplit("/", 1)[0] + "/shuffify_streams"
        else:
            database_url = f"sqlite://{workdir}/streams.db"
        os.environ.setdefault("MAX_STREAMS_PER_INSTANCE", "2000")
        server = Server(args.bin, database_url, os.path.join(workdir, "serve.log"))
        try:
            users = [f"stream{i:04d}" for i in range(args.users)]
            asyncio.run(run(server, users, args.per_user, args.writes))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
