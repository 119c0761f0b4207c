#!/usr/bin/env python3
"""An import storm from a slow Spotify, and what it does to everyone else.

    cargo build --release
    python3 scripts/spotify-storm/storm.py [--binary target/release/shuffify]

One command: it starts a fake Spotify on 127.0.0.1 whose every call takes
300 ms (--latency-ms), runs `shuffify serve` (release build) on a fresh
SQLite file with the default Spotify pool (SPOTIFY_MAX_CONCURRENT_CALLS
unset, so 16, unless the environment sets it), and then, all at once, has
50 users (--users) connect Spotify and import a 2,000-item playlist
(--items) each, while one client reads `GET /health` and
`GET /api/activity/recent` in turn at 20 requests a second (--read-hz).
It reports the p50/p99 of those reads (the goal: p99 under 100 ms), the
most calls the fake ever had in flight at once (never above the cap), the
imports' outcomes (201, 429, ...) and the storm's duration.

The fake follows Spotify's Web API as it serves a development-mode app
(Spotify's February 2026 migration guide, in force since 9 March 2026):
`/v1/playlists/{id}/items` with entries `{added_at, item, is_local}`,
pages of at most 50 (a larger `limit` is a 400), playlist objects with
`items: {total, href}`, `/v1/me/playlists`, `/v1/me`, and the accounts
service's `/api/token` with PKCE (S256) and refresh tokens; the removed
paths (`/v1/playlists/{id}/tracks`, `/v1/users/{id}/playlists`,
`/v1/audio-features`) answer 403. Each authorization mints a Spotify
account of its own (an account links to one user) owning one playlist.
`--also-old-shapes` serves the pre-2026 `/tracks` paths and `tracks`
object as well, to measure a build from before the provider moved to
today's paths.

The client keeps cookies (http.cookiejar), so the callback works whether
or not the server binds the authorization to the browser with a cookie.
Standard library only; loopback only; everything it starts, it stops.
"""

import argparse
import base64
import hashlib
import http.cookiejar
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = "storm-client"
CLIENT_SECRET = "storm-secret"


# --------------------------------------------------------------- the fake


class Fake:
    """The fake's state, under one lock; and its gauge of calls in flight."""

    def __init__(self, latency, items_per_playlist, old_shapes):
        self.latency = latency
        self.items_per_playlist = items_per_playlist
        self.old_shapes = old_shapes
        self.lock = threading.Lock()
        self.codes = {}  # code -> (challenge, redirect_uri, account)
        self.access = {}  # token -> account
        self.refresh = {}  # token -> account
        self.playlists = {}  # id -> (owner, [uris])
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls = 0
        self.accounts = 0
        self.base = ""

    def mint_account(self):
        with self.lock:
            self.accounts += 1
            n = self.accounts
        account = f"storm{n}"
        uris = [f"spotify:track:{account}t{i}" for i in range(self.items_per_playlist)]
        with self.lock:
            self.playlists[f"pl{n}"] = (account, uris)
        return account, f"pl{n}"


