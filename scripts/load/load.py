#!/usr/bin/env python3
"""The HTTP load table of issue 10, as ratios against `GET /health`.

    python3 scripts/load/load.py --bin target/release/shuffify [--postgres URL]

Normally run through `scripts/load.sh`, which installs wrk and builds the
release binary first. For each backend (SQLite on a temp file; PostgreSQL on
a fresh database `shuffify_load_<pid>` when `--postgres` names a server that
answers, dropped again at the end), it:

  1. migrates a new database and starts `serve` on a free loopback port;
  2. registers 100 users over HTTP and signs each in (real argon2 hashes,
     real tokens), and creates 64 playlists of 100 tracks, one per user;
  3. writes 200,000 activity rows (2,000 per user over 60 days) with SQL,
     which is what months of use leave behind;
  4. runs wrk (64 connections, `--duration` seconds each) on `/health`, the
     recent feed, the listing, the summary and shuffles, rotating through
     the users' tokens, and prints one table with each row's req/s as a
     share of `/health` in the same run;
  5. adds 100,000 snapshots (2,000 more playlists, 50 manual snapshots each)
     and runs the shuffle row again: the last column compares it with the
     empty table's;
  6. on a fresh server, streams one user's 1,000,000 rows (`--export-rows`)
     through `GET /api/activity/export` and reports how far the server's
     resident memory grew meanwhile.

At the end it prints both backends side by side: for each request its
share of `/health` in the same run, req/s, p99 and failed requests.

Standard library only; loopback only; the servers (stopped by their own
process ids, on SIGINT and SIGTERM too), their files and the PostgreSQL
database are removed at the end. Numbers are from one machine at one
moment: read the ratios.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hostile"))
import common  # noqa: E402

USERS = 100
PLAYLISTS = 64
TRACKS = 100
ROWS_PER_USER = 2_000
EXTRA_PLAYLISTS = 2_000
SNAPSHOTS_PER_EXTRA = 50
TYPES = ["shuffle", "login", "playlist_create", "workshop_commit", "settings_change", "logout"]
PASSWORD = "load-test-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`shuffify serve` on a free port, with its own environment."""

    def __init__(self, binary, database_url, log_path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DATABASE_URL=database_url,
                   BIND_ADDR=f"127.0.0.1:{self.port}",
                   RUST_LOG=os.environ.get("LOAD_RUST_LOG", "warn"))
        subprocess.run([binary, "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([binary, "serve"], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"the server did not answer on {self.base}; see {log_path}")

    def rss_kib(self):
        return common.rss_kib(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def make_users(client):
    """[(user id, token)] for USERS fresh users."""
    users = []
    for i in range(USERS):
        body = client.sign_up(f"load{i:03d}", PASSWORD)
        users.append((body["user"]["id"], body["token"]))
    return users


def make_playlists(client, users):
    """[(playlist id, token)]: one 100-track playlist for each of the first 64 users."""
    playlists = []
    for i, (_, token) in enumerate(users[:PLAYLISTS]):
        tracks = [{"uri": f"load:{i}:{t}", "name": f"Song {t}",
                   "artists": [f"Artist {t % 17}"], "duration_ms": 180_000 + t}
                  for t in range(TRACKS)]
        status, body, _ = client.call("POST", "/api/playlists",
                                      {"name": f"Load {i}", "tracks": tracks}, token)
        assert status == 201, (status, body)
        playlists.append((body["id"], token))
    return playlists


# The same rows on both backends: user u's row g is g * 2592 s (+ u s) old,
# so 2,000 rows span 60 days; six types in turn; a small JSON metadata.
SQLITE_FILL = f"""
WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {ROWS_PER_USER - 1})
INSERT INTO activity_log (user_id, activity_type, description, playlist_id, playlist_name,
                          actor_type, actor_name, metadata, created_at)
SELECT u.id,
       CASE g.n % 6 {" ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(TYPES))} END,
       'Seeded row ' || g.n, NULL, NULL, 'user', u.username,
       '{{"seed":' || g.n || ',"track_count":100}}',
       strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (g.n * 2592 + u.id) || ' seconds') || '.000000'
FROM users u CROSS JOIN g;
"""

POSTGRES_FILL = f"""
INSERT INTO activity_log (user_id, activity_type, description, playlist_id, playlist_name,
                          actor_type, actor_name, metadata, created_at)
SELECT u.id, (ARRAY{TYPES!r}::text[])[1 + g % 6], 'Seeded row ' || g, NULL, NULL, 'user',
       u.username, '{{"seed":' || g || ',"track_count":100}}',
       date_trunc('second', now() at time zone 'utc') - make_interval(secs => g * 2592 + u.id)
FROM users u CROSS JOIN generate_series(0, {ROWS_PER_USER - 1}) g;
ANALYZE;
"""


def snapshot_fill(backend):
    """EXTRA_PLAYLISTS playlists spread over the users, each with
    SNAPSHOTS_PER_EXTRA manual snapshots of 100 URIs."""
    uris = json.dumps([f"load:x:{t}" for t in range(TRACKS)])
    if backend == "sqlite":
        return f"""
WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {EXTRA_PLAYLISTS - 1})
INSERT INTO playlists (id, owner_id, name, description, is_public, version, created_at, updated_at)
SELECT printf('xload%017d', g.n), (SELECT MIN(id) FROM users) + g.n % {USERS}, 'Archive ' || g.n,
       '', 0, 1, strftime('%Y-%m-%d %H:%M:%S', 'now'), strftime('%Y-%m-%d %H:%M:%S', 'now')
FROM g;
WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {SNAPSHOTS_PER_EXTRA - 1})
INSERT INTO playlist_snapshots (user_id, playlist_id, playlist_name, track_uris, track_count,
                                snapshot_type, trigger_description, created_at)
SELECT p.owner_id, p.id, p.name, '{uris}', {TRACKS}, 'manual', 'seeded',
       strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (s.n * 3600) || ' seconds') || '.000000'
FROM playlists p CROSS JOIN s WHERE p.id LIKE 'xload%';
"""
    return f"""
INSERT INTO playlists (id, owner_id, name, description, is_public, version, created_at, updated_at)
SELECT 'xload' || lpad(g::text, 17, '0'), (SELECT MIN(id) FROM users) + g % {USERS},
       'Archive ' || g, '', false, 1, now(), now()
FROM generate_series(0, {EXTRA_PLAYLISTS - 1}) g;
INSERT INTO playlist_snapshots (user_id, playlist_id, playlist_name, track_uris, track_count,
                                snapshot_type, trigger_description, created_at)
SELECT p.owner_id, p.id, p.name, '{uris}', {TRACKS}, 'manual', 'seeded',
       date_trunc('second', now() at time zone 'utc') - make_interval(secs => s * 3600)
FROM playlists p CROSS JOIN generate_series(0, {SNAPSHOTS_PER_EXTRA - 1}) s
WHERE p.id LIKE 'xload%';
ANALYZE;
"""


def run_sql(backend, target, sql):
    if backend == "sqlite":
        conn = sqlite3.connect(target, timeout=30)
        conn.executescript(sql)
        conn.commit()
        conn.close()
    else:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", target, "-c", sql],
                       check=True, stdout=subprocess.DEVNULL)


WRK_SCRIPT = """
local requests = {%s}
local method, body = "%s", %s
local i = 0
request = function()
  i = i %% #requests + 1
  local r = requests[i]
  return wrk.format(method, r[1], {["Authorization"] = "Bearer " .. r[2],
                                   ["Content-Type"] = "application/json"}, body)
end
"""


def wrk(base, targets, method, body, duration, connections, workdir):
    """(req/s, p99 ms, failures) for wrk rotating through [(path, token)]."""
    script = os.path.join(workdir, "rotate.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % (
            ", ".join("{%s, %s}" % (json.dumps(p), json.dumps(t)) for p, t in targets),
            method, "nil" if body is None else json.dumps(json.dumps(body))))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s",
         "-s", script, base], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    failures = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failures += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failures += sum(int(x) for x in m.groups()) if m else 0
    return rps, p99_ms, failures


