"""The assembled network: dense layers of registered parts, in the book's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import Problem, SpecError
from .objective import Objective
from .parts import BoundPart, check_settings
from .registry import Registry, UnknownPart

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
        """The network's output for inputs ``x`` (one row per sample)."""
        for layer in self.layers:
            x = layer.activation(x @ self.params[layer.weight] + self.params[layer.bias])
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The loss of the predictions for ``x`` against targets ``t``."""
        return float(self.loss_function(self.predict(x), t))

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """The fraction of samples whose largest output is their class."""
        predicted = np.argmax(self.predict(x), axis=1)
        labels = np.argmax(t, axis=1) if np.ndim(t) == 2 else np.asarray(t)
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
        return {key: np.asarray(grads[key]) for key in self.params}

    def _estimator(self, ref: str | Mapping[str, Any]) -> BoundPart:
        given = {"name": ref} if isinstance(ref, str) else dict(ref)
        name = str(given.pop("name", ""))
        if self.registry is None:
            raise SpecError([Problem("estimator", "this network has no registry to look it up")])
        try:
            entry = self.registry.lookup("gradient_estimator", name)
        except UnknownPart as error:
            raise SpecError([Problem("estimator", error.message, None, error.hint)]) from None
        settings, problems = check_settings(entry.part, given)
        if problems:
            raise SpecError(
                Problem(f"estimator.{key}", msg, None, hint) for key, msg, hint in problems
            )
        return BoundPart(name, entry.part, settings)

    def summary(self) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
        """For each layer: activation name, weight shape, bias shape."""
        return [
            (layer.activation.name, self.params[layer.weight].shape, self.params[layer.bias].shape)
            for layer in self.layers
        ]
