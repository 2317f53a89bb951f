#!/usr/bin/env bash
# Installs every build and test dependency from Debian packages (Debian 12, as root)
# and builds tarmac into build/. Safe to run again: it installs only what is missing
# and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  libgtest-dev libgmock-dev
  libboost-dev libboost-system-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libpq-dev postgresql
  libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libseccomp-dev libcap-dev libarchive-dev libzstd-dev libssl-dev libcurl4-openssl-dev
  busybox-static runc crun strace valgrind iproute2 procps util-linux curl
  tar gzip zstd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpm runs BOSH jobs as vcap, as on a stemcell.
id vcap >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin vcap

build_type=${TARMAC_BUILD_TYPE:-RelWithDebInfo}
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache
fi
cmake --build build
