#!/usr/bin/env bash
# The newest working piece end to end: a BOSH job under bpm, in a real container, offline.
# Lays out a throwaway BOSH root, then: bpm run (foreground, exit code passed through),
# bpm start / list / pid / logs / stop of a long-running process. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bpm=$PWD/build/bin/bpm
root=$(mktemp -d /tmp/tarmac-demo-XXXXXX)
export BPM_BOSH_ROOT=$root
cleanup() {
  "$bpm" stop demo -p server >/dev/null 2>&1 || true
  # bpm keeps one cgroup parent per BOSH root; this root is gone with the demo.
  rmdir /sys/fs/cgroup/*/"bpm-$(basename "$root")" /sys/fs/cgroup/"bpm-$(basename "$root")" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT

mkdir -p "$root/jobs/demo/config" "$root/jobs/demo/bin" "$root/packages" "$root/data/packages" "$root/store"
cat > "$root/jobs/demo/bin/hello" <<'SH'
#!/bin/sh
echo "hello from $(hostname) as $(id -un), pid $$"
echo "I can see $(ls /proc | grep -cE '^[0-9]+$') processes and write only my own dirs:"
touch /var/vcap/data/demo/ok && echo "  data dir: writable"
touch /var/vcap/jobs/demo/nope 2>/dev/null || echo "  job dir: read-only"
exit 3
SH
cat > "$root/jobs/demo/bin/server" <<'SH'
#!/bin/sh
trap 'echo "server: got TERM, bye"; exit 0' TERM
echo "server: up"
while :; do sleep 1; done
SH
chmod +x "$root/jobs/demo/bin/"*
cat > "$root/jobs/demo/config/bpm.yml" <<'YML'
processes:
- name: demo
  executable: /var/vcap/jobs/demo/bin/hello
  ephemeral_disk: true
  limits:
    memory: 64M
    processes: 32
    open_files: 256
- name: server
  executable: /var/vcap/jobs/demo/bin/server
YML

echo "== bpm run demo (the job exits 3; bpm passes it through)"
set +e
"$bpm" run demo
echo "exit code: $?"
set -e
echo "== bpm start demo -p server"
"$bpm" start demo -p server
"$bpm" list
echo "pid: $("$bpm" pid demo -p server)"
sleep 1
echo "== bpm stop demo -p server"
"$bpm" stop demo -p server
"$bpm" logs demo -p server -q
"$bpm" list
