#!/usr/bin/env bash
# The token storage benchmark (crates/portcullis/benches/storage.rs): one `check()` per
# driver — memory, SQLite, PostgreSQL, Redis — next to HS256 JWT verification, in one run.
#
# Starts private Redis and PostgreSQL servers (scripts/services.sh), runs the benchmark,
# stops them. Extra arguments go to criterion, e.g. `scripts/bench-storage.sh check/redis`.
# Run one benchmark at a time, on a quiet machine (`uptime`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
services_start
cargo bench -p portcullis --features full --bench storage -- "$@"
