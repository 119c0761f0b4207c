#!/usr/bin/env bash
# Runs the README as a newcomer would: every ```sh block of its "Quick start",
# "Command line" and "Operations" sections, in order, in one shell, from the
# repository root, so the README cannot rot.
#
#   scripts/walkthrough.sh
#
# An HTML comment on the line before a block (invisible when the README is
# rendered) says how to run it:
#   <!-- ci: background -->   the server: started in the background; the next
#                             block waits until http://127.0.0.1:8080/health answers
#   <!-- ci: stop-server -->  stops that server first (e.g. a restore)
#   <!-- ci: postgres -->     runs with DATABASE_URL naming a fresh PostgreSQL
#                             database (created and migrated here, dropped after);
#                             skipped when no server answers at 127.0.0.1:5432,
#                             unless CI=true
#   <!-- ci: skip (why) -->   not run here, for the reason given
# Other fenced blocks (nginx, ini) are configuration, not commands.
#
# It builds the release binary first (so the README's `cargo run --release`
# starts at once), needs port 8080 free and no ./shuffify.db, and removes
# the files the blocks create when it ends. Needs bash, curl, python3, and
# for the PostgreSQL block psql, pg_dump and pg_restore (installed with
# apt-get under CI=true when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_ADMIN_URL="${WALKTHROUGH_PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}"
PG_DB=shuffify_walkthrough
PG_URL="${PG_ADMIN_URL%/*}/$PG_DB"

for leftover in shuffify.db shuffify-backup.db; do
    if [ -e "$leftover" ]; then
        echo "walkthrough: ./$leftover exists; move it away first (the README's commands use that name)" >&2
        exit 1
    fi
done
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
    echo "walkthrough: something already listens on 127.0.0.1:8080, the README's address" >&2
    exit 1
fi

if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    postgres=yes
    if ! command -v pg_dump > /dev/null && [ "${CI:-}" = true ]; then
        apt-get install -y postgresql-client > /dev/null
    fi
elif [ "${CI:-}" = true ]; then
    echo "walkthrough: CI=true but no PostgreSQL server answers at 127.0.0.1:5432" >&2
    exit 1
else
    postgres=no
fi

work=$(mktemp -d)
cleanup() {
    if [ -f "$work/server.pid" ]; then
        pid=$(cat "$work/server.pid")
        kill -TERM $(cat /proc/"$pid"/task/*/children 2>/dev/null) "$pid" 2>/dev/null || true
        sleep 1
    fi
    rm -f shuffify.db shuffify.db-wal shuffify.db-shm shuffify-backup.db \
        alice-activity.csv shuffify.pgdump
    if [ "$postgres" = yes ]; then
        psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB" > /dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The blocks, each with how to run it, as a script for one shell.
python3 - "$postgres" "$work" "$PG_URL" > "$work/readme.sh" <<'EOF'
import re, shlex, sys

postgres, work, pg_url = sys.argv[1:4]
# Stops the background server: the block's process and its children (cargo
# run may have a child, or be replaced by the server), waiting for each.
STOP = r"""
stop_server() {
    local pid kids p
    pid=$(cat "$1"); rm -f "$1"
    kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
    kill -TERM $kids 2>/dev/null || true
    for p in $kids; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
"""
sections = ("## Quick start", "## Command line", "## Operations")
lines = open("README.md", encoding="utf-8").read().split("\n")
out = ["set -euo pipefail", STOP]
section, note, i, count = None, None, 0, 0
while i < len(lines):
    line = lines[i].strip()
    i += 1
    if line.startswith("## "):
        section, note = line, None
        continue
    m = re.match(r"<!-- ci: (.*) -->$", line)
    if m:
        note = m.group(1)
        continue
    if line != "```sh":
        if line:
            note = None
        continue
    body = []
    while lines[i].strip() != "```":
        body.append(lines[i])
        i += 1
    i += 1
    if section not in sections:
        note = None
        continue
    count += 1
    text = "\n".join(body)
    label = f"--- README block {count} ({section[3:]})" + (f": {note}" if note else "")
    out.append(f"echo {shlex.quote(label)} >&2")
    if note == "background":
        out.append(f"( {text}\n) > {work}/server.log 2>&1 &")
        out.append(f"echo $! > {work}/server.pid")
        out.append(
            "for _ in $(seq 1 300); do curl -sf http://127.0.0.1:8080/health > /dev/null && break; sleep 0.2; done"
        )
        out.append("curl -sf http://127.0.0.1:8080/health > /dev/null")
    elif note is not None and note.startswith("skip"):
        out.append("echo '(not run here)' >&2")
    elif note == "stop-server":
        out.append(f"stop_server {work}/server.pid")
        out.append(text)
    elif note == "postgres":
        if postgres == "yes":
            out.append(f"( export DATABASE_URL={shlex.quote(pg_url)}\n{text}\n)")
        else:
            out.append("echo '(skipped: no PostgreSQL server)' >&2")
    else:
        out.append(text)
    note = None
if count == 0:
    sys.exit("walkthrough: no sh blocks found in README.md")
print("\n".join(out))
EOF

echo "== building the release binary (the README's first command then starts at once)"
cargo build --release --bin shuffify

if [ "$postgres" = yes ]; then
    # A database for the PostgreSQL block, with something worth backing up.
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" > /dev/null
    printf 'walkthrough passphrase\n' | DATABASE_URL="$PG_URL" target/release/shuffify user create \
        --username carol --password-stdin > /dev/null
fi

echo "== the README's commands"
if ! output=$(bash "$work/readme.sh"); then
    echo "$output"
    echo "--- server log"; cat "$work/server.log" 2>/dev/null || true
    echo "walkthrough: a README command failed (its block is named above)" >&2
    exit 1
fi
echo "$output"

for expected in '"activity_type":"shuffle"' '"activity_type":"playlist_create"' '"activity_type":"login"' 'alice'; do
    if ! grep -q "$expected" <<<"$output"; then
        echo "walkthrough: expected $expected in the output" >&2
        exit 1
    fi
done
if [ "$postgres" = yes ]; then
    # The restore kept what the dump held.
    if ! DATABASE_URL="$PG_URL" target/release/shuffify user list | grep -q carol; then
        echo "walkthrough: the PostgreSQL restore lost user carol" >&2
        exit 1
    fi
fi
echo "walkthrough ok"
