#!/bin/sh
# usage: pipeline-idempotent.sh DLC EXAMPLES_DIR TMP_PREFIX
# For every example: compiling its --emit=opt dump gives the same dump, and so
# does compiling the dump taken right after autodiff.
set -eu
dlc=$1 examples=$2 tmp=$3
for model in "$examples"/*.dl; do
  name=$(basename "$model" .dl)
  "$dlc" "$model" --emit=opt > "$tmp.$name.opt.ir"
  "$dlc" "$tmp.$name.opt.ir" --emit=opt > "$tmp.$name.opt2.ir"
  diff "$tmp.$name.opt.ir" "$tmp.$name.opt2.ir"
  "$dlc" "$model" --stop-after=autodiff --emit=ir > "$tmp.$name.grad.ir"
  "$dlc" "$tmp.$name.grad.ir" --emit=opt > "$tmp.$name.grad-opt.ir"
  diff "$tmp.$name.opt.ir" "$tmp.$name.grad-opt.ir"
  echo "$name: idempotent"
done
