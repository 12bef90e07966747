"""Optimizers: objects whose ``update(params, grads)`` changes the parameters in place."""

from __future__ import annotations

from toolkit import hookimpl


class SGD:
    """Stochastic gradient descent: p -= learning_rate * g."""

    def __init__(self, learning_rate=0.01):
        self.learning_rate = learning_rate

    def update(self, params, grads):
        for key in params:
            params[key] -= self.learning_rate * grads[key]


@hookimpl
def toolkit_optimizers():
    return {"sgd": SGD}
