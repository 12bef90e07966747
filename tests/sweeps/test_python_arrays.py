"""A sweep given from Python with numpy arrays, as ``np.logspace`` and ``np.arange`` make
them: a grid's values and the seeds are the numbers the array holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolkit import SpecError
from toolkit.sweeps.plan import expand, plan_from_python

SPEC = Path(__file__).resolve().parents[2] / "specs" / "two_layer_teacher.yaml"
LR = "optimizer.learning_rate"


def test_a_grid_given_as_a_numpy_array_sweeps_its_values() -> None:
    plan = plan_from_python(SPEC, grid={LR: np.array([0.5, 0.25, 0.125])})
    assert [trial.overrides for trial in expand(plan)] == [
        (f"{LR}=0.5",),
        (f"{LR}=0.25",),
        (f"{LR}=0.125",),
    ]
    assert all(type(value) is float for _, values in plan.grid for value in values)


def test_seeds_given_as_a_numpy_array_are_those_seeds() -> None:
    assert plan_from_python(SPEC, seeds=np.array([4, 2])).seeds == (4, 2)


def test_an_array_of_two_dimensions_is_still_refused() -> None:
    with pytest.raises(SpecError, match="expected a list of values"):
        plan_from_python(SPEC, grid={LR: np.ones((2, 2))})
