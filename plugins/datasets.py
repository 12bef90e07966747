"""Datasets: inputs ``x`` and targets ``t`` drawn or loaded for a run."""

from __future__ import annotations

import numpy as np

from toolkit import Dataset, hookimpl


def random(rng, samples=100, features=100, classes=10):
    """Standard-normal inputs and uniformly random one-hot labels (the seed program's)."""
    for key, value in (("samples", samples), ("features", features), ("classes", classes)):
        if value < 1:
            raise ValueError(f"{key} must be at least 1, got {value}")
    x = rng.standard_normal((samples, features))
    draw = getattr(rng, "integers", None) or rng.randint
    t = np.zeros((samples, classes))
    for row in range(samples):  # one scalar draw per row, in order
        t[row, draw(0, classes)] = 1
    return Dataset(x, t)


@hookimpl
def toolkit_datasets():
    return {"random": random}
