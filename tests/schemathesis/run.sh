#!/usr/bin/env bash
# Runs schemathesis (pinned in requirements.txt) with UiPath's own OpenAPI definition of the
# Identity Server against `roster sandbox --provider uipath` seeded with
# samples/uipath-tenant.json: generated requests to every group and user endpoint the sandbox
# serves, each response checked against the definition. Creates a venv under target/ on first use.
#
# The definition is tests/schemathesis/uipath-identity-openapi.yaml (UiPath's, MIT, kept as
# published); spec_override.py adapts a copy under target/ to what the live service is known to
# send, each change with its reason. In short:
#   - only the 8 operations of the definition the sandbox serves (groups: list, get, create,
#     update, delete, bulk delete; users: list, get); the definition (v3.2.54) has no Members
#     endpoint, which tests/it/uipath_sandbox.rs covers;
#   - GroupType and UserType are integers: the spec says strings, the live API sends 0/1 and
#     0-5 (notes §0.6), so the published enums would fail every response;
#   - timestamps are .NET's, without an offset (notes §4.1), which `format: date-time` rejects;
#   - every partitionGlobalId is the sandbox organization's (a random one only meets 400);
#   - create needs `id` and `name`, update `name`, bulk delete `groupIDs`, as the service does;
#   - the 400/401/403/404/409/415/429 answers the service gives are declared;
#   - the stateful phase follows links spec_override.py adds (create, then get, update, delete),
#     and examples come from the seed, so existing records are read and changed too.
# SCHEMATHESIS_EXTRA adds options, e.g. "--report har --report-dir target/schemathesis/report".
# Two runs, 100 examples per operation and a fixed seed each:
#   1. valid requests (phases examples, coverage, fuzzing, stateful), checks not_a_server_error,
#      status_code_conformance, content_type_conformance, response_headers_conformance,
#      response_schema_conformance, positive_data_acceptance, use_after_free;
#   2. invalid requests (coverage, fuzzing), the same checks but the two for valid data.
# Checks off, and why:
#   - negative_data_rejection: like ASP.NET with Newtonsoft.Json, the sandbox binds leniently
#     (`"name": false` is read as "False", unknown properties are ignored), so some bodies the
#     definition calls invalid are rightly accepted;
#   - ensure_resource_availability: with schemathesis 4.32.5 it reports a group that a scenario
#     created, then deleted (204), as "created resource not found" when a later step of the
#     same scenario updates it and gets the (correct) 404; use_after_free covers the deletion;
#   - ignored_auth: the token is sent as a header for every call, so the check cannot tell;
#     401 without and with a bad token is asserted in tests/it/uipath_sandbox.rs instead;
#   - missing_required_header, unsupported_method, allow_header_conformance,
#     object_level_authorization: nothing the definition declares for them.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/schemathesis-venv
if ! "$venv/bin/python" -c "import schemathesis" 2>/dev/null; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/schemathesis/requirements.txt

cargo build --quiet --locked
source tests/lib/sandbox.sh
start_sandbox target/debug/roster --provider uipath --seed samples/uipath-tenant.json
for _ in $(seq 50); do grep -q "Press Ctrl-C" "$sandbox_out" && break; sleep 0.1; done
banner() { sed -n "s/^  export $1=//p" "$sandbox_out"; }
organization=$(banner UIPATH_ORGANIZATION)

# No proxy variables: loopback traffic must not go through them.
unset HTTP_PROXY HTTPS_PROXY http_proxy https_proxy
token=$(curl -fsS "$base_url/identity_/connect/token" \
  -d grant_type=client_credentials -d "client_id=$(banner UIPATH_CLIENT_ID)" \
  -d "client_secret=$(banner UIPATH_CLIENT_SECRET)" --data-urlencode "scope=PM.Group PM.User" \
  | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

# schemathesis and hypothesis keep caches in the working directory: run inside target/.
work=target/schemathesis
mkdir -p "$work"
"$venv/bin/python" tests/schemathesis/spec_override.py \
  tests/schemathesis/uipath-identity-openapi.yaml samples/uipath-tenant.json "$work/uipath-identity-openapi.sandbox.yaml"
root=$PWD
cd "$work"
schemathesis() {
  "$root/$venv/bin/schemathesis" --config-file "$root/tests/schemathesis/schemathesis.toml" \
    run uipath-identity-openapi.sandbox.yaml \
    --url "$base_url/$organization/identity_" \
    --header "Authorization: Bearer $token" \
    --max-examples 100 \
    --seed 20261123 \
    --generation-database none \
    --workers 1 \
    --no-color "$@" ${SCHEMATHESIS_EXTRA:-}
}
echo "-- valid requests: every answer documented and conforming"
schemathesis --mode positive --phases examples,coverage,fuzzing,stateful \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,positive_data_acceptance,use_after_free
echo "-- invalid requests: no server error, every refusal documented and conforming"
schemathesis --mode negative --phases coverage,fuzzing \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
echo "UiPath OpenAPI conformance: 2 passed, 0 failed"
