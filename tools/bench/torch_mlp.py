#!/usr/bin/python3
"""The MLP of examples/mnist_mlp.dl in PyTorch, timed the way `dlc bench` times
dlc: a train step (forward, sparse cross-entropy, backward, Adam) at the full
batch, and predict (softmax) at the full batch and at one row. Prints one line
per figure: `<entry> <rows> <median seconds>`.

Usage: torch_mlp.py [--batch 128] [--threads 1] [--rounds 7]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


def time_call(fn, rounds, seconds_per_round=0.2):
    start, calls = time.perf_counter(), 0
    while calls < 5 or time.perf_counter() - start < 0.1:  # warm up, size rounds
        fn()
        calls += 1
    per_round = max(3, int(seconds_per_round / ((time.perf_counter() - start) / calls)))
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(per_round):
            fn()
        samples.append((time.perf_counter() - t) / per_round)
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(a.batch, 28, 28)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    print("step", a.batch, time_call(step, a.rounds))
    with torch.no_grad():
        for rows in (a.batch, 1):
            xr = x[:rows].contiguous()
            print("predict", rows, time_call(lambda: torch.softmax(model(xr), 1), a.rounds))


if __name__ == "__main__":
    main()
