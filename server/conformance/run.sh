#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzingclient (RFC 6455 conformance, 301 cases: every
# group but the permessage-deflate ones, 12 and 13) against the conformance endpoint
# (server/examples/echo.rs: the game's accept path and WebSocket configuration), then
# compares the outcome with expected-results.json.
#
#   bash server/conformance/run.sh            # run and compare
#   bash server/conformance/run.sh --update   # run and record the outcome as expected
#   PROFILE=layer bash server/conformance/run.sh
#
# Profiles: `game` (the default) is the endpoint exactly as the game serves, 1 KiB
# messages; `layer` raises the message and frame limit to 16 MiB, to show the WebSocket
# layer itself (what tungstenite records) apart from our limit. Each has its own
# expected-results file: expected-results.json, expected-results-layer.json.
#
# Needs Python 2.7 (the suite's runtime): pyenv's 2.7.18 by default, or PYTHON2=path.
# The suite is installed once under target/autobahn. Reports: target/autobahn/reports.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/target/autobahn"
port="${AUTOBAHN_PORT:-9001}"
profile="${PROFILE:-game}"
case "$profile" in
  game) limit_args=(); expected="$here/expected-results.json" ;;
  layer) limit_args=(--max-message-bytes 16777216); expected="$here/expected-results-layer.json" ;;
  *) echo "unknown PROFILE=$profile (game or layer)" >&2; exit 2 ;;
esac
mkdir -p "$work"

python2="${PYTHON2:-$(PYENV_VERSION=2.7.18 pyenv which python 2>/dev/null || true)}"
if [[ -z "$python2" ]] || ! "$python2" --version 2>&1 | grep -q "Python 2.7"; then
  echo "Python 2.7 not found: install it (pyenv install 2.7.18) or set PYTHON2" >&2
  exit 2
fi
site="$work/venv/lib/python2.7/site-packages"
if [[ ! -d "$site/autobahntestsuite" ]]; then
  echo "installing autobahntestsuite into $work/venv" >&2
  "$python2" -m pip install --quiet --ignore-installed --prefix "$work/venv" \
    autobahntestsuite==25.10.1
fi

cargo build --release --quiet -p server --example echo
echo_log="$work/echo.log"
# The game's defaults, but no per-address limit: every case connects from 127.0.0.1.
"$root/target/release/examples/echo" --addr "127.0.0.1:$port" --ip-connect-rate 0 \
  --ip-max-connections 0 "${limit_args[@]}" >"$echo_log" 2>&1 &
echo_pid=$!
trap 'kill -INT "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening" "$echo_log" && break
  kill -0 "$echo_pid" 2>/dev/null || { cat "$echo_log" >&2; exit 1; }
  sleep 0.1
done

sed "s/127.0.0.1:9001/127.0.0.1:$port/" "$here/fuzzingclient.json" >"$work/fuzzingclient.json"
rm -rf "$work/reports"
(
  cd "$work"
  "$python2" -c "
import site, sys
site.addsitedir('$site')
sys.argv = ['wstest', '-m', 'fuzzingclient', '-s', 'fuzzingclient.json']
from autobahntestsuite.wstest import run
run()
" >"$work/wstest.log" 2>&1
)

kill -INT "$echo_pid" 2>/dev/null || true
wait "$echo_pid" 2>/dev/null || true
trap - EXIT
echo "echo endpoint counters:"
grep -E "^tickwire_" "$echo_log" | sed 's/^/  /' || true

echo "profile: $profile"
python3 "$here/compare.py" "$work/reports/servers/index.json" "$expected" "$@"
