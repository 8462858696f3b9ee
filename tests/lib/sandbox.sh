# Sourced by the shell test and bench scripts: starts `roster sandbox` on a free loopback
# port and sets $base_url; the sandbox is stopped when the calling script exits.
#   start_sandbox BINARY [sandbox options...]
start_sandbox() {
  local binary=$1; shift
  sandbox_out=$(mktemp)
  "$binary" sandbox --listen 127.0.0.1:0 "$@" >"$sandbox_out" &
  sandbox_pid=$!
  trap 'kill $sandbox_pid 2>/dev/null || true; rm -f "$sandbox_out"' EXIT
  for _ in $(seq 100); do
    grep -q "listening on" "$sandbox_out" && break
    sleep 0.1
  done
  base_url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$sandbox_out" | head -n 1)
  if [ -z "$base_url" ]; then
    echo "the sandbox did not start:"
    cat "$sandbox_out"
    return 1
  fi
}
