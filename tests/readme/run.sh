#!/usr/bin/env bash
# Runs README.md's executable blocks against fresh sandboxes on samples/tenant.json, so the
# README can't drift from roster: the curl block (sandbox-examples) and the access-review
# walkthrough (review-walkthrough).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

cargo build --quiet --locked
source tests/lib/sandbox.sh

block() {
  sed -n "/<!-- $1 -->/,/<!-- \/$1 -->/p" README.md | sed '/^<!--/d; /^```/d'
}

# The curl examples, and their writes reaching the tenant.
start_sandbox target/debug/roster --seed samples/tenant.json --api-key readme-key
examples=$(block sandbox-examples)
[ -n "$examples" ] || { echo "README.md has no sandbox-examples block"; exit 1; }
ATLAN_BASE_URL="$base_url" ATLAN_API_KEY=readme-key bash -euo pipefail -c "$examples" >/dev/null
state=$(curl -fsS "$base_url/_sandbox/state")
for expected in '"name": *"human_resources"' 'Now with a description!'; do
  grep -Eq "$expected" <<<"$state" || { echo "after the README examples the state lacks $expected"; exit 1; }
done
kill "$sandbox_pid"

# The review walkthrough, in a scratch directory with samples/ beside it.
start_sandbox target/debug/roster --seed samples/tenant.json --api-key review-key
walkthrough=$(block review-walkthrough)
[ -n "$walkthrough" ] || { echo "README.md has no review-walkthrough block"; exit 1; }
scratch=$(mktemp -d)
ln -s "$root/samples" "$scratch/samples"
(cd "$scratch" && PATH="$root/target/debug:$PATH" ATLAN_BASE_URL="$base_url" ATLAN_API_KEY=review-key \
  bash -euo pipefail -c "$walkthrough" >walkthrough.out 2>&1) || { cat "$scratch/walkthrough.out"; exit 1; }
# The revocations were applied, and the diff shows them.
grep -q "membership_removed,akumar,finance_analysts" "$scratch/walkthrough.out" \
  || { echo "the walkthrough's diff lacks the revocation:"; cat "$scratch/walkthrough.out"; exit 1; }
grep -q "^keep,akumar,finance_analysts.*,4,ok," "$scratch/review-2026Q4.evidence.csv" \
  || { echo "the evidence file lacks the applied revocation:"; cat "$scratch/review-2026Q4.evidence.csv"; exit 1; }
rm -rf "$scratch"
echo "README examples: 2 passed, 0 failed"
