"""Optimizers: objects whose ``update(params, grads)`` changes the parameters in place."""

from __future__ import annotations

from toolkit import Part, hookimpl


class SGD:
    """Stochastic gradient descent: p -= learning_rate * g."""

    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate

    def update(self, params, grads):
        for key in params:
            params[key] -= self.learning_rate * grads[key]


def check_learning_rate(learning_rate):
    if not learning_rate > 0:
        yield "learning_rate", f"must be positive, got {learning_rate}"


@hookimpl
def toolkit_optimizers():
    return {"sgd": Part(SGD, validate=check_learning_rate)}


@hookimpl
def toolkit_defaults():
    return {"optimizer": "sgd"}
