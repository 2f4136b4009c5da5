#!/usr/bin/env python3
"""Train, predict and checkpoint a model that dlc compiled ahead of time,
from Python: ctypes calls the generated library's C API, NumPy arrays hold
the tensors. Nothing is hard-coded about the model: its name, inputs,
outputs and shapes come from <m>_metadata(), the dlc_model_desc that dlc
compiles into every library (runtime/dlc_abi.h).

    dlc examples/mnist_mlp.dl -o mnist_mlp.so
    python3 examples/python/train.py mnist_mlp.so --steps 50 --save mlp.ckpt

The data is synthetic (one noisy prototype per class), so this runs
anywhere; --data DIR trains on Fashion-MNIST's IDX files instead. It fits a
classifier: one f32 input of features, one i32 input of labels, a train
entry and a `predict` entry, as in examples/mnist_mlp.dl.
"""
import argparse
import ctypes
import gzip
import os
import re
import sys

import numpy as np

# runtime/dlc_abi.h, field by field. The library says which version it was
# compiled with; a different one may have moved fields, so it is refused.
DLC_ABI_VERSION = 4
DLC_F32, DLC_I32 = 0, 1
NUMPY_DTYPE = {DLC_F32: np.float32, DLC_I32: np.int32}


class TensorDesc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32),
                ("rank", ctypes.c_int32), ("dims", ctypes.POINTER(ctypes.c_int64)),
                ("numel", ctypes.c_int64), ("offset", ctypes.c_int64),
                ("init", ctypes.c_int32), ("trainable", ctypes.c_int32),
                ("init_a", ctypes.c_float), ("init_b", ctypes.c_float),
                ("index_bound", ctypes.c_int64)]

    def shape(self):
        return tuple(self.dims[i] for i in range(self.rank))


class EntryDesc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("is_train", ctypes.c_int32),
                ("rows_independent", ctypes.c_int32),
                ("n_inputs", ctypes.c_int32), ("inputs", ctypes.POINTER(ctypes.c_int32)),
                ("n_outputs", ctypes.c_int32), ("outputs", ctypes.POINTER(TensorDesc)),
                ("arena_bytes", ctypes.c_int64), ("fn", ctypes.c_void_p)]


class ModelDesc(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("name", ctypes.c_char_p),
                ("signature", ctypes.c_uint64), ("batch", ctypes.c_int64),
                ("n_inputs", ctypes.c_int32), ("inputs", ctypes.POINTER(TensorDesc)),
                ("n_vars", ctypes.c_int32), ("vars", ctypes.POINTER(TensorDesc)),
                ("state_bytes", ctypes.c_int64), ("n_entries", ctypes.c_int32),
                ("entries", ctypes.POINTER(EntryDesc))]


class DlcError(RuntimeError):
    """A call of the library returned an error code; the message is its own."""


