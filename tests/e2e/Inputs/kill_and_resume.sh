#!/bin/sh
# usage: kill_and_resume.sh DLC MODEL DATA DIR
# Trains MODEL for 2 epochs saving every 50 steps, killed with SIGKILL three
# times at different moments (some of them, likely, inside a save), each time
# rerun with --resume; prints the checkpoint it ends with.
# Each kill is timed from a checkpoint of that run, a few saves later at
# most: on a fast machine 2 epochs take about a second, so delays counted in
# tenths of a second would let a run finish and leave nothing to resume.
set -u
dlc=$1 model=$2 data=$3 dir=$4
ckpt=$dir/resumed.ckpt
# exec: the background job must be dlc itself, not a subshell around it,
# or the kill would miss it.
run() {
  exec "$dlc" train "$model" --data "$data" --epochs 2 --save "$ckpt" --every 50 --no-progress "$@"
}
kills=0 n=0
for delay in 0.03 0.1 0.01; do
  n=$((n + 1))
  if [ -f "$ckpt" ]; then set -- --resume "$ckpt"; else set --; fi
  (run "$@") > "$dir/run.$n.log" 2>&1 &
  pid=$!
  # Wait for the first checkpoint of this run (each save renames a new file
  # into place: a new inode), then a little more.
  before=$(stat -c %i "$ckpt" 2>/dev/null || echo none)
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 1000 ]; do
    now=$(stat -c %i "$ckpt" 2>/dev/null || echo none)
    [ "$now" != "$before" ] && break
    sleep 0.01
    i=$((i + 1))
  done
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid"
  # 128 + 9: the kill, not the end of training, stopped it.
  if [ $? -eq 137 ]; then kills=$((kills + 1)); fi
done
echo "killed $kills times"
(run --resume "$ckpt") > "$dir/final.log" 2>&1 || { cat "$dir/final.log"; exit 1; }
grep -E "^(resuming|saved|test accuracy)" "$dir/final.log"
ls "$dir" | grep -c '\.tmp\.' | sed 's/^/leftover temp files: /'
