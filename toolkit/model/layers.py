"""The layers a network is a sequence of: what each computes, and what it declares about itself.

A layer is one object, as in the book's ``common/layers.py``: its parameters' names
(``W1``, ``b1``, ...), a forward pass that keeps what it saw and made (a ``Step``), and a
backward pass from the gradient of its output to that of its input and of its parameters.
It also declares what the gradient engines (``toolkit.gradients``) need to know to take
their fast paths: how its parameters enter its output (``affine``), whether its
nonlinearity acts on each element alone, where that nonlinearity has kinks, and whether
it mixes the samples of a batch. An engine refuses a layer whose declarations it cannot
serve, and the slower path answers for it.

``Dense`` is the one implementation: ``activation(x @ W + b)`` with a registered
activation part.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..registry.parts import BoundPart

__all__ = ["Activation", "Affine", "Dense", "Layer", "Step"]


class Activation(Protocol):
    """A layer's nonlinearity: a named function of its pre-activation (a bound part)."""

    @property
    def name(self) -> str:
        """The name messages call it by."""
        ...

    def __call__(self, a: Any, /) -> Any:
        """The nonlinearity at ``a``, of ``a``'s shape."""
        ...


@dataclass(frozen=True)
class Affine:
    """How a layer's parameters enter its output: ``activation(x @ params[weight] + params[bias])``,
    the weight a matrix, the bias a vector."""

    weight: str
    bias: str


class Step(NamedTuple):
    """One layer's part of a forward pass: its input, its pre-activation (what enters
    its nonlinearity) and its output."""

    input: np.ndarray
    pre: np.ndarray
    output: np.ndarray


class Layer(Protocol):
    """One layer of a network: its parameters, forward and backward, and its declarations."""

    @property
    def params(self) -> tuple[str, ...]:
        """The names of its parameters in the network's ``params`` (``W1``, ``b1``)."""
        ...

    @property
    def activation(self) -> Activation:
        """Its nonlinearity, applied last: ``output == activation(pre)``."""
        ...

    @property
    def affine(self) -> Affine | None:
        """Its parameters' names if its pre-activation is ``x @ W + b``, else None (an engine
        that needs to see how the parameters enter then refuses it)."""
        ...

    @property
    def elementwise(self) -> bool:
        """Whether its nonlinearity acts on each element alone."""
        ...

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        """Where its nonlinearity (or a derivative of it) jumps: ``()`` for smooth, None if
        undeclared."""
        ...

    @property
    def mixes_samples(self) -> bool:
        """Whether a sample's output depends on the other samples of the batch."""
        ...

    @property
    def differentiable(self) -> bool:
        """Whether ``backward`` can be called."""
        ...

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray]) -> Step:
        """The layer on input ``x`` with parameter arrays ``params`` (looked up by name)."""
        ...

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """From the loss gradient of ``step.output``: that of ``step.input`` (None when
        ``inputs`` is false: the first layer's is never needed) and of each parameter."""
        ...


@dataclass(frozen=True)
class Dense:
    """One affine layer ``activation(x @ W + b)``; W and b are looked up by name in params."""

    weight: str
    bias: str
    activation: BoundPart

    @property
    def params(self) -> tuple[str, ...]:
        """``(weight, bias)``."""
        return (self.weight, self.bias)

    @property
    def affine(self) -> Affine:
        """Always affine: the weight and the bias."""
        return Affine(self.weight, self.bias)

    @functools.cached_property
    def elementwise(self) -> bool:
        """Whether the activation part acts on each element alone (probed once, then kept)."""
        return _probe_elementwise(self.activation)

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        """The activation part's declared breakpoints."""
        return self.activation.part.breakpoints

    @property
    def mixes_samples(self) -> bool:
        """Never: each row of ``x @ W + b`` is its sample's alone (a row-wise activation
        such as softmax mixes units, not samples)."""
        return False

    @property
    def differentiable(self) -> bool:
        """Whether the activation part gives a derivative or a vjp."""
        return self.activation.has_derivative

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray]) -> Step:
        """``x @ W + b`` and the activation of it."""
        a = x @ params[self.weight] + params[self.bias]
        return Step(x, a, self.activation(a))

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
        g = self.activation.vjp(step.pre, grad_out)
        grads = {self.weight: step.input.T @ g, self.bias: g.sum(axis=0)}
        return (g @ params[self.weight].T if inputs else None), grads


def _probe_elementwise(activation: Activation) -> bool:
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
