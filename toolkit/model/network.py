"""The assembled network: dense layers of registered parts, in the book's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.errors import RunError
from ..gradients.objective import Objective
from ..registry.parts import BoundPart
from ..registry.registry import Registry
from ..spec.resolver import bind_part
from .forward import Forward

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
        rng: np.random.Generator | None = None,
    ) -> None:
        self.layers = list(layers)
        self.params = params
        self.loss_function = loss
        self.estimator = estimator
        self.registry = registry
        self.rng = rng if rng is not None else np.random.default_rng(0)  # for estimators that draw
        self.caches: dict[str, Any] = {}  # what engines (toolkit.perturbation) learn of it

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The network's output for inputs ``x`` (one row per sample, or a single sample)."""
        return self.forward(x).y

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray] | None = None) -> Forward:
        """The forward pass, keeping each layer's input, pre-activation and output.

        ``params`` replaces the network's own (for example with perturbed copies).
        """
        params = self.params if params is None else params
        inputs, pre, outputs = [], [], []
        for index, layer in enumerate(self.layers):
            a = x @ params[layer.weight] + params[layer.bias]
            inputs.append(x)
            pre.append(a)
            x = layer.activation(a)
            if np.iscomplexobj(x) and not np.iscomplexobj(a):
                raise RunError(
                    f"model.layers[{index}].activation: activation '{layer.activation.name}' "
                    "returned complex values for real input; it must return real numbers"
                )
            if np.shape(x) != a.shape:
                raise RunError(
                    f"model.layers[{index}].activation: activation '{layer.activation.name}' "
                    f"returned shape {np.shape(x)} for input of shape {a.shape}; an activation "
                    "must keep the shape"
                )
            outputs.append(x)
        return Forward(inputs, pre, outputs)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The loss of the predictions for ``x`` against targets ``t``."""
        return float(self.evaluate(x, t))

    def evaluate(
        self, x: np.ndarray, t: np.ndarray, params: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """The loss as the loss part returns it (complex for complex parameters, say)."""
        return np.asarray(self.loss_function(self.forward(x, params).y, t))

    def locate(self, name: str) -> tuple[int, bool]:
        """The index of the layer a parameter belongs to, and whether it is the weight."""
        for index, layer in enumerate(self.layers):
            if name in (layer.weight, layer.bias):
                return index, name == layer.weight
        raise KeyError(name)

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
        for key, value in self.params.items():
            if np.asarray(value).dtype.kind != "f":
                raise RunError(
                    f"params['{key}'] holds {np.asarray(value).dtype} values; parameters must be "
                    f"floating-point arrays (network.params['{key}'] = value.astype(float))"
                )
        x, t = _as_batch(x, t)
        grads = bound(Objective(self, x, t, self.rng))
        return {key: self._checked(bound, grads, key) for key in self.params}

    def _checked(self, bound: BoundPart, grads: Any, key: str) -> np.ndarray:
        """The estimator's gradient for ``key``, which must be shaped like the parameter."""
        grad = np.asarray(grads[key]) if isinstance(grads, Mapping) and key in grads else None
        if grad is None or grad.shape != self.params[key].shape or grad.dtype.kind == "c":
            got = "nothing" if grad is None else f"shape {grad.shape}"
            if grad is not None and grad.dtype.kind == "c":
                got = f"complex values ({grad.dtype})"
            raise RunError(
                f"gradient: estimator '{bound.name}' returned {got} for {key}, expected real "
                f"numbers of shape {self.params[key].shape}"
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


def _as_batch(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A single sample (1-D x) as a batch of one, its target as one row or one index."""
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim != 1:
        return x, t
    return x[None], (t.reshape(1, -1) if t.size > 1 else t.reshape(1))
