#!/usr/bin/env bash
# Runs the README's walkthrough (the block between the walkthrough markers)
# against a live server, so the README cannot rot.
#
#   scripts/walkthrough.sh http://127.0.0.1:8080
#
# Needs only bash, curl and sed. Fails unless every command succeeds and the
# activity read at the end shows the shuffle.
set -euo pipefail
cd "$(dirname "$0")/.."
export BASE="${1:-http://127.0.0.1:8080}"

block=$(sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' README.md \
    | sed -n '/^```sh$/,/^```$/p' | sed '1d;$d')
if [ -z "$block" ]; then
    echo "walkthrough: no block found in README.md" >&2
    exit 1
fi

output=$(bash -euo pipefail -c "$block")
echo "$output"
for expected in '"activity_type":"shuffle"' '"activity_type":"playlist_create"' '"activity_type":"login"'; do
    if ! grep -q "$expected" <<<"$output"; then
        echo "walkthrough: expected $expected in the output" >&2
        exit 1
    fi
done
echo "walkthrough ok"
