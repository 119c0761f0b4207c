#!/usr/bin/env python3
"""Parallel writers on one playlist, against a live server (issue 8, items 0, 6, 8).

    python3 scripts/hostile/rewrites.py http://127.0.0.1:8080

Registers two users of its own, then:
  1. 40 parallel shuffles of one 30-track playlist, no If-Match: every one
     should answer 200.
  2. 20 parallel PATCHes of one playlist, all with If-Match "1": exactly one
     200, the rest 412.
  3. 16 concurrent artist_spacing shuffles of 10,000-track playlists (5,000
     artists each) while another user keeps writing: no errors, and the
     bystander's writes stay fast (its latencies are printed).
Standard library only; loopback only; every loop is bounded.
"""

import argparse
import statistics
import threading
import time
import uuid

import common
from common import parallel, tally


class Client(common.Client):
    def user(self, prefix):
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        password = "load-test-password"
        return self.sign_up(name, password)["token"]

    def playlist(self, token, name, n, artists):
        tracks = [{"uri": f"load:{name}:{i}", "name": f"Song {i}",
                   "artists": [f"{name} artist {i % artists}"], "duration_ms": 1000}
                  for i in range(n)]
        status, body, _ = self.call("POST", "/api/playlists",
                                    {"name": name, "tracks": tracks}, token)
        assert status == 201, (status, body)
        return body["id"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default="http://127.0.0.1:8080")
    parser.add_argument("--heavy", type=int, default=16, help="concurrent heavy shuffles")
    parser.add_argument("--tracks", type=int, default=10_000)
    args = parser.parse_args()
    c = Client(args.base)
    owner = c.user("load")
    bystander = c.user("by")

    pid = c.playlist(owner, "race", 30, 4)
    results = parallel(40, lambda i: c.call("POST", f"/api/playlists/{pid}/shuffle",
                                            {"algorithm": "basic", "seed": i}, owner))
    print(f"1. 40 parallel shuffles, no If-Match: {tally(results)}")

    pid = c.playlist(owner, "patch", 3, 3)
    results = parallel(20, lambda i: c.call("PATCH", f"/api/playlists/{pid}",
                                            {"name": f"Name {i}"}, owner,
                                            {"If-Match": '"1"'}))
    print(f"2. 20 parallel PATCHes with If-Match \"1\": {tally(results)}")

    heavy = [c.playlist(owner, f"heavy{i}", args.tracks, args.tracks // 2)
             for i in range(min(args.heavy, 4))]
    mine = c.playlist(bystander, "bystander", 5, 5)
    stop = threading.Event()
    latencies = []

    def keep_writing():
        for i in range(10_000):
            if stop.is_set():
                return
            status, _, elapsed = c.call("PATCH", f"/api/playlists/{mine}",
                                        {"description": f"write {i}"}, bystander)
            latencies.append((status, elapsed))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    started = time.perf_counter()
    results = parallel(args.heavy, lambda i: c.call(
        "POST", f"/api/playlists/{heavy[i % len(heavy)]}/shuffle",
        {"algorithm": "artist_spacing", "params": {"min_spacing": 3}}, owner))
    took = time.perf_counter() - started
    stop.set()
    writer.join()
    shuffle_times = sorted(r[2] for r in results)
    ok_writes = sorted(e for s, e in latencies if s == 200)
    print(f"3. {args.heavy} concurrent artist_spacing shuffles of {args.tracks} tracks: "
          f"{tally(results)} in {took:.2f} s "
          f"(each {shuffle_times[0]:.2f}–{shuffle_times[-1]:.2f} s)")
    if ok_writes:
        p99 = ok_writes[min(len(ok_writes) - 1, int(len(ok_writes) * 0.99))]
        print(f"   bystander writes meanwhile: {len(latencies)} "
              f"(non-200: {sum(1 for s, _ in latencies if s != 200)}), "
              f"median {statistics.median(ok_writes) * 1000:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms, max {ok_writes[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
