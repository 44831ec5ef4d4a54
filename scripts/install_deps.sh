#!/usr/bin/env bash
# Installs every build and test dependency of slimlm from Debian 12 packages.
# Idempotent and quick on repeat: when every package is already installed
# (checked with dpkg -s) it does nothing. Uses sudo only when not root.
set -euo pipefail

packages=(
  cmake ninja-build g++        # the build (GCC 12)
  clang libclang-rt-14-dev     # the fuzz build: clang with the libFuzzer/ASan/UBSan runtimes
  libcli11-dev nlohmann-json3-dev libfmt-dev libhwy-dev
  libicu-dev                   # the tokenizer: Unicode categories, case mapping, NFD
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy        # reference scripts and data generators
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
