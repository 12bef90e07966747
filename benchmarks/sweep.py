"""Time one sweep three ways: a shell-style loop of ``toolkit train``, the local pool, Dask.

Run from a checkout with the project installed (``pip install -e '.[dask]'``)::

    python benchmarks/sweep.py                # 3 rounds, about 4 minutes on 2 cores
    python benchmarks/sweep.py --rounds 1     # one round
    python benchmarks/sweep.py --no-dask      # without the dask extra

The sweep is 16 trials of ``specs/two_layer_teacher.yaml`` cut to 300 iterations: four
learning rates times four seeds. Each round runs, one after the other (interleaved, so
that a busy moment of the machine falls on all of them), each keeping its best round:

- ``sequential``: ``toolkit train SPEC --set ... --out DIR -q`` for each trial in turn,
  as a shell loop would (one process per trial, each drawing its curves picture);
- ``local``: ``toolkit sweep ... --engine local --workers 2``;
- ``dask``: ``toolkit sweep ... --engine dask --workers 2`` (a LocalCluster started and
  stopped inside the command, counted in its time).

Each round then runs the overhead case: the same 16 trials at 2000 iterations (trials of
about a second) through ``toolkit sweep`` on the local pool. Its overhead is the share of
the command's wall time that is not the trials' own time: 1 - (the sum of the seconds the
workers report in trials.jsonl / 2 workers) / wall; everything else counts against it
(the interpreter's start, validation, the pool's start, bookkeeping, the summary, a worker
idle at the end). Printed: the seconds of each, the ratios against their goals (local >= 1.7x
the sequential loop, overhead < 5%, Dask within 1.3x of local) and the load average
before and after. Timings on a shared machine are noisy; this script is for people, not
for tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gradients import machine, table

SPEC = Path(__file__).resolve().parent.parent / "specs" / "two_layer_teacher.yaml"
RATES = ("0.05", "0.1", "0.2", "0.4")
SEEDS = 4
ITERATIONS = 300
WORKERS = 2
GRID = f"optimizer.learning_rate={','.join(RATES)}"
SET = f"train.iterations={ITERATIONS}"
LONG_ITERATIONS = 2000
"""Iterations of a trial of about a second, for the overhead."""


def toolkit_command() -> list[str]:
    """The installed ``toolkit`` command beside this interpreter."""
    return [str(Path(sys.executable).with_name("toolkit"))]


def sequential(folder: Path) -> None:
    """One ``toolkit train`` process per trial, in turn."""
    for rate in RATES:
        for seed in range(SEEDS):
            out = folder / f"rate{rate}-seed{seed}"
            command = [*toolkit_command(), "train", str(SPEC), "-q", "--out", str(out)]
            sets = [SET, f"optimizer.learning_rate={rate}", f"seed={seed}"]
            run([*command, *(arg for value in sets for arg in ("--set", value))])


def sweep_command(engine: str, out: Path, iterations: int = ITERATIONS) -> list[str]:
    """``toolkit sweep`` of the 16 trials on ``engine`` with two workers."""
    return [
        *toolkit_command(),
        "sweep",
        str(SPEC),
        "--grid",
        GRID,
        "--seeds",
        str(SEEDS),
        "--set",
        f"train.iterations={iterations}",
        "--engine",
        engine,
        "--workers",
        str(WORKERS),
        "--out",
        str(out),
        "-q",
    ]


def swept(engine: str) -> Callable[[Path], None]:
    """``toolkit sweep`` on ``engine`` with two workers."""
    return lambda folder: run(sweep_command(engine, folder / "sweep"))


def run(command: Sequence[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr}")


def timed(fn: Callable[[Path], None]) -> float:
    """Seconds of ``fn`` on a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        fn(Path(folder))
        return time.perf_counter() - start


def overhead(folder: Path) -> tuple[float, float]:
    """(sweep wall seconds, the trials' own seconds) of trials of about a second.

    The same 16 trials at ``LONG_ITERATIONS`` through ``toolkit sweep`` on the local pool;
    the trials' seconds are those their workers report in ``trials.jsonl``."""
    out = folder / "sweep"
    command = sweep_command("local", out, LONG_ITERATIONS)
    start = time.perf_counter()
    run(command)
    wall = time.perf_counter() - start
    records = (json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines())
    seconds = sum(r["seconds"] for r in records if r.get("event") == "finished")
    return wall, seconds


def load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best kept)")
    parser.add_argument("--no-dask", action="store_true", help="leave the Dask engine out")
    args = parser.parse_args(argv)
    ways: dict[str, Callable[[Path], None]] = {
        "sequential": sequential,
        "local": swept("local"),
    }
    if not args.no_dask:
        ways["dask"] = swept("dask")
    for key, value in machine().items():
        print(f"{key}: {value}")
    print(f"sweep: 16 trials of {SPEC.name} at {ITERATIONS} iterations, {WORKERS} workers")
    best = dict.fromkeys(ways, float("inf"))
    lowest: tuple[float, float, float] | None = None  # (share, wall, trial seconds)
    for round_ in range(1, args.rounds + 1):
        for name, way in ways.items():
            seconds = timed(way)
            best[name] = min(best[name], seconds)
            print(f"round {round_}: {name} {seconds:.2f} s (load {load()})", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            wall, trials = overhead(Path(folder))
        share = 1 - trials / WORKERS / wall
        print(f"round {round_}: overhead {share:.1%} of {wall:.2f} s (load {load()})", flush=True)
        if lowest is None or share < lowest[0]:
            lowest = (share, wall, trials)
    assert lowest is not None
    rows = [
        ["sequential loop", f"{best['sequential']:.2f}", "1.00x", ""],
        [
            "local pool",
            f"{best['local']:.2f}",
            f"{best['sequential'] / best['local']:.2f}x",
            ">= 1.7x the loop",
        ],
    ]
    if "dask" in best:
        rows.append(
            [
                "dask LocalCluster",
                f"{best['dask']:.2f}",
                f"{best['sequential'] / best['dask']:.2f}x",
                f"{best['dask'] / best['local']:.2f}x local (goal <= 1.3x)",
            ]
        )
    print()
    print(table(["way (best of rounds)", "seconds", "vs loop", "goal"], rows))
    print()
    share, wall, trials = lowest
    print(
        f"trials of about a second ({LONG_ITERATIONS} iterations, {trials / 16:.2f} s each "
        f"on average): the sweep took {wall:.2f} s, {trials / WORKERS:.2f} s of it the trials' "
        f"own time on {WORKERS} workers; the rest, {share:.1%}, is everything else "
        "(start, validation, the pool's start, bookkeeping, summary; goal < 5%)"
    )
    print(f"load average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
