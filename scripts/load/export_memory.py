#!/usr/bin/env python3
"""Memory while `GET /api/me/export` streams a big account (issue 24).

    python3 scripts/load/export_memory.py --bin target/release/shuffify \
        [--rows 100000] [--playlists 50] [--tracks 1000] [--postgres URL]

On a temp SQLite file (or, with --postgres, a fresh database
`shuffify_export` on that server) it starts `serve`, signs up one user,
seeds `--rows` activity rows with SQL and creates `--playlists` playlists of
`--tracks` tracks through the API, then streams the export while a thread
samples the server's resident memory (VmRSS) every 10 ms. It reports RSS
before and at its peak during the stream, the document's size, and checks
that the document parses and holds every row and playlist.

The export reads keyset pages and writes as it goes, so the peak should
stay far below the document's size. Standard library only; loopback only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hostile"))
import common  # noqa: E402
from load import Server, run_sql  # noqa: E402

PASSWORD = "export-load-password"
USERNAME = "exporter"


def fill_sql(backend, rows):
    """`rows` activity rows of the one user, a second apart, newest now."""
    if backend == "sqlite":
        return f"""
WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {rows - 1})
INSERT INTO activity_log (user_id, activity_type, description, playlist_id, playlist_name,
                          actor_type, actor_name, metadata, created_at)
SELECT u.id, 'shuffle', 'Seeded row ' || g.n, NULL, NULL, 'user', u.username,
       '{{"seed":' || g.n || ',"track_count":100}}',
       strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (g.n + 60) || ' seconds') || '.000000'
FROM users u CROSS JOIN g WHERE u.username = '{USERNAME}';
"""
    return f"""
INSERT INTO activity_log (user_id, activity_type, description, playlist_id, playlist_name,
                          actor_type, actor_name, metadata, created_at)
SELECT u.id, 'shuffle', 'Seeded row ' || g, NULL, NULL, 'user', u.username,
       '{{"seed":' || g || ',"track_count":100}}',
       date_trunc('second', now() at time zone 'utc') - make_interval(secs => g + 60)
FROM users u CROSS JOIN generate_series(0, {rows - 1}) g WHERE u.username = '{USERNAME}';
ANALYZE;
"""


def stream_export(client, token, server):
    """(bytes of the document, peak RSS KiB during the stream, seconds)."""
    import http.client

    peak = [server.rss_kib()]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_kib())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    conn = http.client.HTTPConnection(client.host, client.port, timeout=120)
    try:
        conn.request("GET", "/api/me/export", headers={"Authorization": f"Bearer {token}"})
        res = conn.getresponse()
        assert res.status == 200, (res.status, res.read()[:500])
        chunks = []
        while True:
            chunk = res.read(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
        body = b"".join(chunks)
    finally:
        conn.close()
        done.set()
        sampler.join()
    return body, peak[0], time.perf_counter() - started


def run(binary, backend, rows, playlists, tracks, pg_url=None):
    tmp = tempfile.mkdtemp(prefix="shuffify-export-")
    if backend == "sqlite":
        target = os.path.join(tmp, "export.db")
        url = f"sqlite://{target}"
    else:
        admin = pg_url
        subprocess.run(["psql", "-q", admin, "-c", "DROP DATABASE IF EXISTS shuffify_export WITH (FORCE)"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["psql", "-q", admin, "-c", "CREATE DATABASE shuffify_export"],
                       check=True, stdout=subprocess.DEVNULL)
        target = admin.rsplit("/", 1)[0] + "/shuffify_export"
        url = target
    server = Server(binary, url, os.path.join(tmp, "serve.log"))
    try:
        client = common.Client(server.base)
        token = client.sign_up(USERNAME, PASSWORD)["token"]
        run_sql(backend, target, fill_sql(backend, rows))
        for p in range(playlists):
            items = [{"uri": f"export:{p}:{t}", "name": f"Song {t}",
                      "artists": [f"Artist {t % 17}"], "duration_ms": 180_000 + t}
                     for t in range(tracks)]
            status, body, _ = client.call("POST", "/api/playlists",
                                          {"name": f"Export {p}", "tracks": items}, token)
            assert status == 201, (status, body)
        # Fresh statistics for the playlists just written, as autovacuum
        # would give them a minute later: measured without, PostgreSQL
        # planned each playlist's read from the empty tables it had
        # analyzed before, and the export took 93 s instead of seconds.
        run_sql(backend, target, "ANALYZE;")
        time.sleep(1)
        before = server.rss_kib()
        body, peak, seconds = stream_export(client, token, server)
        after = server.rss_kib()
        document = json.loads(body)
        activity, lists = len(document["activity"]), len(document["playlists"])
        assert activity >= rows, activity
        assert lists == playlists, lists
        print(f"== {backend}: {rows:,} activity rows, {playlists} playlists of {tracks} tracks")
        print(f"   document {len(body) / 2**20:.1f} MiB in {seconds:.1f} s "
              f"({activity:,} activity items, {lists} playlists); parses")
        print(f"   RSS before {before / 1024:.1f} MiB, peak during {peak / 1024:.1f} MiB "
              f"({(peak - before) / 1024:+.1f} MiB), after {after / 1024:.1f} MiB")
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--playlists", type=int, default=50)
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--postgres", help="also run on this server (its admin URL)")
    args = parser.parse_args()
    run(args.bin, "sqlite", args.rows, args.playlists, args.tracks)
    if args.postgres:
        run(args.bin, "postgres", args.rows, args.playlists, args.tracks, args.postgres)


if __name__ == "__main__":
    main()
