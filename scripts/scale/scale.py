#!/usr/bin/env python3
"""The scale simulation of docs/scale.md: four `serve` instances on one
PostgreSQL database, millions of activity rows, 100,000 due schedules.
Normally run through `scripts/scale/run.sh`, which finds the release binary
and wrk first.

    scripts/scale/scale.py --bin target/release/shuffify [--rows 10000000]
        [--schedules 100000] [--smoke] [--skip-reads] [--skip-schedules]
        [--skip-kill] [--skip-lockout] [--skip-retention]

In a database of its own (`shuffify_scale_<pid>`, migrated by the binary,
dropped at the end), it:

  1. seeds 20,000 users (one real argon2 hash, copied) and ROWS activity
     rows for the first 10,000 of them with `COPY FROM STDIN` (a Python
     generator; five heavy users hold 2% of the rows each, the rest a
     log-normal share), spread evenly over the months from the first of the
     month five months back until now, each month in its own partition;
  2. measures, at the first stage (1,000,000 rows, or a tenth of ROWS when
     ROWS is at most 1,000,000) and at ROWS: recent-20, a keyset page of 20
     at depth 10,000 (a light user: its last page of 100), `/since` (7 days)
     and the summary (30 days), for a heavy and a light user, with 4 wrk
     processes at once, one on each of 4 instances; p50 and p99 over all 4
     (their histograms merged) and the ratio of the second stage to the first;
  3. checks the shared login lockout: 10 wrong passwords for one user spread
     over the 4 instances, then the right one on each instance: 429;
  4. seeds SCHEDULES due daily shuffle schedules of local 50-track
     playlists, 5 per user, with COPY, and lets 4 instances with the
     scheduler on run them: runs per second, where the time went (CPU of
     the servers and of their PostgreSQL backends, sampled
     pg_stat_activity), and exactly once, by SQL printed with its answer;
  5. makes 20,000 of them (--kill-schedules) due again with a 10 s lease,
     freezes one instance (SIGSTOP) at a moment it holds claims it has not
     started, kills it (SIGKILL), and checks that those claims ran once
     elsewhere after their lease ran out, that its started runs were marked
     interrupted, and that every schedule ran exactly once in the round;
  6. retention: the oldest month moved into the DEFAULT partition and
     forgotten by `shuffify activity prune` (the batched DELETE), then the
     next month forgotten by the same command (its partition dropped); with
     --old-bin (or OLD_BIN), a build from before partitioning, it also runs
     scripts/scale/retention.sh for the unpartitioned table's DELETE.

Everything is bounded (`--max-minutes`), on loopback, and cleaned up: the
servers are stopped by their own pids (also on SIGINT/SIGTERM), the
database dropped. A service bug found on the way (a 500, a schedule run
twice or never) is printed with `!!` and makes the exit status 1.
"""

import argparse
import datetime as dt
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import serve  # noqa: E402
from serve import Server, call, psql  # noqa: E402

PASSWORD = "scale-harness-password"
INSTANCES = 4
ACTIVITY_USERS = 10_000
HEAVY_USERS = 5
HEAVY_SHARE = 0.02  # of all rows, each
MONTHS_BACK = 5
SCHEDULES_PER_USER = 5
TRACKS = 50
TYPES = [("shuffle", 40), ("login", 15), ("logout", 5), ("playlist_create", 5),
         ("playlist_update", 12), ("snapshot_create", 10), ("settings_change", 3),
         ("workshop_commit", 10)]
WITH_PLAYLIST = {"shuffle", "playlist_create", "playlist_update", "snapshot_create",
                 "workshop_commit"}
ACTIVITY_COLUMNS = ("user_id, activity_type, description, playlist_id, playlist_name, "
                    "actor_type, actor_name, metadata, created_at, request_id, ip_address, "
                    "user_agent")

problems = []  # service bugs found: printed at the end, exit status 1


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def problem(msg):
    problems.append(msg)
    log(f"!! {msg}")


def loadavg():
    return "load average %.2f, %.2f, %.2f" % os.getloadavg()


def utc_now():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def ts(t):
    """A naive UTC datetime as PostgreSQL TIMESTAMP text."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def month_start(t, back=0):
    y, m = t.year, t.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return dt.datetime(y, m, 1)


class Db:
    def __init__(self, url):
        self.url = url

    def q(self, sql):
        return psql(self.url, sql)

    def rows(self, sql):
        out = self.q(sql)
        return [line.split("|") for line in out.splitlines()] if out else []

    def copy(self, table, columns, lines):
        """COPY table (columns) FROM STDIN, fed by the iterable of text
        chunks `lines`; returns the seconds it took."""
        started = time.time()
        proc = subprocess.Popen(
            ["psql", self.url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c",
             f"COPY {table} ({columns}) FROM STDIN"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for chunk in lines:
                proc.stdin.write(chunk.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode()
        if proc.wait() != 0:
            sys.exit(f"COPY {table} failed: {err}")
        return time.time() - started


# ---------------------------------------------------------------- seeding

def seed_users(db, template_id, count):
    """`count` users scale00001… with the template's hash and settings;
    their ids, in order."""
    db.q(f"""
        INSERT INTO users (username, display_name, password_hash, created_at, updated_at)
        SELECT 'scale' || lpad(g::text, 5, '0'), 'Scale user ' || g, u.password_hash,
               u.created_at, u.created_at
        FROM users u, generate_series(1, {count}) g WHERE u.id = {template_id}""")
    cols = db.q("""SELECT string_agg(column_name, ', ') FROM information_schema.columns
                   WHERE table_schema = 'public' AND table_name = 'user_settings'
                     AND column_name NOT IN ('id', 'user_id')""")
    db.q(f"""INSERT INTO user_settings (user_id, {cols})
             SELECT n.id, {', '.join('s.' + c.strip() for c in cols.split(','))}
             FROM users n, user_settings s
             WHERE s.user_id = {template_id} AND n.username LIKE 'scale%'""")
    ids = [int(r[0]) for r in db.rows(
        "SELECT id FROM users WHERE username LIKE 'scale%' ORDER BY username")]
    assert len(ids) == count, (len(ids), count)
    return ids


def make_partitions(db, first_month):
    """The partitions of the months from `first_month` to now that the
    migration did not make (it makes this month and three ahead), named
    and bounded as the migration names and bounds them."""
    db.q(f"""
