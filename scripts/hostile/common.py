"""What the hostile and load scripts share: a loopback-only JSON client
(with sign-up), a bounded fan-out of parallel calls, a status tally and a
process's resident memory. Standard library only."""

import http.client
import json
import sys
import threading
import time
import urllib.parse


class Client:
    """Calls one server on loopback; refuses any other target."""

    def __init__(self, base):
        url = urllib.parse.urlparse(base)
        self.host, self.port = url.hostname, url.port or 80
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("refusing a non-loopback target")

    def call_raw(self, method, path, body=None, token=None, headers=None):
        """(status, body bytes, seconds), one connection per call."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        data = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        try:
            conn.request(method, path, body=data, headers=h)
            res = conn.getresponse()
            raw = res.read()
            return res.status, raw, time.perf_counter() - started
        finally:
            conn.close()

    def call(self, method, path, body=None, token=None, headers=None):
        """(status, parsed JSON body or None, seconds)."""
        status, raw, elapsed = self.call_raw(method, path, body, token, headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, elapsed


    def sign_up(self, username, password):
        """Registers `username` and logs in: the login's body (token, user)."""
        status, body, _ = self.call("POST", "/api/auth/register",
                                    {"username": username, "password": password})
        assert status == 201, (status, body)
        status, body, _ = self.call("POST", "/api/auth/login",
                                    {"username": username, "password": password})
        assert status == 200, (status, body)
        return body


def rss_kib(pid):
    """The resident memory of process `pid`, in KiB (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def parallel(n, fn):
    """fn(0..n) on n threads at once; a call that raises counts as status 0."""
    results = [None] * n

    def run(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # a dropped connection counts as a failure
            results[i] = (0, str(e), 0.0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def tally(results):
    """{status: count}, statuses in order."""
    counts = {}
    for status, _, _ in results:
        counts[status] = counts.get(status, 0) + 1
    return dict(sorted(counts.items()))
