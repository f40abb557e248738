#!/usr/bin/env bash
# Autobahn|Testsuite conformance run for wsproto, both roles:
#   server: wstest fuzzingclient  -> examples/echo_server
#   client: wstest fuzzingserver  <- examples/autobahn_client
# Gates on the suite's summarize.py AND on .ci/autobahn_check.py (strict by
# default: only OK / INFORMATIONAL pass; NON-STRICT, WRONG CODE and
# UNIMPLEMENTED fail).
#
# Environment:
#   AUTOBAHN_CASES       comma-separated case globs (default '*')
#   AUTOBAHN_EXCLUDE     comma-separated case globs to skip (default '')
#   AUTOBAHN_ROLES       which roles to run (default 'server client')
#   AUTOBAHN_STRICT      1 (default) or 0: 0 accepts NON-STRICT / WRONG CODE
#   AUTOBAHN_TIMEOUT     seconds per role before wstest is stopped (default 3600)
#   AUTOBAHN_SUITE_DIR   the shared/autobahn directory (default: found next to the
#                        repository, ../shared/autobahn, also from a git worktree)
#   AUTOBAHN_HOME        wstest install dir (default /tmp/autobahn, see setup.sh)
#   AUTOBAHN_CLIENT_PORT port for the fuzzing server (default: a free one)
#   AUTOBAHN_REPORTS     report root (default target/autobahn): <root>/server, <root>/client
#   AUTOBAHN_SERVER_ARGS extra arguments for echo_server (e.g. --no-deflate)
#   AUTOBAHN_FEATURES    cargo feature flags for building the examples (default
#                        --all-features; "--features tokio" builds the default
#                        permessage-deflate backend, miniz_oxide, instead of zlib-rs)
#   ECHO_SERVER_BIN / AUTOBAHN_CLIENT_BIN  use these binaries instead of building
#                        the examples (for testing this script)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CASES="${AUTOBAHN_CASES:-*}"
EXCLUDE="${AUTOBAHN_EXCLUDE:-}"
ROLES="${AUTOBAHN_ROLES:-server client}"
export AUTOBAHN_STRICT="${AUTOBAHN_STRICT:-1}"
export AUTOBAHN_TIMEOUT="${AUTOBAHN_TIMEOUT:-3600}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
REPORTS="${AUTOBAHN_REPORTS:-$TARGET_DIR/autobahn}"

say() { echo "[autobahn] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# --- locate the suite ---------------------------------------------------------
find_suite() {
  local cands=()
  [[ -n "${AUTOBAHN_SUITE_DIR:-}" ]] && cands+=("$AUTOBAHN_SUITE_DIR")
  cands+=("$ROOT/../shared/autobahn")
  # in a git worktree, ../shared is relative to the main checkout
  local common
  if common="$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)"; then
    cands+=("$(dirname "$common")/../shared/autobahn")
  fi
  for d in "${cands[@]}"; do
    if [[ -f "$d/run-server-test.sh" && -f "$d/summarize.py" ]]; then
      (cd "$d" && pwd); return 0
    fi
  done
  return 1
}
SUITE="$(find_suite)" || die "shared/autobahn not found (looked for ../shared/autobahn; set AUTOBAHN_SUITE_DIR)"
say "suite: $SUITE; cases [$CASES] exclude [$EXCLUDE]; roles [$ROLES]; strict=$AUTOBAHN_STRICT"

t0=$(date +%s)
bash "$SUITE/setup.sh" || die "autobahn setup.sh failed"
PY="${AUTOBAHN_HOME:-/tmp/autobahn}/venv/bin/python"
[[ -x "$PY" ]] || die "no venv python at $PY after setup.sh"
say "setup: $(( $(date +%s) - t0 ))s"

# --- build the examples ---------------------------------------------------------
if [[ -z "${ECHO_SERVER_BIN:-}" || -z "${AUTOBAHN_CLIENT_BIN:-}" ]]; then
  t0=$(date +%s)
  # shellcheck disable=SC2086
  cargo build --release ${AUTOBAHN_FEATURES:---all-features} --example echo_server --example autobahn_client \
    || die "building examples/echo_server and examples/autobahn_client failed"
  say "build: $(( $(date +%s) - t0 ))s"
fi
SERVER_BIN="${ECHO_SERVER_BIN:-$TARGET_DIR/release/examples/echo_server}"
CLIENT_BIN="${AUTOBAHN_CLIENT_BIN:-$TARGET_DIR/release/examples/autobahn_client}"
[[ -x "$SERVER_BIN" ]] || die "missing $SERVER_BIN"
[[ -x "$CLIENT_BIN" ]] || die "missing $CLIENT_BIN"
mkdir -p "$REPORTS"

SERVER_PID=""
RUNNER_PID=""
stop_runner() {
  if [[ -n "$RUNNER_PID" ]]; then kill "$RUNNER_PID" 2>/dev/null || true; wait "$RUNNER_PID" 2>/dev/null || true; RUNNER_PID=""; fi
}
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  stop_runner
}
trap cleanup EXIT