def c_identifier(name):
    """The C name dlc gives a DSL name (codegen/Layout.cpp, cIdentifier)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return "_" + s if not s or s[0].isdigit() else s


class Entry:
    """One entry point, as its C function <m>_<entry> takes it: the context,
    the inputs, the number of rows (entries other than train ones), the outputs."""

    def __init__(self, lib, prefix, model, desc):
        self.name = desc.name.decode()
        self.is_train = bool(desc.is_train)
        self.inputs = [model.inputs[desc.inputs[i]] for i in range(desc.n_inputs)]
        self.outputs = [desc.outputs[i] for i in range(desc.n_outputs)]
        self.fn = getattr(lib, prefix + c_identifier(self.name))
        rows = [] if self.is_train else [ctypes.c_size_t]
        self.fn.argtypes = ([ctypes.c_void_p] * (1 + len(self.inputs)) + rows +
                            [ctypes.c_void_p] * len(self.outputs))
        self.fn.restype = ctypes.c_int


class Library:
    """A model.so that dlc wrote, and what its metadata says about it."""

    def __init__(self, path, prefix=None):
        self.lib = ctypes.CDLL(os.path.abspath(path))
        # The C prefix is the model's name in the DSL; `dlc m.dl -o NAME.so`
        # usually keeps that name for the file.
        prefix = c_identifier(prefix or os.path.basename(path).split(".")[0]) + "_"
        try:
            metadata = getattr(self.lib, prefix + "metadata")
        except AttributeError:
            sys.exit(f"{path} has no function {prefix}metadata: is the model inside it "
                     f"named otherwise? (say it with --model NAME)")
        metadata.restype = ctypes.POINTER(ModelDesc)
        self.desc = metadata().contents
        if self.desc.abi_version != DLC_ABI_VERSION:
            sys.exit(f"{path} was compiled for dlc ABI version {self.desc.abi_version}; "
                     f"this script reads version {DLC_ABI_VERSION}")
        self.name = self.desc.name.decode()
        self.batch = self.desc.batch
        self.inputs = [self.desc.inputs[i] for i in range(self.desc.n_inputs)]
        self.entries = {}
        for i in range(self.desc.n_entries):
            entry = Entry(self.lib, prefix, self, self.desc.entries[i])
            self.entries[entry.name] = entry

        def function(name, restype, *argtypes):
            f = getattr(self.lib, prefix + name)
            f.restype, f.argtypes = restype, list(argtypes)
            return f
        # restype c_void_p: ctypes would otherwise cut the pointer to an int.
        self.create = function("create", ctypes.c_void_p, ctypes.c_uint64)
        self.destroy = function("destroy", None, ctypes.c_void_p)
        self.save = function("save", ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)
        self.load = function("load", ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)
        self.error = function("error", ctypes.c_char_p, ctypes.c_void_p)


class Model:
    """A context of a Library: its own variables and optimizer state."""

    def __init__(self, library, seed=0):
        self.library = library
        self.ctx = library.create(seed)
        if not self.ctx:
            raise DlcError(library.error(None).decode())

    def close(self):
        if self.ctx:
            self.library.destroy(self.ctx)
            self.ctx = None

    def _check(self, rc):
        if rc != 0:
            raise DlcError(self.library.error(self.ctx).decode())

    @staticmethod
    def _tensor(desc, array, rows):
        """`array` as the C-contiguous tensor of `desc`'s dtype that C reads."""
        array = np.ascontiguousarray(array, dtype=NUMPY_DTYPE[desc.dtype])
        shape = desc.shape()
        expected = (rows,) + shape[1:] if rows is not None else shape
        if array.shape != expected:
            raise ValueError(f"{desc.name.decode()}: expected shape {expected}, got {array.shape}")
        return array

    def _run(self, entry, arrays, rows):
        inputs = [self._tensor(d, a, rows) for d, a in zip(entry.inputs, arrays)]
        outputs = [np.empty(d.shape() if rows is None else (rows,) + d.shape()[1:],
                            dtype=NUMPY_DTYPE[d.dtype]) for d in entry.outputs]
        args = [a.ctypes.data for a in inputs] + ([] if rows is None else [rows])
        self._check(entry.fn(self.ctx, *args, *[o.ctypes.data for o in outputs]))
        return outputs

    def train(self, *arrays, entry="step"):
        """One step of a train entry on a full batch; returns its outputs (the loss)."""
        return self._run(self.library.entries[entry], arrays, None)

    def predict(self, *arrays, entry="predict"):
        """Any number of rows: the entry takes 1 to batch rows at a time."""
        e, batch, n = self.library.entries[entry], self.library.batch, len(arrays[0])
        chunks = [self._run(e, [a[i:i + batch] for a in arrays], min(batch, n - i))
                  for i in range(0, n, batch)]
        return [np.concatenate(parts) for parts in zip(*chunks)]

    def save(self, path):
        self._check(self.library.save(self.ctx, os.fsencode(path)))

    def load(self, path):
        self._check(self.library.load(self.ctx, os.fsencode(path)))


def synthetic(rng, prototypes, n):
    """n examples: each class's fixed random pattern, half hidden by noise."""
    labels = rng.integers(0, len(prototypes), n)
    noise = rng.random((n,) + prototypes.shape[1:])
    return (0.5 * prototypes[labels] + 0.5 * noise).astype(np.float32), labels.astype(np.int32)