def measure(backend, binary, database_url, sql_target, args, workdir):
    server = Server(binary, database_url, os.path.join(workdir, f"{backend}.log"))
    try:
        client = common.Client(server.base)
        users = make_users(client)
        playlists = make_playlists(client, users)
        run_sql(backend, sql_target, SQLITE_FILL if backend == "sqlite" else POSTGRES_FILL)
        tokens = [t for _, t in users]

        def row(label, targets, method="GET", body=None):
            result = wrk(server.base, targets, method, body, args.duration,
                         args.connections, workdir)
            print(f"  {backend}: {label}: {result[0]:.0f} req/s, p99 {result[1]:.1f} ms, "
                  f"{result[2]} failed", file=sys.stderr)
            return label, result

        rows = [
            row("GET /health", [("/health", tokens[0])]),
            row("GET /api/activity/recent?limit=20",
                [("/api/activity/recent?limit=20", t) for t in tokens]),
            row("GET /api/activity?limit=50", [("/api/activity?limit=50", t) for t in tokens]),
            row("GET /api/activity/summary?days=30",
                [("/api/activity/summary?days=30", t) for t in tokens]),
            row(f"POST /api/playlists/{{id}}/shuffle ({PLAYLISTS} × {TRACKS} tracks)",
                [(f"/api/playlists/{p}/shuffle", t) for p, t in playlists], "POST", {}),
        ]
        run_sql(backend, sql_target, snapshot_fill(backend))
        rows.append(row(f"  … with {EXTRA_PLAYLISTS * SNAPSHOTS_PER_EXTRA:,} more snapshots",
                        [(f"/api/playlists/{p}/shuffle", t) for p, t in playlists],
                        "POST", {}))
        rows.append(row("GET /health (again, after)", [("/health", tokens[0])]))
        return rows
    finally:
        server.stop()


