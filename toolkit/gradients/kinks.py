"""Central differences that know where a function has kinks.

A central difference ``(f(v + h) - f(v - h)) / 2h`` is a derivative only where ``f`` is
smooth between ``v - h`` and ``v + h``. Where a part declares breakpoints (a kink or a
jump of its nonlinearity, ``Part(breakpoints=...)``), whether a perturbation crosses one
is seen exactly: the value entering the part (a layer's pre-activation) lies on a
different side of a breakpoint than it did at ``v``, or lands on it. Where a layer's kinks
move with its input (a maximum over a window, whose kinks are ties), the layer labels the
smooth piece each of its outputs is on (``Layer.pieces``), and a perturbation crosses a
kink where a label changes. Such an element *straddles* a kink, and ``kink_free`` gives its
derivative from stencils that do not:

- central differences at smaller steps (``h/10``, ``h/100``, ...) down to a floor, the
  first whose two points stay on the sides ``v`` is on;
- where none does (a value exactly at a breakpoint, or within rounding of one),
  one-sided differences of second order, ``(-3 f(v) + 4 f(v + s) - f(v + 2s)) / 2s``
  towards each side whose stencil stays clean: the derivative of each piece ``v``
  touches.

``difference_probe`` gives such an evaluation for one parameter element of a network:
its own forward passes, keeping the pre-activations of every layer at or after the
element's that declares breakpoints, and the pieces of every such layer that labels them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..model.forward import Forward
from ..model.layers import Layer
from ..model.network import Network

__all__ = [
    "FLOOR_RATIO",
    "ROUNDING",
    "Evaluation",
    "KinkFree",
    "NetworkProbe",
    "Probe",
    "Straddling",
    "difference_probe",
    "gives_pieces",
    "kink_free",
    "sides",
    "straddles",
    "straddling_differences",
]

FLOOR_RATIO = 1e-3
"""The smallest step tried is this times the reference's h (1e-7 for h = 1e-4)."""
ROUNDING = 64 * float(np.finfo(np.float64).eps)
"""Relative rounding allowed per function value in a kink-free difference: its allowance is
``ROUNDING * max |f| * sum |coefficients| / step``."""

Evaluation = tuple[float, np.ndarray]
"""A function value and the sides of the breakpoints its inputs lie on (``sides``), then
the pieces they are on (labels plus one: a 0 only ever means on a breakpoint)."""
Probe = Callable[[float], Evaluation]
"""The function and its sides with the differentiated element set to a value."""


@dataclass(frozen=True)
class KinkFree:
    """The derivative where a central difference at h straddles a kink.

    ``values`` holds one central difference at ``step``, or one or two one-sided
    differences (``one_sided``): the derivatives of the pieces on either side. A correct
    derivative matches one of them within ``allowance`` (their rounding) and its tolerance.
    """

    values: tuple[float, ...]
    step: float
    one_sided: bool
    allowance: float

    def distance(self, estimate: float) -> float:
        """How far ``estimate`` lies from the nearest of ``values``."""
        return min(abs(estimate - value) for value in self.values)


def sides(values: np.ndarray, breakpoints: Sequence[float]) -> np.ndarray:
    """For each value and breakpoint: -1 below it, 0 on it, 1 above it."""
    points = np.asarray(breakpoints, dtype=np.float64)
    return np.sign(np.asarray(values)[..., None] - points).astype(np.int8)


def straddles(base: np.ndarray, moved: np.ndarray) -> bool:
    """Whether a perturbation moved some value across a breakpoint or onto it."""
    return not np.array_equal(base, moved)


def kink_free(probe: Probe, value: float, h: float, base: Evaluation) -> KinkFree | None:
    """The derivative at ``value`` from stencils that straddle no kink (module docstring);
    None where no step down to ``FLOOR_RATIO * h`` gives one."""
    s0 = base[1]
    cache: dict[float, Evaluation] = {}

    def at(point: float) -> Evaluation:
        if point not in cache:
            cache[point] = probe(point)
        return cache[point]

    steps = [h / 10**power for power in range(1, 1 + round(-np.log10(FLOOR_RATIO)))]
    for step in steps:
        (up, s_up), (down, s_down) = at(value + step), at(value - step)
        if not straddles(s0, s_up) and not straddles(s0, s_down):
            allowance = ROUNDING * max(abs(up), abs(down)) / step
            return KinkFree(((up - down) / (2 * step),), step, False, allowance)
    for step in steps:
        found = [_one_sided(at, value, direction * step, base) for direction in (1, -1)]
        values = tuple(result[0] for result in found if result is not None)
        if values:
            allowance = max(result[1] for result in found if result is not None)
            return KinkFree(values, step, True, allowance)
    return None


def _one_sided(
    at: Callable[[float], Evaluation], value: float, step: float, base: Evaluation
) -> tuple[float, float] | None:
    """``(-3 f(v) + 4 f(v + s) - f(v + 2s)) / 2s`` and its allowance, if both points stay on
    one side of every breakpoint, the side ``v`` is on (or either, for a value on one)."""
    f0, s0 = base
    (f1, s1), (f2, s2) = at(value + step), at(value + 2 * step)
    clean = np.array_equal(s1, s2) and bool(np.all((s1 == s0) | (s0 == 0)))
    if not clean:
        return None
    scale = max(abs(f0), abs(f1), abs(f2))
    return (-3 * f0 + 4 * f1 - f2) / (2 * step), ROUNDING * 4 * scale / abs(step)


