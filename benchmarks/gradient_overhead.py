"""The fixed cost of one gradient call on a small network, against the element loop.

Run from the checkout (the BLAS thread setting is the caller's)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/gradient_overhead.py             # 7 rounds
    OPENBLAS_NUM_THREADS=1 python benchmarks/gradient_overhead.py --rounds 3

The shipped ``specs/two_layer_sigmoid.yaml`` network (100-10-10, sigmoid then softmax,
cross-entropy) at batch 10 and at batch 100. Per round, each network takes one call of
``central_difference``, of ``central_difference_loop`` (the whole loop: 1,110 elements, two
forward passes each) and of ``backprop``, in that order; the rounds interleave, so a change
in the machine's load falls on all of them, and the best time of the rounds is kept. It
prints the speedup of ``central_difference`` over the loop, its time over backprop's, the
largest difference from the loop, how many Python-level calls (functions and builtins,
counted with ``sys.setprofile``) one ``central_difference`` call makes, and the load
average at the start and the end.

Timings on a shared machine are noisy; this script is for people, not for tests.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import toolkit

SPEC = Path(__file__).resolve().parent.parent / "specs" / "two_layer_sigmoid.yaml"
BATCHES = (10, 100)
ESTIMATORS = ("central_difference", "central_difference_loop", "backprop")
Problem = tuple[toolkit.Network, np.ndarray, np.ndarray]


def problem(batch: int) -> Problem:
    """The shipped network at its initial weights and its first ``batch`` samples."""
    spec = toolkit.load_spec(SPEC, {"data.samples": max(batch, 100), "train.batch_size": batch})
    data = toolkit.load_data(spec)
    return toolkit.build(spec), data.x[:batch], data.t[:batch]


def seconds(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def python_calls(call: Callable[[], Any]) -> int:
    """Python functions and builtins entered during one ``call()``."""
    count = 0

    def counted(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        count += event in ("call", "c_call")

    sys.setprofile(counted)
    try:
        call()
    finally:
        sys.setprofile(None)
    return count


def load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()
    print(f"load at start  {load()}")
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    problems = {batch: problem(batch) for batch in BATCHES}
    best = {(batch, name): float("inf") for batch in BATCHES for name in ESTIMATORS}
    for network, x, t in problems.values():  # warm up: imports, the engines' first batch
        for name in ESTIMATORS:
            network.gradient(x, t, name)
    for _ in range(arguments.rounds):
        for batch, (network, x, t) in problems.items():
            for name in ESTIMATORS:
                taken = seconds(functools.partial(network.gradient, x, t, name))
                best[batch, name] = min(best[batch, name], taken)
    print(f"100-10-10 sigmoid/softmax, one gradient call, best of {arguments.rounds} rounds")
    header = "batch  central_difference  loop        backprop   loop/cd  cd/backprop"
    print(f"{header}  max|cd-loop|  calls")
    for batch, (network, x, t) in problems.items():
        fast = network.gradient(x, t, "central_difference")
        slow = network.gradient(x, t, "central_difference_loop")
        diff = max(float(np.max(np.abs(fast[key] - slow[key]))) for key in fast)
        calls = python_calls(functools.partial(network.gradient, x, t, "central_difference"))
        cd, lp, bp = (best[batch, name] for name in ESTIMATORS)
        print(
            f"{batch:5d}  {cd * 1e3:15.3f} ms  {lp * 1e3:7.1f} ms  {bp * 1e3:6.3f} ms  "
            f"{lp / cd:7.0f}  {cd / bp:11.1f}  {diff:12.1e}  {calls:5d}"
        )
    print(f"load at end    {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
