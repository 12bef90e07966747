"""A forward pass that keeps what each layer saw and made, for estimators that need it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layers import Step

__all__ = ["Forward"]


@dataclass(frozen=True)
class Forward:
    """Per layer: its input, its pre-activation (``x @ W + b`` for a dense layer), and its
    output."""

    inputs: list[np.ndarray]
    pre: list[np.ndarray]
    outputs: list[np.ndarray]

    @property
    def y(self) -> np.ndarray:
        """The network's output."""
        return self.outputs[-1]

    def step(self, k: int) -> Step:
        """Layer k's part of the pass, as its ``backward`` takes it."""
        return Step(self.inputs[k], self.pre[k], self.outputs[k])
