"""Time one gradient of the layer networks: central differences and backprop against the loop.

Run from the checkout, in one process::

    python benchmarks/layers.py                 # full run, about a minute
    python benchmarks/layers.py --quick         # smoke run, seconds
    python benchmarks/layers.py --json out.json # also write the numbers
    python benchmarks/layers.py --whole-loop    # also run the loop itself on every element
    OPENBLAS_NUM_THREADS=1 python benchmarks/layers.py   # steadier on a shared machine

For each network, one batch of 100 drawn as a run's first iteration draws it (the batch,
then the layers' draws: dropout masks), and inside ``network.training`` with those draws,
interleaved in rounds, each keeping its best:

- ``central_difference``: one ``Network.gradient`` call on fresh copies of the batch;
- the element loop, timed on a sample of elements through ``Objective.plain_losses_at``
  (two full forward passes each, as ``central_difference_loop`` does) and scaled to every
  element (``--whole-loop`` also runs the loop itself once and compares every element);
- ``backprop``: one call.

Printed per network: the seconds of each, loop / central_difference and loop / backprop
against their goals, the largest |difference| between central_difference and the loop on
the sampled elements (goal: at most 1e-10), the peak memory traced by ``tracemalloc``
during one central_difference call (numpy registers its buffers with it; goal: under 1
GiB), and the path each layer's parameters took. The networks are the shipped
``specs/digits_convnet.yaml`` and ``specs/book_batchnorm.yaml`` (the equivalent inline
specs below where a checkout does not have them). Timings on a shared machine are noisy;
this script is for people, not for tests.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gradients import (
    agreement,
    fresh_call,
    loop_on_sample,
    machine,
    peak_mib,
    sample_elements,
    table,
    timed,
)

import toolkit
from toolkit.gradients.interpolation import InterpolationState
from toolkit.gradients.perturbation import BulkState
from toolkit.gradients.state import engine_states
from toolkit.runs.build import assemble

SPECS = Path(__file__).resolve().parent.parent / "specs"
BATCH = 100
DIGITS = {"name": "digits", "test_fraction": 0.2}
INLINE: dict[str, dict[str, Any]] = {
    "digits_convnet": {
        "name": "digits_convnet",
        "seed": 42,
        "data": DIGITS,
        "model": {
            "layers": [
                {"type": "reshape", "shape": [1, 8, 8]},
                {"type": "conv2d", "filters": 16, "kernel": 3, "pad": 1, "activation": "relu"},
                {"type": "max_pool", "size": 2, "stride": 2},
                {"type": "flatten"},
                {"units": 100, "activation": "relu", "init": "he"},
                {"units": 10, "activation": "softmax", "init": "he"},
            ]
        },
        "gradient": "backprop",
        "optimizer": {"name": "adam"},
    },
    "book_batchnorm": {
        "name": "book_batchnorm",
        "seed": 42,
        "data": DIGITS,
        "model": {
            "layers": [
                {"units": 100, "init": "he"},
                {"type": "batchnorm"},
                {"type": "activation", "activation": "relu"},
                {"units": 100, "init": "he"},
                {"type": "batchnorm"},
                {"type": "activation", "activation": "relu"},
                {"units": 10, "activation": "softmax", "init": "he"},
            ]
        },
        "gradient": "backprop",
    },
}
"""The networks, as the shipped specs give them, for a checkout without those files."""
GOALS = {"digits_convnet": (20.0, 1000.0), "book_batchnorm": (10.0, None)}
"""Per network: loop / central_difference and loop / backprop at least (None: no goal)."""
AGREEMENT = 1e-10
MEMORY_MIB = 1024.0


def problem(name: str) -> tuple[toolkit.Network, np.ndarray, np.ndarray, list[Any], str]:
    """The network at its initial weights, a run's first batch of BATCH and its draws, and
    where the spec came from."""
    path = SPECS / f"{name}.yaml"
    source: Any = path if path.exists() else INLINE[name]
    spec = toolkit.load_spec(source, overrides={"train.batch_size": BATCH})
    assembly = assemble(spec)
    batch = assembly.rng.choice(assembly.data.samples, BATCH)
    noise = assembly.network.draw(assembly.rng, BATCH)
    where = str(path.relative_to(SPECS.parent)) if path.exists() else "inline (see INLINE)"
    return assembly.network, assembly.data.x[batch], assembly.data.t[batch], noise, where


def paths(network: toolkit.Network) -> list[str]:
    """Each layer with parameters: its type, and the path its parameters took."""
    interpolation = engine_states(network).of(InterpolationState)
    bulk = engine_states(network).of(BulkState).refused
    described = []
    for k, layer in enumerate(network.layers):
        if not layer.params:
            continue
        names = ", ".join(layer.params)
        if any(name in bulk for name in layer.params):
            how = f"one at a time ({bulk[layer.params[0]]})"
        elif k in interpolation.refused:
            how = f"bulk ({interpolation.refused[k]})"
        else:
            exact, every = interpolation.pairs.get(k, (0, 0))
            how = f"interpolated ({exact:,} of {every:,} pairs exact)"
        described.append(f"layer {k} {layer.type_name} ({names}): {how}")
    return described


def row(name: str, sample_size: int, rounds: int, whole_loop: bool) -> dict[str, Any]:
    """central_difference, the sampled loop and backprop on one network, interleaved."""
    network, x, t, noise, where = problem(name)
    sample = sample_elements(network.params, sample_size)
    sampled = sum(indices.size for indices in sample.values())
    total = sum(p.size for p in network.params.values())
    best = {"central_difference": math.inf, "loop": math.inf, "backprop": math.inf}
    answers: list[dict[str, np.ndarray]] = []
    reference: dict[str, np.ndarray] = {}
    with network.training(noise):
        objective = toolkit.Objective(network, x, t)
        for _ in range(rounds):
            for estimator in best:
                if estimator == "loop":
                    seconds, reference = timed(lambda: loop_on_sample(objective, sample))
                else:
                    seconds, result = fresh_call(network, x, t, estimator)
                    if estimator == "central_difference":
                        answers.append(result)
                best[estimator] = min(best[estimator], seconds)
        peak = peak_mib(lambda: network.gradient(x.copy(), t.copy(), "central_difference"))
        whole = None
        if whole_loop:
            seconds, grads = timed(lambda: network.gradient(x, t, "central_difference_loop"))
            every = {key: np.arange(p.size) for key, p in network.params.items()}
            worst = max(
                float(np.max(np.abs(answer[key] - grads[key])))
                for answer in answers
                for key in every
            )
            whole = {"seconds": seconds, "max_diff": worst}
    loop = best["loop"] / sampled * total
    return {
        "network": name,
        "spec": where,
        "parameters": total,
        "sampled_elements": sampled,
        "central_difference": best["central_difference"],
        "loop_scaled": loop,
        "backprop": best["backprop"],
        "loop_ratio": loop / best["central_difference"],
        "backprop_ratio": loop / best["backprop"],
        "max_diff": max(agreement(grads, reference, sample)[0] for grads in answers),
        "peak_mib": peak,
        "whole_loop": whole,
        "paths": paths(network),
    }


def verdict(value: float, goal: float | None, at_least: bool = True) -> str:
    if goal is None:
        return ""
    met = value >= goal if at_least else value <= goal
    return f" (goal {'>=' if at_least else '<='} {goal:g}: {'met' if met else 'MISSED'})"


def report(rows: Sequence[dict[str, Any]], rounds: int) -> None:
    print(f"\nOne gradient, batch {BATCH}, best of {rounds} interleaved rounds")
    cells = [
        [
            r["network"],
            f"{r['parameters']:,}",
            f"{r['central_difference'] * 1e3:.1f}",
            f"{r['loop_scaled']:.2f}",
            f"{r['backprop'] * 1e3:.2f}",
            f"{r['loop_ratio']:.0f}x",
            f"{r['backprop_ratio']:.0f}x",
            f"{r['max_diff']:.1e}",
            f"{r['peak_mib']:.1f}",
        ]
        for r in rows
    ]
    headers = [
        "network",
        "params",
        "cd ms",
        "loop s",
        "backprop ms",
        "loop/cd",
        "loop/backprop",
        "max|cd-loop|",
        "peak MiB",
    ]
    print(table(headers, cells))
    for r in rows:
        loop_goal, backprop_goal = GOALS[r["network"]]
        print(f"\n{r['network']} ({r['spec']}; loop scaled from {r['sampled_elements']} elements):")
        print(
            f"  central_difference {r['loop_ratio']:.0f}x the loop"
            + verdict(r["loop_ratio"], loop_goal)
        )
        if backprop_goal is not None:
            print(
                f"  backprop {r['backprop_ratio']:.0f}x the loop"
                + verdict(r["backprop_ratio"], backprop_goal)
            )
        print(f"  max |cd - loop| {r['max_diff']:.2e}" + verdict(r["max_diff"], AGREEMENT, False))
        print(f"  peak memory {r['peak_mib']:.1f} MiB" + verdict(r["peak_mib"], MEMORY_MIB, False))
        if r["whole_loop"]:
            whole = r["whole_loop"]
            print(
                f"  the loop itself: {whole['seconds']:.1f} s on every element, max |cd - loop| "
                f"{whole['max_diff']:.2e}"
            )
        for line in r["paths"]:
            print(f"  {line}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, a smaller loop sample")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--whole-loop", action="store_true", help="also run the loop itself")
    args = parser.parse_args(argv)
    rounds, sample_size = (2, 100) if args.quick else (5, 400)
    info = machine()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", toolkit.ToolkitNotice)  # the paths say what they say
        for name in GOALS:
            rows.append(row(name, sample_size, rounds, args.whole_loop))
            print(f"  {name}: done", file=sys.stderr, flush=True)
    info["load at end"] = machine()["load at start"]
    width = max(len(key) for key in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    report(rows, rounds)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
