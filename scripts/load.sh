#!/usr/bin/env bash
# The HTTP load table of docs/performance.md: builds the release binary,
# installs wrk from Debian's packages when it is missing, and runs
# scripts/load/load.py on SQLite and, when one answers, PostgreSQL.
#
#   scripts/load.sh                      # both backends, 10 s per row
#   LOAD_PG_URL= scripts/load.sh         # SQLite only
#   scripts/load.sh --duration 15        # extra arguments go to load.py
#
# LOAD_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the
# server; the run makes a database of its own there (`shuffify_load_<pid>`)
# and drops it at the end.
# SHUFFIFY_BIN skips the build and measures that binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "installing wrk" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi

bin="${SHUFFIFY_BIN:-}"
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/shuffify"
fi

pg="${LOAD_PG_URL-postgres://postgres@127.0.0.1:5432/postgres}"
args=(--bin "$bin")
[ -n "$pg" ] && args+=(--postgres "$pg")
exec python3 scripts/load/load.py "${args[@]}" "$@"
