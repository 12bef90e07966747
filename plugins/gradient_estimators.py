"""Gradient estimators: the gradient of ``objective.loss()`` with respect to each parameter.

``objective.params`` is the network's live dict of arrays; an estimator may change an
element, evaluate the loss and must put it back.
"""

from __future__ import annotations

import numpy as np

from toolkit import Part, hookimpl


def central_difference(objective, h=1e-4):
    """(f(v + h) - f(v - h)) / 2h, element by element in row-major order."""

    def difference(param, index):
        value = param[index]
        try:
            param[index] = value + h
            f1 = objective.loss()
            param[index] = value - h
            f2 = objective.loss()
        finally:
            param[index] = value
        return (f1 - f2) / (2 * h)

    return _each_element(objective.params, difference)


def forward_difference(objective, h=1e-4):
    """(f(v + h) - f(v)) / h, element by element in row-major order."""
    f0 = objective.loss()

    def difference(param, index):
        value = param[index]
        try:
            param[index] = value + h
            f1 = objective.loss()
        finally:
            param[index] = value
        return (f1 - f0) / h

    return _each_element(objective.params, difference)


def _each_element(params, difference):
    """A gradient shaped like ``params`` from ``difference(param, index)`` of each element."""
    grads = {}
    for name, param in params.items():
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            grad[index] = difference(param, index)
        grads[name] = grad
    return grads


def check_step(h):
    if not h > 0:
        yield "h", f"must be a positive step, got {h}"


@hookimpl
def toolkit_gradient_estimators():
    return {
        "central_difference": Part(central_difference, validate=check_step),
        "forward_difference": Part(forward_difference, validate=check_step),
    }