failures=()
gate() { # role report_dir agent
  local role="$1" dir="$2" agent="$3" ok=1
  "$PY" "$SUITE/summarize.py" "$dir" "$agent" >/dev/null || { ok=0; say "$role: summarize.py verdict FAILED"; }
  "$PY" "$ROOT/.ci/autobahn_check.py" --sections --expect-log "$dir" "$agent" || ok=0
  [[ $ok == 1 ]] || failures+=("$role")
}

# --- server role ------------------------------------------------------------------
run_server() {
  local dir="$REPORTS/server" agent="wsproto-server" log
  mkdir -p "$dir.d"; log="$dir.d/echo_server.log"
  # shellcheck disable=SC2086
  "$SERVER_BIN" --listen 127.0.0.1:0 ${AUTOBAHN_SERVER_ARGS:-} >"$log" 2>&1 </dev/null &
  SERVER_PID=$!
  local addr=""
  for _ in $(seq 1 300); do
    addr="$(sed -n 's/^LISTENING \([^ ]*\).*/\1/p' "$log" | head -1)"
    [[ -n "$addr" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; SERVER_PID=""; die "echo_server exited before printing LISTENING"; }
    sleep 0.1
  done
  [[ -n "$addr" ]] || { cat "$log" >&2; die "echo_server printed no 'LISTENING ip:port' within 30s"; }
  say "server: echo_server pid $SERVER_PID listening on $addr"
  local t0 rc=0; t0=$(date +%s)
  AGENT="$agent" REPORT_DIR="$dir" bash "$SUITE/run-server-test.sh" "ws://$addr" "$CASES" "$EXCLUDE" || rc=$?
  say "server: wstest fuzzingclient took $(( $(date +%s) - t0 ))s (exit $rc)"
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    say "server: echo_server DIED during the run; its log:"; tail -30 "$log" >&2
    SERVER_PID=""; failures+=("server(crashed)")
  else
    kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  fi
  if [[ $rc != 0 ]]; then failures+=("server(wstest exit $rc)"); fi
  gate server "$dir" "$agent"
}

# --- client role ------------------------------------------------------------------
run_client() {
  local dir="$REPORTS/client" agent="wsproto-client" port
  port="${AUTOBAHN_CLIENT_PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}"
  mkdir -p "$dir.d"
  local runner_log="$dir.d/runner.log" t0 rc=0 client_rc=0
  t0=$(date +%s)
  # The runner waits for /updateReports and the finished report. We start the client ourselves
  # (not via `-- CMD`): handed over, the runner gives the report only 10 s after the client
  # exits, which a loaded machine can exceed for 12.*/13.* (report written, runner exit 1).
  PORT="$port" AGENT="$agent" REPORT_DIR="$dir" \
    bash "$SUITE/run-client-test.sh" "$CASES" "$EXCLUDE" </dev/null >"$runner_log" 2>&1 &
  RUNNER_PID=$!
  local up=0
  for _ in $(seq 1 600); do
    if grep -q '^autobahn fuzzingserver listening' "$runner_log"; then up=1; break; fi
    kill -0 "$RUNNER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ $up != 1 ]]; then
    cat "$runner_log" >&2; stop_runner
    say "client: wstest fuzzingserver did not come up"; failures+=("client(no fuzzingserver)"); return
  fi
  say "client: fuzzingserver on ws://127.0.0.1:$port, running autobahn_client"
  AUTOBAHN_URL="ws://127.0.0.1:$port" AUTOBAHN_AGENT="$agent" \
    timeout -k 10 "$AUTOBAHN_TIMEOUT" "$CLIENT_BIN" </dev/null || client_rc=$?
  if [[ $client_rc != 0 ]]; then
    say "client: autobahn_client exited with $client_rc"; stop_runner
  else
    wait "$RUNNER_PID" || rc=$?
    RUNNER_PID=""
  fi
  cat "$runner_log"
  say "client: wstest fuzzingserver + autobahn_client took $(( $(date +%s) - t0 ))s (client exit $client_rc, runner exit $rc)"
  if [[ $client_rc != 0 ]]; then failures+=("client(autobahn_client exit $client_rc)"); fi
  if [[ $rc != 0 ]]; then failures+=("client(runner exit $rc)"); fi
  gate client "$dir" "$agent"
}

for role in $ROLES; do
  case "$role" in
    server) run_server ;;
    client) run_client ;;
    *) die "unknown role '$role' in AUTOBAHN_ROLES" ;;
  esac
done

if [[ ${#failures[@]} -gt 0 ]]; then
  say "FAILED: ${failures[*]} (reports under $REPORTS)"
  exit 1
fi
say "all roles passed (reports under $REPORTS)"
