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
source tests/lib/sandbox.sh
start_sandbox target/debug/roster --seed samples/tenant.json --api-key pyatlan-test-key

# No proxy variables: pyatlan would send loopback traffic through them.
env -u HTTP_PROXY -u HTTPS_PROXY -u http_proxy -u https_proxy \
  ATLAN_BASE_URL="$base_url" ATLAN_API_KEY=pyatlan-test-key \
  "$venv/bin/python" tests/pyatlan/sdk_conformance.py
