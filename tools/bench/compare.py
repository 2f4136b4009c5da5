#!/usr/bin/python3
"""dlc against its peers on this machine: the same models hand-written in C
over OpenBLAS, and PyTorch (eager, and TorchScript for predict), on the MLP,
the CNNs and a 1024^3 matmul, at 1 and 2 threads. Prints each figure's median
over rounds and dlc's ratios to the peers, with the thread count beside them.

Usage: /usr/bin/python3 tools/bench/compare.py [--rounds 5] [--quick]
       [--only mlp,cnn,matmul] [--threads 1,2] [--dlc build/dlc]
       [--build-dir build/bench] [--data-dir DIR] [--quiet-wait 60] [--verbose]

What runs (tools/bench/README.md says more):
  dlc       `dlc bench FILE --threads N`: examples/mnist_mlp.dl (also at
            -Dbatch=32), tools/bench/cnn.dl, examples/mnist_cnn.dl,
            tools/bench/matmul.dl;
  C         handwritten_mlp.c, handwritten_cnn.c and sgemm.c, built here into
            --build-dir with cc and OpenBLAS, OPENBLAS_NUM_THREADS=N;
  PyTorch   torch_peer.py: torch.set_num_threads(N) with OpenBLAS on one
            thread, glibc malloc told to keep its memory.
Each program is a separate process that times every figure as `dlc bench`
does (the median of several timed rounds, after a warm-up). Processes of the
same program differ by 20-30 % on a shared VM, much more than repetitions in
one process do, so the programs run in interleaved rounds: round k runs every
program once, in an order rotated by k, and each figure is the median over
rounds. A ratio near 1 is a tie unless it holds in every round (--verbose
prints them). The peers train on real Fashion-MNIST batches (PyTorch's relu
and max-pool branches are faster on them than on noise); `dlc bench` feeds
dlc uniform noise. When OpenBLAS does not recognise the CPU and would fall
back to its oldest kernels, the peers are given the ones the CPU supports.
The C peers compute with denormals flushed to zero, as dlc does. Each
process waits for a moment when no one else's un-niced work runs.

--quick: one round, shorter timings, MLP at batch 128, the peers' CNN and the
matmul only: a smoke test, not a measurement.
"""
import argparse
import array
import datetime
import gzip
import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
DATA_DIR = "/usr/share/datasets/fashion-mnist"
DATA_ROWS = 16 * 128  # the 16 batches a peer's train step rotates over
MATMUL_N = 1024
LABELS = {"dlc": "dlc", "C": "C+OpenBLAS", "torch": "PyTorch"}
JOB_TIMEOUT = 900  # seconds; a process that takes longer is a failure, not a hang


@dataclass
class Model:
    group: str  # the --only name
    dl: str  # dlc's model, relative to the repository
    defines: list  # -D options for dlc
    batch: int
    c_program: str  # the C peer (a .c in tools/bench), or "" when there is none
    torch_model: str  # torch_peer.py's --model, or "" when PyTorch is not run


# Every process the comparison runs is one program on one of these.
MODELS = {
    "mlp": Model("mlp", "examples/mnist_mlp.dl", [], 128, "handwritten_mlp", "mlp"),
    "mlp32": Model("mlp", "examples/mnist_mlp.dl", ["-Dbatch=32"], 32, "handwritten_mlp", "mlp"),
    "cnn": Model("cnn", "tools/bench/cnn.dl", [], 128, "handwritten_cnn", "cnn"),
    "mnist_cnn": Model("cnn", "examples/mnist_cnn.dl", [], 128, "", "mnist_cnn"),
    "matmul": Model("matmul", "tools/bench/matmul.dl", [], MATMUL_N, "sgemm", ""),
}
QUICK_MODELS = ("mlp", "cnn", "matmul")

# The table's rows: label, model, entry, rows.
ROWS = [
    ("MLP train step, batch 128", "mlp", "step", 128),
    ("MLP train step, batch 32", "mlp32", "step", 32),
    ("MLP predict, batch 128", "mlp", "predict", 128),
    ("MLP predict, 1 row", "mlp", "predict", 1),
    ("CNN train step, batch 128", "cnn", "step", 128),
    ("CNN predict, batch 128", "cnn", "predict", 128),
    ("CNN predict, 1 row", "cnn", "predict", 1),
    ("mnist_cnn.dl train step, 128", "mnist_cnn", "step", 128),
    ("mnist_cnn.dl predict, 128", "mnist_cnn", "predict", 128),
]