def read_idx(path):
    """An IDX file of Fashion-MNIST (gzipped or not): images scaled to [0, 1], or labels."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)
    return array.astype(np.float32) / 255 if rank > 1 else array.astype(np.int32)


def fashion_mnist(directory, split):
    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(directory, name)):
                return os.path.join(directory, name)
        sys.exit(f"{directory} has no {stem}[.gz]")
    return (read_idx(find(f"{split}-images-idx3-ubyte")),
            read_idx(find(f"{split}-labels-idx1-ubyte")))


def describe(desc, batch):
    dims = ", ".join("batch" if i == 0 and d == batch else str(d)
                     for i, d in enumerate(desc.shape()))
    return f"{desc.name.decode()} {'f32' if desc.dtype == DLC_F32 else 'i32'}[{dims}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", help="the model.so that dlc wrote")
    parser.add_argument("--model", help="the model's name in the DSL (default: the file's name)")
    parser.add_argument("--steps", type=int, default=50, help="train steps (default 50)")
    parser.add_argument("--data", help="a directory of Fashion-MNIST IDX files (default: synthetic data)")
    parser.add_argument("--save", default="model.ckpt", help="where to save the checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    library = Library(args.library, args.model)
    train_entry = next((e for e in library.entries.values() if e.is_train), None)
    features = [d for d in library.inputs if d.dtype == DLC_F32]
    labels = [d for d in library.inputs if d.dtype == DLC_I32 and d.index_bound > 0]
    if (not train_entry or "predict" not in library.entries or len(features) != 1
            or len(labels) != 1 or len(library.inputs) != 2 or library.batch == 0):
        sys.exit(f"model {library.name} is not a classifier this script can drive: it wants "
                 "a batch, one f32 input, one i32 label input, a train entry and predict")
    feature_shape, classes = features[0].shape()[1:], labels[0].index_bound
    # The inputs in the entries' own order: the two lists pass data positionally.
    order = [0 if d.name == features[0].name else 1 for d in train_entry.inputs]
    print(f"model {library.name}: batch {library.batch}, inputs "
          f"{', '.join(describe(d, library.batch) for d in library.inputs)}, "
          f"{classes} classes; entries {', '.join(library.entries)}")

    rng = np.random.default_rng(args.seed)
    if args.data:
        x_train, y_train = fashion_mnist(args.data, "train")
        x_test, y_test = fashion_mnist(args.data, "t10k")
        if x_train.shape[1:] != feature_shape:
            sys.exit(f"the images are {x_train.shape[1:]}, the model wants {feature_shape}")
    else:
        prototypes = rng.random((classes,) + feature_shape)
        # Batches are drawn from a pool of at most 20 batches' examples.
        x_train, y_train = synthetic(rng, prototypes, library.batch * min(args.steps, 20))
        x_test, y_test = synthetic(rng, prototypes, 300)

    model = Model(library, seed=args.seed)
    losses, every = [], max(10, args.steps // 10)
    for step in range(args.steps):
        rows = rng.integers(0, len(x_train), library.batch)
        data = (x_train[rows], y_train[rows])
        loss = float(model.train(*[data[i] for i in order], entry=train_entry.name)[0])
        losses.append(loss)
        if step == 0 or (step + 1) % every == 0:
            print(f"step {step + 1:4d}  loss {loss:.4f}")
    k = max(1, min(5, len(losses) // 2))
    first, last = np.mean(losses[:k]), np.mean(losses[-k:])
    print(f"mean loss of the first {k} steps {first:.4f}, of the last {k} {last:.4f}: "
          f"{'it fell' if last < first else 'it did NOT fall'}")

    # More rows than a batch: predict() runs them a batch at a time.
    probs = model.predict(x_test)[0]
    accuracy = float(np.mean(probs.argmax(axis=1) == y_test))
    print(f"predict: {x_test.shape} -> probs {probs.shape}, rows sum to 1: "
          f"{bool(np.allclose(probs.sum(axis=1), 1, atol=1e-4))}, accuracy {100 * accuracy:.1f}%")

    # The library refuses a label outside [0, classes) before the step runs.
    bad = (x_train[:library.batch], y_train[:library.batch].copy())
    bad[1][3] = classes
    try:
        model.train(*[bad[i] for i in order], entry=train_entry.name)
        refused = False
        print("a bad label was NOT refused")
    except DlcError as e:
        refused = True
        print(f"a label of {classes} is refused: {e}")

    model.save(args.save)
    restored = Model(library, seed=args.seed + 1)
    restored.load(args.save)
    same = np.array_equal(restored.predict(x_test)[0], probs)
    print(f"saved {args.save}; a model from another seed loaded it and predicts "
          f"{'the same' if same else 'DIFFERENTLY'}")
    restored.close()
    model.close()
    return 0 if same and refused and last < first else 1


if __name__ == "__main__":
    sys.exit(main())
