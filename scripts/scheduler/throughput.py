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
import argparse, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from serve import Server, call, psql, stop_all_on_signals  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/shuffify")
    ap.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--schedules", type=int, default=2000)
    ap.add_argument("--tracks", type=int, default=50)
    ap.add_argument("--instances", default="1,2")
    ap.add_argument("--workers", default="4")
    args = ap.parse_args()
    stop_all_on_signals()
    name = f"sched_tp_{os.getpid()}"
    psql(f"{args.server}/postgres", f"CREATE DATABASE {name}")
    db_url = f"{args.server}/{name}"
    try:
        setup = Server(args.binary, db_url)
        base = setup.base
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
            setup.stop()
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
                procs = [Server(args.binary, db_url, {
                    "SCHEDULER_ENABLED": "true", "SCHEDULER_TICK_SECS": "1",
                    "SCHEDULER_WORKERS": workers}) for _ in range(instances)]
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
                        p.stop()
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
