#!/usr/bin/env bash
# The whole test suite, as CI runs it (`.ci/run` calls exactly this script).
#
# 1. formatting and lints (rustfmt, clippy with warnings denied, rustdoc links);
# 2. every test of the workspace: unit tests, integration tests against real servers, and
#    doc examples.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (broken links denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo test"
cargo test --workspace --locked

step "all tests passed"
