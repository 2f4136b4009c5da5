#!/bin/sh
# Installs what building and testing dlc needs on Debian 12, from Debian's own
# packages. Safe to run again: apt-get skips what is already installed.
# pkg-config and python3-numpy are for the tests of examples/cmake_app (dlc.pc)
# and examples/python; chromium, and playwright-core from npm (which
# downloads no browser), for the test that clicks through `dlc explain`'s page.
# --fuzz adds clang-19 and libFuzzer's runtime, for tools/fuzz.sh.
set -eu
FUZZ=""
case "${1:-}" in
"") ;;
--fuzz) FUZZ="clang-19 libclang-rt-19-dev" ;;
*) echo "usage: tools/install-deps.sh [--fuzz]" >&2; exit 2 ;;
esac
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  cmake ninja-build g++ gcc make lld python3 \
  llvm-19-dev llvm-19-tools libfmt-dev doctest-dev zlib1g-dev libpng-dev \
  dataset-fashion-mnist graphviz pkg-config python3-numpy chromium $FUZZ >/dev/null
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# The exact version in tests/page/package-lock.json, into tests/page/node_modules.
(cd "$(dirname "$0")/../tests/page" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
echo "install-deps: done"
