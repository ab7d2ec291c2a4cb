#!/usr/bin/env bash
# Runs the JWT benchmark (crates/portcullis/benches/jwt.rs) and prints the medians and ratios
# as a Markdown table, for docs/performance.md.
#
#   bash scripts/bench.sh                 # one run
#   RUNS=4 bash scripts/bench.sh          # four runs, one after the other
#   NO_WAIT=1 bash scripts/bench.sh       # do not wait for a quiet machine before each run
#   REPORT_ONLY=1 bash scripts/bench.sh   # only print the table of the runs on record
#
# Before each run it waits (at most 5 minutes) for the CPUs to be 90% idle, and it records how
# idle they stayed during the run: on a small shared machine a concurrent build moves single
# figures by a third or more. Each run's criterion medians are kept in
# $CARGO_TARGET_DIR/bench-runs/ (default target/); a new series (REPORT_ONLY unset) starts
# afresh. The table gives, for each function, the lowest of the runs' medians (noise only ever
# adds time), the ratios of those, and the range of each ratio within single runs:
#   jsonwebtoken / portcullis     above 1: portcullis is faster
#   portcullis / primitive        the cost of portcullis's JOSE framing; 1.000 is the floor
# Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
runs_dir="$target/bench-runs"

cpu_ticks() { # "idle total" jiffies so far, from /proc/stat (the load average counts more)
  local c1 c2 c3 c4 c5 c6 c7
  read -r _ c1 c2 c3 c4 c5 c6 c7 _ < /proc/stat
  echo "$c4 $((c1 + c2 + c3 + c4 + c5 + c6 + c7))"
}

idle_since() { # percent of CPU time idle since the "idle total" given as $1 $2
  local idle total
  read -r idle total < <(cpu_ticks)
  echo $(( 100 * (idle - $1) / (total - $2 > 0 ? total - $2 : 1) ))
}

idle_percent() { # CPU idle over the next 2 seconds
  local start
  start=$(cpu_ticks)
  sleep 2
  # shellcheck disable=SC2086 # two numbers
  idle_since $start
}

collect() { # the medians of the last criterion run and the CPU idle share during it, to $1
  python3 - "$target/criterion" "$1" "$2" <<'EOF'
import json, os, sys
root, out, idle = sys.argv[1], sys.argv[2], int(sys.argv[3])
medians = {"cpu_idle_percent": idle}
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
    start=$(cpu_ticks)
    cargo bench -p portcullis --bench jwt
    # shellcheck disable=SC2086 # two numbers
    idle=$(idle_since $start)
    echo "run $run: CPUs ${idle}% idle during the run (the benchmark itself keeps one busy)" >&2
    collect "$runs_dir/run-$run.json" "$idle"
  done
fi

python3 - "$runs_dir" <<'EOF'
import json, os, sys

runs_dir = sys.argv[1]
runs = []
for name in sorted(os.listdir(runs_dir)):
    with open(os.path.join(runs_dir, name)) as f:
        runs.append(json.load(f))
if not runs:
    sys.exit("no runs recorded")

def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"

def best(key):
    values = [run[key] for run in runs if key in run]
    return min(values) if values else None

def ratio(num, den, digits):
    a, b = best(num), best(den)
    if a is None or b is None:
        return "–"
    text = f"{a / b:.{digits}f}×"
    within = [run[num] / run[den] for run in runs if num in run and den in run]
    if len(within) > 1:
        text += f" ({min(within):.{digits}f}–{max(within):.{digits}f})"
    return text

idle = ", ".join(f"{run['cpu_idle_percent']}%" for run in runs if "cpu_idle_percent" in run)
print(f"{len(runs)} run(s); CPUs idle during each: {idle or 'not recorded'}.")
print("Times: the lowest of the runs' medians. Ratios: of those times; in brackets, the range")
print("of the ratio within single runs.\n")
print("| operation | portcullis | jsonwebtoken | aws-lc-rs primitive | jsonwebtoken / portcullis | portcullis / primitive |")
print("|---|---:|---:|---:|---:|---:|")
for op in ["verify", "sign"]:
    for alg in ["HS256", "HS512", "RS256", "ES256", "EdDSA"]:
        ours, theirs, floor = (f"{op}_{alg}/{f}" for f in ["portcullis", "jsonwebtoken", "aws-lc-rs primitive"])
        if best(ours) is None:
            continue
        cells = [
            f"{op}/{alg}",
            fmt(best(ours)),
            fmt(best(theirs)) if best(theirs) else "–",
            fmt(best(floor)) if best(floor) else "–",
            ratio(theirs, ours, 2),
            ratio(ours, floor, 3),
        ]
        print("| " + " | ".join(cells) + " |")
EOF
