#!/bin/sh
# Installs what building and testing dlc needs on Debian 12, from Debian's own
# packages. Safe to run again: apt-get skips what is already installed.
# pkg-config and python3-numpy are for the tests of examples/cmake_app (dlc.pc)
# and examples/python.
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
  dataset-fashion-mnist graphviz pkg-config python3-numpy $FUZZ >/dev/null
echo "install-deps: done"
