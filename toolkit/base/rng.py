"""The run's random generator: numpy's legacy RandomState or its Generator."""

from __future__ import annotations

import numpy as np

__all__ = ["RNG_KINDS", "Rng", "make_rng"]

Rng = np.random.RandomState | np.random.Generator
RNG_KINDS = ("default", "legacy")


def make_rng(kind: str, seed: int) -> Rng:
    """``RandomState(seed)`` for ``"legacy"``, ``default_rng(seed)`` for ``"default"``."""
    return np.random.RandomState(seed) if kind == "legacy" else np.random.default_rng(seed)
