"""Time the gradient estimators against the element loop they replace.

Run from the checkout, in one process::

    python benchmarks/gradients.py                 # full run, a few minutes
    python benchmarks/gradients.py --quick         # smoke run, seconds
    python benchmarks/gradients.py --json out.json # also write the numbers
    python benchmarks/gradients.py --whole-loop    # also run the loop on all ~40k elements
    OPENBLAS_NUM_THREADS=1 python benchmarks/gradients.py --table  # the table (d) alone

Four sections:

(a) the seed run: the shipped ``specs/two_layer_sigmoid.yaml`` (300 SGD steps) trained
    with ``central_difference_loop``, ``central_difference`` and ``backprop``; wall time,
    the speedup over the loop, and the logged losses against the issue's numbers;
(b) one gradient call on a batch of 100 for a 784-50-10 sigmoid/softmax network, per
    estimator: best-of-N wall time, speedup over the loop, agreement with the loop on a
    sample of elements, and peak traced memory. The loop itself is timed on a sample of
    elements through ``Objective.plain_losses_at`` (2 forward passes each, as the loop
    does) and scaled to all ~40k elements; ``--whole-loop`` also runs it whole;
(c) the machine the numbers come from, with the BLAS thread settings and the load;
(d) the table: one gradient call on each of several networks (784-100-10 to
    784-300-300-300-10, sigmoid, tanh, relu, leaky_relu; batch 100 unless stated):
    central_difference, the sampled loop and backprop, interleaved in rounds, best of
    each; their ratios, agreement with the loop, peak memory, and the path each layer's
    parameters took (interpolated or bulk). ``--table`` runs it alone (with (c)).

Timings on a shared machine are noisy; this script is for people, not for tests. With
other jobs on the cores, a multithreaded BLAS can make small matrix products many times
slower: ``OPENBLAS_NUM_THREADS=1`` gives steadier numbers there.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import sys
import textwrap
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import toolkit
from toolkit.gradients.interpolation import InterpolationState
from toolkit.gradients.state import engine_states
from toolkit.runs.build import assemble

SPEC = Path(__file__).resolve().parent.parent / "specs" / "two_layer_sigmoid.yaml"
ISSUE_LOSSES = (2.389361774963056, 2.2981696908842117, 2.310003577235071)
"""The losses the seed run logs at iterations 100, 200 and 300, as stated in the issue."""
SEED_ESTIMATORS = {
    "central_difference_loop": "gradient.name=central_difference_loop",  # keeps the spec's h
    "central_difference": "gradient.name=central_difference",
    # `gradient.name=backprop` keeps the spec's `h: 1.0e-4`, which backprop refuses as an
    # unknown parameter (SpecError): replace the whole part instead.
    "backprop": "gradient=backprop",
}
"""The seed run's estimators, each with the override that selects it."""
CALL_ESTIMATORS = ("central_difference", "forward_difference", "complex_step", "spsa", "backprop")
BULK = "central_difference (bulk)"
"""central_difference on its fallback path (interpolation refused), timed last."""
BIG_NETWORK = {
    "data.features": 784,
    "data.samples": 1000,
    "model.layers.0.units": 50,
}
"""Overrides of the shipped spec giving the book's 784-50-10 MNIST-sized network."""
BATCH = 100
H = 1e-4
"""The loop's step (the shipped spec's and central_difference_loop's default)."""
MIB = 1024 * 1024

Row = dict[str, Any]


