"""Initializers: an array of the given shape, drawn from the run's random generator.

``rng`` is numpy's legacy ``RandomState`` or a ``Generator``; both have ``random``
and ``standard_normal``, which draw exactly as ``rand`` and ``randn`` do.
"""

from __future__ import annotations

import numpy as np

from toolkit import hookimpl


def uniform(shape, rng, scale=0.01):
    """scale * U[0, 1) (the seed program's weights)."""
    return scale * rng.random(shape)


def normal(shape, rng, scale=0.01):
    """scale * N(0, 1) (the book's weight_init_std)."""
    return scale * rng.standard_normal(shape)


def xavier(shape, rng):
    """N(0, 1) * sqrt(1 / n_in), n_in = shape[0]."""
    return rng.standard_normal(shape) * np.sqrt(1.0 / shape[0])


def he(shape, rng):
    """N(0, 1) * sqrt(2 / n_in), n_in = shape[0]."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / shape[0])


def zeros(shape, rng):
    """All zeros; draws no random numbers."""
    return np.zeros(shape)


@hookimpl
def toolkit_initializers():
    return {"uniform": uniform, "normal": normal, "xavier": xavier, "he": he, "zeros": zeros}


@hookimpl
def toolkit_defaults():
    return {"init": "normal", "bias_init": "zeros"}
