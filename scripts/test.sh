#!/usr/bin/env bash
# Runs every test suite through ctest (GoogleTest underneath). Needs root: the suites start
# real containers, mount filesystems and create cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build
ctest --test-dir build --output-on-failure --no-tests=error -j"$(nproc)" "$@"
