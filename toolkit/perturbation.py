"""Losses at many single-element perturbations of a dense network, computed in bulk.

Perturbing one weight ``W[i, j]`` of layer k by ``d`` adds ``d * input[:, i]`` to
column j of that layer's pre-activation, and nothing else: the layers before k are
shared, and only what lies downstream is recomputed, for a chunk of perturbations at
once stacked on a leading axis. When layer k's activation is elementwise, only column
j of its output changes too, so the next layer's pre-activation changes by a rank-one
amount. The result is the same quantity the element loop computes (the loss with that
one element set to the given value) up to rounding.

Activations and losses are called on arrays with that leading axis. A part that gives
a different answer there than on its own (a loss that sums over every axis, say) is
caught by checking the first perturbation against a plain evaluation; the whole
request then falls back to evaluating one perturbation at a time, with a notice.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ToolkitNotice
from .forward import Forward
from .parts import BoundPart

if TYPE_CHECKING:
    from .network import Network

__all__ = ["CHUNK_ELEMENTS", "perturbed_losses", "plain_perturbed_losses"]

CHUNK_ELEMENTS = 1 << 15
"""Elements of the widest (perturbations x batch x units) array held at once: memory is
bounded by this, whatever the network's size."""
_AGREEMENT = 1e-9


class _NotBatchable(Exception):
    """A part that gives different answers on stacked perturbations."""


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
    if indices.size == 0:
        return np.empty(0)
    try:
        return _bulk(network, x, t, name, indices, values)
    except _NotBatchable as reason:
        warnings.warn(
            f"the loss at perturbed {name} is computed one element at a time: {reason}",
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
    work = network.params[name].astype(np.result_type(network.params[name], values))
    params = {**network.params, name: work}
    flat = work.reshape(-1)  # a view: work is a fresh contiguous copy
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
    layer, is_weight = network.locate(name)
    param = network.params[name]
    delta = values - param.reshape(-1)[indices]  # exactly the change the loop makes
    units = param.shape[-1]
    rows, columns = np.divmod(indices, units) if is_weight else (None, indices)
    downstream = layer + 1 if _elementwise(network, layer) else layer
    widest = max(a.shape[-1] for a in forward.pre[downstream:] or forward.pre[layer:])
    step = max(1, CHUNK_ELEMENTS // (x.shape[0] * widest))
    chunks = []
    for start in range(0, len(indices), step):
        part = slice(start, start + step)
        chosen_rows = None if rows is None else rows[part]
        chunks.append(_chunk(network, forward, t, layer, chosen_rows, columns[part], delta[part]))
    losses = np.concatenate(
        chunks
    )  # of the type the loss returns (real, if it drops an imaginary part)
    _check_first(network, x, t, name, indices[0], values[0], losses[0])
    return losses


def _chunk(
    network: Network,
    forward: Forward,
    t: np.ndarray,
    k: int,
    rows: np.ndarray | None,
    columns: np.ndarray,
    delta: np.ndarray,
) -> np.ndarray:
    """Losses for one chunk of perturbations of layer ``k``, stacked on a leading axis."""
    count = len(columns)
    shift = delta[:, None] * (forward.inputs[k][:, rows].T if rows is not None else 1.0)
    column = forward.pre[k][:, columns].T + shift  # (count, batch): the changed column
    activation = network.layers[k].activation
    stack = np.arange(count)
    if _elementwise(network, k):
        changed = _call(activation, column)
        if k + 1 == len(network.layers):
            z = _stacked(forward.outputs[k], count, changed)
            z[stack, :, columns] = changed
            return _loss(network, z, t, count)
        dz = changed - forward.outputs[k][:, columns].T
        weight = network.params[network.layers[k + 1].weight]
        # Built units-first in memory, so reductions over the units axis are fast.
        a = forward.pre[k + 1].T[:, None, :] + weight[columns].T[:, :, None] * dz[None]
        z = _call(network.layers[k + 1].activation, a.transpose(1, 2, 0))
        k += 1
    else:
        a = _stacked(forward.pre[k], count, column)
        a[stack, :, columns] = column
        z = _call(activation, a)
    for layer in network.layers[k + 1 :]:
        a = z @ network.params[layer.weight] + network.params[layer.bias]
        z = _call(layer.activation, a)
    return _loss(network, z, t, count)


def _stacked(base: np.ndarray, count: int, like: np.ndarray) -> np.ndarray:
    """``count`` copies of ``base`` on a leading axis, of a type that can hold ``like``.

    Laid out units-first in memory (a transposed view), so that reductions over the
    units axis, as softmax makes, run fast.
    """
    units, batch = base.shape[1], base.shape[0]
    stack = np.empty((units, count, batch), dtype=np.result_type(base, like))
    stack[...] = base.T[:, None, :]
    return stack.transpose(1, 2, 0)


def _call(activation: BoundPart, a: np.ndarray) -> np.ndarray:
    z = activation(a)
    if np.shape(z) != a.shape:
        raise _NotBatchable(f"activation '{activation.name}' changes the shape of stacked input")
    return np.asarray(z)


def _loss(network: Network, y: np.ndarray, t: np.ndarray, count: int) -> np.ndarray:
    try:
        losses = np.asarray(network.loss_function(y, t))
    except Exception as error:
        raise _NotBatchable(
            f"loss '{network.loss_function.name}' fails on stacked predictions "
            f"({type(error).__name__}: {error})"
        ) from None
    if losses.shape != (count,):
        raise _NotBatchable(
            f"loss '{network.loss_function.name}' gives shape {losses.shape} for {count} "
            "stacked predictions; a loss that reduces over the last two axes only is faster"
        )
    return losses


def _check_first(
    network: Network,
    x: np.ndarray,
    t: np.ndarray,
    name: str,
    index: np.intp,
    value: Any,
    bulk: Any,
) -> None:
    plain = plain_perturbed_losses(network, x, t, name, np.array([index]), np.array([value]))[0]
    if bulk == plain or (np.isnan(bulk) and np.isnan(plain)):
        return
    if not abs(bulk - plain) <= _AGREEMENT * max(1.0, abs(plain)):
        raise _NotBatchable(f"stacked evaluation gave {bulk!r}, one at a time {plain!r}")


def _elementwise(network: Network, k: int) -> bool:
    """Whether layer k's activation acts on each element alone (probed once, then kept)."""
    known = network.elementwise_layers
    if k not in known:
        known[k] = _probe_elementwise(network.layers[k].activation)
    return known[k]


def _probe_elementwise(activation: BoundPart) -> bool:
    probe = np.linspace(-2.0, 2.0, 24).reshape(4, 6) + 0.0371
    try:
        whole = np.asarray(activation(probe))
        columns = np.stack([np.asarray(activation(probe[:, j])) for j in range(6)], axis=1)
    except Exception:
        return False
    return whole.shape == columns.shape and bool(
        np.allclose(whole, columns, rtol=1e-12, atol=1e-15)
    )
