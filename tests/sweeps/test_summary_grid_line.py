"""The summary picture of the most common sweep, one grid key over a few seeds: the means
per value are a line (the issue's "the mean as a line"), as DIR/sweep.yaml says the key is
a grid, although no value is shared by two configurations."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import yaml

from tests.sweeps.sweep_folders import FakeTrial, curve, write_sweep
from toolkit.sweeps.summary import best, summarize

pytest.importorskip("matplotlib")

from toolkit.sweeps.figure import summary_figure

LR = "optimizer.learning_rate"
RATES = (0.001, 0.01, 0.1)


def _mean_line(folder: Path) -> object:
    summary = summarize(folder)
    figure = summary_figure(summary.results, summary.metric, best(summary))
    (panel,) = [ax for ax in figure.get_axes() if ax.get_title() == LR]
    return panel.get_lines()[1]


def _one_key_sweep(tmp_path: Path, sweep_file: dict[str, object] | None) -> Path:
    trials = [
        FakeTrial({LR: lr}, seed, "done", curve([0, 1], loss=[1.0, lr * 10 + seed]))
        for lr in RATES
        for seed in range(2)
    ]
    folder = write_sweep(tmp_path / "s", trials)
    if sweep_file is not None:
        (folder / "sweep.yaml").write_text(yaml.safe_dump(sweep_file))
    return folder


def test_a_one_key_grid_over_seeds_has_its_means_joined(tmp_path: Path) -> None:
    folder = _one_key_sweep(tmp_path, {"spec": "spec.yaml", "grid": {LR: list(RATES)}, "seeds": 2})
    line = _mean_line(folder)
    assert line.get_linestyle() == "-"
    assert list(line.get_xdata()) == list(RATES)
    expected = [statistics.fmean([lr * 10, lr * 10 + 1]) for lr in RATES]
    assert list(line.get_ydata()) == pytest.approx(expected)


def test_the_same_values_drawn_at_random_are_marks_only(tmp_path: Path) -> None:
    """The same trials from a random search of the key: no line through the means."""
    random = {"trials": 3, "seed": 0, "params": {LR: "loguniform:1e-3,1e-1"}}
    folder = _one_key_sweep(tmp_path, {"spec": "spec.yaml", "random": random, "seeds": 2})
    assert _mean_line(folder).get_linestyle() == "None"