def export_memory(backend, binary, database_url, sql_target, rows, workdir):
    """(rows exported, bytes, seconds, RSS growth in KiB): one user's
    `rows` rows streamed as NDJSON from a fresh server, its resident memory
    sampled every 50 ms while the client reads and discards the body."""
    server = Server(binary, database_url, os.path.join(workdir, f"{backend}-export.log"))
    try:
        client = common.Client(server.base)
        token = client.sign_up("exporter", PASSWORD)["token"]
        fill = (EXPORT_FILL_SQLITE if backend == "sqlite" else EXPORT_FILL_POSTGRES) % rows
        run_sql(backend, sql_target, fill)
        baseline = server.rss_kib()
        peak = [baseline]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], server.rss_kib())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.time()
        req = urllib.request.Request(server.base + "/api/activity/export?format=ndjson",
                                     headers={"Authorization": f"Bearer {token}"})
        size = lines = 0
        with urllib.request.urlopen(req, timeout=600) as res:
            while True:
                chunk = res.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                lines += chunk.count(b"\n")
        elapsed = time.time() - started
        done.set()
        sampler.join()
        return lines, size, elapsed, peak[0] - baseline
    finally:
        server.stop()


EXPORT_FILL_SQLITE = """
WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < %d - 1)
INSERT INTO activity_log (user_id, activity_type, description, actor_type, actor_name,
                          metadata, created_at)
SELECT (SELECT id FROM users WHERE username = 'exporter'), 'shuffle', 'Seeded row ' || n,
       'user', 'exporter', '{"seed":' || n || '}',
       strftime('%%Y-%%m-%%d %%H:%%M:%%S', 'now', '-' || n || ' seconds') || '.000000'
FROM g;
"""

EXPORT_FILL_POSTGRES = """
INSERT INTO activity_log (user_id, activity_type, description, actor_type, actor_name,
                          metadata, created_at)
SELECT (SELECT id FROM users WHERE username = 'exporter'), 'shuffle', 'Seeded row ' || g,
       'user', 'exporter', '{"seed":' || g || '}',
       date_trunc('second', now() at time zone 'utc') - make_interval(secs => g)
FROM generate_series(0, %d - 1) g;
ANALYZE activity_log;
"""


