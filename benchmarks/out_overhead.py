"""What ``--out`` costs: the same run with and without a run folder, in one process.

Run from the checkout::

    python benchmarks/out_overhead.py                  # 3000 iterations at log_every 1, best of 5
    python benchmarks/out_overhead.py --repeats 3 --iterations 1000

The run is ``toolkit train two_layer_teacher --set train.iterations=3000 --set
train.log_every=1`` through the command's own ``main``, standard output and standard error
sent to ``os.devnull`` (so no progress bar and no terminal in the timing). The two
commands alternate (without, with, without, ...) so that a change in the machine's load
falls on both; each time is wall time, and the best of the repeats is compared. The first
round is a warm-up (imports, matplotlib's font cache) and is not counted. It prints the
ratio with/without, the same with ``--out`` but no ``curves.png`` (as without matplotlib),
and how long drawing ``curves.png`` alone takes.

Timings on a shared machine are noisy; this script is for people, not for tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import toolkit.runs.plot
from toolkit import cli
from toolkit.runs.plot import matplotlib_available, plot_run


def _run_command(arguments: list[str]) -> float:
    """Seconds of wall time for ``toolkit ARGUMENTS``, its output discarded."""
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        start = time.perf_counter()
        code = cli.main(arguments)
        seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"toolkit {' '.join(arguments)} exited with {code}")
    return seconds


def _best(times: list[float]) -> str:
    return f"best {min(times):6.3f} s   (all: {', '.join(f'{t:.3f}' for t in times)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--log-every", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    sets = [
        "--set",
        f"train.iterations={options.iterations}",
        "--set",
        f"train.log_every={options.log_every}",
    ]
    base = ["train", "two_layer_teacher", *sets]
    work = Path(tempfile.mkdtemp(prefix="out-overhead-"))
    counter = iter(range(10**6))

    def with_out() -> float:
        return _run_command([*base, "--out", str(work / f"run{next(counter)}")])

    def without() -> float:
        return _run_command(base)

    def with_out_no_curves() -> float:
        available = toolkit.runs.plot.matplotlib_available
        toolkit.runs.plot.matplotlib_available = lambda: False  # as if matplotlib were missing
        try:
            return with_out()
        finally:
            toolkit.runs.plot.matplotlib_available = available

    def drawing() -> float:
        folder = work / "run0"
        start = time.perf_counter()
        plot_run(folder, work / "again.png", force=True)
        return time.perf_counter() - start

    cases: dict[str, Callable[[], float]] = {"without --out": without, "with --out": with_out}
    if matplotlib_available():
        cases["with --out, no curves.png"] = with_out_no_curves
        cases["drawing curves.png alone"] = drawing
    print(f"command: toolkit {' '.join(base)} [--out DIR]")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    times: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for case in cases.values():  # warm-up: imports, caches
            case()
        for _ in range(options.repeats):
            for name, case in cases.items():
                times[name].append(case())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, measured in times.items():
        print(f"{name:26} {_best(measured)}")
    plain, out = min(times["without --out"]), min(times["with --out"])
    print(f"ratio with/without: {out / plain:.3f}  (overhead {100 * (out / plain - 1):.1f}%)")
    if "drawing curves.png alone" in times:
        bare = min(times["with --out, no curves.png"])
        drawn = min(times["drawing curves.png alone"])
        print(f"without curves.png: {bare / plain:.3f}  (overhead {100 * (bare / plain - 1):.1f}%)")
        print(f"drawing curves.png alone: {100 * drawn / plain:.1f}% of the run")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
