"""The assembled network: dense layers of registered parts, in the book's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import RunError
from .objective import Objective
from .parts import BoundPart
from .registry import Registry
from .resolver import bind_part

__all__ = ["Dense", "Network"]


@dataclass(frozen=True)
class Dense:
    """One affine layer ``activation(x @ W + b)``; W and b are looked up by name in params."""

    weight: str
    bias: str
    activation: BoundPart


class Network:
    """A stack of dense layers with a loss and a gradient estimator.

    ``params`` is the live dict of parameter arrays (``W1, b1, W2, b2, ...``):
    changing an array, or replacing it under its key, changes the network.
    """

    def __init__(
        self,
        layers: Sequence[Dense],
        params: dict[str, np.ndarray],
        loss: BoundPart,
        estimator: BoundPart,
        registry: Registry | None = None,
    ) -> None:
        self.layers = list(layers)
        self.params = params
        self.loss_function = loss
        self.estimator = estimator
        self.registry = registry

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The network's output for inputs ``x`` (one row per sample, or a single sample)."""
        for index, layer in enumerate(self.layers):
            a = x @ self.params[layer.weight] + self.params[layer.bias]
            x = layer.activation(a)
            if np.shape(x) != a.shape:
                raise RunError(
                    f"model.layers[{index}].activation: activation '{layer.activation.name}' "
                    f"returned shape {np.shape(x)} for input of shape {a.shape}; an activation "
                    "must keep the shape"
                )
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The loss of the predictions for ``x`` against targets ``t``."""
        return float(self.loss_function(self.predict(x), t))

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """The fraction of samples whose largest output is their class."""
        y = np.atleast_2d(self.predict(x))
        predicted = np.argmax(y, axis=1)
        labels = np.argmax(np.atleast_2d(t), axis=1) if np.size(t) == y.size else np.ravel(t)
        return float(np.mean(predicted == labels))

    def gradient(
        self, x: np.ndarray, t: np.ndarray, estimator: str | Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """The loss gradient for each parameter, shaped like ``params``.

        ``estimator`` is the spec's unless another registered name (or
        ``{"name": ..., **settings}``) is given.
        """
        bound = self.estimator if estimator is None else self._estimator(estimator)
        grads = bound(Objective(self, x, t))
        return {key: self._checked(bound, grads, key) for key in self.params}

    def _checked(self, bound: BoundPart, grads: Any, key: str) -> np.ndarray:
        """The estimator's gradient for ``key``, which must be shaped like the parameter."""
        grad = np.asarray(grads[key]) if isinstance(grads, Mapping) and key in grads else None
        if grad is None or grad.shape != self.params[key].shape:
            got = "nothing" if grad is None else f"shape {grad.shape}"
            raise RunError(
                f"gradient: estimator '{bound.name}' returned {got} for {key}, expected shape "
                f"{self.params[key].shape}"
            )
        return grad

    def _estimator(self, ref: str | Mapping[str, Any]) -> BoundPart:
        if self.registry is None:
            raise RunError("this network has no registry to look an estimator up in")
        return bind_part(self.registry, "gradient_estimator", ref, ("estimator",))

    def summary(self) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
        """For each layer: activation name, weight shape, bias shape."""
        return [
            (layer.activation.name, self.params[layer.weight].shape, self.params[layer.bias].shape)
            for layer in self.layers
        ]
