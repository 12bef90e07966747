"""Losses: a scalar from the network's output y and the targets t, with dL/dy.

``y`` may carry leading axes (a stack of predictions): each loss then reduces over the
last two axes only, one value per stacked prediction. ``t`` is one batch's targets,
shared by the whole stack, or one batch's per stacked prediction (with y's leading axes);
one-hot rows or class indices either way.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from toolkit import Part, hookimpl

EPSILON = 1e-7  # keeps log() finite at y = 0, as in the book

Loss = np.ndarray | float
"""A loss: one number, or one per stacked prediction."""


def _rows(y: np.ndarray, t: ArrayLike) -> tuple[np.ndarray, ArrayLike]:
    """A single sample as a batch of one, as the book does."""
    if y.ndim == 1:
        y = y.reshape(1, y.size)
        t = np.reshape(t, (1, -1)) if np.size(t) == y.size else np.reshape(t, (1,))
    return y, t


def _is_one_hot(y: np.ndarray, t: np.ndarray) -> bool:
    """One-hot rows end in y's class axis; class indices lack it.

    Where a shape fits both readings (a stack of label rows as wide as the classes),
    whole-number types are read as class indices.
    """
    if t.ndim < 2 or t.shape != y.shape[y.ndim - t.ndim :]:
        return False
    return not (t.shape == y.shape[: t.ndim] and t.dtype.kind in "iu")


def _labels(y: np.ndarray, t: ArrayLike) -> np.ndarray:
    """Class indices, broadcast to y's shape without its class axis."""
    t = np.asarray(t)
    labels = t.argmax(axis=-1) if _is_one_hot(y, t) else np.asarray(t, dtype=int)
    return labels if labels.shape == y.shape[:-1] else np.broadcast_to(labels, y.shape[:-1])


def _one_hot(y: np.ndarray, t: ArrayLike) -> np.ndarray:
    """One-hot rows, broadcastable against y."""
    t = np.asarray(t)
    if _is_one_hot(y, t):
        return np.asarray(t, dtype=float)
    return cast(np.ndarray, (_labels(y, t)[..., None] == np.arange(y.shape[-1])).astype(float))


def cross_entropy(y: np.ndarray, t: ArrayLike) -> Loss:
    """Mean over the batch of -log(y[label] + 1e-7)."""
    y, t = _rows(y, t)
    labels = _labels(y, t).reshape(-1)
    picked = y.reshape(-1, y.shape[-1])[np.arange(labels.size), labels].reshape(y.shape[:-1])
    return cast(Loss, -np.sum(np.log(picked + EPSILON), axis=-1) / y.shape[-2])


def cross_entropy_grad(y: np.ndarray, t: ArrayLike) -> np.ndarray:
    y2, t = _rows(y, t)
    return np.reshape(-_one_hot(y2, t) / (y2 + EPSILON) / y2.shape[-2], np.shape(y))


def sum_squared_error(y: np.ndarray, t: ArrayLike) -> Loss:
    """0.5 * sum of squared differences (the book's, not divided by the batch)."""
    y, t = _rows(y, t)
    return cast(Loss, 0.5 * np.sum((y - _one_hot(y, t)) ** 2, axis=(-2, -1)))


def sum_squared_error_grad(y: np.ndarray, t: ArrayLike) -> np.ndarray:
    y2, t = _rows(y, t)
    return np.reshape(y2 - _one_hot(y2, t), np.shape(y))


def mean_squared_error(y: np.ndarray, t: ArrayLike) -> Loss:
    """Mean of squared differences over every element of the batch."""
    y, t = _rows(y, t)
    return cast(Loss, np.mean((y - _one_hot(y, t)) ** 2, axis=(-2, -1)))


def mean_squared_error_grad(y: np.ndarray, t: ArrayLike) -> np.ndarray:
    y2, t = _rows(y, t)
    return np.reshape(2.0 * (y2 - _one_hot(y2, t)) / (y2.shape[-2] * y2.shape[-1]), np.shape(y))


@hookimpl
def toolkit_losses() -> dict[str, Part]:
    return {
        "cross_entropy": Part(cross_entropy, derivative=cross_entropy_grad, breakpoints=()),
        "sum_squared_error": Part(
            sum_squared_error, derivative=sum_squared_error_grad, breakpoints=()
        ),
        "mean_squared_error": Part(
            mean_squared_error, derivative=mean_squared_error_grad, breakpoints=()
        ),
    }


@hookimpl
def toolkit_defaults() -> dict[str, str]:
    return {"loss": "cross_entropy"}