def make_handler(fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body):
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def error(self, status, message):
            self.answer(status, {"error": {"status": status, "message": message}})

        def account(self):
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
            with fake.lock:
                return fake.access.get(token)

        def handle_one(self, method):
            url = urllib.parse.urlparse(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.in_flight += 1
                fake.calls += 1
                fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
            try:
                time.sleep(fake.latency)
                self.route(method, url.path, query, body)
            finally:
                with fake.lock:
                    fake.in_flight -= 1

        def do_GET(self):
            self.handle_one("GET")

        def do_POST(self):
            self.handle_one("POST")

        def do_PUT(self):
            self.handle_one("PUT")

        def route(self, method, path, query, body):
            parts = path.strip("/").split("/")
            if method == "POST" and path == "/api/token":
                return self.token(body)
            if path.startswith("/v1/audio-features") or path.startswith("/v1/users/"):
                return self.error(403, "Forbidden")
            account = self.account()
            if account is None:
                return self.error(401, "The access token expired")
            if path == "/v1/me":
                return self.answer(200, {"id": account, "display_name": account})
            if path == "/v1/me/playlists":
                return self.my_playlists(account, query)
            if len(parts) == 3 and parts[:2] == ["v1", "playlists"]:
                return self.playlist(parts[2])
            if len(parts) == 4 and parts[:2] == ["v1", "playlists"]:
                kind = parts[3]
                if kind == "tracks" and not fake.old_shapes:
                    return self.error(403, "Forbidden")
                if kind in ("items", "tracks") and method == "GET":
                    return self.items(parts[2], kind, query)
            self.error(404, "Service not found")

        def token(self, body):
            form = dict(urllib.parse.parse_qsl(body.decode()))
            basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != basic:
                return self.answer(400, {"error": "invalid_client"})
            with fake.lock:
                if form.get("grant_type") == "authorization_code":
                    found = fake.codes.pop(form.get("code", ""), None)
                    if found is None:
                        return self.answer(400, {"error": "invalid_grant"})
                    challenge, redirect, account = found
                    verifier = form.get("code_verifier", "").encode()
                    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
                    if computed.decode().rstrip("=") != challenge or form.get("redirect_uri") != redirect:
                        return self.answer(400, {"error": "invalid_grant"})
                elif form.get("grant_type") == "refresh_token":
                    account = fake.refresh.get(form.get("refresh_token", ""))
                    if account is None:
                        return self.answer(400, {"error": "invalid_grant"})
                else:
                    return self.answer(400, {"error": "unsupported_grant_type"})
                access, refresh = secrets.token_hex(16), secrets.token_hex(16)
                fake.access[access] = account
                fake.refresh[refresh] = account
            self.answer(200, {
                "access_token": access, "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": refresh,
                "scope": "playlist-read-private playlist-read-collaborative "
                         "playlist-modify-private playlist-modify-public user-library-read",
            })

        def info(self, pid, owner, uris):
            ref = {"href": f"{fake.base}/v1/playlists/{pid}/items", "total": len(uris)}
            out = {"id": pid, "name": f"Storm {pid}", "description": "", "owner": {"id": owner},
                   "collaborative": False, "public": False, "snapshot_id": f"snap-{pid}",
                   "items": ref}
            if fake.old_shapes:
                out["tracks"] = ref
            return out

        def my_playlists(self, account, query):
            limit = int(query.get("limit", 20))
            if not 1 <= limit <= 50:
                return self.error(400, "Invalid limit")
            with fake.lock:
                mine = [(pid, o, u) for pid, (o, u) in fake.playlists.items() if o == account]
            offset = int(query.get("offset", 0))
            page = [self.info(*p) for p in mine[offset:offset + limit]]
            self.answer(200, {"items": page, "total": len(mine), "limit": limit,
                              "offset": offset, "next": None})

        def playlist(self, pid):
            with fake.lock:
                found = fake.playlists.get(pid)
            if found is None:
                return self.error(404, "Resource not found")
            self.answer(200, self.info(pid, *found))

        def items(self, pid, kind, query):
            with fake.lock:
                found = fake.playlists.get(pid)
            if found is None:
                return self.error(404, "Resource not found")
            limit = int(query.get("limit", 50 if kind == "items" else 100))
            if not 1 <= limit <= (50 if kind == "items" else 100):
                return self.error(400, "Invalid limit")
            offset = int(query.get("offset", 0))
            uris = found[1]
            key = "item" if kind == "items" else "track"
            page = [{"added_at": "2026-01-01T00:00:00Z", "is_local": False,
                     key: {"uri": u, "name": f"Song {u[-6:]}", "type": "track",
                           "is_local": False, "duration_ms": 200000,
                           "artists": [{"name": "Storm"}], "album": {"name": "Storm"}}}
                    for u in uris[offset:offset + limit]]
            nxt = None
            if offset + limit < len(uris):
                nxt = f"{fake.base}/v1/playlists/{pid}/{kind}?offset={offset + limit}&limit={limit}"
            self.answer(200, {"items": page, "total": len(uris), "limit": limit,
                              "offset": offset, "next": nxt})

    return Handler


def consent(fake, authorize_url, redirect_uri):
    """What a browser and a Spotify account do on the consent page: a new
    account (with its playlist); the callback's path and query."""
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(authorize_url).query))
    assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256", q
    account, playlist = fake.mint_account()
    code = secrets.token_hex(12)
    with fake.lock:
        fake.codes[code] = (q["code_challenge"], q["redirect_uri"], account)
    path = urllib.parse.urlparse(redirect_uri).path
    return f"{path}?code={code}&state={urllib.parse.quote(q['state'])}", playlist


# ------------------------------------------------------------- the client


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One user's client on loopback, with its own cookie jar."""

    def __init__(self, base):
        host = urllib.parse.urlparse(base).hostname
        if host not in ("127.0.0.1", "localhost"):
            sys.exit("refusing a non-loopback target")
        self.base = base
        self.token = None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=300) as res:
                status, raw = res.status, res.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        elapsed = time.perf_counter() - started
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, elapsed

    def sign_up(self, name):
        status, _, _ = self.call("POST", "/api/auth/register",
                                 {"username": name, "password": "storm-password"})
        assert status == 201, status
        status, body, _ = self.call("POST", "/api/auth/login",
                                    {"username": name, "password": "storm-password"})
        assert status == 200, status
        self.token = body["token"]