@dataclass
class NetworkProbe:
    """One parameter element's loss and the sides of the kinked layers' pre-activations
    (and of the network's output, where the loss declares breakpoints: ``loss_kinks``),
    then the pieces of the layers that label them (``pieced``, by position)."""

    network: Network
    x: np.ndarray
    t: np.ndarray
    name: str
    kinked: list[tuple[int, tuple[float, ...]]]
    loss_kinks: tuple[float, ...] = ()
    pieced: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        param = self.network.params[self.name]
        self.work = np.array(param, dtype=np.result_type(param.dtype, 0.0), order="C")
        self.flat = self.work.reshape(-1)  # a view: work is a fresh C-ordered copy
        self.params = {**self.network.params, self.name: self.work}

    def evaluate(self, index: int, value: float) -> tuple[np.ndarray, np.ndarray]:
        """The loss as the loss part returns it, with the element set to ``value``, and the
        sides; the element is put back."""
        kept = self.flat[index]
        self.flat[index] = value
        try:
            forward = self.network.forward(self.x, self.params)
            loss = np.asarray(self.network.loss_function(forward.y, self.t))
        finally:
            self.flat[index] = kept
        return loss, self._marks(forward)

    def unperturbed(self) -> Evaluation:
        """The loss and the sides at the parameters as they are."""
        forward = self.network.forward(self.x, self.params)
        return float(self.network.loss_function(forward.y, self.t)), self._marks(forward)

    def _marks(self, forward: Forward) -> np.ndarray:
        """The sides of every kinked layer's pre-activation, then of the output, then the
        pieces (plus one) of every layer that labels them."""
        marks = [sides(forward.pre[k], points).reshape(-1) for k, points in self.kinked]
        if self.loss_kinks:
            marks.append(sides(forward.y, self.loss_kinks).reshape(-1))
        for k in self.pieced:
            labels = self.network.layers[k].pieces(forward.step(k))
            if labels is not None:
                marks.append(1 + np.asarray(labels, dtype=np.intp).reshape(-1))
        return np.concatenate(marks)

    def at(self, index: int) -> Probe:
        """The probe of one element, its loss as a float."""

        def probe(value: float) -> Evaluation:
            loss, marks = self.evaluate(index, value)
            return float(loss), marks

        return probe


def difference_probe(
    network: Network, x: np.ndarray, t: np.ndarray, name: str
) -> NetworkProbe | None:
    """Evaluations of the loss at single-element changes of ``params[name]`` on the batch,
    each with the sides of the pre-activations of every layer at or after ``name``'s that
    declares breakpoints, and of the output where the loss declares any, and the pieces of
    every such layer that labels them (``Layer.pieces``); None where nothing declares any
    (nothing can straddle)."""
    first, _ = network.locate(name)
    kinked = [
        (k, tuple(layer.breakpoints))
        for k, layer in enumerate(network.layers)
        if k >= first and layer.breakpoints
    ]
    loss_kinks = tuple(network.loss_function.part.breakpoints or ())
    pieced = tuple(
        k for k, layer in enumerate(network.layers) if k >= first and gives_pieces(layer)
    )
    if not kinked and not loss_kinks and not pieced:
        return None
    return NetworkProbe(network, x, t, name, kinked, loss_kinks, pieced)


def gives_pieces(layer: Layer) -> bool:
    """Whether a layer's type gives ``pieces`` (overrides the default, which says nothing)."""
    return getattr(type(layer), "pieces", Layer.pieces) is not Layer.pieces


@dataclass(frozen=True)
class Straddling:
    """Which compared elements straddle a kink at h (positions into the compared indices),
    the kink-free derivative of each (None where none was found), and each one's one-sided
    secants at h, ``(f(v + h) - f(v)) / h`` and ``(f(v) - f(v - h)) / h``: a difference
    whose step crosses the kink (a forward difference's) lies between the derivative at v
    and those."""

    positions: np.ndarray
    kink_free: tuple[KinkFree | None, ...]
    secants: tuple[tuple[float, float], ...] = ()


def straddling_differences(
    network: Network, x: np.ndarray, t: np.ndarray, name: str, indices: np.ndarray, h: float
) -> tuple[np.ndarray, Straddling] | None:
    """The element loop's central differences at ``indices`` of ``params[name]`` (the same
    perturbed values, one full forward pass each), and the elements among them that straddle
    a kink, with their kink-free derivatives; None where no later layer declares a kink."""
    probe = difference_probe(network, x, t, name)
    if probe is None:
        return None
    values = network.params[name].reshape(-1)[indices]
    base = probe.unperturbed()
    losses, straddled = [], []
    for position, (index, value) in enumerate(zip(indices, values, strict=True)):
        up, s_up = probe.evaluate(int(index), value + h)
        down, s_down = probe.evaluate(int(index), value - h)
        losses.append((up, down))
        if straddles(base[1], s_up) or straddles(base[1], s_down):
            straddled.append(position)
    both = np.array([pair[0] for pair in losses] + [pair[1] for pair in losses])
    count = len(indices)
    differences = (both[:count] - both[count:]) / (2 * h)
    free = tuple(kink_free(probe.at(int(indices[p])), float(values[p]), h, base) for p in straddled)
    secants = tuple(
        ((float(losses[p][0]) - base[0]) / h, (base[0] - float(losses[p][1])) / h)
        for p in straddled
    )
    return differences, Straddling(np.array(straddled, dtype=np.intp), free, secants)
