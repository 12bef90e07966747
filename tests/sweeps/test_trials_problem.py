"""A bad number of random trials is one problem: the random search is not also said to
lack the number it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit import SpecError
from toolkit.sweeps.plan import plan_from_options
from toolkit.sweeps.sweepfile import load_sweep


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text("model: {}\n")
    return spec


def test_a_bad_trials_option_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        plan_from_options(_spec(tmp_path), random=["optimizer.learning_rate=uniform:0,1"], trials=0)
    (problem,) = raised.value.problems
    assert "expected a whole number from 1, got 0" in str(problem)
    assert "--trials 0" in str(problem)


def test_a_bad_trials_line_of_a_sweep_file_is_one_problem(tmp_path: Path) -> None:
    _spec(tmp_path)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "spec: spec.yaml\n"
        "random:\n"
        "  trials: -3\n"
        "  params: {optimizer.learning_rate: 'uniform:0,1'}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_sweep(sweep)
    (problem,) = raised.value.problems
    assert "got -3" in str(problem) and "sweep.yaml line 3" in str(problem)


def test_no_trials_at_all_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="a random search needs its number of trials"):
        plan_from_options(_spec(tmp_path), random=["optimizer.learning_rate=uniform:0,1"])
