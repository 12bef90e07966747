"""Which (sample, unit) pairs of a layer can move a later layer onto one of its breakpoints.

Changing unit j of layer k's pre-activation by at most ``r`` (in sample n) changes that
unit's output by at most ``M``: the larger change the activation makes at ``z + r`` and
``z - r``, times ``SLOPE_MARGIN``. That moves unit l of the next layer by at most
``|W[j, l]| * M``, and each layer further on by at most its slope bound times that,
through ``|W|``. A pair
whose bound reaches one of a later layer's declared breakpoints may cross a kink (or a
jump) within the reach of the loop's perturbations: the interpolation evaluates it
exactly, at every perturbation. Every other pair is smooth all the way to the loss.

A slope bound is the larger secant over ``z +- rho``, times the margin, with ``rho`` the
farthest the unit can move, cut back to the distance to the unit's nearest breakpoint (a
pair that goes past it is already flagged, so only the smooth piece matters). Through
wide layers that bound adds up the weights' sizes where their signs would cancel, so a
second bound carries the change signed: through each layer's central secant and the
signed weights, as a derivative would be, plus what the slope's spread within reach
(twice the difference of the two one-sided secants) can add. Each pair takes the smaller.

Bounds are worked out per sample first (the largest over the layer's units), which is
cheap; the samples whose per-sample bound reaches a breakpoint are then worked out pair
by pair, in chunks that bound memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..model.forward import Forward
from ..model.layers import Layer
from ..model.network import Network
from .perturbation import CHUNK_ELEMENTS
from .stacks import activation_of, affine_of, call_activation

__all__ = [
    "SLOPE_MARGIN",
    "SPREAD_MARGIN",
    "NotReachable",
    "last_kinked",
    "reach_flags",
    "reach_fractions",
    "reach_refusal",
    "safe_fraction",
    "within_reach",
]

SLOPE_MARGIN = 1.01
"""Factor on every measured change and secant. For a function that is monotone, or convex
or concave, on the interval, the larger end change bounds every change within it and
the larger secant every secant: the factor covers an inflection point inside the
interval, where the error is of order the interval squared (1e-8), and rounding. A kink
that a wrong bound misses lies near the end of a pair's reach, where it moves the fit's
outer node: the fits of a layer with kinked layers after it are checked on both sides
(``interpolation.guarded``), so the fit misses a check node and that pair is evaluated
exactly."""
SPREAD_MARGIN = 2.0
"""Factor on the difference of a unit's two one-sided secants, which bounds how far its
slope can stray from their mean: the difference is the curvature times the step."""
_CURVATURE_FLOOR = 1e-3
"""The least spread allowed, relative to the slope: where the curvature vanishes (an
inflection point) the slope still strays by the third derivative times the step squared."""
_RELATIVE_SLACK = 1e-6
"""A breakpoint this close (relative to the bound) counts as reached."""
_ABSOLUTE_SLACK = 2.0**-40
"""Or this close (relative to the pre-activation): what rounding in the loop may move it."""
_TINY = 64 * float(np.finfo(np.float64).eps)


def last_kinked(network: Network, k: int) -> int | None:
    """The last layer after layer k whose activation declares a breakpoint, if any."""
    kinked = [m for m in range(k + 1, len(network.layers)) if network.layers[m].breakpoints]
    return kinked[-1] if kinked else None


def reach_refusal(network: Network, k: int) -> str | None:
    """Why the reach of layer k's pairs cannot be bounded up to its last kinked later layer,
    or None: every activation from layer k up to that one must be elementwise."""
    last = last_kinked(network, k)
    if last is None:
        return None
    kinked = activation_of(network.layers[last]).name
    for index in range(k, last + 1):
        layer = network.layers[index]
        if not layer.elementwise:
            where = "its own activation" if index == k else f"layer {index}'s activation"
            return (
                f"'{kinked}' (with breakpoints) comes after this layer and {where} "
                f"('{activation_of(layer).name}') is not elementwise"
            )
    return None


def reach_flags(network: Network, forward: Forward, k: int, radius: np.ndarray) -> np.ndarray:
    """Layer k's pairs (samples x units) that can reach a later layer's breakpoint when
    unit j of sample n moves by at most ``radius[n]``; all False when no later layer
    declares one. ``reach_refusal(network, k)`` must be None."""
    return reach_fractions(network, forward, k, radius) <= 1


def reach_fractions(network: Network, forward: Forward, k: int, radius: np.ndarray) -> np.ndarray:
    """For each pair of layer k (samples x units), how much of ``radius[n]`` its bounds
    keep every later layer's breakpoints out of reach: above 1 (or inf) where all of it,
    else the fraction within which a move of the unit crosses none (the bounds shrink with
    the radius, and a pair's change is its slope times the move)."""
    pre = forward.pre[k]
    fractions = np.full(pre.shape, np.inf)
    last = last_kinked(network, k)
    if last is None:
        return fractions
    layers = network.layers
    weights = [np.abs(network.params[affine_of(layers[m]).weight]) for m in range(k + 1, last + 1)]
    change = _change_bound(layers[k], pre, forward.outputs[k], radius[:, None])
    envelope = _largest_products(change, weights[0])
    suspects = np.zeros(len(pre), dtype=bool)
    slopes = []
    for m, weight in zip(range(k + 1, last + 1), [*weights[1:], None], strict=True):
        suspects |= within_reach(layers[m], forward.pre[m], envelope).any(axis=1)
        if weight is not None:
            slopes.append(_slopes(layers[m], forward.pre[m], forward.outputs[m], envelope))
            envelope = (slopes[-1].bound * envelope) @ weight
    signed = [network.params[affine_of(layers[m]).weight] for m in range(k + 1, last + 1)]
    for rows in _chunks(np.flatnonzero(suspects), weights):
        fractions[rows] = _pair_fractions(network, forward, k, rows, change[rows], slopes, signed)
    return fractions


def safe_fraction(layer: Layer, pre: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """How much of ``bound`` each unit can move before reaching one of its layer's
    breakpoints (rounding included): at most 1 exactly where ``within_reach``; inf for a
    layer without breakpoints."""
    shape = np.broadcast_shapes(pre.shape, bound.shape)
    if not layer.breakpoints:
        return np.full(shape, np.inf)
    distance = np.min([np.abs(pre - point) for point in layer.breakpoints], axis=0)
    room = distance - _ABSOLUTE_SLACK * np.maximum(1.0, np.abs(pre))
    scaled = bound * (1 + _RELATIVE_SLACK)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(scaled > 0, room / scaled, np.where(room > 0, np.inf, 0.0))
    fraction = np.maximum(fraction, 0.0)
    result: np.ndarray = np.where(np.isnan(fraction), 0.0, fraction)  # NaN bound: none safe
    return np.broadcast_to(result, shape)


@dataclass(frozen=True)
class _Slopes:
    """A later layer's slopes over the smooth piece within reach of each unit (samples x
    units): a bound on their size, the central secant, and how far the slope can differ
    from that secant."""

    bound: np.ndarray
    linear: np.ndarray
    spread: np.ndarray


def _pair_fractions(
    network: Network,
    forward: Forward,
    k: int,
    rows: np.ndarray,
    change: np.ndarray,
    slopes: list[_Slopes],
    weights: list[np.ndarray],
) -> np.ndarray:
    """Pair by pair, for samples ``rows``: ``reach_fractions``.

    Two bounds on each later unit's change, both valid, the smaller used: through ``|W|``
    and slope bounds, and through the signed weights and central secants (the change of
    unit j carried linearly, as a derivative would be) plus what the slopes' spread can add.
    """
    magnitude = change[:, :, None]
    bound = magnitude * np.abs(weights[0])  # (samples, units of k, units of k + 1)
    direction = np.broadcast_to(weights[0], bound.shape)
    error = np.zeros(bound.shape)
    fractions = np.full(change.shape, np.inf)
    last = k + len(weights)
    for step, m in enumerate(range(k + 1, last + 1)):
        bound = np.minimum(bound, np.abs(direction) * magnitude + error)
        pre = forward.pre[m][rows][:, None, :]
        fractions = np.minimum(fractions, safe_fraction(network.layers[m], pre, bound).min(axis=2))
        if m < last:
            slope, weight = slopes[step], weights[step + 1]
            linear = slope.linear[rows][:, None, :]
            error = (np.abs(linear) * error + slope.spread[rows][:, None, :] * bound) @ np.abs(
                weight
            )
            direction = (linear * direction) @ weight
            bound = (slope.bound[rows][:, None, :] * bound) @ np.abs(weight)
    return fractions


def _change_bound(layer: Layer, pre: np.ndarray, out: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """How far each unit's output can move when its pre-activation moves by ``radius``."""
    up, down = _call(layer, pre + radius), _call(layer, pre - radius)
    with np.errstate(invalid="ignore"):
        change = SLOPE_MARGIN * np.maximum(np.abs(up - out), np.abs(down - out))
        change += _TINY * np.maximum(1.0, np.abs(out))  # the rounding of the two differences
    return np.where(np.isnan(change), np.inf, change)


def _slopes(layer: Layer, pre: np.ndarray, out: np.ndarray, radius: np.ndarray) -> _Slopes:
    """Each unit's slopes over the smooth piece within ``radius`` of it (``_Slopes``)."""
    rho = radius
    if layer.breakpoints:
        distance = np.min([np.abs(pre - point) for point in layer.breakpoints], axis=0)
        rho = np.where(distance > 0, np.minimum(radius, distance), radius)
    rho = np.maximum(rho, _TINY * np.maximum(1.0, np.abs(pre)))
    up, down = _call(layer, pre + rho), _call(layer, pre - rho)
    rounding = _TINY * np.maximum(1.0, np.abs(out)) / rho
    with np.errstate(invalid="ignore"):
        above, below = (up - out) / rho, (out - down) / rho
        steepest = np.maximum(np.abs(above), np.abs(below))
        spread = SPREAD_MARGIN * np.abs(above - below) + _CURVATURE_FLOOR * steepest + rounding
        slopes = _Slopes(SLOPE_MARGIN * steepest + rounding, (above + below) / 2, spread)
    return _Slopes(*(np.where(np.isnan(part), np.inf, part) for part in vars(slopes).values()))


def within_reach(layer: Layer, pre: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """Where a unit moved by at most ``bound`` from its pre-activation can reach one of its
    layer's breakpoints (rounding included)."""
    if not layer.breakpoints:
        return np.zeros(np.broadcast_shapes(pre.shape, bound.shape), dtype=bool)
    reach = bound * (1 + _RELATIVE_SLACK) + _ABSOLUTE_SLACK * np.maximum(1.0, np.abs(pre))
    near = np.zeros(np.broadcast_shapes(pre.shape, bound.shape), dtype=bool)
    for point in layer.breakpoints or ():
        near |= np.abs(pre - point) <= reach
    reached: np.ndarray = near | np.isnan(reach)  # a bound that is not a number: everything
    return reached


def _call(layer: Layer, a: np.ndarray) -> np.ndarray:
    """The layer's activation on ``a``, which must keep its shape (NotReachable if not)."""
    return call_activation(activation_of(layer), a, NotReachable)


class NotReachable(Exception):
    """An activation that fails on, or changes the shape of, the points a bound needs."""


def _largest_products(change: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``max_j change[n, j] * weight[j, l]`` for every sample n and unit l."""
    samples = len(change)
    out = np.empty((samples, weight.shape[1]))
    step = max(1, CHUNK_ELEMENTS // max(1, weight.size))
    for start in range(0, samples, step):
        rows = slice(start, start + step)
        out[rows] = (change[rows][:, :, None] * weight[None]).max(axis=1)
    return out


def _chunks(rows: np.ndarray, weights: list[np.ndarray]) -> Iterator[np.ndarray]:
    """``rows`` in chunks whose pair-by-pair bounds stay within CHUNK_ELEMENTS."""
    width = weights[0].shape[0] * max(weight.shape[1] for weight in weights)
    step = max(1, CHUNK_ELEMENTS // max(1, width))
    for start in range(0, len(rows), step):
        yield rows[start : start + step]
