#!/bin/sh
# Runs one libFuzzer target for SECONDS seconds on its seed corpus, building
# the fuzz tree first if needed, and prints libFuzzer's statistics.
#
#   tools/fuzz.sh TARGET SECONDS [libFuzzer options...]
#
# TARGET is one of (tests/fuzz/TARGET_fuzz.cpp says what each checks):
#   frontend    DSL text -> frontend -> verifier -> pass pipeline
#   ir          IR text -> parser -> verifier -> pass pipeline
#   checkpoint  bytes -> dlc_load and dlc_read_host_state, a small model
#   model       bytes -> random valid model -> pipeline, fused and unfused,
#               and the interpreter
#
# The tree is build-fuzz/ (FUZZ_BUILD_DIR overrides), configured with
# clang-19 and -DDLC_FUZZ=ON: ASan, UBSan and libFuzzer's instrumentation.
# Seeds come from examples/, tests/errors/ and tests/lit/ (.dl and .ir),
# 40 random models (tests/fuzz/ModelGen.h) and the IR of all these models at
# three stages, or saved checkpoints (formats 2 and 1); they are
# copied into build-fuzz/fuzz/TARGET/seeds on every run, and what the fuzzer
# finds grows build-fuzz/fuzz/TARGET/corpus, kept from run to run. An input
# that breaks something is saved as build-fuzz/fuzz/TARGET/crash-* (or
# leak-*, timeout-*, oom-*); run the target on that file alone to see it
# again: build-fuzz/fuzz_TARGET FILE. The fuzzer runs in that folder, so
# relative paths among the libFuzzer options are taken from there, and the
# logs of -jobs=N (fuzz-K.log) land there too. -fork=2 keeps both cores busy.
set -eu
cd "$(dirname "$0")/.."
usage() {
  echo "usage: tools/fuzz.sh frontend|ir|checkpoint|model SECONDS [libFuzzer options...]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
target=$1
seconds=$2
shift 2
case $target in frontend | ir | checkpoint | model) ;; *) usage ;; esac
case $seconds in '' | *[!0-9]*) usage ;; esac

missing=""
for tool in clang-19 clang++-19; do
  command -v $tool >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -z "$missing" ] &&
  [ -z "$(find "$(clang-19 -print-resource-dir)/lib" -name 'libclang_rt.fuzzer*.a' 2>/dev/null)" ]; then
  missing=" libFuzzer's runtime"
fi
if [ -n "$missing" ]; then
  echo "fuzz.sh: missing$missing; install Debian's clang-19 and libclang-rt-19-dev" >&2
  echo "  (tools/install-deps.sh --fuzz, or apt-get install clang-19 libclang-rt-19-dev)" >&2
  exit 1
fi

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLC_FUZZ=ON
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" --target "fuzz_$target" fuzz_seeds

work="$BUILD_DIR/fuzz/$target"
seeds="$work/seeds"
rm -rf "$seeds"
mkdir -p "$seeds" "$work/corpus"
dict=""
case $target in
frontend)
  find examples tests/errors tests/lit -name '*.dl' -exec cp {} "$seeds" \;
  "$BUILD_DIR/fuzz_seeds" models "$seeds" 40
  dict="-dict=tests/fuzz/dl.dict"
  ;;
ir)
  find tests/lit -name '*.ir' -exec cp {} "$seeds" \;
  mkdir -p "$work/models"
  "$BUILD_DIR/fuzz_seeds" models "$work/models" 40
  "$BUILD_DIR/fuzz_seeds" ir "$seeds" examples/*.dl $(find tests/lit -name '*.dl') "$work"/models/*.dl
  dict="-dict=tests/fuzz/ir.dict"
  ;;
checkpoint)
  "$BUILD_DIR/fuzz_seeds" checkpoint "$seeds"
  ;;
model) ;; # every input is a model; the empty one is the smallest
esac

# Leaks are findings; UBSan stops at its first report (-fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
echo "fuzz.sh: $BUILD_DIR/fuzz_$target for $seconds s, corpus $work/corpus, seeds $seeds"
# The fuzzer runs in the target's folder: -jobs=N writes its logs
# (fuzz-K.log) to the working directory, which must not be the checkout.
fuzzer="$(cd "$BUILD_DIR" && pwd)/fuzz_$target"
[ -z "$dict" ] || dict="-dict=$(pwd)/${dict#-dict=}"
cd "$work"
# -timeout: a single input running for 30 s is a finding (a hang).
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 \
  -rss_limit_mb=2048 -artifact_prefix=./ $dict "$@" corpus seeds
