"""The layers a network is a sequence of: what each computes, and what it declares about itself.

A layer is one object, as in the book's ``common/layers.py``. A layer part (registered
through the ``toolkit_layers`` hook) makes one for the shape of each sample it takes:
it says the shape each sample leaves with (``output_shape``), the parameters it needs
(``param_specs``, named by the network's builder in the book's way: ``W1``, ``b1``,
``gamma1``, ...), any running state (``state_specs``, such as batch normalization's
running mean), a forward pass that keeps what it saw and made (a ``Step``), and, where
it gives one, a backward pass.

It also declares what the gradient engines (``toolkit.gradients``) need to know to take
their fast paths: how its parameters enter its output (``affine``), whether its
nonlinearity acts on each element alone, where that nonlinearity has kinks, and whether
it mixes the samples of a batch (and, where its kinks are not fixed points, which smooth
piece each forward pass is on: ``pieces``). An engine refuses a layer whose declarations it cannot
serve, and a slower path answers for it; a layer that declares nothing is still
differentiated correctly, by the slower paths. A layer may also offer a faster forward
pass for stacks of copies whose inputs differ by a rank-one change (``rank_one_forward``),
which the bulk engine uses after an affine layer.

Every forward pass may be given extra leading axes before the batch axis (a stack of
perturbed copies of the batch, which the engines evaluate at once): a layer computes
over its last ``1 + len(input_shape)`` axes and keeps the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from ..base.rng import Rng

__all__ = [
    "WEIGHT_ROLE",
    "Activation",
    "Affine",
    "Layer",
    "Mode",
    "ParamSpec",
    "Shape",
    "Step",
]

Shape = tuple[int, ...]
"""The shape of one sample (the batch axis left out)."""
WEIGHT_ROLE = "W"
"""The role of a layer's weight (named ``W{k}``): the parameters weight decay applies to."""


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


@dataclass(frozen=True)
class ParamSpec:
    """One array a layer needs: its role (the prefix of its name: ``W``, ``b``, ``gamma``),
    its shape, and how it starts: the layer setting naming an initializer part (``"init"``,
    drawn from the run's generator) or a constant (``1.0``, drawing nothing)."""

    role: str
    shape: Shape
    init: str | float


class Step(NamedTuple):
    """One layer's part of a forward pass: its input, its pre-activation (what enters
    its nonlinearity; its output where it has none), its output, and what its backward
    pass needs besides (``cache``: a dropout mask, batch statistics)."""

    input: np.ndarray
    pre: np.ndarray
    output: np.ndarray
    cache: Any = None


@dataclass(frozen=True)
class Mode:
    """How a forward pass runs: in training (``train``; batch statistics, dropout masks)
    or in evaluation; the layer's ``noise`` for this batch (what its ``draw`` gave, in
    training); and the network's running ``state`` arrays, by name."""

    train: bool = False
    noise: Any = None
    state: Mapping[str, np.ndarray] = field(default_factory=dict)


EVALUATION = Mode()


