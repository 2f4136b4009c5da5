#!/bin/sh
# Builds dlc and runs the whole test suite (unit, lit, errors, e2e) once.
# SANITIZE=address,undefined runs it on a sanitizer build (see build.sh).
set -eu
cd "$(dirname "$0")/.."
if [ -n "${SANITIZE:-}" ]; then
  BUILD_DIR=${BUILD_DIR:-build-sanitize}
else
  BUILD_DIR=${BUILD_DIR:-build}
fi
export BUILD_DIR
tools/build.sh
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)"
