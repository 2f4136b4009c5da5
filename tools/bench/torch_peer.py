#!/usr/bin/python3
"""PyTorch as a peer of dlc, for compare.py: a model's train step (zero_grad,
forward, cross-entropy, backward, Adam) at --batch rows, and predict (softmax,
no_grad) at --batch rows and at 1 row, timed as `dlc bench` times dlc, in
eager mode; then predict in TorchScript, in each of three variants (script +
freeze, trace + freeze, script + optimize_for_inference). Adapted from the peer
programs dlc is measured against.

Models: mlp (examples/mnist_mlp.dl), cnn (tools/bench/cnn.dl, the CNN of the
hand-written C peer, in torch's own NCHW layout) and mnist_cnn
(examples/mnist_cnn.dl, as torch_zoo.py builds it: Keras's layouts, NHWC
input, dropout in the train step).

Prints a first line `# torch <version> over <BLAS>; <n> threads`, then one
line per figure, `<entry> <rows> <median seconds>`; the TorchScript entries
are `jit:<variant>`. A variant that fails is reported on stderr and left out.

Usage: /usr/bin/python3 tools/bench/torch_peer.py --model mlp [--batch 128]
       [--threads 1] [--rounds 5] [--data FILE] [--no-jit]
--data is a file of images and labels as compare.py writes it (float32
pixels / 255, then int32 labels); without it the inputs are uniform random.

The process runs in the settings the peers' measurements found fair: PyTorch
on --threads threads with OpenBLAS on one (OpenBLAS sizes its own pool from
OPENBLAS_NUM_THREADS and ignores torch.set_num_threads; two pools on two cores
oversubscribe them, up to 3x slower), and glibc malloc told to keep freed
memory rather than return it to the OS after every CNN step (up to 1.9x
slower, as the activations page-fault back in). When the environment does not
say so already, the script runs itself again with it set. Which kernels
OpenBLAS runs (OPENBLAS_CORETYPE) is compare.py's concern: on a CPU that
OpenBLAS does not recognise, run alone, set it yourself (`# ...` names them).
"""
import argparse
import ctypes
import os
import sys

FAIR_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824",
}
if any(os.environ.get(k) != v for k, v in FAIR_ENV.items()):
    # Both are read when the process starts (OpenBLAS when torch loads it).
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **FAIR_ENV})

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_mlp import time_call  # noqa: E402  `dlc bench`'s timing
import torch_zoo  # noqa: E402

PIXELS = 28 * 28
BATCHES = 16  # train steps rotate over this many consecutive batches of the data


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))


# model -> (module, shape of one image as the module takes it)
MODELS = {
    "mlp": (mlp, (28, 28)),
    "cnn": (cnn, (1, 28, 28)),
    "mnist_cnn": (torch_zoo.MODELS["mnist_cnn"].build, (28, 28, 1)),
}


def openblas_config():
    """How the OpenBLAS that Debian's torch calls describes itself: its
    version and the kernels it chose for this CPU (OPENBLAS_CORETYPE)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")  # the copy torch loaded, if it did
        lib.openblas_get_config.restype = ctypes.c_char_p
        return lib.openblas_get_config().decode()
    except (OSError, AttributeError):
        return "a BLAS other than OpenBLAS"


def load_data(path, rows, shape):
    """(images, labels): the first `rows` of a compare.py data file, or
    uniform random images and labels without one."""
    if path is None:
        return torch.rand(rows, *shape), torch.randint(0, 10, (rows,))
    n = os.path.getsize(path) // (PIXELS * 4 + 4)
    raw = np.fromfile(path, np.float32, n * PIXELS)
    labels = np.fromfile(path, np.int32, n, offset=n * PIXELS * 4)
    rows = min(rows, n)
    x = torch.from_numpy(raw[:rows * PIXELS].copy()).reshape(rows, *shape)
    return x, torch.from_numpy(labels[:rows].astype(np.int64))


def jit_variants(model, example):
    """The TorchScript forms of `model` (eval mode, ending in softmax) that
    compile; the fastest differs by model and batch."""
    makers = {
        "script_freeze": lambda: torch.jit.freeze(torch.jit.script(model)),
        "trace_freeze": lambda: torch.jit.freeze(torch.jit.trace(model, example)),
        "optimize_for_inference": lambda: torch.jit.optimize_for_inference(torch.jit.script(model)),
    }
    variants = {}
    for name, make in makers.items():
        try:
            with torch.no_grad():
                variants[name] = make()
        except Exception as e:  # a variant torch cannot build is a missing figure, not a crash
            print(f"torch_peer: {name} failed: {e!r}"[:300], file=sys.stderr)
    return variants


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data", default=None)
    ap.add_argument("--no-jit", action="store_true", help="eager figures only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # What ran, for compare.py to check and report.
    print(f"# torch {torch.__version__} over {openblas_config()} "
          f"(OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}); "
          f"{torch.get_num_threads()} threads", flush=True)
    make, shape = MODELS[a.model]
    x, y = load_data(a.data, BATCHES * a.batch, shape)
    batches = max(1, len(x) // a.batch)

    torch.manual_seed(0)
    model = make()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xs = [x[k * a.batch:(k + 1) * a.batch].contiguous() for k in range(batches)]
    ys = [y[k * a.batch:(k + 1) * a.batch].contiguous() for k in range(batches)]
    calls = [0]

    def step():
        k = calls[0] = (calls[0] + 1) % batches
        opt.zero_grad(set_to_none=True)
        loss_fn(model(xs[k]), ys[k]).backward()
        opt.step()

    print("step", a.batch, time_call(step, a.rounds), flush=True)

    model.eval()
    row_counts = (a.batch, 1) if a.batch > 1 else (1,)
    with torch.no_grad():
        for rows in row_counts:
            xr = x[:rows].contiguous()
            print("predict", rows, time_call(lambda: torch.softmax(model(xr), 1), a.rounds),
                  flush=True)
    if a.no_jit:
        return
    scored = nn.Sequential(model, nn.Softmax(dim=1)).eval()
    for name, m in jit_variants(scored, x[:8].contiguous()).items():
        with torch.no_grad():
            for rows in row_counts:
                xr = x[:rows].contiguous()
                print(f"jit:{name}", rows, time_call(lambda: m(xr), a.rounds), flush=True)


if __name__ == "__main__":
    main()
