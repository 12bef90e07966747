"""Optimizers: objects whose ``update(params, grads)`` changes the parameters in place.

The book's (``common/optimizer.py``), with its update rules and defaults. State lives in
plain attributes holding numbers, None, or dicts from parameter name to an array shaped
like that parameter (None until the first update), so ``vars(optimizer)`` is all there
is to save and restore.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from toolkit import Part, hookimpl

Params = dict[str, np.ndarray]
"""Arrays by parameter name: the network's parameters, or an optimizer's state for each."""
Grads = Mapping[str, np.ndarray]
Problems = Iterator[tuple[str, str]]
"""What a ``validate`` function yields: (setting, what is wrong with it)."""


class SGD:
    """Stochastic gradient descent: p -= learning_rate * g."""

    def __init__(self, learning_rate: float = 0.01) -> None:
        self.learning_rate = learning_rate

    def update(self, params: Params, grads: Grads) -> None:
        for key in params:
            params[key] -= self.learning_rate * grads[key]


def zeros_like_each(params: Params) -> Params:
    """A zero array shaped like each parameter, by name."""
    return {key: np.zeros_like(value) for key, value in params.items()}


class Momentum:
    """Momentum SGD: v = momentum * v - learning_rate * g; p += v."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.v: Params | None = None

    def update(self, params: Params, grads: Grads) -> None:
        if self.v is None:
            self.v = zeros_like_each(params)
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.learning_rate * grads[key]
            params[key] += self.v[key]


class Nesterov:
    """Nesterov momentum, the book's code: v updated, then p += m**2 * v - (1 + m) * lr * g.

    ``v = momentum * v - lr * g`` first, as for momentum, then the step with that new ``v``
    (``m`` is ``momentum``, ``lr`` is ``learning_rate``). The book's class cites Bengio et
    al. (arXiv:1212.0901), whose eq. 7 steps with the ``v`` of before the update; the book's
    code updates ``v`` first, so its first step from rest is ``(1 + m + m**2) * lr * g`` where
    eq. 7's is ``(1 + m) * lr * g``. This is the book's rule, step for step.
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.v: Params | None = None

    def update(self, params: Params, grads: Grads) -> None:
        if self.v is None:
            self.v = zeros_like_each(params)
        for key in params:
            self.v[key] *= self.momentum
            self.v[key] -= self.learning_rate * grads[key]
            params[key] += self.momentum * self.momentum * self.v[key]
            params[key] -= (1 + self.momentum) * self.learning_rate * grads[key]


class AdaGrad:
    """AdaGrad: h += g * g; p -= learning_rate * g / (sqrt(h) + 1e-7)."""

    def __init__(self, learning_rate: float = 0.01) -> None:
        self.learning_rate = learning_rate
        self.h: Params | None = None

    def update(self, params: Params, grads: Grads) -> None:
        if self.h is None:
            self.h = zeros_like_each(params)
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.learning_rate * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop:
    """RMSprop: AdaGrad with h = decay_rate * h + (1 - decay_rate) * g * g, a moving average."""

    def __init__(self, learning_rate: float = 0.01, decay_rate: float = 0.99) -> None:
        self.learning_rate = learning_rate
        self.decay_rate = decay_rate
        self.h: Params | None = None

    def update(self, params: Params, grads: Grads) -> None:
        if self.h is None:
            self.h = zeros_like_each(params)
        for key in params:
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.learning_rate * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """Adam: p -= lr_t * m / (sqrt(v) + 1e-7), m and v moving averages of g and g * g.

    ``lr_t = learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)`` at update ``t`` (the
    attribute ``iter``): the bias correction folded into the step size, as in the book.
    """

    def __init__(
        self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999
    ) -> None:
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: Params | None = None
        self.v: Params | None = None

    def update(self, params: Params, grads: Grads) -> None:
        if self.m is None:
            self.m, self.v = zeros_like_each(params), zeros_like_each(params)
        assert self.v is not None  # set with m: here, or by restoring a checkpoint
        self.iter += 1
        lr_t = (
            self.learning_rate
            * np.sqrt(1.0 - self.beta2**self.iter)
            / (1.0 - self.beta1**self.iter)
        )
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


def check_learning_rate(learning_rate: float) -> Problems:
    if not learning_rate > 0:
        yield "learning_rate", f"must be positive, got {learning_rate}"


def check_fraction(setting: str, value: float, *, zero_allowed: bool = True) -> Problems:
    """The problem with ``value`` outside [0, 1) (or (0, 1)), if any."""
    if not (0 <= value < 1 if zero_allowed else 0 < value < 1):
        interval = "[0, 1)" if zero_allowed else "(0, 1)"
        yield setting, f"must be in {interval}, got {value}"


def check_momentum(learning_rate: float, momentum: float) -> Problems:
    yield from check_learning_rate(learning_rate)
    yield from check_fraction("momentum", momentum)


def check_rmsprop(learning_rate: float, decay_rate: float) -> Problems:
    yield from check_learning_rate(learning_rate)
    yield from check_fraction("decay_rate", decay_rate, zero_allowed=False)


def check_adam(learning_rate: float, beta1: float, beta2: float) -> Problems:
    yield from check_learning_rate(learning_rate)
    yield from check_fraction("beta1", beta1)
    yield from check_fraction("beta2", beta2)


@hookimpl
def toolkit_optimizers() -> dict[str, Part]:
    return {
        "sgd": Part(SGD, validate=check_learning_rate),
        "momentum": Part(Momentum, validate=check_momentum),
        "nesterov": Part(Nesterov, validate=check_momentum),
        "adagrad": Part(AdaGrad, validate=check_learning_rate),
        "rmsprop": Part(RMSprop, validate=check_rmsprop),
        "adam": Part(Adam, validate=check_adam),
    }


@hookimpl
def toolkit_defaults() -> dict[str, str]:
    return {"optimizer": "sgd"}