DO $$
DECLARE month TIMESTAMP;
BEGIN
    FOR month IN SELECT generate_series(TIMESTAMP '{ts(first_month)}',
                        date_trunc('month', now() AT TIME ZONE 'UTC'), INTERVAL '1 month')
    LOOP
        IF to_regclass('activity_log_p' || to_char(month, 'YYYY_MM')) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF activity_log FOR VALUES FROM (%L) TO (%L)',
                'activity_log_p' || to_char(month, 'YYYY_MM'), month, month + INTERVAL '1 month');
        END IF;
    END LOOP;
END $$""")


def weights(seed):
    """Cumulative weights of the ACTIVITY_USERS users: HEAVY_USERS with
    HEAVY_SHARE of the rows each, the rest log-normal (sigma 1)."""
    rng = random.Random(seed)
    rest = [rng.lognormvariate(0, 1) for _ in range(ACTIVITY_USERS - HEAVY_USERS)]
    total_rest = sum(rest)
    share_rest = 1 - HEAVY_USERS * HEAVY_SHARE
    w = [HEAVY_SHARE] * HEAVY_USERS + [x / total_rest * share_rest for x in rest]
    cum, acc = [], 0.0
    for x in w:
        acc += x
        cum.append(acc)
    return w, cum


def activity_chunks(n, seed, user_ids, cum, start, end, chunk=20_000):
    """`n` rows in COPY text, oldest first, evenly spread from `start` to
    `end`, users drawn by `cum`."""
    rng = random.Random(seed)
    names = [t for t, _ in TYPES]
    type_cum = []
    acc = 0
    for _, w in TYPES:
        acc += w
        type_cum.append(acc)
    t0 = start.replace(tzinfo=dt.timezone.utc).timestamp()
    span = end.replace(tzinfo=dt.timezone.utc).timestamp() - t0
    idx = range(len(user_ids))
    for base in range(0, n, chunk):
        k = min(chunk, n - base)
        users = rng.choices(idx, cum_weights=cum, k=k)
        types = rng.choices(names, cum_weights=type_cum, k=k)
        out = []
        for j in range(k):
            i = base + j
            t = t0 + span * i / n
            secs = int(t)
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + \
                ".%06d" % int((t - secs) * 1e6)
            u = users[j]
            kind = types[j]
            p = i % 97
            pid = f"scaleplaylist{u % 100000:05d}{p:04d}"
            if kind == "shuffle":
                desc = f'Shuffled "Mix {p}" with Basic shuffle'
                meta = '{"algorithm":"basic","track_count":50}'
            else:
                desc = f'{kind.replace("_", " ").capitalize()} (seeded row {i})'
                meta = '{"seed":%d}' % i
            place = f"{pid}\tMix {p}" if kind in WITH_PLAYLIST else "\\N\t\\N"
            out.append(f"{user_ids[u]}\t{kind}\t{desc}\t{place}\tuser\t"
                       f"scale{u + 1:05d}\t{meta}\t{created}\tseed-{i:x}\t127.0.0.{1 + u % 250}\t"
                       f"Mozilla/5.0 (scale harness)\n")
        yield "".join(out)


def activity_indexes(db):
    return db.rows("""SELECT indexname, indexdef FROM pg_indexes
                      WHERE schemaname = 'public' AND tablename = 'activity_log'
                        AND indexname <> 'activity_log_pkey' ORDER BY indexname""")


def seed_activity(db, n, seed, user_ids, cum, start, end):
    """Drops the activity indexes (not the key), COPYs `n` rows, builds the
    same indexes again, VACUUM ANALYZE; the seconds of each step."""
    indexes = activity_indexes(db)
    for name, _ in indexes:
        db.q(f"DROP INDEX {name}")
    copy_secs = db.copy("activity_log", ACTIVITY_COLUMNS,
                        activity_chunks(n, seed, user_ids, cum, start, end))
    started = time.time()
    for _, definition in indexes:
        # pg_indexes shows a partitioned index as made `ON ONLY` the parent
        # (its partitions' indexes attached one by one); made on the parent,
        # it builds them all.
        definition = definition.replace(" ON ONLY ", " ON ", 1)
        db.q(f"SET maintenance_work_mem = '512MB'; {definition}")
    index_secs = time.time() - started
    started = time.time()
    db.q("VACUUM ANALYZE activity_log")
    return copy_secs, index_secs, time.time() - started


def sizes(db):
    """Rows per partition and the size of the table and of each index
    (summed over partitions), in bytes."""
    parts = db.rows("""SELECT tableoid::regclass, count(*) FROM activity_log
                       GROUP BY 1 ORDER BY 1""")
    table = int(db.q("""SELECT COALESCE(sum(pg_relation_size(relid)), 0)
                        FROM pg_partition_tree('activity_log')"""))
    idx = db.rows("""SELECT i.indexname,
                            (SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree(i.indexname::regclass))
                     FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = 'activity_log'
                     ORDER BY 1""")
    return {"partitions": [(p, int(c)) for p, c in parts], "table_bytes": table,
            "index_bytes": {name: int(b) for name, b in idx},
            "database_bytes": int(db.q("SELECT pg_database_size(current_database())"))}


# ------------------------------------------------------------- read phase

WRK_LUA = """
wrk.headers["Authorization"] = "Bearer %s"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SCALE-SUMMARY %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
  for i = 1, #latency do
    local v, c = latency(i)
    io.write(string.format("SCALE-H %%d %%d\\n", v, c))
  end
