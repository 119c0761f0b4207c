#!/usr/bin/env python3
"""Scheduler throughput on PostgreSQL: SCHEDULES daily shuffle schedules of
local TRACKS-track playlists are made due at once, then run by 1 (and 2)
`serve` processes with the scheduler on. Reports runs per second, from the
first run's start to the last run's end (as the executions record them), for
each instance count, and checks each schedule ran exactly once per round.

    scripts/scheduler/throughput.py [--binary target/release/shuffify]
        [--server postgres://postgres@127.0.0.1:5432] [--schedules 2000]
        [--tracks 50] [--instances 1,2] [--workers 4]

A fresh database is created on the server and dropped at the end. The
playlists are made through the API (so the script follows whatever stores
an order); the schedules are inserted with SQL (the API caps them at 5 per
user). Standard library and `psql` only. Everything stays on loopback.
"""
import argparse, json, os, socket, subprocess, sys, time, urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(base, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read()
        return json.loads(text) if text else None


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr}")
    return out.stdout.strip()


def serve(binary, db_url, extra):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=db_url, BIND_ADDR=f"127.0.0.1:{port}",
               SCHEDULER_ENABLED="false", RUST_LOG="warn")
    env.update(extra)
    proc = subprocess.Popen([binary, "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            call(base, "GET", "/health")
            return proc, base
        except Exception:
            time.sleep(0.1)
    proc.kill()
    sys.exit("serve never answered /health")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/shuffify")
    ap.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--schedules", type=int, default=2000)
    ap.add_argument("--tracks", type=int, default=50)
    ap.add_argument("--instances", default="1,2")
    ap.add_argument("--workers", default="4")
    args = ap.parse_args()
    name = f"sched_tp_{os.getpid()}"
    psql(f"{args.server}/postgres", f"CREATE DATABASE {name}")
    db_url = f"{args.server}/{name}"
    try:
        setup, base = serve(args.binary, db_url, {})
        try:
            per_user = 250
            for u in range((args.schedules + per_user - 1) // per_user):
                user = {"username": f"tp{u:03d}", "password": "correct horse battery"}
                call(base, "POST", "/api/auth/register", body=user)
                token = call(base, "POST", "/api/auth/login", body=user)["token"]
                for p in range(min(per_user, args.schedules - u * per_user)):
                    tracks = [{"uri": f"tp:{u}:{p}:{t}", "name": f"Song {t}",
                               "artists": [f"Artist {t % 7}"], "duration_ms": 180_000}
                              for t in range(args.tracks)]
                    call(base, "POST", "/api/playlists", token,
                         {"name": f"TP {u}/{p}", "tracks": tracks})
        finally:
            stop(setup)
        psql(db_url, """
            INSERT INTO schedules (user_id, job_type, target_playlist_id, target_playlist_name,
                source_playlist_ids, algorithm_name, algorithm_params, schedule_type,
                schedule_value, is_enabled, next_run_at, created_at, updated_at)
            SELECT owner_id, 'shuffle', id, name, '[]', 'basic', '{}', 'interval', 'daily', true,
                (now() AT TIME ZONE 'utc') + interval '1 day',
                now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'
            FROM playlists""")
        print(f"{args.schedules} schedules of {args.tracks}-track playlists, "
              f"binary {args.binary}")
        for instances in [int(n) for n in args.instances.split(",")]:
            for workers in args.workers.split(","):
                before = int(psql(db_url, "SELECT COALESCE(MAX(id), 0) FROM job_executions"))
                psql(db_url, "UPDATE schedules SET next_run_at = "
                             "(now() AT TIME ZONE 'utc') - interval '1 minute'")
                procs = [serve(args.binary, db_url, {
                    "SCHEDULER_ENABLED": "true", "SCHEDULER_TICK_SECS": "1",
                    "SCHEDULER_WORKERS": workers})[0] for _ in range(instances)]
                try:
                    deadline = time.time() + 1800
                    while True:
                        done = int(psql(db_url, f"SELECT COUNT(*) FROM job_executions "
                                                f"WHERE id > {before} AND status <> 'running'"))
                        if done >= args.schedules:
                            break
                        if time.time() > deadline:
                            sys.exit(f"only {done} runs after 30 minutes")
                        time.sleep(0.2)
                finally:
                    for p in procs:
                        stop(p)
                secs, runs, distinct = psql(db_url, f"""
                    SELECT EXTRACT(EPOCH FROM MAX(completed_at) - MIN(started_at)),
                           COUNT(*), COUNT(DISTINCT schedule_id)
                    FROM job_executions WHERE id > {before}""").split("|")
                secs, runs, distinct = float(secs), int(runs), int(distinct)
                print(f"  {instances} instance(s), SCHEDULER_WORKERS={workers}: "
                      f"{runs} runs ({distinct} schedules) in {secs:.2f} s = "
                      f"{runs / secs:.0f} runs/s")
                if runs != distinct or distinct != args.schedules:
                    print("  !! not exactly once per schedule")
    finally:
        psql(f"{args.server}/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
