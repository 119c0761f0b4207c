#!/usr/bin/env bash
# The scale simulation of docs/scale.md, on PostgreSQL with the release
# build: four `serve` instances on one database, 10,000,000 activity rows
# (read latencies at 1,000,000 and at 10,000,000), the shared login lockout,
# 100,000 due schedules run exactly once (runs per second, then again with
# one instance killed mid-run), and retention by partition.
#
#   scripts/scale/run.sh                     # the full run (tens of minutes)
#   scripts/scale/run.sh --smoke             # 100,000 rows, 1,000 schedules
#   scripts/scale/run.sh --rows 20000000 --schedules 50000 --skip-kill
#
# Arguments go to scripts/scale/scale.py (see its --help: --skip-reads,
# --skip-lockout, --skip-schedules, --skip-kill, --skip-retention, --seconds,
# --workers, --max-minutes ...). SCALE_PG names the PostgreSQL server
# (default postgres://postgres@127.0.0.1:5432); the run makes a database of
# its own there (`shuffify_scale_<pid>`) and drops it at the end, also when
# stopped by a signal. SHUFFIFY_BIN skips the build and uses that binary.
# The run installs wrk from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi

bin="${SHUFFIFY_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/shuffify"
fi

exec python3 scripts/scale/scale.py --bin "$bin" "$@"
