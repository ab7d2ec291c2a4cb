#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls exactly this script).
#
# 1. formatting and lints (rustfmt, clippy with warnings denied — default features and all
#    features —, rustdoc links);
# 2. private Redis and PostgreSQL servers for the token storage tests (scripts/services.sh:
#    installed with apt-get when missing, started on free loopback ports, stopped on exit);
# 3. Debian's chromium and chromium-driver, installed when missing, for the CSRF browser test;
# 4. every test of the workspace with every feature: unit tests, integration tests against
#    the real servers, the browser test, and doc examples.
#
# PORTCULLIS_SKIP_SERVICES=1 starts no server and skips the tests that need one.
set -euo pipefail
cd "$(dirname "$0")/.."
# One full build, no incremental caches: they do not help a single run and double the disk used.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
source scripts/services.sh

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy, default features (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo clippy, all features (warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo doc (broken links denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --locked --quiet

step "services: Redis and PostgreSQL"
services_start

step "browser: Chromium and chromedriver (the CSRF browser test)"
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    if command -v apt-get >/dev/null; then
        sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium chromium-driver
    else
        echo "no apt-get: install chromium and chromedriver, or the browser test is skipped (fails under CI)"
    fi
fi

step "cargo test"
cargo test --workspace --all-features --locked

step "all tests passed"
