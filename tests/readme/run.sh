#!/usr/bin/env bash
# Runs every command of README.md's curl block (between the sandbox-examples markers)
# against a fresh sandbox on samples/tenant.json, so the README can't drift from the sandbox.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --quiet --locked
source tests/lib/sandbox.sh
start_sandbox target/debug/roster --seed samples/tenant.json --api-key readme-key

examples=$(sed -n '/<!-- sandbox-examples -->/,/<!-- \/sandbox-examples -->/p' README.md | sed '/^<!--/d; /^```/d')
[ -n "$examples" ] || { echo "README.md has no sandbox-examples block"; exit 1; }
ATLAN_BASE_URL="$base_url" ATLAN_API_KEY=readme-key bash -euo pipefail -c "$examples" >/dev/null

# The block's writes must have reached the tenant.
state=$(curl -fsS "$base_url/_sandbox/state")
for expected in '"name": *"human_resources"' 'Now with a description!'; do
  grep -Eq "$expected" <<<"$state" || { echo "after the README examples the state lacks $expected"; exit 1; }
done
echo "README examples: 1 passed, 0 failed"
