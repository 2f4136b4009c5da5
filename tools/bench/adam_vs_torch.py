#!/usr/bin/python3
"""Checks the claim that five Adam steps of dlc's MLP stay as close to PyTorch
in float64 as PyTorch's own float32 run does.

The model is examples/mnist_mlp.dl (flatten 784 -> dense 128 relu -> dense 10,
sparse cross-entropy from logits averaged over a batch of 128, adam(lr =
0.001)). The same steps run three times from identical weights on identical
batches:
  dlc32    the model compiled by dlc to a shared library, driven with ctypes;
  torch64  PyTorch in float64, the reference;
  torch32  PyTorch in float32, the yardstick: what float32 alone costs.
The initial weights are dlc's own (a context created with --seed, its
variables read with mnist_mlp_get_param), and after every step dlc's weights
are read back the same way. Per step and per param the program prints
the median (in float32 ulps of the reference value, and absolute),
root-mean-square and largest |dlc32 - torch64| and |torch32 - torch64|;
then a verdict. It exits 1 when, on some param at some step, dlc's median
distance is both above one ulp and more than 2x torch32's, 2 when it cannot
run. The verdict is on the median because the largest elements, and with
them the RMS, are a lottery (below); and a distance below one ulp is
rounding, whatever its ratio (a 10-element bias has a median of a few
half-ulps either way).

Batches are the first 5 x 128 Fashion-MNIST training images (pixels / 255),
or with --random uniform images in [0, 1) and labels 0..9 from a seeded numpy
generator.

Reading the output: `moved` is how far Adam has taken a param from its start.
A step moves each weight by about lr, except where |gradient| is near eps or
below: there the step lr g / (|g| + eps) changes by lr / eps per unit of g, so
a float32 rounding of the gradient shows up ~1e4 times larger. Those few
weights of dense_1.w typically set its max distance, in both float32 runs,
and which run happens to round them worse changes from seed to seed.

Usage: /usr/bin/python3 tools/bench/adam_vs_torch.py [--dlc build/dlc]
       [--seed 0] [--steps 5] [--random] [--workdir DIR]
Needs Debian's python3-torch and numpy, and dlc's runtime archive libdlcrt.a
where dlc looks for it (beside the binary, or DLC_RUNTIME_LIB).
"""
import argparse
import ctypes
import gzip
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
MODEL = "mnist_mlp"
BATCH = 128
# dlc computes y = x @ w + b with w stored [in, out].
PARAMS = {"dense_1.w": (784, 128), "dense_1.b": (128,),
          "dense_2.w": (128, 10), "dense_2.b": (10,)}
# adam(lr = 0.001) with dlc's defaults for the rest (docs/DSL.md, optimizer
# table). Note eps: 1e-7 (Keras's default), not PyTorch's 1e-8.
LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-7
FAIL_RATIO = 2.0


class SetupError(Exception):
    """Anything that keeps the comparison from running (exit status 2)."""


# --- The compiled model, through the C API of the generated mnist_mlp.h ------

class TensorDesc(ctypes.Structure):  # dlc_tensor_desc of runtime/dlc_abi.h
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32),
                ("rank", ctypes.c_int32), ("dims", ctypes.POINTER(ctypes.c_int64)),
                ("numel", ctypes.c_int64), ("offset", ctypes.c_int64),
                ("init", ctypes.c_int32), ("trainable", ctypes.c_int32),
                ("init_a", ctypes.c_float), ("init_b", ctypes.c_float),
                ("index_bound", ctypes.c_int64)]


class ModelDesc(ctypes.Structure):  # dlc_model_desc
    _fields_ = [("abi_version", ctypes.c_uint32), ("name", ctypes.c_char_p),
                ("signature", ctypes.c_uint64), ("batch", ctypes.c_int64),
                ("n_inputs", ctypes.c_int32), ("inputs", ctypes.POINTER(TensorDesc)),
                ("n_vars", ctypes.c_int32), ("vars", ctypes.POINTER(TensorDesc)),
                ("state_bytes", ctypes.c_int64), ("n_entries", ctypes.c_int32),
                ("entries", ctypes.c_void_p)]


ABI_VERSION = 4  # DLC_ABI_VERSION of runtime/dlc_abi.h


def compile_model(dlc, workdir):
    """Path of mnist_mlp.so compiled by `dlc` into `workdir`."""
    so = os.path.join(workdir, MODEL + ".so")
    src = os.path.join(ROOT, "examples", MODEL + ".dl")
    run = subprocess.run([dlc, src, "-o", so], capture_output=True, text=True)
    if run.returncode != 0:
        raise SetupError(f"{dlc} {src} -o {so} failed:\n{run.stderr.strip()}")
    return so


