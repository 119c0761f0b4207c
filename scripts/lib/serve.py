"""What the measuring scripts share to run `shuffify serve` on loopback: a
free port, a JSON call, `psql`, and servers started on free ports and
stopped by their own process ids (also when the script is stopped by a
signal: `stop_all_on_signals`). Standard library only.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
    import serve
    server = serve.Server(binary, database_url, {"SCHEDULER_ENABLED": "true"})
    serve.call(server.base, "GET", "/health")
    server.stop()
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

# Every server started and not yet stopped, so that an interrupted script
# stops them by their own pids and no other process.
_running = []


def free_port():
    """A loopback port free at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, timeout=60):
    """The parsed JSON answer (None when empty); an HTTP error raises."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read()
        return json.loads(text) if text else None


def psql(url, sql):
    """Runs `sql` with psql (stopping at the first error); its output."""
    out = subprocess.run(["psql", url, "-qtAX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr}")
    return out.stdout.strip()


class Server:
    """`binary serve` on a free loopback port with DATABASE_URL, the
    scheduler off unless `extra` says otherwise, and `extra` on top;
    returns once `/health` answers (or exits the script after `wait`
    seconds). Output goes to `log` (a path) when given."""

    def __init__(self, binary, database_url, extra=None, log=None, wait=60):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DATABASE_URL=database_url,
                   BIND_ADDR=f"127.0.0.1:{self.port}", SCHEDULER_ENABLED="false",
                   RUST_LOG=os.environ.get("SERVE_RUST_LOG", "warn"))
        env.update(extra or {})
        self.log = open(log, "ab") if log else None
        self.proc = subprocess.Popen([binary, "serve"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT if self.log else None)
        self.pid = self.proc.pid
        _running.append(self)
        deadline = time.time() + wait
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                call(self.base, "GET", "/health", timeout=2)
                return
            except Exception:
                time.sleep(0.1)
        self.kill()
        sys.exit(f"serve on {self.base} never answered /health"
                 + (f"; see {log}" if log else ""))

    def stop(self, timeout=60):
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._forget()

    def kill(self):
        """SIGKILL: the process dies where it stands."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._forget()

    def _forget(self):
        if self in _running:
            _running.remove(self)
        if self.log:
            self.log.close()
            self.log = None


def stop_all():
    """Stops every server still running (by its pid)."""
    for server in list(_running):
        try:
            server.stop(timeout=10)
        except Exception:
            server.kill()


def stop_all_on_signals():
    """SIGINT and SIGTERM end the script through its `finally` blocks, and
    whatever servers are still running are stopped at exit."""

    def interrupted(signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    atexit.register(stop_all)
