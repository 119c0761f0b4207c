#!/usr/bin/env bash
# Retention at scale on PostgreSQL: the time to forget the oldest month of
# 2,000,000 activity rows spread over four months, by the batched DELETE of
# the unpartitioned table and by dropping the month's partition, each through
# `shuffify activity prune` itself (docs/scale.md, "Retention").
#
#   OLD_BIN=path/to/shuffify-before NEW_BIN=target/release/shuffify \
#     bash scripts/scale/retention.sh [postgres://postgres@127.0.0.1:5432]
#
# OLD_BIN is a build from before partitioning (its migrations stop at the
# unpartitioned table); NEW_BIN one with it. Two databases of their own are
# created and dropped at the end. ROWS and USERS change the seed.
set -euo pipefail
SERVER=${1:-postgres://postgres@127.0.0.1:5432}
ROWS=${ROWS:-2000000}
USERS=${USERS:-100}
: "${OLD_BIN:?the shuffify build from before partitioning}"
: "${NEW_BIN:?the shuffify build with partitions}"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
OLD_DB=shuffify_retention_old_$$
NEW_DB=shuffify_retention_new_$$
psql_on() { psql "$SERVER/$1" -v ON_ERROR_STOP=1 -qAt "${@:2}"; }
cleanup() {
    psql_on postgres -c "DROP DATABASE IF EXISTS $OLD_DB WITH (FORCE)" \
        -c "DROP DATABASE IF EXISTS $NEW_DB WITH (FORCE)" >/dev/null
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

psql_on postgres -c "CREATE DATABASE $OLD_DB"
DATABASE_URL="$SERVER/$OLD_DB" "$OLD_BIN" migrate >/dev/null
# Four months of rows, oldest first: from the first of the month four
# months back until now, evenly spaced, spread over the users.
start=$(psql_on "$OLD_DB" -c "SELECT date_trunc('month', now() AT TIME ZONE 'UTC') - INTERVAL '4 months'")
t0=$(now_ms)
psql_on "$OLD_DB" -c "
    INSERT INTO users (username, display_name, password_hash, created_at, updated_at)
    SELECT 'user' || u, 'User ' || u, 'x', '$start', '$start' FROM generate_series(1, $USERS) u;
    INSERT INTO activity_log (user_id, activity_type, description, actor_type, actor_name,
        metadata, created_at)
    SELECT 1 + g % $USERS, 'shuffle', 'Shuffled \"Road Trip\" with Tempo gradient', 'user',
        'user' || (1 + g % $USERS), '{\"algorithm\":\"tempo_gradient\",\"track_count\":120}',
        TIMESTAMP '$start' + (now() AT TIME ZONE 'UTC' - TIMESTAMP '$start') * g / $ROWS
    FROM generate_series(0, $ROWS - 1) g;"
psql_on "$OLD_DB" -c "VACUUM ANALYZE activity_log"
echo "seeded $ROWS rows from $start in $(( $(now_ms) - t0 )) ms"
psql_on postgres -c "CREATE DATABASE $NEW_DB TEMPLATE $OLD_DB"

# The cutoff: a few hours into the second month, so one whole month goes.
days=$(psql_on "$OLD_DB" -c "SELECT EXTRACT(DAY FROM now() AT TIME ZONE 'UTC' - (TIMESTAMP '$start' + INTERVAL '1 month'))::int")
month_rows=$(psql_on "$OLD_DB" -c "SELECT COUNT(*) FROM activity_log WHERE created_at < TIMESTAMP '$start' + INTERVAL '1 month'")
echo "the oldest month holds $month_rows rows; pruning --older-than ${days}d"

t0=$(now_ms)
DATABASE_URL="$SERVER/$NEW_DB" "$NEW_BIN" migrate >/dev/null
echo "migration to monthly partitions: $(( $(now_ms) - t0 )) ms"
psql_on "$NEW_DB" -c "VACUUM ANALYZE activity_log"

# WAL written is the server's, so other work on it at the time counts too.
wal() { psql_on postgres -c "SELECT pg_current_wal_lsn()"; }
wal_since() { psql_on postgres -c "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '$1'))"; }
for run in "batched DELETE (before):$OLD_DB:$OLD_BIN" "partition drop (after):$NEW_DB:$NEW_BIN"; do
    IFS=: read -r label db bin <<<"$run"
    lsn=$(wal)
    t0=$(now_ms)
    out=$(DATABASE_URL="$SERVER/$db" "$bin" activity prune --older-than "${days}d")
    took=$(( $(now_ms) - t0 ))
    t0=$(now_ms)
    psql_on "$db" -c "VACUUM activity_log"
    echo "$label ${took} ms, then VACUUM $(( $(now_ms) - t0 )) ms, WAL $(wal_since "$lsn"): $out"
done
for db in "$OLD_DB" "$NEW_DB"; do
    echo "$db: $(psql_on "$db" -c "SELECT COUNT(*) FROM activity_log") rows left, \
$(psql_on "$db" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
done
