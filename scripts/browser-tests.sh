#!/usr/bin/env bash
# The web app in a real browser: installs Debian's chromium when missing
# (apt-get, as root) and playwright-core from npm (tests/browser, pinned by
# its package-lock.json), then runs tests/browser/app.test.mjs against the
# debug binary on a temp SQLite file. Screenshots of each main page go to
# target/screenshots/.
#
#   scripts/browser-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        apt-get install -y chromium > /dev/null || { apt-get update > /dev/null && apt-get install -y chromium > /dev/null; }
    else
        echo "browser tests need chromium (Debian: apt-get install chromium)" >&2
        exit 1
    fi
fi

target="${CARGO_TARGET_DIR:-target}"
cargo build --bin shuffify
(cd tests/browser && npm ci --no-audit --no-fund --silent)
export SHUFFIFY_BIN="$PWD/$target/debug/shuffify"
export SCREENSHOT_DIR="$PWD/$target/screenshots"
cd tests/browser
node --test --test-concurrency=1 --test-reporter=spec app.test.mjs
