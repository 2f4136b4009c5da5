#!/usr/bin/python3
"""PyTorch versions of the tutorial models of dlc's examples, trained on
Fashion-MNIST, so that dlc's test accuracies (and step times) have a reference
to be compared with.

Usage: /usr/bin/python3 tools/bench/torch_zoo.py --model mnist_cnn --epochs 5
       [--seed 0] [--threads 1]; --model all runs every model and prints a table.

Everything that decides where training ends up is dlc's, not PyTorch's: weights
start glorot_uniform and biases at zeros (Keras's defaults, which dlc follows),
and each optimizer applies dlc's update formula with dlc's default
hyper-parameters (ir/Graph.cpp, passes/OptimizerUpdate.cpp). Batches are 128
examples, reshuffled every epoch, and the last partial batch is trained, as
Keras does. Needs Debian's python3-torch and numpy: run it with /usr/bin/python3.
"""
import argparse
import gzip
import math
import os
import statistics
import struct
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
BATCH = 128
WARMUP_STEPS = 10  # first steps left out of the step time: allocator, caches


# --- Data -------------------------------------------------------------------

def load_idx(path, magic, ndim):
    """The array of a gzip'd IDX file of unsigned bytes with `ndim` dimensions."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # missing, not gzip, truncated
        sys.exit(f"{path}: cannot read: {e}")
    header = 4 + 4 * ndim
    if len(raw) < header or struct.unpack(">I", raw[:4])[0] != magic:
        sys.exit(f"{path}: not an IDX file of {ndim}-d unsigned bytes (magic {magic:#010x})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) != header + math.prod(dims):
        sys.exit(f"{path}: {len(raw) - header} bytes of data for dimensions {dims}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def load_split(prefix):
    """(pixels / 255 as f32 [n, 28, 28], int64 labels [n]) of "train" or "t10k"."""
    images = load_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"), 0x803, 3)
    labels = load_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, 1)
    if images.shape[1:] != (28, 28) or len(images) != len(labels) or labels.max() > 9:
        sys.exit(f"{DATA_DIR}: {prefix} is not {len(labels)} 28x28 images with labels 0..9")
    x = torch.from_numpy(images.astype(np.float32) / 255)
    return x, torch.from_numpy(labels.astype(np.int64))


# --- Layers, with Keras's weight layouts and initialisation ------------------

def glorot_uniform(*shape):
    """A param drawn from U(-l, l), l = sqrt(6 / (fan_in + fan_out)), with the
    fans Keras computes: [in, out] for a matrix; for a kernel [kh, kw, cin,
    cout], cin and cout times the kh*kw receptive field."""
    receptive = math.prod(shape[:-2])
    limit = math.sqrt(6 / (receptive * (shape[-2] + shape[-1])))
    return nn.Parameter(torch.empty(shape).uniform_(-limit, limit))


def zeros(n):
    return nn.Parameter(torch.zeros(n))


class Dense(nn.Module):
    """x @ w + b, w stored [in, out] as in Keras and dlc."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.w, self.b = glorot_uniform(n_in, n_out), zeros(n_out)

    def forward(self, x):
        return torch.addmm(self.b, x, self.w)


class Conv2d(nn.Module):
    """A stride-1 convolution (padding 1 is Keras's "same" for a 3x3 kernel)
    whose kernel is stored (and initialised)
    [kh, kw, cin, cout] as in Keras and dlc, permuted to torch's [cout, cin,
    kh, kw] when applied. Activations are NCHW, torch's native layout."""

    def __init__(self, cin, cout, k, padding=0):
        super().__init__()
        self.kernel, self.b = glorot_uniform(k, k, cin, cout), zeros(cout)
        self.padding = padding

    def forward(self, x):
        return F.conv2d(x, self.kernel.permute(3, 2, 0, 1), self.b, padding=self.padding)


class NHWCToNCHW(nn.Module):
    def forward(self, x):
        return x.permute(0, 3, 1, 2)


