#!/bin/sh
# Configures (once) and builds dlc into ./build (override with BUILD_DIR).
# SANITIZE=address,undefined builds a Debug tree with those sanitizers into
# ./build-sanitize instead, for `SANITIZE=address,undefined tools/test.sh`;
# SANITIZE=thread into ./build-thread (one tree per set of sanitizers).
set -eu
cd "$(dirname "$0")/.."
SANITIZE=${SANITIZE:-}
if [ -n "$SANITIZE" ]; then
  case $SANITIZE in
  address,undefined) BUILD_DIR=${BUILD_DIR:-build-sanitize} ;;
  *) BUILD_DIR=${BUILD_DIR:-build-$(printf %s "$SANITIZE" | tr , -)} ;;
  esac
  flags="-fsanitize=$SANITIZE -fno-sanitize-recover=all -fno-omit-frame-pointer"
  set -- -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags"
else
  BUILD_DIR=${BUILD_DIR:-build}
  set -- -DCMAKE_BUILD_TYPE=Release
fi
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja "$@"
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