# ------------------------------------------------------------------ main


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", default="target/release/shuffify")
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--items", type=int, default=2000)
    p.add_argument("--latency-ms", type=int, default=300)
    p.add_argument("--read-hz", type=float, default=20.0)
    p.add_argument("--also-old-shapes", action="store_true",
                   help="also serve the pre-2026 /tracks paths and `tracks` object")
    args = p.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: run `cargo build --release` first")

    fake = Fake(args.latency_ms / 1000, args.items, args.also_old_shapes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    server.daemon_threads = True
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()

    workdir = tempfile.mkdtemp(prefix="spotify-storm-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    redirect_uri = f"{base}/api/providers/spotify/callback"
    env = dict(os.environ,
               DATABASE_URL=f"sqlite://{workdir}/storm.db",
               BIND_ADDR=f"127.0.0.1:{port}",
               SCHEDULER_ENABLED="false",
               RUST_LOG="warn",
               SPOTIFY_CLIENT_ID=CLIENT_ID,
               SPOTIFY_CLIENT_SECRET=CLIENT_SECRET,
               SPOTIFY_REDIRECT_URI=redirect_uri,
               SPOTIFY_ACCOUNTS_URL=fake.base,
               SPOTIFY_API_URL=f"{fake.base}/v1",
               TOKEN_ENCRYPTION_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    cap = env.get("SPOTIFY_MAX_CONCURRENT_CALLS") or "16 (default)"
    log = open(os.path.join(workdir, "serve.log"), "wb")
    proc = subprocess.Popen([args.binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        run(args, fake, base, redirect_uri, cap)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.shutdown()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, fake, base, redirect_uri, cap):
    for _ in range(200):
        try:
            if Browser(base).call("GET", "/health")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        sys.exit("the server did not start")

    reader = Browser(base)
    reader.sign_up(f"reader{secrets.token_hex(3)}")
    browsers = []
    for i in range(args.users):
        b = Browser(base)
        b.sign_up(f"storm{i}x{secrets.token_hex(3)}")
        browsers.append(b)
        if (i + 1) % 10 == 0:
            time.sleep(1)  # stay within the per-address registration bucket

    outcomes, connect_failures = {}, {}
    lock = threading.Lock()
    done = threading.Event()

    def storm(b):
        status, body, _ = b.call("POST", "/api/providers/spotify/authorize")
        if status != 200:
            with lock:
                connect_failures[f"authorize {status}"] = connect_failures.get(f"authorize {status}", 0) + 1
            return
        callback, playlist = consent(fake, body["authorize_url"], redirect_uri)
        status, _, _ = b.call("GET", callback)
        if status != 303:
            with lock:
                connect_failures[f"callback {status}"] = connect_failures.get(f"callback {status}", 0) + 1
            return
        status, body, elapsed = b.call("POST", "/api/providers/spotify/import",
                                       {"spotify_playlist_id": playlist})
        key = str(status)
        if status == 201 and len(body.get("tracks", [])) != args.items:
            key = "201 (short)"
        with lock:
            outcomes[key] = outcomes.get(key, 0) + 1

    reads = {"/health": [], "/api/activity/recent": []}
    read_errors = {}

    def read_loop():
        period = 1.0 / args.read_hz
        paths = list(reads)
        n = 0
        while not done.is_set():
            started = time.perf_counter()
            path = paths[n % 2]
            n += 1
            try:
                status, _, elapsed = reader.call("GET", path)
                if status == 200:
                    reads[path].append(elapsed)
                else:
                    read_errors[status] = read_errors.get(status, 0) + 1
            except OSError as e:
                read_errors[type(e).__name__] = read_errors.get(type(e).__name__, 0) + 1
            time.sleep(max(0.0, period - (time.perf_counter() - started)))

    with fake.lock:
        fake.max_in_flight = 0
        fake.calls = 0
    reading = threading.Thread(target=read_loop)
    reading.start()
    time.sleep(1)  # a second of reads before the storm, for comparison
    started = time.perf_counter()
    threads = [threading.Thread(target=storm, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.perf_counter() - started
    done.set()
    reading.join()

    all_reads = reads["/health"] + reads["/api/activity/recent"]
    print(f"storm: {args.users} users, {args.items} items each, Spotify answering in "
          f"{args.latency_ms} ms, SPOTIFY_MAX_CONCURRENT_CALLS {cap}")
    print(f"  duration: {duration:.1f} s; calls to the fake: {fake.calls}")
    print(f"  imports: {dict(sorted(outcomes.items()))}"
          + (f"; connections refused: {connect_failures}" if connect_failures else ""))
    print(f"  most calls in flight at once: {fake.max_in_flight}")
    for path, values in list(reads.items()) + [("both", all_reads)]:
        print(f"  reads {path}: {len(values)} ok, p50 {percentile(values, 50) * 1000:.1f} ms, "
              f"p99 {percentile(values, 99) * 1000:.1f} ms, max {max(values or [0]) * 1000:.1f} ms")
    if read_errors:
        print(f"  read errors: {read_errors}")
    rate = len(all_reads) / (duration + 1)
    print(f"  read rate: {rate:.1f}/s (goal: 10/s or more); p99 goal: under 100 ms -> "
          f"{'met' if percentile(all_reads, 99) < 0.1 else 'MISSED'}")


if __name__ == "__main__":
    main()
