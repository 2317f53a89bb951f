#!/bin/bash
# Compares builds' worker_bench on a fresh filesystem each run, so that no run inherits the
# inodes an earlier one freed (on ext4 without a journal every new inode scans past those
# freed in the last minute, and the figure drifts with the benchmark's own history).
#
#   bench/fresh_fs_ab.sh PAIRS ITERATIONS BIN_DIR... [-- MKFS_OPTIONS]
#   bench/fresh_fs_ab.sh 3 300 /tmp/before/bin build/bin -- -O ^has_journal
#
# Each BIN_DIR holds a build's bench_worker_bench (and the tarmac binaries beside it). Runs
# alternate between them; each prints the worker's line, the CPU time of the whole machine
# during the run and the inodes ext4 made. Needs root and perf (Debian: linux-perf).
set -euo pipefail
pairs=$1 iterations=$2
shift 2
bins=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do bins+=("$1"); shift; done
[ $# -gt 0 ] && shift
mkfs_options=("$@")
image=$(mktemp /var/tmp/fresh-fs-ab.XXXXXX.img)
mnt=$(mktemp -d /tmp/fresh-fs-ab.XXXXXX)
stat_file=$(mktemp)
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  rm -f "$image" "$stat_file"
  rmdir "$mnt"
}
trap cleanup EXIT
for _ in $(seq "$pairs"); do
  for bin in "${bins[@]}"; do
    truncate -s 0 "$image" && truncate -s 4G "$image"
    mkfs.ext4 -q -F "${mkfs_options[@]}" "$image"
    mount -o loop "$image" "$mnt"
    line=$(BENCH_ONLY=containers perf stat -a -x, -o "$stat_file" \
      -e task-clock,ext4:ext4_allocate_inode "$bin/bench_worker_bench" "$iterations" "$mnt" 2>&1 |
      grep '^worker:' || true)
    cpu=$(grep task-clock "$stat_file" | cut -d, -f1)
    inodes=$(grep ext4_allocate_inode "$stat_file" | cut -d, -f1)
    echo "$bin: ${line#worker:} cpu ${cpu} ms, inodes ${inodes}"
    umount "$mnt"
  done
done