def print_export(backend, result):
    lines, size, elapsed, growth = result
    print(f"\n{backend}: export of {lines:,} rows (NDJSON, {size / 2**20:,.0f} MiB) in "
          f"{elapsed:.1f} s; server memory grew by {growth / 1024:.1f} MiB at most")


def print_both(tables):
    """One table, the backends side by side: share of /health, req/s,
    p99 and failures of each request."""
    labels = [label for label, _ in tables[0][1]]
    head = " | ".join(f"{name} share | req/s | p99 | failed" for name, _ in tables)
    print(f"\nBoth backends, {args.connections} connections, {args.duration} s per row\n")
    print(f"| request | {head} |")
    print("|---|" + "---|---|---|---|" * len(tables))
    for i, label in enumerate(labels):
        cells = []
        for _, rows in tables:
            health = rows[0][1][0]
            rps, p99, failed = rows[i][1]
            cells.append(f"{rps / health:.3f} | {rps:,.0f} | {p99:.1f} ms | {failed}")
        print(f"| {label.strip()} | {' | '.join(cells)} |")


def print_table(backend, rows):
    health = rows[0][1][0]
    shuffle_empty = rows[4][1][0]
    print(f"\n{backend}: {args.connections} connections, {args.duration} s per row\n")
    print("| request | req/s | p99 | failed | share of /health |")
    print("|---|---|---|---|---|")
    for label, (rps, p99, failed) in rows:
        share = f"{rps / health:.3f}"
        if label.startswith("  …"):
            share += f" ({rps / shuffle_empty:.2f} × the empty table)"
        print(f"| {label} | {rps:,.0f} | {p99:.1f} ms | {failed} | {share} |")


def postgres_answers(url):
    if not shutil.which("psql"):
        return False
    return subprocess.run(["psql", url, "-c", "SELECT 1"], capture_output=True).returncode == 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="the release binary")
    parser.add_argument("--postgres", default=None,
                        help="a postgres:// URL of a server (the run makes a database "
                             "`shuffify_load_<pid>` there and drops it at the end)")
    parser.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--export-rows", type=int, default=1_000_000,
                        help="rows of the export memory check (0 skips it)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: scripts/load.sh installs it")

    # A signal stops the run through the `finally` blocks: servers
    # stopped, files and database removed.
    def interrupted(signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    workdir = tempfile.mkdtemp(prefix="shuffify-load-")
    # Its own database, so that two runs on one server do not collide.
    database = f"shuffify_load_{os.getpid()}"
    admin = None
    tables = []
    try:
        if args.only in (None, "sqlite"):
            path = os.path.join(workdir, "load.db")
            rows = measure("sqlite", args.bin, f"sqlite://{path}", path, args, workdir)
            tables.append(("SQLite", rows))
            print_table("SQLite", rows)
            if args.export_rows:
                path = os.path.join(workdir, "export.db")
                print_export("SQLite", export_memory("sqlite", args.bin, f"sqlite://{path}",
                                                     path, args.export_rows, workdir))
        if args.only in (None, "postgres") and args.postgres:
            if postgres_answers(args.postgres):
                admin = args.postgres
                run_sql("postgres", admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                run_sql("postgres", admin, f"CREATE DATABASE {database}")
                url = urllib.parse.urlparse(admin)._replace(path=f"/{database}").geturl()
                rows = measure("postgres", args.bin, url, url, args, workdir)
                tables.append(("PostgreSQL", rows))
                print_table("PostgreSQL", rows)
                if args.export_rows:
                    run_sql("postgres", admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                    run_sql("postgres", admin, f"CREATE DATABASE {database}")
                    print_export("PostgreSQL", export_memory("postgres", args.bin, url, url,
                                                             args.export_rows, workdir))
            else:
                print(f"\nPostgreSQL: {args.postgres} does not answer; skipped",
                      file=sys.stderr)
        if tables:
            print_both(tables)
    finally:
        if admin is not None:
            subprocess.run(["psql", "-q", admin, "-c",
                            f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)
