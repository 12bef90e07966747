"""What planning a sweep costs the coordinator: options to plan, expansion, and checking
every trial's spec, against the training the sweep then does.

Run from the checkout::

    python benchmarks/sweep_plan.py                 # 16 trials, best of 7
    python benchmarks/sweep_plan.py --repeats 3 --seeds 8

The sweep is ``specs/two_layer_teacher.yaml`` with ``train.iterations=300``, two learning
rates, two activations and ``--seeds 4`` (16 trials). Planning is timed as the coordinator
does it once per sweep: ``plan_from_options``, ``expand``, reading the spec and
``check_trials`` with a new plugin manager. One trial's training (``toolkit.train`` of the
first trial's spec, in this process) is timed in alternation with it, so that a change in
the machine's load falls on both; the best of the repeats is compared. The share printed
is planning over the sweep's training time on ``--workers`` cores (every trial as long as
the one timed). The load average is printed with the numbers: on a busy machine both
times grow.

Timings on a shared machine are noisy; this script is for people, not for tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import toolkit
from toolkit.sweeps.plan import expand, plan_from_options
from toolkit.sweeps.validate import check_trials

SPEC = Path(__file__).resolve().parents[1] / "specs" / "two_layer_teacher.yaml"


def plan_once(seeds: int) -> tuple[float, list[str], int]:
    """Seconds to plan and check the sweep, the first trial's overrides, the trials."""
    start = time.perf_counter()
    plan = plan_from_options(
        SPEC,
        grid=["optimizer.learning_rate=0.1,0.2", "model.layers.0.activation=sigmoid,relu"],
        seeds=seeds,
        overrides=["train.iterations=300"],
    )
    trials = expand(plan)
    check_trials(plan, trials, SPEC.read_text(encoding="utf-8"))
    seconds = time.perf_counter() - start
    return seconds, [*plan.overrides, *trials[0].overrides], len(trials)


def train_once(overrides: list[str]) -> float:
    start = time.perf_counter()
    toolkit.train(toolkit.load_spec(SPEC, overrides))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    _, overrides, count = plan_once(args.seeds)  # warm-up: imports, caches
    train_once(overrides)
    planning, training = [], []
    for _ in range(args.repeats):
        planning.append(plan_once(args.seeds)[0])
        training.append(train_once(overrides))
    plan, trial = min(planning), min(training)
    sweep = count * trial / args.workers
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"planning {count} trials (plan, expand, check): best {plan * 1000:.1f} ms")
    print(f"one trial's training:                        best {trial:.3f} s")
    print(f"sweep's training on {args.workers} workers:                 {sweep:.2f} s")
    print(f"planning / sweep:                            {plan / sweep:.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
