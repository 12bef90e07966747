"""Sweep folders written by hand, as the coordinator and its trials write them: a trial
log (planned and finished records) and each trial's run folder with its metrics.jsonl."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class FakeTrial:
    """One trial: its swept values and seed, its last status (None: not run) and, for a
    trial that ran, its log points."""

    values: dict[str, Any]
    seed: int | None
    status: str | None = "done"
    records: list[dict[str, Any]] = field(default_factory=list)
    config: int = -1


def write_sweep(
    folder: Path,
    trials: Sequence[FakeTrial],
    *,
    random_params: Mapping[str, str] | None = None,
    extra_lines: Sequence[str] = (),
) -> Path:
    """Write ``folder`` as a sweep folder holding ``trials`` (configurations numbered by
    their values, in order, unless a trial gives its own)."""
    (folder / "runs").mkdir(parents=True, exist_ok=True)
    configs: dict[str, int] = {}
    lines = []
    for index, trial in enumerate(trials):
        key = json.dumps(trial.values, sort_keys=True)
        config = trial.config if trial.config >= 0 else configs.setdefault(key, len(configs))
        name = f"{index:03d}-trial"
        plan = {
            "event": "planned",
            "index": index,
            "config": config,
            "id": f"id{index}",
            "name": name,
            "values": trial.values,
            "seed": trial.seed,
            "overrides": [f"{k}={v}" for k, v in trial.values.items()],
        }
        lines.append(json.dumps(plan))
        if trial.records:
            run = folder / "runs" / name
            run.mkdir(exist_ok=True)
            text = "".join(json.dumps(record) + "\n" for record in trial.records)
            (run / "metrics.jsonl").write_text(text)
    lines.append(json.dumps({"event": "session", "resumed": False, "engine": "local"}))
    for index, trial in enumerate(trials):
        if trial.status is not None:
            last = trial.records[-1] if trial.records else {}
            finished = {
                "event": "finished",
                "id": f"id{index}",
                "status": trial.status,
                "exit": {"done": 0, "failed": 1, "stopped": 130}.get(trial.status),
                "error": None if trial.status == "done" else "iteration 3: diverged",
                "seconds": 1.0,
                "iteration": last.get("iteration"),
                "attempt": 1,
                "metrics": {k: v for k, v in last.items() if k != "iteration"},
            }
            lines.append(json.dumps(finished))
    (folder / "trials.jsonl").write_text("".join(line + "\n" for line in [*lines, *extra_lines]))
    if random_params is not None:
        sweep = {"spec": "spec.yaml", "random": {"trials": 4, "seed": 0, "params": random_params}}
        (folder / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    return folder


def curve(iterations: Sequence[int], **metrics: Sequence[float | None]) -> list[dict[str, Any]]:
    """Log points: ``curve([0, 10], loss=[2.0, 1.0])``, with seconds as the trainer logs."""
    return [
        {
            "iteration": it,
            **{name: values[i] for name, values in metrics.items()},
            "seconds": 0.1 * i,
        }
        for i, it in enumerate(iterations)
    ]
