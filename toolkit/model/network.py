"""The assembled network: a sequence of layers of registered parts, in the book's vocabulary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ..base.errors import RunError
from ..registry.parts import BoundPart
from ..registry.registry import Registry
from .forward import Forward
from .layers import Dense, Layer, Step

__all__ = ["Dense", "GradientSource", "Network"]


class GradientSource(Protocol):
    """Where a network's gradients come from: the gradient engines, which live apart from
    the model (``toolkit.gradients.estimate.Estimate``; ``toolkit.build`` wires one in)."""

    def gradient(
        self,
        network: Network,
        x: np.ndarray,
        t: np.ndarray,
        estimator: str | Mapping[str, Any] | None,
    ) -> dict[str, np.ndarray]:
        """The loss gradient for each of ``network.params`` on the batch, by ``estimator``
        (the network's own when None)."""
        ...


class Network:
    """A sequence of layers with a loss and a gradient estimator.

    ``params`` is the live dict of parameter arrays (``W1, b1, W2, b2, ...``):
    changing an array, or replacing it under its key, changes the network.
    ``gradient_source`` computes ``gradient``; ``registry`` is where it looks
    estimators up by name.
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        params: dict[str, np.ndarray],
        loss: BoundPart,
        estimator: BoundPart,
        registry: Registry | None = None,
        rng: np.random.Generator | None = None,
        gradient_source: GradientSource | None = None,
    ) -> None:
        self.layers = list(layers)
        self.params = params
        self.loss_function = loss
        self.estimator = estimator
        self.registry = registry
        self.rng = rng if rng is not None else np.random.default_rng(0)  # for estimators that draw
        self.gradient_source = gradient_source

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
            step = layer.forward(x, params)
            _check_output(index, layer, step)
            inputs.append(step.input)
            pre.append(step.pre)
            outputs.append(step.output)
            x = step.output
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
        """The index of the layer a parameter belongs to, and whether it is its affine weight."""
        for index, layer in enumerate(self.layers):
            if name in layer.params:
                affine = layer.affine
                return index, affine is not None and name == affine.weight
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
        if self.gradient_source is None:
            raise RunError(
                "this network has no gradient source; build it with toolkit.build(spec), or "
                "give Network(..., gradient_source=toolkit.gradients.estimate.Estimate())"
            )
        return self.gradient_source.gradient(self, x, t, estimator)

    def summary(self) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
        """For each layer: activation name, weight shape, bias shape (its first and last
        parameters')."""
        return [
            (
                layer.activation.name,
                self.params[layer.params[0]].shape,
                self.params[layer.params[-1]].shape,
            )
            for layer in self.layers
        ]


def _check_output(index: int, layer: Layer, step: Step) -> None:
    """A layer's activation must return real numbers for real input, of the input's shape."""
    x, a = step.output, step.pre
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
