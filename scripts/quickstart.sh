#!/usr/bin/env bash
# The README's first command (after setup): start `tarmac quickstart` (PostgreSQL, a web node
# and a worker, offline) unless it already runs, log in with fly, run examples/hello/task.yml
# in a real container and show its output. The quickstart keeps running for you to use.
# Work dir and port: TARMAC_WORK_DIR (/var/lib/tarmac), TARMAC_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."
work=${TARMAC_WORK_DIR:-/var/lib/tarmac}
port=${TARMAC_PORT:-8080}
url="http://127.0.0.1:$port"
fly=$PWD/build/bin/fly
mkdir -p "$work"

if ! curl -sf "$url/api/v1/info" >/dev/null 2>&1; then
  setsid build/bin/tarmac quickstart --work-dir "$work" --bind-port "$port" \
    >"$work/quickstart.out" 2>"$work/quickstart.log" </dev/null &
  echo $! >"$work/quickstart.pid"
  for _ in $(seq 300); do
    grep -q '^listening on' "$work/quickstart.out" && break
    if ! kill -0 "$(cat "$work/quickstart.pid")" 2>/dev/null; then
      cat "$work/quickstart.log" >&2
      exit 1
    fi
    sleep 0.1
  done
fi
grep -v '^listening on' "$work/quickstart.out" || true
echo
"$fly" -t local login -c "$url" -u admin -p "$(cat "$work/admin-password")"
echo
# The example names the default work dir's image; follow TARMAC_WORK_DIR if it moved.
task=$(mktemp)
trap 'rm -f "$task"' EXIT
sed "s#raw:///var/lib/tarmac/images#raw://$work/images#" examples/hello/task.yml >"$task"
echo "\$ fly -t local execute -c examples/hello/task.yml"
"$fly" -t local execute -c "$task"
echo
echo "tarmac quickstart keeps running (log: $work/quickstart.log); stop it with:"
echo "  kill \$(cat $work/quickstart.pid)"
