"""Done trials whose final values are infinite: the summary gives an infinite mean and no
finite spread, silently (numpy's 'invalid value' warning was a stray line on the terminal)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from tests.sweeps.sweep_folders import FakeTrial, curve, write_sweep
from toolkit.sweeps.summary import summarize


def test_infinite_finals_give_an_infinite_mean_without_a_warning(tmp_path: Path) -> None:
    trials = [
        FakeTrial({"k": 1}, seed, "done", curve([0, 1], loss=[1.0, math.inf])) for seed in range(2)
    ]
    folder = write_sweep(tmp_path / "s", trials)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stat = summarize(folder).rows[0].stats["loss"]
    assert stat.final_mean == math.inf
    assert stat.final_std is not None and math.isnan(stat.final_std)
    assert (stat.best_mean, stat.best_std) == (1.0, 0.0)
