#!/bin/sh
# Builds dlc and runs the whole test suite (unit, lit, errors, e2e) once.
# SANITIZE=address,undefined runs it on a sanitizer build (see build.sh);
# SANITIZE=thread runs the tests that use threads (their names say so) on a
# ThreadSanitizer build.
set -eu
cd "$(dirname "$0")/.."
case ${SANITIZE:-} in
'') BUILD_DIR=${BUILD_DIR:-build} ;;
address,undefined) BUILD_DIR=${BUILD_DIR:-build-sanitize} ;;
*) BUILD_DIR=${BUILD_DIR:-build-$(printf %s "$SANITIZE" | tr , -)} ;;
esac
export BUILD_DIR
tools/build.sh
cd "$BUILD_DIR"
case ${SANITIZE:-} in
*thread*)
  # Everything else is single-threaded: TSan would only make it slower.
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1}"
  ctest --output-on-failure -j"$(nproc)" -R thread ;;
*) ctest --output-on-failure -j"$(nproc)" ;;
esac
