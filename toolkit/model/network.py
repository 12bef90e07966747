"""The assembled network: a sequence of layers of registered parts, in the book's vocabulary."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from ..base.errors import RunError
from ..base.rng import Rng
from ..registry.parts import BoundPart
from ..registry.registry import Registry
from .forward import Forward
from .layers import Layer, Mode, Step

__all__ = ["GradientSource", "Network"]


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
        (the network's own when None), in training mode."""
        ...


class Network:
    """A sequence of layers with a loss and a gradient estimator.

    ``params`` is the live dict of parameter arrays (``W1, b1, W2, b2, ...``):
    changing an array, or replacing it under its key, changes the network. ``state`` is
    the dict of running state arrays (batch normalization's running mean and variance):
    never a parameter, updated once per training batch by ``update_state``.
    ``gradient_source`` computes ``gradient``; ``registry`` is where it looks
    estimators up by name.

    A forward pass runs in evaluation mode unless told otherwise (``train=True``), or
    within ``training(noise)``, where it runs in training mode with that batch's draws
    (dropout masks): the function every gradient estimator differentiates.
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
        state: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.layers = list(layers)
        self.params = params
        self.state = state if state is not None else {}
        self.loss_function = loss
        self.estimator = estimator
        self.registry = registry
        self.rng = rng if rng is not None else np.random.default_rng(0)  # for estimators that draw
        self.gradient_source = gradient_source
        self._noise: list[Any] | None = None
        """The draws of the training pass under way (``training``), one per layer."""

    @property
    def draws(self) -> bool:
        """Whether a training pass draws anything (a dropout mask) for each batch."""
        return any(type(layer).draw is not Layer.draw for layer in self.layers)

    def draw(self, rng: Rng, batch: int) -> list[Any]:
        """Each layer's draws for a training pass on ``batch`` samples, from ``rng``, in
        layer order (nothing is drawn for a network without such layers)."""
        return [layer.draw(rng, batch) for layer in self.layers]

    @contextmanager
    def training(self, noise: list[Any] | None) -> Iterator[None]:
        """Within it, forward passes not told their mode run in training mode with
        ``noise`` (from ``draw``; None for a network that draws nothing)."""
        kept = self._noise
        self._noise = noise if noise is not None else [None] * len(self.layers)
        try:
            yield
        finally:
            self._noise = kept

    def predict(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """The network's output for inputs ``x`` (one row per sample, or a single sample):
        in evaluation mode unless ``train``."""
        x = np.asarray(x)
        if x.ndim == len(self.layers[0].input_shape):  # one sample: a batch of one
            return np.asarray(self.forward(x[None], train=train).y[0])
        return self.forward(x, train=train).y

    def forward(
        self,
        x: np.ndarray,
        params: Mapping[str, np.ndarray] | None = None,
        *,
        train: bool | None = None,
    ) -> Forward:
        """The forward pass, keeping each layer's input, pre-activation and output.

        ``params`` replaces the network's own (for example with perturbed copies).
        ``train`` None runs in the mode of the pass under way (training within
        ``training``, else evaluation).
        """
        params = self.params if params is None else params
        inputs, pre, outputs, caches = [], [], [], []
        for index, (layer, mode) in enumerate(zip(self.layers, self.modes(x, train), strict=True)):
            step = layer.forward(x, params, mode)
            _check_output(index, layer, step)
            inputs.append(step.input)
            pre.append(step.pre)
            outputs.append(step.output)
            caches.append(step.cache)
            x = step.output
        return Forward(inputs, pre, outputs, caches)

    def modes(self, x: np.ndarray, train: bool | None = None) -> list[Mode]:
        """Each layer's mode for a pass on ``x``: what ``forward`` gives each layer (the
        engines evaluate a layer on its own, in the pass's mode). ``train`` None: the mode
        of the pass under way, the same on every call within it."""
        noise = self._noise
        if train is None:
            train = noise is not None
        if not train:
            return [Mode(False, None, self.state)] * len(self.layers)
        if noise is None:  # training mode asked for outside a training pass: fresh draws
            noise = self.draw(self.rng, _batch(x, self.layers[0]))
        return [Mode(True, drawn, self.state) for drawn in noise]

    def loss(self, x: np.ndarray, t: np.ndarray, train: bool | None = False) -> float:
        """The loss of the predictions for ``x`` against targets ``t``: in evaluation mode
        unless ``train`` (None: the mode of the pass under way)."""
        return float(self.evaluate(x, t, train=train))

    def evaluate(
        self,
        x: np.ndarray,
        t: np.ndarray,
        params: Mapping[str, np.ndarray] | None = None,
        *,
        train: bool | None = None,
    ) -> np.ndarray:
        """The loss as the loss part returns it (complex for complex parameters, say), in
        the mode of the pass under way unless ``train`` says."""
        return np.asarray(self.loss_function(self.forward(x, params, train=train).y, t))

    def update_state(self, x: np.ndarray) -> None:
        """Move the running state on by one training batch: from an unperturbed forward
        pass on ``x`` in training mode (with the draws of the pass under way, within
        ``training``)."""
        if not self.state:
            return
        forward = self.forward(x, train=True)
        updated: dict[str, np.ndarray] = {}
        for index, layer in enumerate(self.layers):
            if layer.state_names:
                updated.update(layer.next_state(forward.step(index), self.state))
        for name, value in updated.items():
            self.state[name] = value

    def locate(self, name: str) -> tuple[int, bool]:
        """The index of the layer a parameter belongs to, and whether it is its affine weight."""
        for index, layer in enumerate(self.layers):
            if name in layer.params:
                affine = layer.affine
                return index, affine is not None and name == affine.weight
        raise KeyError(name)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """The fraction of samples whose largest output is their class (evaluation mode)."""
        y = np.atleast_2d(self.predict(x))
        predicted = np.argmax(y, axis=1)
        labels = np.argmax(np.atleast_2d(t), axis=1) if np.size(t) == y.size else np.ravel(t)
        return float(np.mean(predicted == labels))

    def gradient(
        self, x: np.ndarray, t: np.ndarray, estimator: str | Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """The loss gradient for each parameter, shaped like ``params``, in training mode.

        ``estimator`` is the spec's unless another registered name (or
        ``{"name": ..., **settings}``) is given. Within ``training(noise)`` every
        evaluation sees that pass's draws; otherwise they are drawn once for this call
        from ``rng``.
        """
        if self.gradient_source is None:
            raise RunError(
                "this network has no gradient source; build it with toolkit.build(spec), or "
                "give Network(..., gradient_source=toolkit.gradients.estimate.Estimate())"
            )
        if self._noise is not None:
            return self.gradient_source.gradient(self, x, t, estimator)
        with self.training(self.draw(self.rng, _batch(x, self.layers[0]))):
            return self.gradient_source.gradient(self, x, t, estimator)


def _batch(x: np.ndarray, first: Layer) -> int:
    """The batch size of input ``x`` (a single sample counts as a batch of one)."""
    x = np.asarray(x)
    return (
        1 if x.ndim <= len(first.input_shape) else int(x.shape[x.ndim - 1 - len(first.input_shape)])
    )


def _check_output(index: int, layer: Layer, step: Step) -> None:
    """A layer's activation must return real numbers for real input, of the input's shape."""
    activation = layer.activation
    if activation is None:
        return
    x, a = step.output, step.pre
    if np.iscomplexobj(x) and not np.iscomplexobj(a):
        raise RunError(
            f"model.layers[{index}].activation: activation '{activation.name}' "
            "returned complex values for real input; it must return real numbers"
        )
    if np.shape(x) != a.shape:
        raise RunError(
            f"model.layers[{index}].activation: activation '{activation.name}' "
            f"returned shape {np.shape(x)} for input of shape {a.shape}; an activation "
            "must keep the shape"
        )
