#!/usr/bin/env python3
"""How compile time grows with model depth: MLPs of N dense layers (64 units,
batch 32, Adam) compiled to a shared library, each the median of a few runs,
with each pass's time (--time-passes), the number of LLVM functions emitted
(kernels are cached by signature, so a repeated layer is emitted once) and
the peak memory.

Usage: tools/bench/compile_time.py [--dlc build/dlc] [--depths 100,500,2000] [--runs 3]
The "x prev" column is each depth's time over the previous depth's: linear
growth shows as the depth ratio (5x from 100 to 500, 4x from 500 to 2000).
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def deep_mlp(layers):
    lines = ["model deep(batch = 32) {", "  input x : f32[batch, 64]",
             "  input y : i32[batch]", "  h = x"]
    lines += ["  h = dense(h, 64, relu)"] * layers
    lines += ["  logits = dense(h, 10)", "  output probs = softmax(logits)",
              "  loss = cross_entropy(logits, y)", "  train step(loss, adam(lr = 0.001))", "}"]
    return "\n".join(lines) + "\n"


def compile_once(dlc, src, out):
    """Wall seconds, peak KB and per-pass ms of one `dlc src -o out`."""
    r = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", dlc, src, "-o", out,
                        "--time-passes"], capture_output=True, text=True, check=True)
    wall, peak = re.search(r"TIME ([\d.]+) (\d+)", r.stderr).groups()
    passes = {m[0]: float(m[1]) for m in re.findall(r";\s+(\w+)\s+([\d.]+) ms", r.stderr)}
    return float(wall), int(peak), passes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dlc", default=os.path.join(ROOT, "build", "dlc"))
    ap.add_argument("--depths", default="100,500,2000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows, prev = [], None
        for depth in [int(d) for d in args.depths.split(",")]:
            src = os.path.join(tmp, f"deep{depth}.dl")
            with open(src, "w") as f:
                f.write(deep_mlp(depth))
            out = os.path.join(tmp, f"deep{depth}.so")
            runs = [compile_once(args.dlc, src, out) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            passes = {p: statistics.median(r[2][p] for r in runs) for p in runs[0][2]}
            llvm = subprocess.run([args.dlc, src, "--emit=llvm"], capture_output=True,
                                  text=True, check=True).stdout
            functions = len(re.findall(r"^define ", llvm, re.M))
            rows.append((depth, wall, wall / prev if prev else None, peak, functions, passes))
            prev = wall
    names = list(rows[0][5])
    print(f"{'layers':>6} {'wall s':>7} {'x prev':>6} {'peak MB':>7} {'LLVM fns':>8}  " +
          " ".join(f"{n + ' ms':>13}" for n in names))
    for depth, wall, ratio, peak, fns, passes in rows:
        print(f"{depth:>6} {wall:>7.2f} {('%.2f' % ratio) if ratio else '':>6} "
              f"{peak / 1024:>7.0f} {fns:>8}  " +
              " ".join(f"{passes[n]:>13.1f}" for n in names))


if __name__ == "__main__":
    main()
