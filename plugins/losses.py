"""Losses: a scalar from the network's output y and the targets t, with dL/dy.

``y`` may carry leading axes (a stack of predictions for the same targets): each
loss then reduces over the last two axes only, one value per stacked prediction.
"""

from __future__ import annotations

import numpy as np

from toolkit import Part, hookimpl

EPSILON = 1e-7  # keeps log() finite at y = 0, as in the book


def _rows(y, t):
    """A single sample as a batch of one, as the book does."""
    if y.ndim == 1:
        y = y.reshape(1, y.size)
        t = np.reshape(t, (1, -1)) if np.size(t) == y.size else np.reshape(t, (1,))
    return y, t


def _labels(y, t):
    """Class indices from one-hot rows, or the indices themselves."""
    return t.argmax(axis=-1) if np.ndim(t) == 2 else np.asarray(t, dtype=int)


def _one_hot(y, t):
    if np.ndim(t) == 2:
        return np.asarray(t, dtype=float)
    hot = np.zeros(y.shape[-2:])
    hot[np.arange(y.shape[-2]), np.asarray(t, dtype=int)] = 1.0
    return hot


def cross_entropy(y, t):
    """Mean over the batch of -log(y[label] + 1e-7)."""
    y, t = _rows(y, t)
    n = y.shape[-2]
    return -np.sum(np.log(y[..., np.arange(n), _labels(y, t)] + EPSILON), axis=-1) / n


def cross_entropy_grad(y, t):
    y2, t = _rows(y, t)
    return np.reshape(-_one_hot(y2, t) / (y2 + EPSILON) / y2.shape[-2], np.shape(y))


def sum_squared_error(y, t):
    """0.5 * sum of squared differences (the book's, not divided by the batch)."""
    y, t = _rows(y, t)
    return 0.5 * np.sum((y - _one_hot(y, t)) ** 2, axis=(-2, -1))


def sum_squared_error_grad(y, t):
    y2, t = _rows(y, t)
    return np.reshape(y2 - _one_hot(y2, t), np.shape(y))


def mean_squared_error(y, t):
    """Mean of squared differences over every element of the batch."""
    y, t = _rows(y, t)
    return np.mean((y - _one_hot(y, t)) ** 2, axis=(-2, -1))


def mean_squared_error_grad(y, t):
    y2, t = _rows(y, t)
    return np.reshape(2.0 * (y2 - _one_hot(y2, t)) / (y2.shape[-2] * y2.shape[-1]), np.shape(y))


@hookimpl
def toolkit_losses():
    return {
        "cross_entropy": Part(cross_entropy, derivative=cross_entropy_grad),
        "sum_squared_error": Part(sum_squared_error, derivative=sum_squared_error_grad),
        "mean_squared_error": Part(mean_squared_error, derivative=mean_squared_error_grad),
    }


@hookimpl
def toolkit_defaults():
    return {"loss": "cross_entropy"}