class Layer:
    """One layer of a network, for samples of ``input_shape``: the defaults declare nothing.

    A layer type subclasses this, sets ``output_shape`` (in ``__init__``), and overrides
    ``forward``; the rest is optional. ``names`` maps each of its parameters' roles to the
    name the network gives it (``{"W": "W2", "b": "b2"}``), ``state_names`` each state's;
    the builder fills both.
    """

    type_name: str = ""
    """The name of the layer part that made it, as a spec gives it (``conv2d``)."""
    weighted: bool = False
    """Whether it counts as a weighted layer: its parameters are numbered from the next
    number (``W1``, ``b1``); an unweighted layer's carry the last one's (``gamma1``)."""

    @property
    def activation(self) -> Activation | None:
        """Its nonlinearity, applied last (``output == activation(pre)``), if it has one."""
        return None

    @property
    def affine(self) -> Affine | None:
        """Its parameters' names if its pre-activation is ``x @ W + b``, else None (an engine
        that needs to see how the parameters enter then refuses it)."""
        return None

    @property
    def elementwise(self) -> bool:
        """Whether each unit of its output depends only on the same unit of its input
        (of its own sample, or of every sample where it mixes samples): for a layer with an
        ``activation`` after an affine step, whether that activation acts on each element
        alone. The engines keep a perturbation of one unit in one column through it."""
        return False

    @property
    def breakpoints(self) -> tuple[float, ...] | None:
        """Where its nonlinearity (or a derivative of it) jumps, in its pre-activation: ``()``
        for smooth, None if undeclared."""
        return None

    @property
    def mixes_samples(self) -> bool:
        """Whether a sample's output depends on the other samples of the batch (in training)."""
        return False

    def __init__(self, input_shape: Shape) -> None:
        self.input_shape: Shape = tuple(input_shape)
        self.output_shape: Shape = tuple(input_shape)
        self.names: dict[str, str] = {}
        self.state_names: dict[str, str] = {}

    @property
    def params(self) -> tuple[str, ...]:
        """The names of its parameters in the network's ``params``, in ``param_specs`` order."""
        return tuple(self.names[spec.role] for spec in self.param_specs())

    @property
    def state(self) -> tuple[str, ...]:
        """The names of its running state arrays in the network's ``state``."""
        return tuple(self.state_names[spec.role] for spec in self.state_specs())

    @property
    def differentiable(self) -> bool:
        """Whether ``backward`` can be called (it is overridden)."""
        return type(self).backward is not Layer.backward

    def param_specs(self) -> tuple[ParamSpec, ...]:
        """The parameters it needs, in the order they are drawn."""
        return ()

    def state_specs(self) -> tuple[ParamSpec, ...]:
        """Its running state (not parameters: never differentiated), each a constant start."""
        return ()

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        """The layer on input ``x`` with parameter arrays ``params`` (looked up by name)."""
        raise NotImplementedError(f"{type(self).__name__} gives no forward pass")

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
        raise NotImplementedError(f"{type(self).__name__} gives no backward pass")

    def pieces(self, step: Step) -> np.ndarray | None:
        """Which smooth piece of the layer each output of a forward pass (``step``) is on:
        non-negative integer labels, or None (the default) for a layer that says nothing.

        For a layer whose kinks move with its input, so that ``breakpoints`` cannot name
        them (a maximum over a window: its kinks are the ties between the window's
        elements, and its label the index of the element that is the maximum). Two
        evaluations whose labels differ anywhere lie on different pieces: a central
        difference between them straddles a kink, and ``toolkit gradcheck`` compares it
        apart. A layer whose kinks are fixed points of its pre-activation declares
        ``breakpoints`` instead."""
        return None

    def rank_one_forward(
        self,
        step: Step,
        x: np.ndarray,
        dz: np.ndarray,
        w: np.ndarray,
        params: Mapping[str, np.ndarray],
        mode: Mode,
    ) -> np.ndarray | None:
        """Optionally, a faster ``forward(x, params, mode).output`` for a stack of copies of
        ``step.input`` (samples of one axis), each moved by a rank-one change:
        ``x[p] == step.input + dz[p][:, None] * w[p]`` (``dz`` one number per copy and
        sample, ``w`` one per copy and unit), as a change of one unit before an affine layer
        moves its output. ``step`` is this layer's unperturbed pass in ``mode``; ``x`` may
        be overwritten. None (the default): no faster way, and ``forward`` serves."""
        return None

    def draw(self, rng: Rng, batch: int) -> Any:
        """What a training pass on a batch of ``batch`` samples draws (a dropout mask),
        once per batch from the run's generator; None for a layer that draws nothing."""
        return None

    def next_state(self, step: Step, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The running state after a training pass (``step``) on one batch: by name."""
        return {}

    def lead(self, x: np.ndarray) -> Shape:
        """The leading axes of ``x`` before the batch axis (empty for a plain batch)."""
        return tuple(x.shape[: x.ndim - 1 - len(self.input_shape)])
