#!/usr/bin/env bash
# Runs the JWT benchmark (crates/portcullis/benches/jwt.rs) and prints the medians and ratios
# as a Markdown table, for docs/performance.md.
#
#   bash scripts/bench.sh                 # one run
#   RUNS=5 bash scripts/bench.sh          # five runs, one after the other; the table gives the
#                                         # median over runs and the range of each ratio
#   NO_WAIT=1 bash scripts/bench.sh       # do not wait for a quiet machine before each run
#   REPORT_ONLY=1 bash scripts/bench.sh   # only print the table of the runs already recorded
#
# Before each run it waits (at most 5 minutes) for the CPUs to be 90% idle: on a small shared
# machine a concurrent build moves the figures by a third. Each run's medians are kept in
# $CARGO_TARGET_DIR/bench-runs/ (default target/); a new series (REPORT_ONLY unset) starts
# afresh. Ratios are computed within each run, where both libraries ran minutes apart at most:
#   jsonwebtoken / portcullis     above 1: portcullis is faster
#   portcullis / primitive        the cost of portcullis's JOSE framing; 1.00 is the floor
# Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
runs_dir="$target/bench-runs"

idle_percent() { # CPU idle over 2 seconds, from /proc/stat (the load average counts more)
  local a1 a2 a3 a4 a5 a6 a7 b1 b2 b3 b4 b5 b6 b7
  read -r _ a1 a2 a3 a4 a5 a6 a7 _ < /proc/stat
  sleep 2
  read -r _ b1 b2 b3 b4 b5 b6 b7 _ < /proc/stat
  echo $(( 100 * (b4 - a4) / ((b1 + b2 + b3 + b4 + b5 + b6 + b7) - (a1 + a2 + a3 + a4 + a5 + a6 + a7)) ))
}

collect() { # the medians of the last criterion run, as JSON, to $1
  python3 - "$target/criterion" "$1" <<'EOF'
import json, os, sys
root, out = sys.argv[1], sys.argv[2]
medians = {}
for group in sorted(os.listdir(root)):
    if not group.startswith(("verify_", "sign_")):
        continue
    for function in os.listdir(os.path.join(root, group)):
        path = os.path.join(root, group, function, "new", "estimates.json")
        if os.path.exists(path):
            with open(path) as f:
                medians[f"{group}/{function}"] = json.load(f)["median"]["point_estimate"]
with open(out, "w") as f:
    json.dump(medians, f, indent=1)
EOF
}

if [[ -z "${REPORT_ONLY:-}" ]]; then
  rm -rf "$runs_dir"
  mkdir -p "$runs_dir"
  echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(rustc --version)" >&2
  for run in $(seq "${RUNS:-1}"); do
    if [[ -z "${NO_WAIT:-}" ]]; then
      for _ in $(seq 60); do
        idle=$(idle_percent)
        (( idle >= 90 )) && break
        echo "CPU ${idle}% idle: waiting for a quiet machine" >&2
        sleep 3
      done
    fi
    echo "run $run of ${RUNS:-1}, $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    cargo bench -p portcullis --bench jwt
    collect "$runs_dir/run-$run.json"
  done
fi

python3 - "$runs_dir" <<'EOF'
import json, os, statistics, sys

runs_dir = sys.argv[1]
runs = []
for name in sorted(os.listdir(runs_dir)):
    with open(os.path.join(runs_dir, name)) as f:
        runs.append(json.load(f))
if not runs:
    sys.exit("no runs recorded")

def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"

def median_of(key):
    values = [run[key] for run in runs if key in run]
    return statistics.median(values) if values else None

def ratio(num, den, digits=2):
    values = [run[num] / run[den] for run in runs if num in run and den in run]
    if not values:
        return "–"
    text = f"{statistics.median(values):.{digits}f}×"
    if len(values) > 1:
        text += f" ({min(values):.{digits}f}–{max(values):.{digits}f})"
    return text

print(f"Medians over {len(runs)} run(s); ratios: median over runs (range).\n")
print("| operation | portcullis | jsonwebtoken | aws-lc-rs primitive | jsonwebtoken / portcullis | portcullis / primitive |")
print("|---|---:|---:|---:|---:|---:|")
for op in ["verify", "sign"]:
    for alg in ["HS256", "HS512", "RS256", "ES256", "EdDSA"]:
        ours, theirs, floor = (f"{op}_{alg}/{f}" for f in ["portcullis", "jsonwebtoken", "aws-lc-rs primitive"])
        if median_of(ours) is None:
            continue
        cells = [
            f"{op}/{alg}",
            fmt(median_of(ours)),
            fmt(median_of(theirs)) if median_of(theirs) else "–",
            fmt(median_of(floor)) if median_of(floor) else "–",
            ratio(theirs, ours),
            ratio(ours, floor, 3),
        ]
        print("| " + " | ".join(cells) + " |")
EOF