class FlattenNHWC(nn.Module):
    """Flattens NCHW activations in h, w, c order, as NHWC ones flatten in dlc,
    so the next dense layer's rows mean the same as there."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).flatten(1)


class LSTM(nn.Module):
    """One LSTM layer over the rows of x [n, steps, features]; returns the last h.
    z = x_t @ wx + h @ wh + b, gates i, f, g, o in that order, h and c start
    at zeros. Written out rather than nn.LSTM, whose weights and two biases
    are laid out and initialised differently."""

    def __init__(self, n_in, units):
        super().__init__()
        self.units = units
        self.wx, self.wh = glorot_uniform(n_in, 4 * units), glorot_uniform(units, 4 * units)
        self.b = zeros(4 * units)

    def forward(self, x):
        # The input's share of z, for all steps in one matmul. unbind, not
        # xz[:, t]: each slice's backward would add a zero-filled gradient of
        # all of xz, quadratic in the steps (a step took 4x as long).
        xz = (torch.matmul(x, self.wx) + self.b).unbind(1)
        h = c = x.new_zeros(x.shape[0], self.units)
        for xz_t in xz:
            i, f, g, o = torch.addmm(xz_t, h, self.wh).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return h


# --- Optimizers: dlc's formulas and defaults ---------------------------------

def adam(params):
    """dlc's adam at its defaults. torch's Adam is dlc's formula,
    w' = w - lr m^ / (sqrt(v^) + eps) with bias-corrected m^ and v^; only the
    default eps differs (torch 1e-8)."""
    return torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7)


def rmsprop(params):
    """dlc's rmsprop at its defaults. torch's RMSprop (not centered, no
    momentum) is dlc's formula, s' = rho s + (1 - rho) g^2,
    w' = w - lr g / (sqrt(s') + eps); the defaults differ (torch rho 0.99, eps 1e-8)."""
    return torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)


class MomentumSGD(torch.optim.Optimizer):
    """dlc's (Keras's) momentum: v' = momentum v - lr g, w' = w + v'.
    torch.optim.SGD keeps v' = momentum v + g and steps w' = w - lr v': the
    same for a constant lr, but it rounds differently, so it is written out."""

    def __init__(self, params, lr, momentum):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                v = self.state[p].setdefault("v", torch.zeros_like(p))
                v.mul_(group["momentum"]).sub_(p.grad, alpha=group["lr"])
                p.add_(v)


# --- Models -------------------------------------------------------------------

@dataclass
class Spec:
    build: Callable[[], nn.Module]
    optimizer: Callable  # params -> torch.optim.Optimizer
    autoencoder: bool = False  # loss and metric: MSE to the input, not cross-entropy
    nhwc: bool = False  # the model takes images [n, 28, 28, 1], not [n, 28, 28]
    l2: float = 0.0  # loss += l2 * the sum of squares of every dense weight matrix


def mlp(*layers):
    return nn.Sequential(nn.Flatten(), *layers)


MODELS = {
    "mlp_64_64": Spec(lambda: mlp(Dense(784, 64), nn.ReLU(), Dense(64, 64), nn.ReLU(),
                                  Dense(64, 10)), adam),
    "mlp_momentum": Spec(lambda: mlp(Dense(784, 128), nn.ReLU(), Dense(128, 10)),
                         lambda params: MomentumSGD(params, lr=0.01, momentum=0.9)),
    "mlp_rmsprop": Spec(lambda: mlp(Dense(784, 128), nn.ReLU(), Dense(128, 10)), rmsprop),
    # nn.Dropout is inverted dropout (kept values scaled by 1 / (1 - rate)),
    # the identity in eval mode.
    "mlp_dropout_l2": Spec(lambda: mlp(Dense(784, 128), nn.ReLU(), nn.Dropout(0.2),
                                       Dense(128, 10)), adam, l2=1e-4),
    "mnist_mlp": Spec(lambda: mlp(Dense(784, 128), nn.ReLU(), Dense(128, 10)), adam),
    # "same" 3x3 convolutions: 28 -> 28, pool 14, 14, pool 7.
    "mnist_cnn": Spec(lambda: nn.Sequential(
        NHWCToNCHW(), Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        FlattenNHWC(), Dense(7 * 7 * 64, 128), nn.ReLU(), nn.Dropout(0.25), Dense(128, 10)),
        adam, nhwc=True),
    # Each image is 28 time steps of 28 pixels.
    "lstm": Spec(lambda: nn.Sequential(LSTM(28, 128), Dense(128, 10)), adam),
    "autoencoder": Spec(lambda: mlp(Dense(784, 128), nn.ReLU(), Dense(128, 32), nn.ReLU(),
                                    Dense(32, 128), nn.ReLU(), Dense(128, 784), nn.Sigmoid()),
                        adam, autoencoder=True),
}


def loss_of(spec, model, out, x, y):
    if spec.autoencoder:
        return F.mse_loss(out, x.flatten(1))
    loss = F.cross_entropy(out, y)
    if spec.l2:
        loss = loss + spec.l2 * sum(m.w.square().sum() for m in model.modules()
                                    if isinstance(m, Dense))
    return loss


# --- Training and evaluation --------------------------------------------------

@dataclass
class Result:
    metric: float  # test accuracy, or test MSE for the autoencoder
    step_ms: float
    steps_timed: int
    epoch_s: float


def train_epoch(spec, model, opt, x, y, order):
    """One pass over x in the given order. Returns the mean loss per example
    (Keras's figure: batches weighted by their size) and each step's seconds
    (forward, backward, update; not the batch's gathering)."""
    model.train()
    total, step_times = 0.0, []
    for start in range(0, len(order), BATCH):
        idx = order[start:start + BATCH]
        xb, yb = x[idx], y[idx]
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_of(spec, model, model(xb), xb, yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        step_times.append(time.perf_counter() - t)
    return total / len(order), step_times


@torch.no_grad()
def evaluate(spec, model, x, y):
    """Test accuracy, or for the autoencoder the MSE over every pixel."""
    model.eval()
    score = 0.0
    for start in range(0, len(x), BATCH):
        xb, yb = x[start:start + BATCH], y[start:start + BATCH]
        out = model(xb)
        if spec.autoencoder:
            score += F.mse_loss(out, xb.flatten(1), reduction="sum").item()
        else:
            score += (out.argmax(1) == yb).sum().item()
    return score / (x.numel() if spec.autoencoder else len(x))


def metric_text(spec, metric, sep=" "):
    if spec.autoencoder:
        return f"test mse{sep}{metric:.6f}"
    return f"test accuracy{sep}{100 * metric:.2f}%"


def train(spec, model, data, epochs, shuffle):
    """Trains and evaluates after every epoch; returns the Result."""
    (x, y), (x_test, y_test) = data
    opt = spec.optimizer(model.parameters())
    epoch_times = []
    for epoch in range(1, epochs + 1):
        order = torch.from_numpy(shuffle.permutation(len(x)))
        t = time.perf_counter()
        loss, step_times = train_epoch(spec, model, opt, x, y, order)
        epoch_times.append(time.perf_counter() - t)
        if epoch == 1:  # full batches only: the partial last one is cheaper
            timed = step_times[WARMUP_STEPS:len(x) // BATCH]
        metric = evaluate(spec, model, x_test, y_test)
        print(f"epoch {epoch}/{epochs}: loss {loss:.4f}, {metric_text(spec, metric)}", flush=True)
    return Result(metric, 1e3 * statistics.median(timed), len(timed),
                  statistics.median(epoch_times))


def run_model(name, data, epochs, seed, threads):
    spec = MODELS[name]
    torch.manual_seed(seed)  # the init and dropout draws
    model = spec.build()
    if spec.nhwc:
        data = [(x.unsqueeze(3), y) for x, y in data]
    print(f"{name}: {sum(p.numel() for p in model.parameters())} params, "
          f"{epochs} epochs, seed {seed}, {threads} thread(s)")
    r = train(spec, model, data, epochs, np.random.default_rng(seed))
    print(metric_text(spec, r.metric, ": "))
    print(f"train step: {r.step_ms:.2f} ms (median of {r.steps_timed}, "
          f"batch {BATCH}, {threads} threads)")
    print(f"epoch time: {r.epoch_s:.1f} s (median of {epochs})", flush=True)
    return r


def print_table(results, epochs, seed, threads):
    print(f"\n{epochs} epochs, seed {seed}, batch {BATCH}, {threads} thread(s)")
    print(f"{'model':<16} {'test metric':>18} {'step ms':>8} {'epoch s':>8}")
    for name, r in results.items():
        print(f"{name:<16} {metric_text(MODELS[name], r.metric):>18} "
              f"{r.step_ms:>8.2f} {r.epoch_s:>8.1f}")


def pin_blas_threads(threads):
    """OpenBLAS, the BLAS of Debian's torch and numpy, sizes its thread pool
    from OPENBLAS_NUM_THREADS when it loads and ignores torch.set_num_threads
    (unpinned it takes every core): unless the variable already says
    `threads`, re-run this script with it set."""
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(threads):
        os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
        os.execv(sys.executable, [sys.executable, *sys.argv])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, choices=[*MODELS, "all"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if a.epochs < 1 or a.threads < 1:
        ap.error("--epochs and --threads must be at least 1")
    pin_blas_threads(a.threads)
    torch.set_num_threads(a.threads)
    data = load_split("train"), load_split("t10k")
    names = list(MODELS) if a.model == "all" else [a.model]
    results = {}
    for name in names:
        results[name] = run_model(name, data, a.epochs, a.seed, a.threads)
        print()
    if a.model == "all":
        print_table(results, a.epochs, a.seed, a.threads)


if __name__ == "__main__":
    main()
