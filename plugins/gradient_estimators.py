"""Gradient estimators: the gradient of ``objective.loss()`` with respect to each parameter.

``objective.params`` is the network's live dict of arrays; an estimator may change an
element, evaluate the loss and must put it back.
"""

from __future__ import annotations

import numpy as np

from toolkit import hookimpl


def central_difference(objective, h=1e-4):
    """(f(v + h) - f(v - h)) / 2h, element by element in row-major order."""
    grads = {}
    for name, param in objective.params.items():
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            value = param[index]
            param[index] = value + h
            f1 = objective.loss()
            param[index] = value - h
            f2 = objective.loss()
            param[index] = value
            grad[index] = (f1 - f2) / (2 * h)
        grads[name] = grad
    return grads


def forward_difference(objective, h=1e-4):
    """(f(v + h) - f(v)) / h, element by element in row-major order."""
    f0 = objective.loss()
    grads = {}
    for name, param in objective.params.items():
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            value = param[index]
            param[index] = value + h
            f1 = objective.loss()
            param[index] = value
            grad[index] = (f1 - f0) / h
        grads[name] = grad
    return grads


@hookimpl
def toolkit_gradient_estimators():
    return {"central_difference": central_difference, "forward_difference": forward_difference}
