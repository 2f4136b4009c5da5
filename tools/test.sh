#!/bin/sh
# Builds dlc and runs the whole test suite (unit, lit, errors, e2e) once.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
tools/build.sh
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)"
