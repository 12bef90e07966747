"""Losses at many single-element perturbations of a network's parameters, computed in bulk.

Perturbing one weight ``W[i, j]`` of an affine layer k by ``d`` adds ``d * input[:, i]``
to column j of that layer's pre-activation, and nothing else: the layers before k are
shared, and only what lies downstream is recomputed, for a chunk of perturbations at
once stacked on a leading axis. When layer k's activation is elementwise, only column
j of its output changes too, so the next affine layer's pre-activation changes by a
rank-one amount. A parameter of a layer that is not affine (a convolution, batch
normalization's gamma, a plugin's layer that declares nothing) is taken through that
layer's own forward pass once per perturbation, on its input from the unperturbed pass;
the outputs are stacked and carried on the same way (``toolkit.gradients.stacks``: layers
that keep units apart on packed arrays, the others by their own forward pass in the mode
of the pass under way). The result is the same quantity the element loop computes (the
loss with that one element set to the given value) up to rounding: about
``eps * |loss|`` per loss.

Layers, activations and losses are called on arrays with that leading axis. A part that
gives a different answer there than on its own (a loss that sums over every axis, say)
is caught by comparing a few perturbations, from the first and the last chunk, with
plain evaluations; the request then falls back to one perturbation at a time, with a
notice, and the engine remembers not to try again (``BulkState``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base.errors import ToolkitNotice
from ..model.forward import Forward
from ..model.layers import Activation
from ..model.network import Network
from .stacks import (
    Carry,
    NotStackable,
    activation_of,
    affine_of,
    call_activation,
    one_unit_each,
    replaced,
    stacked_loss,
)
from .state import engine_state, engine_states

__all__ = [
    "CHUNK_ELEMENTS",
    "BulkState",
    "perturbed_losses",
    "plain_perturbed_losses",
]

CHUNK_ELEMENTS = 32768
"""Elements of the widest (perturbations x batch x units) array held at once: memory is
bounded by this, whatever the network's size (and 32K elements stay in cache). Larger
chunks were slower as often as faster (benchmarks/README.md has the measurements). A
chunk's size never changes an answer's bits."""
_AGREEMENT = 64 * np.finfo(np.float64).eps
"""Relative agreement a bulk loss must show with a plain evaluation (rounding only)."""


@engine_state("perturbation")
@dataclass
class BulkState:
    """The parameters this engine refused for a network, with the reason for each."""

    refused: dict[str, str] = field(default_factory=dict)

    def export(self, network: Network) -> dict[str, Any]:
        """The refusals, for a checkpoint."""
        return {"refused": dict(self.refused)}

    def load(self, network: Network, saved: Mapping[str, Any]) -> None:
        """The reverse of ``export``; ValueError, changing nothing, for a state it could not
        have written for this network."""
        refused = saved.get("refused")
        if not isinstance(refused, dict) or not all(
            name in network.params and isinstance(reason, str) for name, reason in refused.items()
        ):
            raise ValueError("refused is not reasons by parameter name")
        self.refused = dict(refused)


def perturbed_losses(
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    name: str,
    indices: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """The loss with ``params[name].flat[i]`` set to ``v``, for each ``(i, v)`` in turn."""
    indices = np.asarray(indices, dtype=np.intp)
    values = np.asarray(values)
    refused = engine_states(network).of(BulkState).refused
    if indices.size and name not in refused:
        try:
            return _bulk(network, x, t, name, indices, values)
        except NotStackable as reason:
            refused[name] = str(reason)
            warnings.warn(
                f"losses at perturbed {name} are computed one at a time (slower): {reason}",
                ToolkitNotice,
                stacklevel=3,
            )
    return plain_perturbed_losses(network, x, t, name, indices, values)


def plain_perturbed_losses(
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    name: str,
    indices: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """The same losses, one full forward pass each (the network's own arrays are untouched)."""
    param = network.params[name]
    work = np.array(param, dtype=np.result_type(param, values), order="C")
    flat = work.reshape(-1)  # a view: work is a fresh C-ordered copy
    params = {**network.params, name: work}
    losses = []
    for index, value in zip(indices, values, strict=True):
        kept = flat[index]
        flat[index] = value
        losses.append(network.evaluate(x, t, params))
        flat[index] = kept
    return np.array(losses)


def _bulk(
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    name: str,
    indices: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    forward = network.forward(x)
    chunk, step = _plan(network, forward, t, name, indices, values)
    chunks = []
    for start in range(0, len(indices), step):
        chunks.append(chunk(slice(start, start + step)))
        if start == 0:  # fail fast, before the rest is computed
            _check(network, x, t, name, indices, values, chunks[0], [0])
    losses = np.concatenate(chunks)  # of the type the loss returns (real, if it drops imag)
    _check(network, x, t, name, indices, values, losses, [len(losses) // 2, len(losses) - 1])
    return losses


Chunk = Callable[[slice], np.ndarray]
"""The losses of one chunk of the requested perturbations."""


def _plan(
    network: Network,
    forward: Forward,
    t: np.ndarray,
    name: str,
    indices: np.ndarray,
    values: np.ndarray,
) -> tuple[Chunk, int]:
    """How the perturbations of ``name`` are computed, and how many in a chunk: by the
    column of an affine layer's pre-activation (carried on by products alone where every
    later layer is affine and keeps samples apart), else through its layer's forward."""
    k, is_weight = network.locate(name)
    layer = network.layers[k]
    if layer.affine is None:
        return _through_layer(network, forward, t, k, name, indices, values)
    param = network.params[name]
    delta = values - param.reshape(-1)[indices]  # exactly the change the loop makes
    rows, columns = np.divmod(indices, param.shape[-1]) if is_weight else (None, indices)
    if _affine_to_the_end(network, k):
        step = _chunk_size(network, forward, k)
        return lambda part: _chunk(
            network,
            forward,
            t,
            k,
            None if rows is None else rows[part],
            columns[part],
            delta[part],
        ), step
    carry = Carry(network, forward, network.modes(forward.inputs[0]), t, CHUNK_ELEMENTS)
    unperturbed = np.asarray(network.loss_function(forward.y, t))

    def carried(units: np.ndarray, column: np.ndarray) -> np.ndarray:
        if layer.elementwise:
            changed = call_activation(activation_of(layer), column, NotStackable)
            return carry.columns(k + 1, units, changed)
        z = call_activation(
            activation_of(layer), replaced(forward.pre[k], units, column), NotStackable
        )
        return carry.whole(k + 1, z)

    def chunk(part: slice) -> np.ndarray:
        shift = delta[part][:, None] * (
            forward.inputs[k][:, rows[part]].T if rows is not None else 1.0
        )
        base = forward.pre[k][:, columns[part]].T
        column = base + shift  # (count, batch): the changed column
        moved = np.any(column != base, axis=1)  # else the input is 0 there: nothing changes
        if moved.all():
            return carried(columns[part], column)
        losses = np.full(len(column), unperturbed)
        if moved.any():
            computed = carried(columns[part][moved], column[moved])
            losses = losses.astype(np.result_type(losses, computed))
            losses[moved] = computed
        return losses

    if layer.elementwise:  # one column a copy up to the next layer that is not elementwise
        return chunk, max(carry.rows(k + 1), CHUNK_ELEMENTS // len(forward.y))
    return chunk, carry.rows(k)


def _through_layer(
    network: Network,
    forward: Forward,
    t: np.ndarray,
    k: int,
    name: str,
    indices: np.ndarray,
    values: np.ndarray,
) -> tuple[Chunk, int]:
    """Perturbations of a parameter of layer k, which is not affine: the layer's forward
    pass once per perturbation, on its input from the unperturbed pass; the outputs stacked
    and carried on (as one changed unit each, where that is all they change)."""
    layer = network.layers[k]
    modes = network.modes(forward.inputs[0])
    carry = Carry(network, forward, modes, t, CHUNK_ELEMENTS)
    param = network.params[name]
    work = np.array(param, dtype=np.result_type(param, values), order="C")
    flat = work.reshape(-1)  # a view: work is a fresh C-ordered copy
    params = {**network.params, name: work}

    def output(index: int, value: Any) -> np.ndarray:
        kept = flat[index]
        flat[index] = value
        try:
            return np.asarray(layer.forward(forward.inputs[k], params, modes[k]).output)
        finally:
            flat[index] = kept

    def chunk(part: slice) -> np.ndarray:
        stack = np.stack([output(i, v) for i, v in zip(indices[part], values[part], strict=True)])
        units = one_unit_each(stack, forward.outputs[k])
        if units is None:
            return carry.whole(k + 1, stack)
        return carry.columns(k + 1, units, stack[np.arange(len(stack)), :, units])

    return chunk, carry.rows(k)


def _affine_to_the_end(network: Network, k: int) -> bool:
    """Whether layer k and every layer after it is affine and keeps samples apart: their
    perturbations are carried by products alone."""
    return all(layer.affine is not None and not layer.mixes_samples for layer in network.layers[k:])


def _chunk_size(network: Network, forward: Forward, layer: int) -> int:
    """Perturbations per chunk: the widest stacked array stays within CHUNK_ELEMENTS."""
    first = layer + 1 if network.layers[layer].elementwise else layer
    widths = [a.shape[-1] for a in forward.pre[first:]] or [forward.pre[layer].shape[-1]]
    return max(1, CHUNK_ELEMENTS // (int(forward.pre[layer].shape[0]) * int(max(widths))))


def _chunk(
    network: Network,
    forward: Forward,
    t: np.ndarray,
    k: int,
    rows: np.ndarray | None,
    columns: np.ndarray,
    delta: np.ndarray,
) -> np.ndarray:
    """Losses for one chunk of perturbations of layer ``k``, stacked on a leading axis,
    where every layer from k on is affine and keeps samples apart."""
    shift = delta[:, None] * (forward.inputs[k][:, rows].T if rows is not None else 1.0)
    column = forward.pre[k][:, columns].T + shift  # (count, batch): the changed column
    if not network.layers[k].elementwise:
        z = _call(activation_of(network.layers[k]), replaced(forward.pre[k], columns, column))
    elif k + 1 == len(network.layers):
        changed = _call(activation_of(network.layers[k]), column)
        return stacked_loss(network, replaced(forward.outputs[k], columns, changed), t)
    else:
        z = _rank_one_next(network, forward, k, columns, column)
        k += 1
    for layer in network.layers[k + 1 :]:
        affine = affine_of(layer)
        a = z @ network.params[affine.weight] + network.params[affine.bias]
        z = _call(activation_of(layer), a)
    return stacked_loss(network, z, t)


def _rank_one_next(
    network: Network, forward: Forward, k: int, columns: np.ndarray, column: np.ndarray
) -> np.ndarray:
    """Layer k+1's output when only unit ``columns[p]`` of layer k's output changed."""
    changed = _call(activation_of(network.layers[k]), column)
    dz = changed - forward.outputs[k][:, columns].T
    weight = network.params[affine_of(network.layers[k + 1]).weight]
    # Built units-first in memory, so reductions over the units axis run fast.
    a = forward.pre[k + 1].T[:, None, :] + weight[columns].T[:, :, None] * dz[None]
    return _call(activation_of(network.layers[k + 1]), a.transpose(1, 2, 0))


def _call(activation: Activation, a: np.ndarray) -> np.ndarray:
    return call_activation(activation, a, NotStackable)


def _check(
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    name: str,
    indices: np.ndarray,
    values: np.ndarray,
    bulk: np.ndarray,
    positions: list[int],
) -> None:
    """Compare the bulk losses at ``positions`` with plain evaluations."""
    chosen = np.unique(positions)
    plain = plain_perturbed_losses(network, x, t, name, indices[chosen], values[chosen])
    for got, expected in zip(bulk[chosen], plain, strict=True):
        real = _agrees(np.real(got), np.real(expected), _AGREEMENT * max(1.0, abs(expected)))
        # A complex step's imaginary part is tiny; it must keep its own relative precision.
        imaginary = _agrees(np.imag(got), np.imag(expected), 1e-9 * abs(np.imag(expected)))
        if not (real and imaginary):
            raise NotStackable("stacked evaluation of the network differs from a plain one")


def _agrees(got: Any, expected: Any, tolerance: float) -> bool:
    if got == expected or (np.isnan(got) and np.isnan(expected)):
        return True
    return bool(abs(got - expected) <= tolerance)
