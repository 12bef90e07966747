"""Losses at many single-element perturbations of a network's parameters, computed in bulk.

Perturbing one weight ``W[i, j]`` of layer k by ``d`` adds ``d * input[:, i]`` to
column j of that layer's pre-activation, and nothing else: the layers before k are
shared, and only what lies downstream is recomputed, for a chunk of perturbations at
once stacked on a leading axis. When layer k's activation is elementwise, only column
j of its output changes too, so the next layer's pre-activation changes by a rank-one
amount. The result is the same quantity the element loop computes (the loss with that
one element set to the given value) up to rounding: about ``eps * |loss|`` per loss.

Activations and losses are called on arrays with that leading axis. A part that gives
a different answer there than on its own (a loss that sums over every axis, say) is
caught by comparing a few perturbations, from the first and the last chunk, with plain
evaluations; the request then falls back to one perturbation at a time, with a notice,
and the engine remembers not to try again (``BulkState``).

The layers tell where this holds: the perturbed parameter's layer and every layer after
it must declare themselves affine (``Layer.affine``) and not mix samples; a parameter of
any other layer is refused the same way, with a notice.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base.errors import ToolkitNotice
from ..model.forward import Forward
from ..model.layers import Activation, Affine, Layer
from ..model.network import Network
from .state import engine_state, engine_states

__all__ = [
    "CHUNK_ELEMENTS",
    "BulkState",
    "activation_of",
    "affine_of",
    "call_activation",
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


class _NotBatchable(Exception):
    """A part that gives different answers on stacked perturbations."""


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
        except _NotBatchable as reason:
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
    layer, is_weight = _served(network, name)
    param = network.params[name]
    delta = values - param.reshape(-1)[indices]  # exactly the change the loop makes
    rows, columns = np.divmod(indices, param.shape[-1]) if is_weight else (None, indices)
    step = _chunk_size(network, forward, layer)
    chunks = []
    for start in range(0, len(indices), step):
        part = slice(start, start + step)
        chosen_rows = None if rows is None else rows[part]
        chunks.append(_chunk(network, forward, t, layer, chosen_rows, columns[part], delta[part]))
        if start == 0:  # fail fast, before the rest is computed
            _check(network, x, t, name, indices, values, chunks[0], [0])
    losses = np.concatenate(chunks)  # of the type the loss returns (real, if it drops imag)
    _check(network, x, t, name, indices, values, losses, [len(losses) // 2, len(losses) - 1])
    return losses


def _served(network: Network, name: str) -> tuple[int, bool]:
    """The index of the layer ``name`` belongs to and whether it is its weight; refused
    unless that layer and every one after it is affine and keeps samples apart."""
    index, is_weight = network.locate(name)
    for later, layer in enumerate(network.layers[index:], start=index):
        if layer.affine is None or layer.mixes_samples:
            what = "is not affine" if layer.affine is None else "mixes samples"
            raise _NotBatchable(f"layer {later} (model.layers[{later}]) {what}")
    return index, is_weight


def affine_of(layer: Layer) -> Affine:
    """A layer's affine declaration, which an engine that serves it has checked is there."""
    affine = layer.affine
    if affine is None:  # an engine's own check let a layer through that it cannot serve
        raise AssertionError("a layer without an affine declaration reached an affine engine")
    return affine


def activation_of(layer: Layer) -> Activation:
    """An affine layer's nonlinearity (identity where it declares none)."""
    activation = layer.activation
    return activation if activation is not None else _IDENTITY


class _Identity:
    name = "identity"

    def __call__(self, a: Any, /) -> Any:
        return a


_IDENTITY = _Identity()


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
    """Losses for one chunk of perturbations of layer ``k``, stacked on a leading axis."""
    shift = delta[:, None] * (forward.inputs[k][:, rows].T if rows is not None else 1.0)
    column = forward.pre[k][:, columns].T + shift  # (count, batch): the changed column
    if not network.layers[k].elementwise:
        z = _call(activation_of(network.layers[k]), _replaced(forward.pre[k], columns, column))
    elif k + 1 == len(network.layers):
        changed = _call(activation_of(network.layers[k]), column)
        return _loss(network, _replaced(forward.outputs[k], columns, changed), t)
    else:
        z = _rank_one_next(network, forward, k, columns, column)
        k += 1
    for layer in network.layers[k + 1 :]:
        affine = affine_of(layer)
        a = z @ network.params[affine.weight] + network.params[affine.bias]
        z = _call(activation_of(layer), a)
    return _loss(network, z, t)


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


def _replaced(base: np.ndarray, columns: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Copies of ``base`` stacked on a leading axis, copy p with column ``columns[p]`` set.

    Laid out units-first in memory (a transposed view), so that reductions over the
    units axis, as softmax makes, run fast.
    """
    count, (batch, units) = len(columns), base.shape
    stack = np.empty((units, count, batch), dtype=np.result_type(base, column))
    stack[...] = base.T[:, None, :]
    stacked = stack.transpose(1, 2, 0)
    stacked[np.arange(count), :, columns] = column
    return stacked


def call_activation(
    activation: Activation, a: np.ndarray, refused: Callable[[str], Exception]
) -> np.ndarray:
    """``activation(a)`` on stacked input, which must keep its shape; else ``refused``
    (the engine's own exception), saying why."""
    try:
        z = np.asarray(activation(a))
    except Exception as error:
        raise refused(
            f"activation '{activation.name}' fails on stacked input ({type(error).__name__})"
        ) from None
    if z.shape != a.shape:
        raise refused(f"activation '{activation.name}' changes the shape of stacked input")
    return z


def _call(activation: Activation, a: np.ndarray) -> np.ndarray:
    return call_activation(activation, a, _NotBatchable)


def _loss(network: Network, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    name = network.loss_function.name
    try:
        losses = np.asarray(network.loss_function(y, t))
    except Exception as error:
        raise _NotBatchable(
            f"loss '{name}' fails on stacked predictions ({type(error).__name__})"
        ) from None
    if losses.shape != y.shape[:1]:
        raise _NotBatchable(
            f"loss '{name}' does not give one value per stacked prediction; a loss that "
            "reduces over the last two axes only takes the fast path"
        )
    return losses


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
            raise _NotBatchable("stacked evaluation of the network differs from a plain one")


def _agrees(got: Any, expected: Any, tolerance: float) -> bool:
    if got == expected or (np.isnan(got) and np.isnan(expected)):
        return True
    return bool(abs(got - expected) <= tolerance)
