"""A forward pass that keeps what each layer saw and made, for estimators that need it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .layers import Step

__all__ = ["Forward"]


@dataclass(frozen=True)
class Forward:
    """Per layer: its input, its pre-activation (``x @ W + b`` for a dense layer), its
    output, and what its backward pass keeps (``Step.cache``)."""

    inputs: list[np.ndarray]
    pre: list[np.ndarray]
    outputs: list[np.ndarray]
    caches: list[Any]

    @property
    def y(self) -> np.ndarray:
        """The network's output."""
        return self.outputs[-1]

    def step(self, k: int) -> Step:
        """Layer k's part of the pass, as its ``backward`` takes it."""
        return Step(self.inputs[k], self.pre[k], self.outputs[k], self.caches[k])