class DlcModel:
    """One context of the compiled model; reads its variables with get_param."""

    def __init__(self, so_path, seed, workdir):
        lib = ctypes.CDLL(so_path)
        self.lib = lib
        self.fn("create").restype = ctypes.c_void_p
        self.fn("create").argtypes = [ctypes.c_uint64]
        self.fn("destroy").argtypes = [ctypes.c_void_p]
        self.fn("step").argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                    ctypes.POINTER(ctypes.c_float)]
        self.fn("get_param").argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                         ctypes.c_size_t]
        self.fn("error").restype = ctypes.c_char_p
        self.fn("error").argtypes = [ctypes.c_void_p]
        self.fn("metadata").restype = ctypes.POINTER(ModelDesc)
        self.describe(self.fn("metadata")().contents)
        self.ctx = self.fn("create")(seed)
        if not self.ctx:
            raise SetupError(f"{MODEL}_create({seed}) failed (out of memory)")

    def fn(self, name):
        return getattr(self.lib, f"{MODEL}_{name}")

    def describe(self, desc):
        """Keeps each variable's dtype and shape, after checking that this is
        the model the comparison is written for."""
        if desc.abi_version != ABI_VERSION:
            raise SetupError(f"model ABI version {desc.abi_version}, expected {ABI_VERSION}")
        self.name, self.signature = desc.name.decode(), desc.signature
        self.vars = {}
        for v in (desc.vars[i] for i in range(desc.n_vars)):
            self.vars[v.name.decode()] = (v.dtype, tuple(v.dims[d] for d in range(v.rank)))
        params = {n: dims for n, (dtype, dims) in self.vars.items() if n in PARAMS}
        if self.name != MODEL or desc.batch != BATCH or params != PARAMS:
            raise SetupError(f"compiled model '{self.name}' (batch {desc.batch}, params "
                             f"{params}) is not the MLP this comparison expects")

    def check(self, rc, what):
        if rc != 0:
            raise SetupError(f"{MODEL}_{what}: {self.fn('error')(self.ctx).decode()}")

    def step(self, x, y):
        loss = ctypes.c_float()
        x, y = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.int32)
        self.check(self.fn("step")(self.ctx, x.ctypes.data, y.ctypes.data,
                                   ctypes.byref(loss)), "step")
        return loss.value

    def variables(self):
        arrays = {}
        for name, (dtype, dims) in self.vars.items():
            if dtype != 0:  # DLC_F32: every variable of this MLP and its Adam
                raise SetupError(f"variable '{name}' is not f32")
            a = np.empty(dims, np.float32)
            self.check(self.fn("get_param")(self.ctx, name.encode(), a.ctypes.data, a.size),
                       "get_param")
            arrays[name] = a
        return arrays

    def close(self):
        self.fn("destroy")(self.ctx)


# --- Batches ------------------------------------------------------------------

def read_idx_prefix(path, magic, count, item_bytes):
    """The first `count` items of a gzip'd IDX file of unsigned bytes."""
    try:
        with gzip.open(path, "rb") as f:
            header = f.read(4)
            if len(header) < 4 or struct.unpack(">I", header)[0] != magic:
                raise SetupError(f"{path}: not an IDX file with magic {magic:#010x}")
            ndim = magic & 0xFF
            dims = struct.unpack(f">{ndim}I", f.read(4 * ndim))
            raw = f.read(count * item_bytes)
    except (OSError, EOFError, zlib.error, struct.error) as e:
        raise SetupError(f"{path}: cannot read: {e}")
    if dims[0] < count or len(raw) != count * item_bytes:
        raise SetupError(f"{path}: fewer than {count} items")
    return np.frombuffer(raw, np.uint8)


def fashion_batches(steps):
    """`steps` batches (x f32 [128, 28, 28] in [0, 1], y i32 [128]) of the
    first Fashion-MNIST training examples, in file order."""
    n = steps * BATCH
    images = read_idx_prefix(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz"),
                             0x803, n, 28 * 28)
    labels = read_idx_prefix(os.path.join(DATA_DIR, "train-labels-idx1-ubyte.gz"),
                             0x801, n, 1)
    x = (images.astype(np.float32) / 255).reshape(steps, BATCH, 28, 28)
    return list(zip(x, labels.astype(np.int32).reshape(steps, BATCH)))


