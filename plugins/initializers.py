"""Initializers: an array of the given shape, drawn from the run's random generator.

``rng`` is numpy's legacy ``RandomState`` or a ``Generator``; both have ``random``
and ``standard_normal``, which draw exactly as ``rand`` and ``randn`` do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from toolkit import hookimpl

Rng = np.random.RandomState | np.random.Generator
"""The run's generator: numpy's legacy RandomState or a Generator."""
Shape = tuple[int, ...]


def uniform(shape: Shape, rng: Rng, scale: float = 0.01) -> np.ndarray:
    """scale * U[0, 1) (the seed program's weights)."""
    return scale * rng.random(shape)


def normal(shape: Shape, rng: Rng, scale: float = 0.01) -> np.ndarray:
    """scale * N(0, 1) (the book's weight_init_std)."""
    return scale * rng.standard_normal(shape)


def fan_in(shape: Shape) -> int:
    """The inputs each output unit sees: ``shape[0]`` for a dense weight ``(inputs, units)``
    (and a bias); ``channels * kernel_h * kernel_w``, the product of all axes but the first,
    for a convolution weight ``(filters, channels, kernel_h, kernel_w)``."""
    return shape[0] if len(shape) <= 2 else int(np.prod(shape[1:]))


def xavier(shape: Shape, rng: Rng) -> np.ndarray:
    """N(0, 1) * sqrt(1 / n_in), n_in = shape[0] (a convolution weight's: C * FH * FW)."""
    return cast(np.ndarray, rng.standard_normal(shape) * np.sqrt(1.0 / fan_in(shape)))


def he(shape: Shape, rng: Rng) -> np.ndarray:
    """N(0, 1) * sqrt(2 / n_in), n_in = shape[0] (a convolution weight's: C * FH * FW)."""
    return cast(np.ndarray, rng.standard_normal(shape) * np.sqrt(2.0 / fan_in(shape)))


def zeros(shape: Shape, rng: Rng) -> np.ndarray:
    """All zeros; draws no random numbers."""
    return np.zeros(shape)


@hookimpl
def toolkit_initializers() -> dict[str, Callable[..., np.ndarray]]:
    return {"uniform": uniform, "normal": normal, "xavier": xavier, "he": he, "zeros": zeros}


@hookimpl
def toolkit_defaults() -> dict[str, str]:
    return {"init": "normal", "bias_init": "zeros"}