# ---------------------------------------------------------------------------- measuring


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` takes, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The fastest of ``repeats`` calls of ``fn``, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        seconds, result = timed(fn)
        best = min(best, seconds)
    return best, result


def peak_mib(fn: Callable[[], Any]) -> float:
    """Peak memory traced by tracemalloc during one call of ``fn``, in MiB.

    numpy registers its array buffers with tracemalloc, so this counts them too. Only
    allocations made during the call are traced (tracing starts just before it).
    """
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / MIB


# ----------------------------------------------------------------------- (a) seed run


def seed_run(estimator: str, iterations: int) -> Row:
    """Train the shipped spec with ``estimator``; seconds and the logged losses."""
    overrides = [SEED_ESTIMATORS[estimator], f"train.iterations={iterations}"]
    spec = toolkit.load_spec(SPEC, overrides=overrides)
    seconds, result = timed(lambda: toolkit.train(spec))
    losses = [record["loss"] for record in result.history]
    expected = ISSUE_LOSSES[: len(losses)]
    diff = max(abs(a - b) for a, b in zip(losses, expected, strict=True))
    return {"estimator": estimator, "seconds": seconds, "losses": losses, "max_diff": diff}


def seed_section(iterations: int) -> list[Row]:
    """The seed run with each of SEED_ESTIMATORS, with the speedup over the loop."""
    rows = [seed_run(name, iterations) for name in SEED_ESTIMATORS]
    loop = rows[0]["seconds"]
    for row in rows:
        row["speedup"] = loop / row["seconds"]
    return rows


# ------------------------------------------------------------- (b) one gradient call


def big_problem() -> tuple[toolkit.Network, np.ndarray, np.ndarray]:
    """The 784-50-10 network at its initial weights, and one batch of BATCH samples."""
    assembly = assemble(toolkit.load_spec(SPEC, overrides=BIG_NETWORK))
    batch = assembly.rng.choice(assembly.data.samples, BATCH)
    return assembly.network, assembly.data.x[batch], assembly.data.t[batch]


def sample_elements(params: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """About ``count`` flat indices per parameter, evenly spread, in proportion to its size.

    Every parameter gets at least a few (all of a small one), so small biases are
    checked too.
    """
    total = sum(p.size for p in params.values())
    sample = {}
    for name, param in params.items():
        share = min(param.size, max(8, round(count * param.size / total)))
        sample[name] = np.unique(np.linspace(0, param.size - 1, share).round().astype(np.intp))
    return sample


def loop_on_sample(
    objective: toolkit.Objective, sample: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The loop's central differences at the sampled elements, 2 full evaluations each."""
    return {
        name: objective.central_differences(name, indices, H, plain=True)
        for name, indices in sample.items()
    }


def agreement(
    grads: dict[str, np.ndarray], reference: dict[str, np.ndarray], sample: dict[str, np.ndarray]
) -> tuple[float, float]:
    """Max |a - b| over the sampled elements, and that divided by max |b| (b: the loop)."""
    a = np.concatenate([np.asarray(grads[name]).reshape(-1)[sample[name]] for name in sample])
    b = np.concatenate([reference[name] for name in sample])
    diff = float(np.max(np.abs(a - b)))
    return diff, diff / float(np.max(np.abs(b)))


def loop_check() -> float:
    """Max |difference| between the sampled reference and central_difference_loop itself.

    Done on the seed network (1,110 elements, every one sampled), where the loop is
    cheap: it shows that the reference in the gradient-call table is the loop's numbers.
    """
    assembly = assemble(toolkit.load_spec(SPEC))
    network = assembly.network
    batch = assembly.rng.choice(assembly.data.samples, 10)
    x, t = assembly.data.x[batch], assembly.data.t[batch]
    sample = {name: np.arange(p.size) for name, p in network.params.items()}
    reference = loop_on_sample(toolkit.Objective(network, x, t), sample)
    grads = network.gradient(x, t, "central_difference_loop")
    return agreement(grads, reference, sample)[0]


def whole_loop(
    network: toolkit.Network,
    x: np.ndarray,
    t: np.ndarray,
    reference: dict[str, np.ndarray],
    sample: dict[str, np.ndarray],
) -> dict[str, float]:
    """central_difference_loop itself on every element, timed once: checks the scaling."""
    seconds, grads = timed(lambda: network.gradient(x, t, "central_difference_loop"))
    return {"seconds": seconds, "max_diff": agreement(grads, reference, sample)[0]}


def gradient_section(sample_size: int, repeats: int, run_loop: bool) -> dict[str, Any]:
    """One gradient call per estimator on the big network, against the scaled loop.

    The sampled reference is checked against the loop on the small seed network
    (``loop_check``); with ``run_loop`` the real loop also runs once on every element
    of the big one, to check the scaled time too.
    """
    network, x, t = big_problem()
    objective = toolkit.Objective(network, x, t)
    sample = sample_elements(network.params, sample_size)
    sampled = sum(indices.size for indices in sample.values())
    total = sum(p.size for p in network.params.values())

    sample_seconds, reference = best_of(lambda: loop_on_sample(objective, sample), repeats)
    loop_seconds = sample_seconds / sampled * total
    rows = [
        {
            "estimator": "loop (scaled)",
            "seconds": loop_seconds,
            "speedup": 1.0,
            "max_diff": None,
            "rel_error": None,
            "peak_mib": peak_mib(lambda: loop_on_sample(objective, sample)),
        }
    ]
    for name in (*CALL_ESTIMATORS, BULK):
        if name == BULK:  # the same estimator with interpolation refused: its fallback
            engine_states(network).of(InterpolationState).refused.update(
                dict.fromkeys(range(len(network.layers)), "timed alone by the benchmark")
            )
        call = functools.partial(network.gradient, x, t, name.split()[0])
        seconds, grads = best_of(call, repeats)
        diff, rel = agreement(grads, reference, sample)
        rows.append(
            {
                "estimator": name,
                "seconds": seconds,
                "speedup": loop_seconds / seconds,
                "max_diff": diff,
                "rel_error": rel,
                "peak_mib": peak_mib(call),
            }
        )
    return {
        "shape": [
            x.shape[1],
            *(network.params[layer.params[0]].shape[1] for layer in network.layers),
        ],
        "batch": BATCH,
        "elements": total,
        "sampled_elements": sampled,
        "loop_sample_seconds": sample_seconds,
        "repeats": repeats,
        "whole_loop": whole_loop(network, x, t, reference, sample) if run_loop else None,
        "seed_loop_check_max_diff": loop_check(),
        "rows": rows,
    }


# ------------------------------------------------------------------- (d) the table


@dataclass(frozen=True)
class Net:
    """One row of the table: layer sizes (inputs first), hidden activation, batch."""

    sizes: tuple[int, ...]
    activation: str
    batch: int = BATCH

    @property
    def label(self) -> str:
        return f"{'-'.join(map(str, self.sizes))} {self.activation}"


TABLE = (
    Net((784, 100, 10), "sigmoid"),
    Net((784, 100, 10), "relu"),
    Net((784, 100, 100, 10), "relu"),
    Net((784, 100, 100, 10), "leaky_relu"),
    Net((784, 50, 50, 50, 10), "relu"),
    Net((784, 100, 100, 10), "tanh"),
    Net((784, 300, 300, 300, 10), "sigmoid"),
    Net((100, 10, 10), "sigmoid", batch=10),
    Net((100, 10, 10), "sigmoid"),
)
"""The networks of the table, each with softmax and cross_entropy at the output."""
QUICK_TABLE = (
    Net((784, 100, 10), "sigmoid"),
    Net((784, 100, 10), "relu"),
    Net((100, 20, 20, 10), "relu", batch=10),
    Net((100, 10, 10), "sigmoid", batch=10),
)
"""``--quick``'s rows: small, with a ReLU under another (interpolated through it)."""
KINKED = ("relu", "leaky_relu")
"""Hidden activations initialized with ``he``; the others get ``xavier``."""
SLOW = 2.0
"""Seconds: a call slower than this is timed in at most 3 rounds."""


def table_problem(net: Net) -> tuple[toolkit.Network, np.ndarray, np.ndarray]:
    """The shipped spec reshaped to ``net`` (random data, 1000 samples, seed 42), at its
    initial weights, and one batch drawn as a run's first."""
    tree = yaml.safe_load(SPEC.read_text())
    init = "he" if net.activation in KINKED else "xavier"
    *hidden, classes = net.sizes[1:]
    tree["data"] = {"name": "random", "samples": 1000, "features": net.sizes[0]}
    tree["data"]["classes"] = classes
    tree["model"]["layers"] = [
        *({"units": n, "activation": net.activation, "init": {"name": init}} for n in hidden),
        {"units": classes, "activation": "softmax", "init": {"name": "xavier"}},
    ]
    assembly = assemble(toolkit.load_spec(tree))
    batch = assembly.rng.choice(assembly.data.samples, net.batch)
    return assembly.network, assembly.data.x[batch], assembly.data.t[batch]


def fresh_call(network: toolkit.Network, x: np.ndarray, t: np.ndarray, estimator: str) -> Any:
    """One gradient call on copies of the batch, timed: nothing kept for the batch arrays
    themselves is reused between calls."""
    x, t = x.copy(), t.copy()
    return timed(lambda: network.gradient(x, t, estimator))


def layer_paths(network: toolkit.Network) -> list[str]:
    """The path each layer's parameters took in the last central_difference call: the
    bulk path where the engine refused the layer, else interpolated (with how many
    (sample, unit) pairs were evaluated exactly, where the engine says)."""
    state = engine_states(network).of(InterpolationState)
    pairs = state.pairs
    paths = []
    for k in range(len(network.layers)):
        if k in state.refused:
            paths.append(f"bulk ({state.refused[k]})")
        elif k in pairs:
            exact, every = pairs[k]
            paths.append(f"interpolated ({exact:,} of {every:,} pairs exact)")
        else:
            paths.append("interpolated")
    return paths


def table_row(net: Net, sample_size: int, rounds: int) -> Row:
    """Central differences, backprop and the sampled loop on ``net``, interleaved in
    rounds, each the best of its rounds; agreement (the worst of the central_difference
    calls), peak memory and the layers' paths."""
    network, x, t = table_problem(net)
    objective = toolkit.Objective(network, x, t)
    sample = sample_elements(network.params, sample_size)
    sampled = sum(indices.size for indices in sample.values())
    total = sum(p.size for p in network.params.values())
    best = {"central_difference": math.inf, "backprop": math.inf, "loop": math.inf}
    answers: list[dict[str, np.ndarray]] = []  # every central_difference call's
    reference: dict[str, np.ndarray] = {}
    for round_ in range(rounds):
        for name in best:
            if round_ >= 3 and best[name] > SLOW:
                continue
            if name == "loop":
                seconds, reference = timed(lambda: loop_on_sample(objective, sample))
            else:
                seconds, result = fresh_call(network, x, t, name)
                if name == "central_difference":
                    answers.append(result)
            best[name] = min(best[name], seconds)
    loop = best["loop"] / sampled * total
    central, backprop = best["central_difference"], best["backprop"]
    return {
        "network": net.label,
        "batch": net.batch,
        "parameters": total,
        "sampled_elements": sampled,
        "central_difference": central,
        "loop_scaled": loop,
        "loop_ratio": loop / central,
        "backprop": backprop,
        "backprop_ratio": central / backprop,
        "max_diff": max(agreement(grads, reference, sample)[0] for grads in answers),
        "peak_mib": peak_mib(functools.partial(network.gradient, x.copy(), t.copy())),
        "paths": layer_paths(network),
    }


def table_section(nets: Sequence[Net], sample_size: int, rounds: int) -> list[Row]:
    """``table_row`` for each of ``nets``, printed as each is done (the slow ones take
    seconds a call); the engine's notices are left out (the paths say what they say)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", toolkit.ToolkitNotice)
        for net in nets:
            rows.append(table_row(net, sample_size, rounds))
            print(f"  {net.label}, batch {net.batch}: done", file=sys.stderr, flush=True)
    return rows


# ------------------------------------------------------------------------ (c) machine


def machine() -> dict[str, Any]:
    """Platform, CPU model, core count, Python, numpy and (where numpy says) its BLAS."""
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model() or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas(),
        "blas threads": _thread_settings(),
        "load at start": _load(),
    }


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _thread_settings() -> str:
    """The environment variables that cap the BLAS's threads, as set (or not)."""
    settings = [f"{key}={os.environ[key]}" for key in THREAD_VARIABLES if key in os.environ]
    return ", ".join(settings) or "not capped (no *_NUM_THREADS set: about one per core)"


def _load() -> str:
    """The 1, 5 and 15 minute load averages, where the platform has them."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _blas() -> str:
    """The BLAS numpy was built against, from ``numpy.show_config(mode="dicts")`` (numpy 2)."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


# ------------------------------------------------------------------------- printing


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def note(text: str) -> None:
    """Print a paragraph wrapped to 100 columns."""
    print(textwrap.fill(text, width=100))


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_seed(rows: list[Row], iterations: int) -> None:
    print(f"(a) seed run: {SPEC.name}, {iterations} SGD steps, timed once each")
    logged = [f"loss@{100 * (i + 1)}" for i in range(len(rows[0]["losses"]))]
    headers = ["estimator", "seconds", "loop/est", *logged, "max|diff| vs issue"]
    body = [
        [
            row["estimator"],
            f"{row['seconds']:.3f}",
            f"{row['speedup']:.1f}",
            *(repr(loss) for loss in row["losses"]),
            f"{row['max_diff']:.1e}",
        ]
        for row in rows
    ]
    print(table(headers, body))
    print(f"issue's losses: {', '.join(repr(v) for v in ISSUE_LOSSES[: len(logged)])}")


def print_gradients(section: dict[str, Any]) -> None:
    shape = "-".join(str(n) for n in section["shape"])
    print(
        f"(b) one gradient call: {shape} sigmoid/softmax, batch {section['batch']}, "
        f"{section['elements']:,} parameters; best of {section['repeats']}"
    )
    headers = ["estimator", "seconds", "loop/est", "max|diff|", "rel error", "peak MiB"]
    body = [
        [
            row["estimator"],
            f"{row['seconds']:.4f}",
            f"{row['speedup']:.0f}",
            _number(row["max_diff"], ".1e"),
            _number(row["rel_error"], ".1e"),
            f"{row['peak_mib']:.1f}",
        ]
        for row in section["rows"]
    ]
    print(table(headers, body))
    note(
        f"The loop's time is scaled from a sample: {section['sampled_elements']} elements "
        f"spread over every parameter took {section['loop_sample_seconds']:.2f} s "
        f"(2 full evaluations each, Objective.plain_losses_at), times "
        f"{section['elements']:,}/{section['sampled_elements']}; its peak memory is the "
        "sample's. Agreement is against the loop's values on those elements "
        "(rel error = max|a-b| / max|b|); spsa is a stochastic estimate and is not "
        "expected to agree."
    )
    note(
        "Check: sampled reference vs central_difference_loop itself on the seed network "
        f"(every element): max|diff| {section['seed_loop_check_max_diff']:.1e}"
    )
    whole = section["whole_loop"]
    if whole:
        note(
            f"Check: central_difference_loop itself on all {section['elements']:,} elements took "
            f"{whole['seconds']:.2f} s (scaled estimate above: {section['rows'][0]['seconds']:.2f}"
            f" s); at the sampled elements it equals the reference to {whole['max_diff']:.1e}."
        )


def table_header(info: dict[str, Any], rounds: int) -> None:
    """What the table's numbers depend on: the CPU, the load, the BLAS threads."""
    print(f"(d) the table: one gradient call per network, best of {rounds} interleaved rounds")
    print(f"cpu {info['cpu']}, {info['cores']} cores; load average {_load()}")
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if threads != "1":
        print(
            f"WARNING: OPENBLAS_NUM_THREADS is {threads or 'not set'}; it should be 1 for "
            "steady numbers (OPENBLAS_NUM_THREADS=1 python benchmarks/gradients.py --table)"
        )
    else:
        print("OPENBLAS_NUM_THREADS=1")


def print_table(rows: list[Row]) -> None:
    headers = [
        "network",
        "batch",
        "cd s",
        "loop s",
        "loop/cd",
        "backprop s",
        "cd/bp",
        "max|diff|",
        "peak MiB",
    ]
    body = [
        [
            row["network"],
            str(row["batch"]),
            f"{row['central_difference']:.4f}",
            f"{row['loop_scaled']:.2f}",
            f"{row['loop_ratio']:,.0f}",
            f"{row['backprop']:.5f}",
            f"{row['backprop_ratio']:,.0f}",
            f"{row['max_diff']:.1e}",
            f"{row['peak_mib']:.1f}",
        ]
        for row in rows
    ]
    print(table(headers, body))
    print("path per layer (central_difference):")
    for row in rows:
        print(f"  {row['network']}, batch {row['batch']}:")
        for k, path in enumerate(row["paths"], start=1):
            print(f"    W{k}, b{k}: {path}")
    note(
        "cd: central_difference; loop: the element loop (central_difference_loop), timed on "
        "a sample of elements through Objective.plain_losses_at (2 full evaluations each) "
        "and scaled to every element; loop/cd and cd/bp: ratios of those times; max|diff|: "
        "central_difference against the loop on the sampled elements; peak MiB: the extra "
        "memory tracemalloc traced during one central_difference call. Hidden layers are "
        f"initialized with he ({', '.join(KINKED)}) or xavier (the others), the softmax "
        "output with xavier; data: random, 1000 samples, seed 42, h 1e-4."
    )
    sampled = ", ".join(f"{row['sampled_elements']}" for row in rows)
    note(f"Sampled loop elements per row: {sampled}.")


def markdown_table(rows: list[Row]) -> str:
    """The table as the README's Speed section shows it (a Markdown table)."""
    lines = [
        "| network | batch | central_difference | loop / cd | backprop | cd / backprop "
        "| max \\|diff\\| | peak MiB | path per layer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        paths = ", ".join(
            path.split(" (")[0] if path.startswith("bulk") else path for path in row["paths"]
        )
        lines.append(
            f"| {row['network']} | {row['batch']} | {row['central_difference'] * 1e3:,.1f} ms "
            f"| {row['loop_ratio']:,.0f}x | {row['backprop'] * 1e3:,.2f} ms "
            f"| {row['backprop_ratio']:,.0f}x | {row['max_diff']:.1e} | {row['peak_mib']:.1f} "
            f"| {paths} |"
        )
    return "\n".join(lines)


def print_machine(info: dict[str, Any]) -> None:
    print("(c) machine")
    width = max(len(key) for key in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 100 seed-run steps, 40 sampled loop elements, 1 repeat, and a "
        "reduced table (4 small networks, 2 rounds)",
    )
    parser.add_argument(
        "--table",
        action="store_true",
        help="run only the table (d), with the machine (c); a few minutes",
    )
    parser.add_argument(
        "--whole-loop",
        action="store_true",
        help="also run central_difference_loop once on every element of the big network, "
        "to check the scaled time (about 15 s on an idle machine, minutes on a busy one)",
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="also print the table (d) as the README's Markdown table",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the numbers to FILE as JSON")
    args = parser.parse_args(argv)
    iterations, sample_size, repeats = (100, 40, 1) if args.quick else (300, 400, 3)
    nets, table_sample, rounds = (QUICK_TABLE, 40, 2) if args.quick else (TABLE, 200, 5)

    info = machine()
    results: dict[str, Any] = {"quick": args.quick}
    if not args.table:
        results["seed_run"] = seed_section(iterations)
        print_seed(results["seed_run"], iterations)
        print()
        results["gradient_call"] = gradient_section(sample_size, repeats, run_loop=args.whole_loop)
        print_gradients(results["gradient_call"])
        print()
    table_header(info, rounds)
    results["table"] = table_section(nets, table_sample, rounds)
    print_table(results["table"])
    print()
    if args.markdown:
        print(markdown_table(results["table"]))
        print()
    info["load at end"] = _load()
    print_machine(info)
    if args.json:
        Path(args.json).write_text(json.dumps({**results, "machine": info}, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