def random_batches(steps, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((steps, BATCH, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, (steps, BATCH), dtype=np.int32)
    return list(zip(x, y))


# --- The three runs -------------------------------------------------------------

def run_dlc(model, batches):
    """[(loss, {param: float64 array})] after each step, and the Adam step
    count dlc reports, as a check that each call did exactly one step."""
    history = []
    for k, (x, y) in enumerate(batches, 1):
        loss = model.step(x, y)
        state = model.variables()
        if state["step.adam.t"] != k:
            raise SetupError(f"after step {k}, dlc's step.adam.t is {state['step.adam.t']}")
        history.append((loss, {n: state[n].astype(np.float64) for n in PARAMS}))
    return history


def run_torch(init, batches, dtype):
    """The same as run_dlc, in PyTorch at `dtype`, from the weights `init`."""
    params = {n: torch.tensor(init[n], dtype=dtype, requires_grad=True) for n in PARAMS}
    # PyTorch's Adam (1.13, _single_tensor_adam) steps by
    #   lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    # = lr * m_hat / (sqrt(v_hat) + eps): dlc's formula (docs/DSL.md,
    # passes/OptimizerUpdate.cpp), eps added after the bias correction, where
    # PyTorch puts it; Keras would add it before. No amsgrad, no decay.
    opt = torch.optim.Adam(params.values(), lr=LR, betas=(BETA1, BETA2), eps=EPS,
                           weight_decay=0, amsgrad=False, foreach=False)
    history = []
    for x, y in batches:
        # Inputs are dlc's f32 values, widened exactly for the float64 run.
        xt = torch.from_numpy(x).to(dtype).reshape(BATCH, -1)
        h = torch.relu(xt @ params["dense_1.w"] + params["dense_1.b"])
        logits = h @ params["dense_2.w"] + params["dense_2.b"]
        loss = F.cross_entropy(logits, torch.from_numpy(y).long())  # mean over rows
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((loss.item(),
                        {n: p.detach().numpy().astype(np.float64) for n, p in params.items()}))
    return history


# --- Report -------------------------------------------------------------------

def max_abs(a, b):
    return float(np.max(np.abs(a - b)))


def rms(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def median_abs(a, b):
    return float(np.median(np.abs(a - b)))


def median_ulps(a, ref):
    """The median distance in float32 ulps at the reference values."""
    return float(np.median(np.abs(a - ref) / np.spacing(np.abs(ref).astype(np.float32))))


def report(init, dlc, t64, t32):
    """Prints the table; returns the list of failures (param, step, why)."""
    failures = []
    print(f"{'step':>4} {'param':<10} {'moved':>10} {'ulp dlc':>8} {'ulp t32':>8} "
          f"{'med dlc32':>10} {'med t32':>10} {'rms dlc32':>10} {'rms t32':>10} "
          f"{'max dlc32':>10} {'max t32':>10}")
    for k, ((l_d, w_d), (l_64, w_64), (l_32, w_32)) in enumerate(zip(dlc, t64, t32), 1):
        print(f"step {k}: loss dlc32 {l_d:.9f}  torch64 {l_64:.9f}  torch32 {l_32:.9f}"
              f"  (|dlc32-t64| {abs(l_d - l_64):.2e}, |t32-t64| {abs(l_32 - l_64):.2e})")
        for n in PARAMS:
            # `moved` is how far Adam has taken the param so far: the scale
            # the errors should be judged against.
            moved = max_abs(w_64[n], init[n].astype(np.float64))
            u_dlc, u_32 = median_ulps(w_d[n], w_64[n]), median_ulps(w_32[n], w_64[n])
            if u_dlc > 1 and u_dlc > 2 * u_32:
                failures.append(f"{n} at step {k}: median {u_dlc:.2f} ulp against torch32's "
                                f"{u_32:.2f}")
            print(f"{k:>4} {n:<10} {moved:>10.3e} {u_dlc:>8.2f} {u_32:>8.2f} "
                  f"{median_abs(w_d[n], w_64[n]):>10.3e} {median_abs(w_32[n], w_64[n]):>10.3e} "
                  f"{rms(w_d[n], w_64[n]):>10.3e} {rms(w_32[n], w_64[n]):>10.3e} "
                  f"{max_abs(w_d[n], w_64[n]):>10.3e} {max_abs(w_32[n], w_64[n]):>10.3e}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dlc", default=os.path.join(ROOT, "build", "dlc"))
    ap.add_argument("--seed", type=int, default=0, help="dlc's weight init (and --random's data)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--random", action="store_true", help="random batches, not Fashion-MNIST")
    ap.add_argument("--workdir", help="keep the .so and .h here")
    a = ap.parse_args()
    torch.set_num_threads(1)  # a fixed reduction order: torch32 repeats exactly

    with tempfile.TemporaryDirectory(prefix="adam_vs_torch.") as tmp:
        workdir = a.workdir or tmp
        os.makedirs(workdir, exist_ok=True)
        try:
            model = DlcModel(compile_model(a.dlc, workdir), a.seed, workdir)
            init = {n: v.copy() for n, v in model.variables().items() if n in PARAMS}
            batches = random_batches(a.steps, a.seed) if a.random else fashion_batches(a.steps)
            dlc = run_dlc(model, batches)
            model.close()
        except (SetupError, OSError) as e:  # OSError: no dlc, unloadable .so
            print(f"adam_vs_torch: {e}", file=sys.stderr)
            return 2

    t64 = run_torch(init, batches, torch.float64)
    t32 = run_torch(init, batches, torch.float32)
    print(f"{MODEL}: {a.steps} Adam steps (lr {LR}, betas {BETA1}/{BETA2}, eps {EPS}), "
          f"seed {a.seed}, {'random' if a.random else 'Fashion-MNIST'} batches of {BATCH}; "
          f"distances from torch float64")
    failures = report(init, dlc, t64, t32)
    if failures:
        print("verdict: dlc is further from float64 than torch float32 is:\n  " +
              "\n  ".join(failures))
        return 1
    print("verdict: dlc's median distance to float64 is within one ulp or 2x torch "
          "float32's, on every param after every step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
