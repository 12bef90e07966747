"""A forward pass that keeps what each layer saw and made, for estimators that need it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Forward"]


@dataclass(frozen=True)
class Forward:
    """Per layer: its input, its pre-activation ``x @ W + b``, and its output."""

    inputs: list[np.ndarray]
    pre: list[np.ndarray]
    outputs: list[np.ndarray]

    @property
    def y(self) -> np.ndarray:
        """The network's output."""
        return self.outputs[-1]
