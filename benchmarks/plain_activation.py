"""Time the seed run with the README's plain-function softsign against sigmoid.

Run from the checkout::

    python benchmarks/plain_activation.py            # 7 interleaved rounds
    python benchmarks/plain_activation.py --rounds 3

The shipped ``specs/two_layer_sigmoid.yaml`` (300 SGD steps, ``central_difference``)
is trained with, in turn:

- ``sigmoid``, a standard part that declares ``breakpoints=()``;
- ``softsign`` as the README's minimal plugin writes it, a plain function that declares
  nothing (interpolated, its fits checked on both sides);
- the same softsign declared smooth, ``Part(fn, breakpoints=())``;
- the plain softsign with interpolation refused: the bulk path such a part took before
  undeclared parts were interpolated.

Each variant's best wall time of ``toolkit.train`` over interleaved rounds, its ratio to
sigmoid, and its final loss, with the load average before and after. Timings on a
shared machine are noisy; this script is for people, not for tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import toolkit
import toolkit.gradients.interpolation
from toolkit.registry.manager import ToolkitPluginManager

SPEC = Path(__file__).resolve().parent.parent / "specs" / "two_layer_sigmoid.yaml"
PLUGIN = """
import numpy as np
from toolkit import Part


def softsign(x):
    return x / (1 + np.abs(x))


def toolkit_activations():
    return {"softsign": softsign, "softsign_declared": Part(softsign, breakpoints=())}
"""


def variants(manager: ToolkitPluginManager) -> dict[str, Callable[[], float]]:
    """Each variant as a function that trains once and returns its final loss."""

    def trainer(activation: str, refused: bool = False) -> Callable[[], float]:
        spec = toolkit.load_spec(SPEC, [f"model.layers.0.activation={activation}"], manager=manager)

        def run() -> float:
            refuse = (
                mock.patch.object(
                    toolkit.gradients.interpolation, "refusal", lambda network, k: "timed"
                )
                if refused
                else contextlib.nullcontext()
            )
            with warnings.catch_warnings(), refuse:
                warnings.simplefilter("ignore", toolkit.ToolkitNotice)
                return float(toolkit.train(spec).history[-1]["loss"])

        return run

    return {
        "sigmoid": trainer("sigmoid"),
        "softsign (plain function)": trainer("softsign"),
        "softsign (breakpoints=())": trainer("softsign_declared"),
        "softsign (bulk path)": trainer("softsign", refused=True),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (best of)")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp()
    Path(folder, "bench_softsign_plugin.py").write_text(PLUGIN)
    sys.path.insert(0, folder)
    manager = toolkit.get_plugin_manager(["bench_softsign_plugin"])
    runs = variants(manager)
    print(f"load at start  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    best = dict.fromkeys(runs, float("inf"))
    losses = {}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            losses[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
    print(f"seed run, 300 steps of central_difference, best of {args.rounds} interleaved rounds")
    print(f"{'hidden activation':<27}  seconds  x sigmoid  final loss")
    for name in runs:
        ratio = best[name] / best["sigmoid"]
        print(f"{name:<27}  {best[name]:7.3f}  {ratio:9.2f}  {losses[name]!r}")
    print(f"load at end    {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