end
"""


def wrk_all(servers, path, token, seconds, connections, workdir):
    """One wrk per instance at once on `path`: (req/s in all, p50 ms, p99 ms,
    non-2xx and socket errors), from the merged latency histograms."""
    script = os.path.join(workdir, "scale.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA % token)
    procs = [subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                               "--timeout", "10s", "-s", script, s.base + path],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for s in servers]
    hist, requests, failed, rate = {}, 0, 0, 0.0
    for p in procs:
        out, err = p.communicate(timeout=seconds + 60)
        if p.returncode != 0:
            sys.exit(f"wrk failed: {err}")
        for line in out.splitlines():
            parts = line.split()
            if parts[:1] == ["SCALE-SUMMARY"]:
                n, micros, status_errors, socket_errors = map(int, parts[1:])
                requests += n
                rate += n / (micros / 1e6)
                failed += status_errors + socket_errors
            elif parts[:1] == ["SCALE-H"]:
                v, c = int(parts[1]), int(parts[2])
                hist[v] = hist.get(v, 0) + c
    total = sum(hist.values())

    def pct(q):
        need, seen = q * total, 0
        for v in sorted(hist):
            seen += hist[v]
            if seen >= need:
                return v / 1000
        return 0.0

    return {"rps": rate, "p50": pct(0.50), "p99": pct(0.99), "failed": failed,
            "requests": requests}


def get_status(base, path, token=None, body=None, method="GET", headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def login(base, username):
    status, body = get_status(base, "/api/auth/login", method="POST",
                              body={"username": username, "password": PASSWORD})
    if status != 200:
        sys.exit(f"login of {username} answered {status}: {body}")
    return body["token"]


def cursor_at(base, token, depth):
    """The listing's cursor after `depth` rows (pages of 100), or None."""
    cursor = None
    for _ in range(depth // 100):
        path = "/api/activity?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, body = get_status(base, path, token)
        if status != 200:
            problem(f"GET {path} answered {status}: {body}")
            return None
        cursor = body.get("next_cursor")
        if not cursor:
            break
    return cursor


def start_instances(binary, url, extra, workdir, tag):
    return [Server(binary, url, extra, log=os.path.join(workdir, f"{tag}-{i}.log"))
            for i in range(INSTANCES)]


def measure_reads(db, binary, url, stage, users, args, workdir):
    """The read table of one stage; returns its rows."""
    servers = start_instances(binary, url, {"DB_POOL_SIZE": str(args.read_pool)}, workdir,
                              f"reads-{stage}")
    results = []
    try:
        since = (utc_now() - dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for label, (uid, username) in users.items():
            rows = int(db.q(f"SELECT count(*) FROM activity_log WHERE user_id = {uid}"))
            token = login(servers[0].base, username)
            depth = 10_000 if rows > 10_000 + 20 else max(0, (rows - 1) // 100 * 100)
            cursor = cursor_at(servers[1].base, token, depth)
            keyset = "/api/activity?limit=20" + (f"&cursor={cursor}" if cursor else "")
            paths = [("recent-20", "/api/activity/recent?limit=20"),
                     (f"keyset page of 20 at depth {depth:,}", keyset),
                     ("since 7 days (first page of 100)", f"/api/activity/since?since={since}"),
                     ("summary 30 days", "/api/activity/summary")]
            for name, path in paths:
                for s in servers:
                    status, body = get_status(s.base, path, token)
                    if status != 200:
                        problem(f"stage {stage}: GET {path} on {s.base} answered {status}: {body}")
                r = wrk_all(servers, path, token, args.seconds, args.connections, workdir)
                r.update(user=label, user_rows=rows, request=name, load=os.getloadavg())
                if r["failed"]:
                    problem(f"stage {stage}: {name} for the {label} user: {r['failed']} "
                            "non-2xx answers or socket errors under load")
                log(f"  {stage}: {label} ({rows:,} rows) {name}: p50 {r['p50']:.2f} ms, "
                    f"p99 {r['p99']:.2f} ms, {r['rps']:,.0f} req/s, {r['failed']} failed "
                    f"({loadavg()})")
                results.append(r)
    finally:
        for s in servers:
            s.stop()
    return results


def lockout_check(binary, url, username, workdir):
    """10 wrong passwords for one user over the 4 instances, then the right
    one on each: every answer is 429 from the username's lockout."""
    servers = start_instances(binary, url, {"DB_POOL_SIZE": "4"}, workdir, "lockout")
    out = {"wrong": [], "after": []}
    try:
        for i in range(10):
            status, _ = get_status(servers[i % INSTANCES].base, "/api/auth/login",
                                   method="POST",
                                   body={"username": username, "password": "wrong password!"})
            out["wrong"].append(status)
        for s in servers:
            status, body = get_status(s.base, "/api/auth/login", method="POST",
                                      body={"username": username, "password": PASSWORD})
            out["after"].append((status, json.dumps(body)))
    finally:
        for s in servers:
            s.stop()
    ok = out["wrong"] == [401] * 10 and all(
        st == 429 and "for this username" in msg for st, msg in out["after"])
    log(f"lockout: 10 wrong passwords over {INSTANCES} instances answered {out['wrong']}; "
        f"then the right password on each: {[st for st, _ in out['after']]} "
        f"({out['after'][0][1]!r})")
    if not ok:
        problem("the shared lockout did not hold: " + json.dumps(out))
    out["ok"] = ok
    return out


# --------------------------------------------------------- schedule phase

def seed_schedules(db, user_ids, count, template_playlist):
    """`count` due daily shuffle schedules, 5 per user, each of its own
    50-track local playlist (the user's 50 tracks, in an order of its own);
    the schedules' id range and seconds taken."""
    entries = json.loads(db.q(f"SELECT entries FROM playlist_orders "
                              f"WHERE playlist_id = '{template_playlist}'"))
    assert len(entries) == TRACKS and isinstance(entries[0], list), entries[:2]
    users = user_ids[:math.ceil(count / SCHEDULES_PER_USER)]
    now = utc_now()
    made = ts(now - dt.timedelta(days=30))
    added = int((now - dt.timedelta(days=30)).replace(tzinfo=dt.timezone.utc).timestamp())
    rng = random.Random(27)
    started = time.time()

    def tracks():
        for n, uid in enumerate(users):
            yield "".join(f"scale:{uid}:{t}\tSong {t} of user {uid}\t[\"Artist {t % 7}\"]\t"
                          f"Album {t % 5}\t{180000 + t * 1000}\t{90 + t}\t{made}\n"
                          for t in range(TRACKS))

    def facts():
        for uid in users:
            yield "".join(f"{uid}\tscale:{uid}:{t}\tSong {t} of user {uid}\t"
                          f"[\"Artist {t % 7}\"]\tAlbum {t % 5}\t{180000 + t * 1000}\t"
                          f"{90 + t}\t{made}\n" for t in range(TRACKS))

    def playlist_ids():
        # A user's 5 schedules far apart in id order: all are due at once
        # and are claimed in id order, so neighbours would be one user's
        # runs, which serialise on that user's activity order lock.
        n = 0
        for k in range(SCHEDULES_PER_USER):
            for uid in users:
                if n == count:
                    return
                n += 1
                yield uid, k, f"sc{uid:012d}{k:08d}"

    def playlists():
        for uid, k, pid in playlist_ids():
            yield f"{pid}\t{uid}\tScheduled mix {k}\t\tf\t1\t{made}\t{made}\n"

    def orders():
        for uid, k, pid in playlist_ids():
            order = list(range(TRACKS))
            rng.shuffle(order)
            body = json.dumps([[f"scale:{uid}:{t}", added] for t in order],
                              separators=(",", ":"))
            yield f"{pid}\t{TRACKS}\t{body}\n"

    due = ts(now - dt.timedelta(minutes=1))

    def schedules():
        for uid, k, pid in playlist_ids():
            yield (f"{uid}\tshuffle\t{pid}\tScheduled mix {k}\t[]\tbasic\t{{}}\tinterval\t"
                   f"daily\tt\t{due}\t{made}\t{made}\n")

    db.copy("tracks", "uri, name, artists, album_name, duration_ms, tempo, created_at", tracks())
    db.copy("track_facts", "user_id, uri, name, artists, album_name, duration_ms, tempo, "
            "updated_at", facts())
    db.copy("playlists", "id, owner_id, name, description, is_public, version, created_at, "
            "updated_at", playlists())
    db.copy("playlist_orders", "playlist_id, track_count, entries", orders())
    first = int(db.q("SELECT COALESCE(max(id), 0) FROM schedules")) + 1
    db.copy("schedules", "user_id, job_type, target_playlist_id, target_playlist_name, "
            "source_playlist_ids, algorithm_name, algorithm_params, schedule_type, "
            "schedule_value, is_enabled, next_run_at, created_at, updated_at", schedules())
    last = int(db.q("SELECT max(id) FROM schedules"))
    assert last - first + 1 == count, (first, last, count)
    db.q("ANALYZE")
    return (first, last), time.time() - started


def cpu_secs(pid):
    """User + system CPU seconds of a process (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


class Sampler(threading.Thread):
    """Every 0.5 s: what this database's backends are doing
    (pg_stat_activity) and their CPU seconds so far."""

    def __init__(self, db, name):
        super().__init__(daemon=True)
        self.db, self.name = db, name
        self.stop = threading.Event()
        self.tally, self.samples = {}, 0
        self.first_cpu, self.last_cpu = {}, {}

    def run(self):
        while not self.stop.is_set():
            out = subprocess.run(
                ["psql", self.db.url, "-qtAX", "-c",
                 f"""SELECT pid, state, COALESCE(wait_event_type || ':' || wait_event, 'cpu'),
                            regexp_replace(left(query, 70), '\\s+', ' ', 'g')
                     FROM pg_stat_activity WHERE datname = '{self.name}'
                       AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""],
                capture_output=True, text=True).stdout
            self.samples += 1
            for line in out.splitlines():
                parts = line.split("|", 3)
                if len(parts) < 4:
                    continue
                pid, state, wait, query = parts
                c = cpu_secs(int(pid))
                self.first_cpu.setdefault(pid, c)
                self.last_cpu[pid] = c
                if state == "active":
                    key = f"{wait} {query}"
                    self.tally[key] = self.tally.get(key, 0) + 1
                elif state == "idle in transaction":
                    key = f"idle in transaction, after {query}"
                    self.tally[key] = self.tally.get(key, 0) + 1
            time.sleep(0.5)

    def report(self):
        backends = sum(self.last_cpu[p] - self.first_cpu[p] for p in self.last_cpu)
        top = sorted(self.tally.items(), key=lambda kv: -kv[1])[:12]
        return backends, [(n / max(1, self.samples), k) for k, n in top]


def wait_round(db, first, last, before, deadline_secs, what):
    """Waits until every schedule of the range has a finished execution
    after `before` and none is running; False on the deadline."""
    deadline = time.time() + deadline_secs
    count = last - first + 1
    while time.time() < deadline:
        done, running = map(int, db.rows(f"""
            SELECT count(DISTINCT schedule_id) FILTER (WHERE status <> 'running'),
                   count(*) FILTER (WHERE status = 'running')
            FROM job_executions WHERE id > {before}""")[0])
        if done >= count and running == 0:
            return True
        time.sleep(0.5)
    problem(f"{what}: not every schedule ran within {deadline_secs} s")
    return False


def exactly_once(db, first, last, before, since):
    """The SQL checks of exactly once for one round, printed with their
    answers; True when they hold."""
    checks = [
        ("executions per due schedule (each must have exactly one)", f"""
WITH e AS (SELECT schedule_id, count(*) AS n FROM job_executions
           WHERE id > {before} GROUP BY schedule_id)
SELECT count(*) FILTER (WHERE e.n = 1) AS once,
       count(*) FILTER (WHERE e.n IS NULL) AS missing,
       count(*) FILTER (WHERE e.n > 1) AS twice_or_more
FROM schedules s LEFT JOIN e ON e.schedule_id = s.id
WHERE s.id BETWEEN {first} AND {last}""", lambda r: r[1] == "0" and r[2] == "0"),
        ("schedule_run rows per execution (each must have exactly one)", f"""
WITH r AS (SELECT (metadata::json ->> 'execution_id')::bigint AS execution_id, count(*) AS n
           FROM activity_log
           WHERE activity_type = 'schedule_run' AND created_at >= TIMESTAMP '{ts(since)}'
           GROUP BY 1)
SELECT count(*) FILTER (WHERE r.n = 1) AS one_row,
       count(*) FILTER (WHERE r.n IS NULL) AS without_row,
       count(*) FILTER (WHERE r.n > 1) AS two_or_more,
       (SELECT count(*) FROM r WHERE r.execution_id NOT IN
           (SELECT id FROM job_executions WHERE id > {before})) AS rows_of_no_execution
FROM job_executions j LEFT JOIN r ON r.execution_id = j.id WHERE j.id > {before}""",
         lambda r: r[1] == "0" and r[2] == "0" and r[3] == "0"),
        ("executions of this round by status", f"""
SELECT status || COALESCE(' (' || error_message || ')', ''), count(*)
FROM job_executions WHERE id > {before} GROUP BY 1 ORDER BY 2 DESC""", None),
        ("schedules left due or claimed (must be none)", f"""
SELECT count(*) FILTER (WHERE next_run_at <= now() AT TIME ZONE 'utc') AS still_due,
       count(*) FILTER (WHERE claimed_by IS NOT NULL) AS still_claimed
FROM schedules WHERE id BETWEEN {first} AND {last}""", lambda r: r == ["0", "0"]),
    ]
    ok = True
    out = []
    for label, sql, test in checks:
        rows = db.rows(sql)
        print(f"    -- {label}{sql}\n    => {rows}", flush=True)
        out.append((label, sql.strip(), rows))
        if test is not None and not test(rows[0]):
            ok = False
            problem(f"exactly once does not hold: {label}: {rows}")
    return ok, out


def run_round(db, name, binary, url, rng_ids, args, workdir, extra=None, victim=None):
    """Makes the schedules due, starts 4 instances with the scheduler on
    and waits for the round; `victim(servers, before)` may act meanwhile."""
    first, last = rng_ids
    before = int(db.q("SELECT COALESCE(max(id), 0) FROM job_executions"))
    db.q(f"UPDATE schedules SET next_run_at = (now() AT TIME ZONE 'utc') - interval '1 minute' "
         f"WHERE id BETWEEN {first} AND {last}")
    # Rows of this round are written from here on; the previous round's
    # all before (its servers stopped before this UPDATE).
    since = utc_now()
    env = {"SCHEDULER_ENABLED": "true", "SCHEDULER_TICK_SECS": "1",
           "SCHEDULER_WORKERS": str(args.workers), "DB_POOL_SIZE": str(args.scheduler_pool)}
    env.update(extra or {})
    dbname = db.url.rsplit("/", 1)[1]
    stats_sql = f"""SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, blks_read,
                           blks_hit, pg_current_wal_lsn()
                    FROM pg_stat_database WHERE datname = '{dbname}'"""
    stats0 = db.rows(stats_sql)[0]
    sampler = Sampler(db, dbname)
    sampler.start()
    wall = time.time()
    servers = start_instances(binary, url, env, workdir, name)
    cpu0 = {s.pid: cpu_secs(s.pid) for s in servers}
    killed = None
    try:
        if victim:
            killed = victim(servers, before)
        cpu1 = {}
        ok = wait_round(db, first, last, before, args.round_timeout, name)
        wall = time.time() - wall
        for s in servers:
            cpu1[s.pid] = cpu_secs(s.pid) if s.proc.poll() is None else cpu0[s.pid]
    finally:
        sampler.stop.set()
        for s in servers:
            s.stop()
    secs, runs = db.rows(f"""SELECT EXTRACT(EPOCH FROM max(completed_at) - min(started_at)),
                                    count(*) FROM job_executions WHERE id > {before}""")[0]
    secs, runs = float(secs or 0), int(runs)
    backends_cpu, top = sampler.report()
    time.sleep(1)  # the backends' statistics reach pg_stat_database as they exit
    stats1 = db.rows(stats_sql)[0]
    per_run = {k: (int(b) - int(a)) / max(1, runs) for k, a, b in zip(
        ("commits", "rows inserted", "rows updated", "rows deleted", "blocks read",
         "blocks hit"), stats0[:6], stats1[:6])}
    per_run["WAL bytes"] = int(db.q(
        f"SELECT pg_wal_lsn_diff('{stats1[6]}', '{stats0[6]}')")) / max(1, runs)
    result = {"runs": runs, "secs": secs, "per_sec": runs / secs if secs else 0,
              "serve_cpu": sum(cpu1[p] - cpu0[p] for p in cpu0), "backend_cpu": backends_cpu,
              "wall": wall, "top": top, "load": os.getloadavg(), "before": before,
              "killed": killed, "per_run": per_run}
    log(f"{name}: {runs:,} runs in {secs:.1f} s = {result['per_sec']:,.0f} runs/s "
        f"across {INSTANCES} instances; serve CPU {result['serve_cpu']:.1f} s, their "
        f"PostgreSQL backends {backends_cpu:.1f} s, in {wall:.1f} s wall on {os.cpu_count()} "
        f"cores ({loadavg()})")
    print("    per run: " + ", ".join(f"{v:,.1f} {k}" for k, v in per_run.items())
          + " (the database's counters; WAL is the server's, others' work included)",
          flush=True)
    for share, what in top:
        print(f"    {share:5.2f} backends on average: {what}", flush=True)
    result["ok"], result["checks"] = (exactly_once(db, first, last, before, since)
                                      if ok else (False, []))
    return result


def kill_mid_run(db, rng_ids, tries=400):
    """A victim for `run_round`: once 30% of the round ran, freezes the
    last instance (SIGSTOP) until it is caught holding a claim it has not
    started (or `tries` run out), then SIGKILLs it and records its claims."""
    first, last = rng_ids
    count = last - first + 1

    def act(servers, before):
        target = servers[-1]
        while int(db.q(f"SELECT count(*) FROM job_executions WHERE id > {before}")) < 0.3 * count:
            time.sleep(0.05)
        held = []
        attempt = 0
        for attempt in range(1, tries + 1):
            os.kill(target.pid, signal.SIGSTOP)
            time.sleep(0.05)
            held = db.rows(f"""SELECT id FROM schedules WHERE claimed_by LIKE '{target.pid}-%'
                               AND claimed_until IS NOT NULL""")
            if held:
                break
            os.kill(target.pid, signal.SIGCONT)
            time.sleep(random.uniform(0.005, 0.05))
        killed_at = utc_now()
        target.kill()
        time.sleep(1.0)  # its connections close; anything in flight rolls back
        unstarted = db.rows(f"""SELECT id, claimed_until FROM schedules
                                WHERE claimed_by LIKE '{target.pid}-%'
                                  AND claimed_until IS NOT NULL ORDER BY id""")
        started = db.rows(f"""SELECT e.schedule_id, e.id FROM job_executions e
                              JOIN schedules s ON s.id = e.schedule_id
                              WHERE e.id > {before} AND e.status = 'running'
                                AND s.claimed_by LIKE '{target.pid}-%'
                                AND s.claimed_until IS NULL ORDER BY 1""")
        done = int(db.q(f"SELECT count(*) FROM job_executions WHERE id > {before}"))
        log(f"kill: SIGKILL to instance pid {target.pid} after {attempt} freeze(s), with "
            f"{done:,} of {count:,} runs begun: it held {len(unstarted)} claim(s) not started "
            f"{[int(u[0]) for u in unstarted]} and {len(started)} run(s) started "
            f"{[int(s[0]) for s in started]}")
        return {"pid": target.pid, "at": killed_at, "attempts": attempt,
                "unstarted": [(int(i), u) for i, u in unstarted],
                "started": [(int(s), int(e)) for s, e in started], "begun": done}

    return act


def kill_checks(db, killed, before):
    """Each unstarted claim of the killed instance ran once, after its
    claim ran out; each started run was marked interrupted and not run
    again."""
    ok = True
    lines = []
    for sid, until in killed["unstarted"]:
        rows = db.rows(f"""SELECT id, status, COALESCE(error_message, ''), started_at,
                                  started_at >= TIMESTAMP '{until}' AS after_expiry
                           FROM job_executions WHERE schedule_id = {sid} AND id > {before}""")
        lines.append(f"schedule #{sid} (claim until {until}): {rows}")
        if len(rows) != 1 or rows[0][1] != "success" or rows[0][4] != "t":
            ok = False
    for sid, eid in killed["started"]:
        rows = db.rows(f"""SELECT id, status, COALESCE(error_message, '')
                           FROM job_executions WHERE schedule_id = {sid} AND id > {before}""")
        lines.append(f"schedule #{sid} (run #{eid} started): {rows}")
        if len(rows) != 1 or rows[0][2] != "interrupted":
            ok = False
    for line in lines:
        print("    " + line, flush=True)
    if not ok:
        problem("the killed instance's claims were not each run exactly once as expected")
    return ok, lines


# -------------------------------------------------------------- retention

def retention(db, binary, url, first_month):
    """The oldest month moved into the DEFAULT partition and forgotten by
    `activity prune` (the batched DELETE), then the next month forgotten by
    the same command (its partition dropped)."""
    m0, m1, m2 = (first_month, month_start(first_month + dt.timedelta(days=40)),
                  month_start(first_month + dt.timedelta(days=70)))
    name0 = "activity_log_p" + m0.strftime("%Y_%m")
    env = dict(os.environ, DATABASE_URL=url)
    out = {}
    started = time.time()
    db.q(f"""ALTER TABLE activity_log DETACH PARTITION {name0};
             INSERT INTO activity_log SELECT * FROM {name0};
             DROP TABLE {name0};""")
    db.q("VACUUM ANALYZE activity_log")
    out["move_secs"] = time.time() - started

    def wal():
        return db.q("SELECT pg_current_wal_lsn()")

    for label, cut in (("batched DELETE (the month in the DEFAULT partition)", m1),
                       ("partition DROP (the month in its partition)", m2)):
        cutoff = cut + dt.timedelta(hours=6)
        hours = int((utc_now() - cutoff).total_seconds() // 3600)
        cutoff_at = utc_now() - dt.timedelta(hours=hours)
        going = int(db.q(f"SELECT count(*) FROM activity_log "
                         f"WHERE created_at < TIMESTAMP '{ts(cutoff_at)}'"))
        lsn = wal()
        t0 = time.time()
        res = subprocess.run([binary, "activity", "prune", "--older-than", f"{hours}h"],
                             env=env, capture_output=True, text=True)
        took = time.time() - t0
        wal_bytes = int(db.q(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn}')"))
        t0 = time.time()
        db.q("VACUUM activity_log")
        vac = time.time() - t0
        left = int(db.q(f"SELECT count(*) FROM activity_log "
                        f"WHERE created_at < TIMESTAMP '{ts(cutoff_at)}'"))
        log(f"retention, {label}: {going:,} rows in {took * 1000:,.0f} ms "
            f"({took * 1e6 / max(1, going):.1f} µs a row), VACUUM {vac * 1000:,.0f} ms, "
            f"WAL {wal_bytes / 2**20:,.0f} MiB; {left} older rows left; "
            f"{res.stdout.strip()} {res.stderr.strip()}")
        if res.returncode != 0 or left != 0:
            problem(f"activity prune ({label}) exited {res.returncode} leaving {left} rows: "
                    f"{res.stderr}")
        out[label] = {"rows": going, "secs": took, "vacuum_secs": vac, "wal": wal_bytes,
                      "load": os.getloadavg()}
    return out


# ------------------------------------------------------------------- main

def machine(db):
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    settings = {k: db.q(f"SHOW {k}") for k in (
        "shared_buffers", "max_connections", "work_mem", "maintenance_work_mem",
        "effective_cache_size", "synchronous_commit", "max_wal_size", "random_page_cost",
        "shared_preload_libraries")}
    return {"nproc": os.cpu_count(), "mem_mib": mem,
            "postgres": db.q("SELECT version()").split(" on ")[0], "settings": settings}


def print_report(report):
    print("\n# Scale report\n", flush=True)
    m = report["machine"]
    print(f"{m['nproc']} cores, {m['mem_mib']:,} MiB, {m['postgres']}; "
          + ", ".join(f"{k}={v}" for k, v in m["settings"].items()))
    print(f"rows {report['rows']:,} (first stage {report['first']:,}), "
          f"schedules {report['schedules']:,}")
    if report.get("reads"):
        first, second = report["reads"]
        print(f"\n| user | request | p50 / p99 at {report['first']:,} | p50 / p99 at "
              f"{report['rows']:,} | ratio p50 / p99 | req/s at each |")
        print("|---|---|---|---|---|---|")
        for a, b in zip(first, second):
            print(f"| {a['user']} ({a['user_rows']:,} → {b['user_rows']:,} rows) | "
                  f"{b['request']} | {a['p50']:.2f} / {a['p99']:.2f} ms | "
                  f"{b['p50']:.2f} / {b['p99']:.2f} ms | "
                  f"{b['p50'] / max(a['p50'], 1e-3):.2f}× / {b['p99'] / max(a['p99'], 1e-3):.2f}× | "
                  f"{a['rps']:,.0f} → {b['rps']:,.0f} |")
    for key in ("sizes_first", "sizes_second"):
        if key in report:
            s = report[key]
            print(f"\n{key}: table {s['table_bytes'] / 2**20:,.0f} MiB, indexes "
                  + ", ".join(f"{k} {v / 2**20:,.0f} MiB" for k, v in s["index_bytes"].items())
                  + f"; database {s['database_bytes'] / 2**20:,.0f} MiB; partitions "
                  + ", ".join(f"{p} {c:,}" for p, c in s["partitions"]))
    print(json.dumps({k: v for k, v in report.items() if k not in ("reads",)},
                     default=str, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--server", default=os.environ.get(
        "SCALE_PG", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--schedules", type=int, default=100_000)
    ap.add_argument("--smoke", action="store_true",
                    help="100,000 rows, 1,000 schedules, 2 s per measurement")
    ap.add_argument("--seconds", type=int, default=10, help="wrk seconds per measurement")
    ap.add_argument("--connections", type=int, default=2, help="wrk connections per instance")
    ap.add_argument("--workers", type=int, default=4, help="SCHEDULER_WORKERS")
    ap.add_argument("--read-pool", type=int, default=8, help="DB_POOL_SIZE, read phase")
    ap.add_argument("--scheduler-pool", type=int, default=10, help="DB_POOL_SIZE, schedules")
    ap.add_argument("--kill-schedules", type=int, default=20_000,
                    help="schedules due again for the round with an instance killed")
    ap.add_argument("--round-timeout", type=int, default=1800)
    ap.add_argument("--max-minutes", type=int, default=150)
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--old-bin", default=os.environ.get("OLD_BIN"),
                    help="a build from before partitioning: also runs "
                         "scripts/scale/retention.sh (the unpartitioned batched DELETE)")
    for part in ("reads", "lockout", "schedules", "kill", "retention"):
        ap.add_argument(f"--skip-{part}", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.rows, args.schedules, args.seconds = 100_000, 1_000, 2
    if args.read_pool * INSTANCES > 48 or args.scheduler_pool * INSTANCES > 48:
        sys.exit("keep 4 × DB_POOL_SIZE at most 48: the server is shared")
    if not shutil.which("wrk") and not args.skip_reads:
        sys.exit("wrk is missing (scripts/scale/run.sh installs it)")
    serve.stop_all_on_signals()

    def out_of_time(*_):
        raise SystemExit(f"stopped after --max-minutes {args.max_minutes}")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.max_minutes * 60)

    first_stage = 1_000_000 if args.rows > 1_000_000 else args.rows // 10
    name = f"shuffify_scale_{os.getpid()}"
    admin = Db(f"{args.server}/postgres")
    url = f"{args.server}/{name}"
    db = Db(url)
    workdir = tempfile.mkdtemp(prefix="shuffify-scale-")
    report = {"rows": args.rows, "first": first_stage, "schedules": args.schedules,
              "database": name, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    admin.q(f"CREATE DATABASE {name}")
    try:
        report["machine"] = machine(db)
        log(f"database {name}; {loadavg()}")
        subprocess.run([args.bin, "migrate"], env=dict(os.environ, DATABASE_URL=url),
                       check=True, stdout=subprocess.DEVNULL)
        # One user and one playlist through the API: the hash every seeded
        # user shares, their settings, and the shape of a stored order.
        setup = Server(args.bin, url, log=os.path.join(workdir, "setup.log"))
        try:
            call(setup.base, "POST", "/api/auth/register",
                 body={"username": "harnesstemplate", "password": PASSWORD})
            token = login(setup.base, "harnesstemplate")
            tracks = [{"uri": f"scale:template:{t}", "name": f"Song {t}",
                       "artists": [f"Artist {t % 7}"], "duration_ms": 180_000}
                      for t in range(TRACKS)]
            template_playlist = call(setup.base, "POST", "/api/playlists", token,
                                     {"name": "Template", "tracks": tracks})["id"]
        finally:
            setup.stop()
        template_id = int(db.q("SELECT id FROM users WHERE username = 'harnesstemplate'"))
        need_users = max(ACTIVITY_USERS, math.ceil(args.schedules / SCHEDULES_PER_USER))
        t0 = time.time()
        user_ids = seed_users(db, template_id, need_users)
        log(f"{need_users:,} users in {time.time() - t0:.1f} s")
        first_month = month_start(utc_now(), MONTHS_BACK)
        make_partitions(db, first_month)
        w, cum = weights(27)
        heavy = (user_ids[0], "scale00001")
        by_weight = sorted(range(HEAVY_USERS, ACTIVITY_USERS), key=lambda i: w[i])
        light_i = by_weight[len(by_weight) // 2]  # the median user
        light = (user_ids[light_i], f"scale{light_i + 1:05d}")
        users = {"heavy": heavy, "light (median)": light}
        activity_ids = user_ids[:ACTIVITY_USERS]

        if not args.skip_reads:
            stages = []
            for stage, (n, seed) in enumerate([(first_stage, 1), (args.rows - first_stage, 2)]):
                log(f"seeding {n:,} activity rows ({loadavg()})")
                copy_s, index_s, vac_s = seed_activity(db, n, seed, activity_ids, cum,
                                                       first_month, utc_now())
                total = int(db.q("SELECT count(*) FROM activity_log"))
                log(f"  COPY {copy_s:.0f} s ({n / copy_s:,.0f} rows/s), indexes "
                    f"{index_s:.0f} s, VACUUM ANALYZE {vac_s:.0f} s; {total:,} rows")
                report[f"seed_{stage}"] = {"rows": n, "copy_secs": copy_s,
                                           "index_secs": index_s, "vacuum_secs": vac_s}
                report["sizes_first" if stage == 0 else "sizes_second"] = sizes(db)
                stages.append(measure_reads(db, args.bin, url, f"{total:,} rows", users,
                                            args, workdir))
            report["reads"] = stages
            for a, b in zip(*stages):
                ratio = b["p50"] / max(a["p50"], 1e-3)
                flag = "" if ratio <= 1.5 else "  (over 1.5×)"
                log(f"ratio {b['user']} {b['request']}: p50 {ratio:.2f}×, p99 "
                    f"{b['p99'] / max(a['p99'], 1e-3):.2f}×{flag}")

        if not args.skip_lockout:
            report["lockout"] = lockout_check(args.bin, url, f"scale{ACTIVITY_USERS:05d}",
                                              workdir)

        if not args.skip_schedules:
            log(f"seeding {args.schedules:,} schedules ({loadavg()})")
            ids, secs = seed_schedules(db, user_ids, args.schedules, template_playlist)
            log(f"  schedules {ids[0]}..{ids[1]} with their playlists in {secs:.0f} s")
            report["throughput"] = run_round(db, "round 1 (throughput)", args.bin, url, ids,
                                             args, workdir)
            if not args.skip_kill:
                some = (ids[0], min(ids[1], ids[0] + args.kill_schedules - 1))
                r = run_round(db, "round 2 (one instance killed)", args.bin, url, some, args,
                              workdir, extra={"SCHEDULER_LEASE_SECS": "10"},
                              victim=kill_mid_run(db, some))
                if r["killed"]:
                    r["kill_ok"], r["kill_lines"] = kill_checks(db, r["killed"], r["before"])
                report["kill"] = r

        if not args.skip_retention and not args.skip_reads:
            report["retention"] = retention(db, args.bin, url, first_month)
        if args.old_bin and not args.skip_retention:
            # The unpartitioned table's batched DELETE itself, beside the
            # drop, on a copy of its own (docs/scale.md, "Retention").
            log("scripts/scale/retention.sh with OLD_BIN")
            subprocess.run(["bash", os.path.join(HERE, "retention.sh"), args.server],
                           env=dict(os.environ, OLD_BIN=args.old_bin, NEW_BIN=args.bin),
                           check=False)
        report["database_bytes_end"] = int(db.q("SELECT pg_database_size(current_database())"))
        report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        # The servers' logs: a panic or an error there is a finding too.
        for fname in sorted(os.listdir(workdir)):
            with open(os.path.join(workdir, fname), errors="replace") as f:
                for line in f:
                    if "panicked" in line or "ERROR" in line:
                        problem(f"{fname}: {line.strip()}")
        print_report(report)
    finally:
        signal.alarm(0)
        serve.stop_all()
        admin.q(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if args.keep_logs:
            print(f"server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        print("\nProblems found:\n" + "\n".join(f"!! {p}" for p in problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
