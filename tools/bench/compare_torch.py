#!/usr/bin/python3
"""dlc against PyTorch on the MLP, as ratios: both benchmarks run as separate
processes in interleaved rounds (dlc, torch, dlc, torch, ...) so that both see
the same machine load, and each figure is the median over rounds.

Usage: tools/bench/compare_torch.py [--dlc build/dlc] [--rounds 3] [--threads 1]
Needs Debian's python3-torch (and libopenblas0-pthread: without it torch uses
the reference BLAS and is ~8x slower, which would flatter dlc). Run it with
/usr/bin/python3.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}


def dlc_figures(dlc):  # dlc runs on one thread today
    out = subprocess.run([dlc, "bench", os.path.join(ROOT, "examples", "mnist_mlp.dl")],
                         check=True, capture_output=True, text=True).stdout
    figures = {}
    for line in out.splitlines():
        m = re.match(r"(\w+)\s+(\d+)\s+([\d.]+) (ns|us|ms)", line)
        if m:
            figures[(m[1], int(m[2]))] = float(m[3]) * UNITS[m[4]]
    return figures


def torch_figures(threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")  # no pool fighting torch's
    out = subprocess.run([sys.executable, os.path.join(HERE, "torch_mlp.py"),
                          "--threads", str(threads)],
                         check=True, capture_output=True, text=True, env=env).stdout
    return {(e, int(r)): float(s) for e, r, s in (l.split() for l in out.splitlines())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dlc", default=os.path.join(ROOT, "build", "dlc"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    runs = {"dlc": [], "torch": []}
    for _ in range(a.rounds):
        runs["dlc"].append(dlc_figures(a.dlc))
        runs["torch"].append(torch_figures(a.threads))
    keys = [k for k in runs["dlc"][0] if k in runs["torch"][0]]
    print(f"MLP, {a.threads} thread(s), medians of {a.rounds} interleaved process rounds")
    print(f"{'entry':<8} {'rows':>5} {'dlc':>10} {'torch':>10} {'torch/dlc':>10}")
    for k in keys:
        d = statistics.median(r[k] for r in runs["dlc"])
        t = statistics.median(r[k] for r in runs["torch"])
        print(f"{k[0]:<8} {k[1]:>5} {d * 1e6:>8.1f}us {t * 1e6:>8.1f}us {t / d:>9.2f}x")


if __name__ == "__main__":
    main()