# --- The machine and what is installed ---------------------------------------

def cpuinfo(field):
    """A field of /proc/cpuinfo for the first CPU, or ""."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() == field:
                    return value.strip()
    except OSError:
        pass
    return ""


def git_commit():
    r = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %cd", "--date=short"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else "unknown commit"


def openblas_flags():
    """cc flags for cblas.h and libopenblas: pkg-config's when it knows the
    library (Debian's headers are in a directory per threading variant)."""
    r = subprocess.run(["pkg-config", "--cflags", "--libs", "openblas"],
                       capture_output=True, text=True) if shutil.which("pkg-config") else None
    if r is not None and r.returncode == 0:
        return r.stdout.split()
    return ["-lopenblas"]


def build_c_peers(build_dir, names):
    """Builds each C peer into build_dir when its source (or peer_common.h) is
    newer than the binary. Returns {name: binary path or None} and
    {name: why it is missing}."""
    binaries, missing = {}, {}
    if not shutil.which("cc"):
        return {n: None for n in names}, {n: "no C compiler (cc)" for n in names}
    os.makedirs(build_dir, exist_ok=True)
    flags = openblas_flags()
    header = os.path.join(HERE, "peer_common.h")
    for name in names:
        src, out = os.path.join(HERE, name + ".c"), os.path.join(build_dir, name)
        newest = max(os.path.getmtime(src), os.path.getmtime(header))
        if not os.path.exists(out) or os.path.getmtime(out) < newest:
            cmd = ["cc", "-O3", "-march=native", "-fno-math-errno", "-o", out, src, *flags, "-lm"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                errors = [l for l in r.stderr.splitlines() if "error" in l] or r.stderr.splitlines()
                missing[name] = "build failed: " + (errors[0] if errors else f"cc exit {r.returncode}")
                binaries[name] = None
                continue
            print(f"built {os.path.relpath(out, ROOT)}", file=sys.stderr)
        binaries[name] = out
    return binaries, missing


# OpenBLAS's kernel sets, best first, and the CPU flags each needs.
OPENBLAS_CORES = [("SkylakeX", {"avx512f", "avx512bw", "avx512dq", "avx512vl"}),
                  ("Haswell", {"avx2", "fma"}), ("SandyBridge", {"avx"})]
OPENBLAS_PROBE = ("import ctypes; lib = ctypes.CDLL('libopenblas.so.0'); "
                  "lib.openblas_get_config.restype = ctypes.c_char_p; "
                  "print(lib.openblas_get_config().decode())")


def openblas_kernels():
    """The environment the peers that call OpenBLAS (the C programs and
    PyTorch) run in, and what to report about it. OpenBLAS picks its kernels
    by CPU model, and falls back to Prescott's (SSE3) for a model it does not
    know, as 0.3.21 does for recent Xeons: sgemm 4-5x slower than with the
    AVX-512 kernels, which would make both peers look far slower than they
    are. Then they are given the best kernels the CPU's flags allow. An
    OPENBLAS_CORETYPE already set is left alone (set it to Prescott to
    measure the fallback)."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return {}, f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}, from the environment"
    r = subprocess.run([sys.executable, "-c", OPENBLAS_PROBE], capture_output=True, text=True,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if r.returncode != 0:
        return {}, "no libopenblas.so.0"
    config = r.stdout.strip()
    chosen = config.split(" MAX_THREADS")[0].split()[-1]
    best = next((name for name, needs in OPENBLAS_CORES if needs <= set(cpuinfo("flags").split())), None)
    if chosen != "Prescott" or not best:
        return {}, config
    return ({"OPENBLAS_CORETYPE": best},
            f"{config.replace(' Prescott', '')} does not know this CPU and would run its "
            f"Prescott kernels: the peers run with OPENBLAS_CORETYPE={best}")


def torch_version():
    """PyTorch's version in this interpreter, or None and why not."""
    r = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["import failed"])[-1]
        return None, f"no torch in {sys.executable} ({last}); run with /usr/bin/python3"
    return r.stdout.strip(), ""


def write_data(data_dir, path):
    """The first DATA_ROWS Fashion-MNIST training images (pixels / 255 as
    float32) then their labels (int32), native byte order, for the peers:
    written once. Returns the path, or None and why not."""
    images = os.path.join(data_dir, "train-images-idx3-ubyte.gz")
    labels = os.path.join(data_dir, "train-labels-idx1-ubyte.gz")
    if not os.path.exists(images) or not os.path.exists(labels):
        return None, f"no Fashion-MNIST in {data_dir}"
    sources = (images, labels, os.path.abspath(__file__))  # this script: the file's format
    if os.path.exists(path) and os.path.getmtime(path) >= max(map(os.path.getmtime, sources)):
        return path, ""
    try:
        with gzip.open(images) as f:
            raw_images = f.read(16 + DATA_ROWS * 784)
        with gzip.open(labels) as f:
            raw_labels = f.read(8 + DATA_ROWS)
    except OSError as e:
        return None, f"cannot read Fashion-MNIST: {e}"
    if (struct.unpack(">I", raw_images[:4])[0] != 0x803 or len(raw_images) != 16 + DATA_ROWS * 784
            or struct.unpack(">I", raw_labels[:4])[0] != 0x801 or len(raw_labels) != 8 + DATA_ROWS):
        return None, f"{data_dir}: not IDX files of at least {DATA_ROWS} images"
    pixels = array.array("f", (b / 255 for b in raw_images[16:]))
    ids = array.array("i", (b for b in raw_labels[8:]))  # bytes would be read as int32s
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        pixels.tofile(f)
        ids.tofile(f)
    os.replace(path + ".tmp", path)
    return path, ""


# --- Running the programs ------------------------------------------------------

@dataclass
class Job:
    program: str  # "dlc", "C" or "torch"
    model: str  # a key of MODELS
    threads: int
    argv: list
    env: dict


class Failure(Exception):
    pass


def wait_quiet(max_seconds, threshold=0.15):
    """Waits, up to max_seconds, for a 2 s window in which processes that are
    not niced use less than `threshold` of a core in all. This script sleeps
    meanwhile, so that is someone else's work: a build or a test run, which
    would slow whichever program it overlaps. Niced time is not counted:
    background jobs at nice 19 (fuzzers) may run all the time, and yield.
    Returns whether the window came."""
    def busy_ticks():
        with open("/proc/stat") as f:
            user, _nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
        return user + system + irq + softirq

    hz = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + max_seconds
    while True:
        before = busy_ticks()
        time.sleep(2)
        if (busy_ticks() - before) / hz / 2 < threshold:
            return True
        if time.monotonic() >= deadline:
            return False


def wait_for(path, seconds=120):
    """dlc may be rebuilt while the comparison runs: its binary is briefly
    missing. Waits for it rather than losing a round."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(5)


def parse_dlc(out, threads):
    """({(entry, rows): seconds}, "") of `dlc bench` output rows
    `entry rows threads median unit ...`."""
    figures = {}
    for m in re.finditer(r"^(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+) (ns|us|ms|s)\s", out, re.M):
        if int(m[3]) != threads:
            raise Failure(f"dlc ran {m[3]} threads, not {threads}")
        figures[(m[1], int(m[2]))] = float(m[4]) * UNITS[m[5]]
    return figures, ""


def parse_peer(out, threads):
    """({(entry, rows): seconds}, what ran) of a peer's `entry rows seconds`
    lines, after checking the thread count its `# <what ran>; <n> threads`
    line states."""
    figures, what = {}, ""
    for line in out.splitlines():
        if line.startswith("#"):
            what, _, count = line[2:].rpartition("; ")
            if count != f"{threads} threads":
                raise Failure(f"ran on {count}, not {threads} threads")
            continue
        try:
            entry, rows, seconds = line.split()
            figures[(entry, int(rows))] = float(seconds)
        except ValueError:
            raise Failure(f"unexpected output line {line!r}") from None
    return figures, what


def run(job, dlc):
    if job.program == "dlc":
        wait_for(dlc)
    try:
        r = subprocess.run(job.argv, capture_output=True, text=True, env=job.env,
                           timeout=JOB_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Failure(str(e)) from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or [""])[-1]
        raise Failure(f"exit {r.returncode}: {last}")
    parse = parse_dlc if job.program == "dlc" else parse_peer
    figures, what = parse(r.stdout, job.threads)
    if not figures:
        raise Failure("no figures in its output")
    return figures, what


def make_jobs(models, thread_counts, dlc, binaries, torch_ok, data, inner_rounds, blas_env):
    """{(model, threads): [Job, ...]}: the processes of one round."""
    units = {}
    for threads in thread_counts:
        for name in models:
            m = MODELS[name]
            jobs = [Job("dlc", name, threads,
                        [dlc, "bench", os.path.join(ROOT, m.dl), *m.defines,
                         "--threads", str(threads), "--rounds", str(inner_rounds)], None)]
            if m.c_program and binaries.get(m.c_program):
                argv = [binaries[m.c_program], "--rounds", str(inner_rounds)]
                argv += ["--n", str(MATMUL_N)] if name == "matmul" else ["--batch", str(m.batch)]
                if data and name != "matmul":
                    argv += ["--data", data]
                jobs.append(Job("C", name, threads, argv,
                                dict(os.environ, **blas_env,
                                     OPENBLAS_NUM_THREADS=str(threads))))
            if m.torch_model and torch_ok:
                argv = [sys.executable, os.path.join(HERE, "torch_peer.py"), "--model",
                        m.torch_model, "--batch", str(m.batch), "--threads", str(threads),
                        "--rounds", str(inner_rounds)]
                if data:
                    argv += ["--data", data]
                if not any(r[1] == name and r[2] == "predict" for r in ROWS):
                    argv.append("--no-jit")  # TorchScript only times predict
                jobs.append(Job("torch", name, threads, argv, dict(os.environ, **blas_env)))
            units[(name, threads)] = jobs
    return units


def rotated(items, k):
    k %= max(1, len(items))
    return items[k:] + items[:k]


def run_rounds(units, rounds, dlc, quiet_wait):
    """Round k runs every job once: the (model, threads) units in an order
    rotated by k, and inside each unit its programs rotated by k, so no
    program always runs first, or always right after another; each job
    starts in a quiet moment when one comes within quiet_wait seconds. Returns
    {(program, model, threads): [figures of each round that succeeded]} and
    {(program, model, threads): [failure messages]}, {program: what ran}
    (the peers' own account of their library and threads) and the number
    of jobs that started without a quiet moment."""
    results, failures, ran, noisy = {}, {}, {}, 0
    keys = list(units)
    for k in range(rounds):
        for unit in rotated(keys, k):
            times = []
            for job in rotated(units[unit], k):
                key = (job.program, job.model, job.threads)
                if quiet_wait > 0 and not wait_quiet(quiet_wait):
                    noisy += 1
                t = time.monotonic()
                try:
                    figures, what = run(job, dlc)
                    results.setdefault(key, []).append(figures)
                    if what:
                        ran[job.program] = what
                    times.append(f"{LABELS[job.program]} {time.monotonic() - t:.0f} s")
                except Failure as e:
                    failures.setdefault(key, []).append(str(e))
                    times.append(f"{LABELS[job.program]} failed")
            print(f"round {k + 1}/{rounds}: {unit[0]}, {unit[1]} thread(s): {', '.join(times)}",
                  file=sys.stderr, flush=True)
    return results, failures, ran, noisy


# --- The report -----------------------------------------------------------------

def median_of(results, program, model, threads, entry, rows):
    """The median over rounds of one figure, or None."""
    samples = [r[(entry, rows)] for r in results.get((program, model, threads), [])
               if (entry, rows) in r]
    return statistics.median(samples) if samples else None


JIT_SHORT = {"script_freeze": "script", "trace_freeze": "trace", "optimize_for_inference": "ofi"}


def best_jit(results, model, threads, rows):
    """The fastest TorchScript variant by its median over rounds: (seconds,
    short name) or (None, "")."""
    variants = {e for r in results.get(("torch", model, threads), []) for e, n in r
                if e.startswith("jit:") and n == rows}
    medians = [(median_of(results, "torch", model, threads, v, rows), JIT_SHORT.get(v[4:], v[4:]))
               for v in variants]
    return min(medians) if medians else (None, "")


def duration(s):
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    return f"{s * 1e3:.2f} ms"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def gflops(seconds):
    """A matmul's rate, and its time."""
    if not seconds:
        return "n/a"
    return f"{2 * MATMUL_N ** 3 / seconds / 1e9:.1f} GFLOP/s ({duration(seconds)})"


def cell(value, absent):
    """A figure, or `absent`: "n/a" when a peer should have run and did not,
    "-" when there is no such peer for this workload."""
    return duration(value) if value else absent


def print_header(rounds, inner_rounds, torch_ver, data_note, dlc_note, blas_note, quiet_wait):
    now = datetime.datetime.now().astimezone()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"dlc against its peers, {now:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {cpuinfo('model name') or platform.processor()}, nproc {os.cpu_count()}, "
          f"load average {load}")
    print(f"dlc: {dlc_note}; PyTorch {torch_ver or 'n/a'}")
    print(f"{rounds} interleaved round(s) of separate processes, each figure the median over "
          f"rounds; in each process the median of {inner_rounds} timed rounds of ~0.2 s")
    if quiet_wait > 0:
        print(f"each process starts after 2 s in which un-niced processes use < 0.15 core "
              f"(waiting up to {quiet_wait:g} s)")
    print(f"peer data: {data_note}")
    print(f"OpenBLAS: {blas_note}")
    print("threads (thr): dlc --threads N; C+OpenBLAS OPENBLAS_NUM_THREADS=N; "
          "PyTorch set_num_threads(N) with OpenBLAS on 1")
    print(flush=True)  # before the progress lines on stderr


def print_table(results, failures, models, thread_counts, missing):
    rows = [r for r in ROWS if r[1] in models]
    if rows:
        print("time per call (median); ratios are dlc's time over the peer's: below 1, dlc is faster")
        print(f"{'workload':<30} {'thr':>3} {'dlc':>10} {'C+OpenBLAS':>11} {'PyTorch':>10} "
              f"{'TorchScript':>16}  {'dlc/C':>6} {'dlc/PyTorch':>11}")
    for label, model, entry, n in rows:
        m = MODELS[model]
        for threads in thread_counts:
            d = median_of(results, "dlc", model, threads, entry, n)
            c = median_of(results, "C", model, threads, entry, n)
            t = median_of(results, "torch", model, threads, entry, n)
            j, variant = best_jit(results, model, threads, n) if entry == "predict" else (None, "")
            torch_best = min(x for x in (t, j) if x) if (t or j) else None
            jit = f"{duration(j)} {variant}" if j else "n/a" if entry == "predict" else "-"
            print(f"{label:<30} {threads:>3} {cell(d, 'n/a'):>10} "
                  f"{cell(c, 'n/a' if m.c_program else '-'):>11} {cell(t, 'n/a'):>10} "
                  f"{jit:>16}  {ratio(d, c):>6} {ratio(d, torch_best):>11}")
    if rows:
        print("TorchScript: predict's fastest variant (script: script + freeze, trace: trace + "
              "freeze, ofi: optimize_for_inference);")
        print("dlc/PyTorch is against PyTorch's faster mode, eager or TorchScript"
              + ("; - : no such peer (no hand-written mnist_cnn.dl)"
                 if "mnist_cnn" in models else ""))
    if "matmul" in models:
        print()
        print(f"matmul {MATMUL_N} x {MATMUL_N} x {MATMUL_N}, f32 (dlc predict at {MATMUL_N} rows); "
              "ratio: dlc's GFLOP/s over OpenBLAS's: below 1, dlc is slower")
        print(f"{'':<30} {'thr':>3} {'dlc':>24} {'OpenBLAS sgemm':>24}  {'dlc/sgemm':>9}")
        for threads in thread_counts:
            d = median_of(results, "dlc", "matmul", threads, "predict", MATMUL_N)
            s = median_of(results, "C", "matmul", threads, "sgemm", MATMUL_N)
            print(f"{'matmul 1024^3':<30} {threads:>3} {gflops(d):>24} {gflops(s):>24}  "
                  f"{ratio(s, d):>9}")
    print()
    for name, why in sorted(missing.items()):
        print(f"n/a: {name}: {why}")
    for (program, model, threads), errors in sorted(failures.items()):
        print(f"{LABELS[program]} on {model}, {threads} thread(s) failed in {len(errors)} "
              f"round(s): {errors[0]}")


def print_rounds(results):
    """Every figure of every round, to judge the medians' noise."""
    print("\nper round (seconds):")
    for (program, model, threads), rounds in sorted(results.items()):
        for key in sorted(rounds[0]):
            values = " ".join(f"{r[key]:.4g}" for r in rounds if key in r)
            print(f"  {LABELS[program]:<10} {model:<9} {threads} thr  {key[0]:<28} {key[1]:>5}  {values}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: 1 round, shorter timings, fewer workloads")
    ap.add_argument("--only", default="mlp,cnn,matmul", help="workloads: mlp,cnn,matmul")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--dlc", default=os.path.join(ROOT, "build", "dlc"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench"),
                    help="where the C peers are built (default build/bench)")
    ap.add_argument("--data-dir", default=DATA_DIR, help="Fashion-MNIST, for the peers")
    ap.add_argument("--quiet-wait", type=float, default=60,
                    help="seconds to wait, before each process, for a moment when no other "
                         "un-niced work runs (default 60; 0: do not wait)")
    ap.add_argument("--verbose", action="store_true", help="also print every round's figures")
    a = ap.parse_args()
    groups = a.only.split(",")
    if not set(groups) <= {"mlp", "cnn", "matmul"}:
        ap.error("--only takes a list of mlp, cnn, matmul")
    try:
        thread_counts = [int(t) for t in a.threads.split(",")]
    except ValueError:
        thread_counts = [0]
    if min(thread_counts) < 1 or a.rounds < 1:
        ap.error("--threads takes a list of counts of at least 1, --rounds at least 1")
    if not os.access(a.dlc, os.X_OK):
        sys.exit(f"compare.py: no dlc at {a.dlc}: build it first (tools/build.sh)")
    rounds, inner_rounds, quiet_wait = (1, 3, 0) if a.quick else (a.rounds, 5, a.quiet_wait)
    models = [n for n, m in MODELS.items()
              if m.group in groups and (not a.quick or n in QUICK_MODELS)]

    missing = {}
    c_names = sorted({MODELS[n].c_program for n in models if MODELS[n].c_program})
    binaries, c_missing = build_c_peers(a.build_dir, c_names)
    missing.update({f"{n}.c": why for n, why in c_missing.items()})
    torch_ver, why = torch_version()
    if not torch_ver:
        missing["PyTorch"] = why
    data, why = write_data(a.data_dir, os.path.join(a.build_dir, f"fashion_mnist_{DATA_ROWS}.bin"))
    data_note = (f"the first {DATA_ROWS} Fashion-MNIST training images (a train step rotates "
                 "over 16 batches)" if data else f"uniform noise ({why})")
    stamp = os.stat(a.dlc).st_mtime
    dlc_note = (f"{os.path.relpath(a.dlc, ROOT)} built "
                f"{datetime.datetime.fromtimestamp(stamp):%Y-%m-%d %H:%M}, "
                f"tree at {git_commit()}")
    blas_env, blas_note = openblas_kernels()
    print_header(rounds, inner_rounds, torch_ver, data_note, dlc_note, blas_note, quiet_wait)

    units = make_jobs(models, thread_counts, a.dlc, binaries, bool(torch_ver), data, inner_rounds,
                      blas_env)
    results, failures, ran, noisy = run_rounds(units, rounds, a.dlc, quiet_wait)
    print_table(results, failures, models, thread_counts, missing)
    for program, what in sorted(ran.items()):
        print(f"{LABELS[program]} ran: {what}")
    if noisy:
        jobs = rounds * sum(len(j) for j in units.values())
        print(f"{noisy} of {jobs} processes started while other work ran: "
              "their figures, and the ratios with them, are less sure")
    if a.verbose:
        print_rounds(results)
    if not os.path.exists(a.dlc) or os.stat(a.dlc).st_mtime != stamp:
        print(f"warning: {a.dlc} was rebuilt during the run: its figures may mix two builds")


if __name__ == "__main__":
    main()
