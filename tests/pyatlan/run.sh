#!/usr/bin/env bash
# Runs the official Atlan Python SDK (pyatlan, pinned in requirements.txt) against
# `roster sandbox` seeded with samples/tenant.json. Creates a venv under target/ on first use.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/pyatlan-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pyatlan" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/pyatlan/requirements.txt
fi

cargo build --quiet --locked
out=$(mktemp)
target/debug/roster sandbox --seed samples/tenant.json --listen 127.0.0.1:0 --api-key pyatlan-test-key >"$out" &
sandbox=$!
trap 'kill $sandbox 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$out" && break
  sleep 0.1
done
base_url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$out" | head -n 1)
[ -n "$base_url" ] || { echo "the sandbox did not start:"; cat "$out"; exit 1; }

# No proxy variables: pyatlan would send loopback traffic through them.
env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy \
  ATLAN_BASE_URL="$base_url" ATLAN_API_KEY=pyatlan-test-key \
  "$venv/bin/python" tests/pyatlan/sdk_conformance.py
