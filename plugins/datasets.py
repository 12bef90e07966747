"""Datasets: inputs ``x`` and targets ``t`` drawn or loaded for a run."""

from __future__ import annotations

import numpy as np

from toolkit import Dataset, Part, hookimpl


def random(rng, samples=100, features=100, classes=10):
    """Standard-normal inputs and uniformly random one-hot labels (the seed program's)."""
    x = rng.standard_normal((samples, features))
    draw = getattr(rng, "integers", None) or rng.randint
    t = np.zeros((samples, classes))
    for row in range(samples):  # one scalar draw per row, in order
        t[row, draw(0, classes)] = 1
    return Dataset(x, t)


def check_random(samples, features, classes):
    for key, value in (("samples", samples), ("features", features), ("classes", classes)):
        if value < 1:
            yield key, f"must be at least 1, got {value}"


@hookimpl
def toolkit_datasets():
    return {"random": Part(random, validate=check_random)}
