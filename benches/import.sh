#!/usr/bin/env bash
# Bench: how many calls and how long an import of ROWS rows takes against a generated
# sandbox tenant. Run from the repository root:
#
#   bash benches/import.sh [ROWS] [USERS] [GROUPS]      (defaults: 10000 5000 200)
#
# It prints the calls per route the sandbox saw, and the wall time of a dry run and of the
# real import with pacing lifted (--rate 100000/min), which measures roster itself. At
# Atlan's real budget the import takes about calls / 388 minutes (roster paces at 97 % of
# 400/min). Timing lives here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000}
users=${2:-5000}
groups=${3:-200}

cargo build --release --quiet --locked
work=$(mktemp -d)
source tests/lib/sandbox.sh
start_sandbox target/release/roster --generate "users=$users,groups=$groups,memberships=$((users * 2)),seed=7" \
  --api-key bench-key
trap 'kill $sandbox_pid 2>/dev/null || true; rm -rf "$work" "$sandbox_out"' EXIT
url=$base_url
curl -fsS "$url/_sandbox/state" >"$work/state.json"

# ROWS add/remove/set_role rows over the generated users and groups (deterministic).
python3 - "$work/state.json" "$rows" >"$work/bench.csv" <<'PY'
import json, sys
state = json.load(open(sys.argv[1]))
rows = int(sys.argv[2])
users = [u["username"] for u in state["users"]]
groups = [g["name"] for g in state["groups"]]
print("action,user,group,role")
seen = set()
i = 0
while len(seen) < rows:
    user = users[(i * 7919) % len(users)]
    group = groups[(i * 104729 // len(users)) % len(groups)]
    kind = i % 10
    key = (user, group) if kind < 9 else (user,)
    i += 1
    if key in seen:
        continue
    seen.add(key)
    if kind < 7:
        print(f"add,{user},{group},")
    elif kind < 9:
        print(f"remove,{user},{group},")
    else:
        print(f"set_role,{user},,guest")
PY

echo "bench-key" >"$work/key"
run() {
  local label=$1; shift
  curl -fsS -X POST "$url/_sandbox/reset" >/dev/null
  local start end
  start=$(date +%s.%N)
  target/release/roster import "$work/bench.csv" --base-url "$url" --api-key-file "$work/key" \
    --results "$work/$label.results.csv" --quiet "$@" || true
  end=$(date +%s.%N)
  local stats
  stats=$(curl -fsS "$url/_sandbox/stats")
  python3 - "$label" "$rows" "$start" "$end" "$stats" "$work/$label.results.csv" <<'PY'
import json, sys, csv, collections
label, rows, start, end, stats, results = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), json.loads(sys.argv[5]), sys.argv[6]
statuses = collections.Counter(r["status"] for r in csv.DictReader(open(results)))
calls = stats["requests"]
print(f"{label}: {rows} rows, {calls} calls ({calls / rows:.3f} per row), {end - start:.2f} s wall;"
      f" at 400/min that is about {calls / 388:.1f} min; statuses {dict(statuses)}")
for route, n in sorted(stats["by_route"].items()):
    print(f"    {n:6d}  {route}")
PY
}
run dry-run --dry-run --rate 100000/min
run import --yes --rate 100000/min
