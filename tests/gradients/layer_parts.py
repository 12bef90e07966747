"""Layer types for the engine tests, registered as a plugin (``-p tests.gradients.layer_parts``
or ``get_plugin_manager(("tests.gradients.layer_parts",))``): one of each shape the engines
must serve, each with the book's kind of backward pass.

- ``gain``: ``tanh(x * g + c)``, one gain and offset per unit: not affine, parameters of
  its own, keeps units apart;
- ``centre``: batch normalization written out (the book's ``BatchNormalization``): mixes
  the samples of a batch in training, keeps units apart, running mean and variance;
- ``mask``: dropout written out (the book's ``Dropout``): draws a mask per batch;
- ``mix``: a 1x1 convolution over channels of (channels, length) samples, with an
  activation part: not affine, declares its activation's breakpoints, mixes units;
- ``pairmax``: the maximum of each pair along the length (a 1-D max pooling): kinked,
  declares nothing;
- ``plain``: ``x * s`` per unit, declaring nothing at all and giving no backward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from toolkit import Layer, Mode, ParamSpec, Part, Step, hookimpl
from toolkit.base.rng import Rng
from toolkit.registry.parts import BoundPart

Shape = tuple[int, ...]
Grads = tuple[np.ndarray | None, dict[str, np.ndarray]]
EPSILON = 1e-6
"""The book's ``BatchNormalization`` adds 10e-7 under the square root."""


class Gain(Layer):
    """``tanh(x * g + c)``."""

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("g", self.input_shape, 1.0), ParamSpec("c", self.input_shape, 0.0))

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return ()

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x * params[self.names["g"]] + params[self.names["c"]]
        return Step(x, a, np.tanh(a))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> Grads:
        g = grad_out * (1.0 - step.output**2)
        grads = {self.names["g"]: (g * step.input).sum(axis=0), self.names["c"]: g.sum(axis=0)}
        return (g * params[self.names["g"]] if inputs else None), grads


class Centre(Layer):
    """``gamma * (x - mean) / sqrt(var + eps) + beta``, the batch's statistics in training
    and the running ones in evaluation."""

    momentum = 0.9

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("gamma", self.input_shape, 1.0), ParamSpec("beta", self.input_shape, 0.0))

    def state_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("mean", self.input_shape, 0.0), ParamSpec("var", self.input_shape, 0.0))

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return ()

    @property
    def mixes_samples(self) -> bool:
        return True

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        if mode.train:
            mean = x.mean(axis=-2, keepdims=True)
            centred = x - mean
            var = (centred**2).mean(axis=-2, keepdims=True)
        else:
            mean, var = mode.state[self.state_names["mean"]], mode.state[self.state_names["var"]]
            centred = x - mean
        std = np.sqrt(var + EPSILON)
        normal = centred / std
        out = params[self.names["gamma"]] * normal + params[self.names["beta"]]
        return Step(x, normal, out, (centred, std, mean, var))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> Grads:
        centred, std, _, _ = step.cache
        normal, batch = step.pre, grad_out.shape[0]
        grads = {
            self.names["gamma"]: (grad_out * normal).sum(axis=0),
            self.names["beta"]: grad_out.sum(axis=0),
        }
        dn = grad_out * params[self.names["gamma"]]
        dc = dn / std
        dstd = -np.sum(dn * centred / std**2, axis=0)
        dvar = 0.5 * dstd / std
        dc += (2.0 / batch) * centred * dvar
        return (dc - dc.mean(axis=0) if inputs else None), grads

    def next_state(self, step: Step, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        _, _, mean, var = step.cache
        names, m = self.state_names, self.momentum
        return {
            names["mean"]: m * state[names["mean"]] + (1 - m) * mean[0],
            names["var"]: m * state[names["var"]] + (1 - m) * var[0],
        }


class Mask(Layer):
    """``x * mask`` in training, the mask ``U[0, 1) > rate`` drawn per batch;
    ``x * (1 - rate)`` in evaluation."""

    def __init__(self, input_shape: Shape, rate: float) -> None:
        super().__init__(input_shape)
        self.rate = rate

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return ()

    def draw(self, rng: Rng, batch: int) -> np.ndarray:
        return np.asarray(rng.random((batch, *self.input_shape)) > self.rate)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        out = x * mode.noise if mode.train else x * (1.0 - self.rate)
        return Step(x, x, out, mode.noise)

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> Grads:
        return grad_out * step.cache, {}


class Mix(Layer):
    """``activation(W @ x + b)`` over the channels of each position: W ``(filters,
    channels)``, b ``(filters,)``; samples ``(channels, length)``."""

    weighted = True

    def __init__(self, input_shape: Shape, filters: int, activation: BoundPart) -> None:
        super().__init__(input_shape)
        self.filters = filters
        self._activation = activation
        self.output_shape = (filters, input_shape[1])

    @property
    def activation(self) -> BoundPart:
        return self._activation

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        return self._activation.part.breakpoints

    def param_specs(self) -> tuple[ParamSpec, ...]:
        channels = self.input_shape[0]
        return (
            ParamSpec("W", (self.filters, channels), "init"),
            ParamSpec("b", (self.filters,), 0.0),
        )

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        weight, bias = params[self.names["W"]], params[self.names["b"]]
        a = np.einsum("fc,...cl->...fl", weight, x) + bias[:, None]
        return Step(x, a, self._activation(a))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> Grads:
        g = self._activation.vjp(step.pre, grad_out)
        grads = {
            self.names["W"]: np.einsum("nfl,ncl->fc", g, step.input),
            self.names["b"]: g.sum(axis=(0, 2)),
        }
        weight = params[self.names["W"]]
        return (np.einsum("fc,nfl->ncl", weight, g) if inputs else None), grads


class PairMax(Layer):
    """The larger of each pair of positions: ``(channels, 2L) -> (channels, L)``."""

    def __init__(self, input_shape: Shape) -> None:
        super().__init__(input_shape)
        self.output_shape = (input_shape[0], input_shape[1] // 2)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        pairs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)
        out = pairs.max(axis=-1)
        return Step(x, out, out, pairs.argmax(axis=-1))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> Grads:
        choice = step.cache[..., None] == np.arange(2)
        return (choice * grad_out[..., None]).reshape(step.input.shape), {}


class Plain(Layer):
    """``x * s``, one factor per unit; declares nothing and gives no backward pass."""

    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (ParamSpec("s", self.input_shape, 1.0),)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        out = x * params[self.names["s"]]
        return Step(x, out, out)


def gain(input_shape: Shape) -> Gain:
    return Gain(input_shape)


def centre(input_shape: Shape) -> Centre:
    return Centre(input_shape)


def mask(input_shape: Shape, rate: float = 0.3) -> Mask:
    return Mask(input_shape, rate)


def mix(input_shape: Shape, filters: int = 3, activation: Any = None, init: Any = None) -> Mix:
    return Mix(input_shape, filters, activation)


def pairmax(input_shape: Shape) -> PairMax:
    return PairMax(input_shape)


def plain(input_shape: Shape) -> Plain:
    return Plain(input_shape)


@hookimpl
def toolkit_layers() -> dict[str, Part]:
    return {
        "gain": Part(gain),
        "centre": Part(centre),
        "mask": Part(mask),
        "mix": Part(mix),
        "pairmax": Part(pairmax),
        "plain": Part(plain),
    }
