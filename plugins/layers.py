"""Layer types: each a ``toolkit.Layer`` made for the shape of its input samples.

``dense`` is the book's ``Affine`` followed by an activation part: ``activation(x @ W + b)``;
``activation`` an activation part alone (the book's ``Relu``, ``Sigmoid`` layers);
``flatten`` and ``reshape`` change each sample's shape and nothing else.

Every forward pass keeps any leading axes before the batch axis (see ``toolkit.Layer``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from toolkit import REQUIRED, Layer, Part, SettingError, hookimpl
from toolkit.base.wording import describe_value
from toolkit.model.layers import Affine, ParamSpec, Shape, Step
from toolkit.registry.parts import BoundPart

Problems = Iterator[tuple[str, str]]


class Activated(Layer):
    """A layer whose output is an activation part of its pre-activation: what it declares
    to the engines (its nonlinearity, whether that acts on each element alone, its
    breakpoints, whether it has a backward pass) is the activation part's."""

    def __init__(self, shape: Shape, activation: BoundPart) -> None:
        super().__init__(shape)
        self._activation = activation

    @property
    def activation(self) -> BoundPart:
        """The activation part, bound to its settings."""
        return self._activation

    @functools.cached_property
    def elementwise(self) -> bool:
        """Whether the activation part acts on each element alone (probed once, then kept)."""
        return _probe_elementwise(self._activation)

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        """The activation part's declared breakpoints."""
        return self._activation.part.breakpoints

    @property
    def differentiable(self) -> bool:
        """Whether the activation part gives a derivative or a vjp."""
        return self._activation.has_derivative


class Dense(Activated):
    """``activation(x @ W + b)``: W shaped ``(inputs, units)``, b ``(units,)``; the book's
    ``Affine`` and its activation layer in one."""

    weighted = True

    def __init__(self, shape: Shape, units: int, activation: BoundPart) -> None:
        super().__init__(shape, activation)
        if len(shape) != 1:
            raise SettingError(
                "units",
                "a dense layer takes samples of one axis; put {type: flatten} before it",
            )
        self.units = units
        self.output_shape = (units,)

    def param_specs(self) -> tuple[ParamSpec, ...]:
        """W from ``init``, then b from ``bias_init``."""
        inputs = self.input_shape[0]
        return (
            ParamSpec("W", (inputs, self.units), "init"),
            ParamSpec("b", (self.units,), "bias_init"),
        )

    @property
    def affine(self) -> Affine:
        """Always affine: the weight and the bias."""
        return Affine(self.names["W"], self.names["b"])

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Any = None) -> Step:
        """``x @ W + b`` and the activation of it."""
        a = x @ params[self.names["W"]] + params[self.names["b"]]
        return Step(x, a, self._activation(a))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """The chain rule through the activation's vjp, then the affine step (as the book's
        ``Affine.backward``: ``dW = x.T @ dout``, ``db = sum(dout)``, ``dx = dout @ W.T``)."""
        g = self._activation.vjp(step.pre, grad_out)
        weight, bias = self.names["W"], self.names["b"]
        grads = {weight: step.input.T @ g, bias: g.sum(axis=0)}
        return (g @ params[weight].T if inputs else None), grads


def _probe_elementwise(activation: BoundPart) -> bool:
    """Compare the activation on a matrix with it on each element alone."""
    probe = np.linspace(-2.0, 2.0, 12).reshape(3, 4) + 0.0371
    try:
        whole = np.asarray(activation(probe))
        alone = np.array(
            [
                [np.asarray(activation(probe[i : i + 1, j : j + 1])).item() for j in range(4)]
                for i in range(3)
            ]
        )
    except Exception:
        return False
    return whole.shape == alone.shape and bool(np.allclose(whole, alone, rtol=1e-12, atol=1e-15))


class ActivationLayer(Activated):
    """An activation part on its own: ``activation(x)``, of the input's shape."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Any = None) -> Step:
        """The activation of ``x`` (its pre-activation is ``x`` itself)."""
        return Step(x, x, self._activation(x))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """The activation's vjp."""
        return self._activation.vjp(step.pre, grad_out), {}


class Reshape(Layer):
    """Each sample reshaped (C order), the batch axis and any before it kept: ``flatten``
    (to one axis, as the book's ``Affine`` does with ``x.reshape(N, -1)``) and ``reshape``."""

    def __init__(self, shape: Shape, output_shape: Shape) -> None:
        super().__init__(shape)
        self.output_shape = output_shape

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Smooth (``()``): it only moves numbers."""
        return ()

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Any = None) -> Step:
        """``x`` with each sample in the output shape."""
        y = x.reshape(*x.shape[: x.ndim - len(self.input_shape)], *self.output_shape)
        return Step(x, y, y)

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """The gradient put back in the input's shape."""
        return grad_out.reshape(step.input.shape), {}


def dense(
    input_shape: Shape,
    units: int = REQUIRED,
    activation: Any = None,
    init: Any = None,
    bias_init: Any = None,
) -> Dense:
    """A fully connected layer: activation(x @ W + b), W from init, b from bias_init."""
    return Dense(input_shape, units, activation)


def check_units(units: Any, **settings: Any) -> Problems:
    """``units``: a whole number of at least 1."""
    yield from whole_number("units", units, 1)


def whole_number(setting: str, value: Any, minimum: int) -> Problems:
    """A whole number of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        yield setting, f"expected a whole number, got {describe_value(value)}"
    elif value < minimum:
        yield setting, f"must be at least {minimum}, got {describe_value(value)}"


def activation(input_shape: Shape, activation: Any = REQUIRED) -> ActivationLayer:
    """An activation part as a layer of its own (Affine, BatchNorm, then ReLU)."""
    return ActivationLayer(input_shape, activation)


def flatten(input_shape: Shape) -> Reshape:
    """Each sample to one axis (N, C, H, W) -> (N, C*H*W), in C order."""
    return Reshape(input_shape, (int(np.prod(input_shape)),))


def reshape(input_shape: Shape, shape: Any = REQUIRED) -> Reshape:
    """Each sample to ``shape`` (the batch axis kept), as many numbers as before."""
    wanted = _as_shape(shape)
    if wanted is None:
        raise SettingError(
            "shape",
            f"must be a list of positive whole numbers, such as [1, 8, 8], got {shape!r}",
        )
    if int(np.prod(wanted)) != int(np.prod(input_shape)):
        raise SettingError(
            "shape",
            f"{list(wanted)} holds {int(np.prod(wanted))} numbers, but each sample holds "
            f"{int(np.prod(input_shape))}; give a shape of {int(np.prod(input_shape))} numbers "
            "in all",
        )
    return Reshape(input_shape, wanted)


def _as_shape(value: Any) -> Shape | None:
    if not isinstance(value, list | tuple) or not value:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        return tuple(value)
    return None


@hookimpl
def toolkit_layers() -> dict[str, Part]:
    return {
        "dense": Part(dense, validate=check_units),
        "activation": Part(activation),
        "flatten": Part(flatten),
        "reshape": Part(reshape),
    }


@hookimpl
def toolkit_defaults() -> dict[str, str]:
    return {"type": "dense"}
