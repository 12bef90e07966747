"""``toolkit.sweep(...)``: a sweep from Python on a real local pool; how many trials a
session keeps in flight."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

import toolkit
from tests.helpers import SPECS
from tests.sweeps.fakes import SyncExecutor
from toolkit.sweeps.session import Engine, in_flight

TEACHER = SPECS / "two_layer_teacher.yaml"
SHORT = {"train.iterations": 20, "train.log_every": 10}


@pytest.mark.long
def test_records_of_a_sweep_and_of_its_resume(tmp_path: Path) -> None:
    """Each trial's record holds its status and its folder's last logged metrics, which
    summary.csv repeats; a resume of the finished sweep runs nothing and gives the same
    records."""
    out = tmp_path / "sweep"
    records = toolkit.sweep(
        TEACHER,
        grid={"optimizer.learning_rate": [0.1, 0.3]},
        seeds=[4],
        overrides=SHORT,
        workers=2,
        out=out,
    )
    assert [(r.status, r.exit, r.error) for r in records] == [("done", 0, None)] * 2
    for record in records:
        last = json.loads((record.folder / "metrics.jsonl").read_text().splitlines()[-1])
        assert record.metrics == {
            k: v for k, v in last.items() if k not in ("iteration", "seconds")
        }
        assert record.trial.seed == 4 and record.folder.parent == out / "runs"
    assert [r.trial.values for r in records] == [
        (("optimizer.learning_rate", 0.1),),
        (("optimizer.learning_rate", 0.3),),
    ]
    with open(out / "summary.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    by_rate = {float(row["optimizer.learning_rate"]): row for row in rows}
    for record in records:  # one seed per configuration: its mean is its own final value
        row = by_rate[dict(record.trial.values)["optimizer.learning_rate"]]
        assert (row["done"], row["failed"]) == ("1", "0")
        assert float(row["test_accuracy_final_mean"]) == record.metrics["test_accuracy"]
    logged = (out / "trials.jsonl").read_text()
    again = toolkit.sweep(out=out, resume=True, workers=2)
    assert again == records
    new = (out / "trials.jsonl").read_text()[len(logged) :]
    assert [json.loads(line)["event"] for line in new.splitlines()] == ["session"]


def test_a_stop_asked_at_once_runs_nothing(tmp_path: Path) -> None:
    records = toolkit.sweep(
        TEACHER,
        grid={"optimizer.learning_rate": [0.1, 0.3]},
        overrides=SHORT,
        workers=1,
        out=tmp_path / "sweep",
        stop=lambda: True,
    )
    assert [r.status for r in records] == ["pending", "pending"]
    assert (tmp_path / "sweep" / "stop").exists()
    assert list((tmp_path / "sweep" / "runs").iterdir()) == []


def test_bad_input_raises_before_anything_is_created(tmp_path: Path) -> None:
    with pytest.raises(toolkit.SpecError, match="expected a number"):
        toolkit.sweep(TEACHER, grid={"optimizer.learning_rate": ["fast"]}, out=tmp_path / "s")
    with pytest.raises(toolkit.UsageError, match="workers=0"):
        toolkit.sweep(TEACHER, workers=0, out=tmp_path / "s")
    with pytest.raises(toolkit.UsageError, match="drop spec"):
        toolkit.sweep(TEACHER, out=tmp_path / "s", resume=True)
    assert not (tmp_path / "s").exists()


class Cluster(SyncExecutor):
    """An executor whose workers are elsewhere: three of them."""

    def on_each_worker(self, fn: Any, /, *args: Any) -> dict[str, Any]:
        return {f"tcp://10.0.0.{n}:4000": fn(*args) for n in range(3)}

    def use_only(self, workers: Any) -> None:
        pass


class Pool(SyncExecutor):
    workers = 5


@pytest.mark.parametrize(
    ("workers", "executor", "expected"),
    [(2, Pool(), 2), (None, Pool(), 5), (None, Cluster(), 3), (None, SyncExecutor(), None)],
)
def test_trials_in_flight_are_the_workers_there_are(
    workers: int | None, executor: Any, expected: int | None
) -> None:
    """As many trials in flight as --workers says, else as the executor has workers (a
    cluster's counted on it), else one per core here."""
    count = in_flight(Engine("x", workers), executor)
    assert count == (expected if expected is not None else os.cpu_count())
