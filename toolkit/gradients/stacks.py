"""A stack of perturbed copies of a batch, carried through the layers of a network.

The bulk path (``perturbation``) changes one parameter element per copy and needs each
copy's loss. The layers before the perturbed one are shared; from there on the copies are
stacked on a leading axis (every layer accepts leading axes) and carried in one of two
forms:

- **columns**: the copies differ from the unperturbed pass only in one unit each
  (``columns[p]`` of samples of one axis), and that unit's values over the batch are kept
  (``values[p]``). A layer that keeps units apart (``keeps_units``: not affine,
  elementwise, one axis in and out, such as batch normalization, dropout or an activation
  layer) changes only that unit again: copies whose units differ are packed side by side
  into one batch-shaped array, so that one evaluation of the layer serves as many copies
  as it has units. At an affine layer the change is a rank-one update of its
  pre-activation (``x @ W + b`` moves by ``W[j] * dz``), and the copies go on whole;
  where that layer's output is its pre-activation, the next layer is told the change
  (``dz``, ``W[j]``) and may give its output faster through ``rank_one_forward`` (batch
  normalization takes each copy's batch statistics in closed form from the unperturbed
  ones, with no reduction over the stack);
- **whole**: each copy's whole array, evaluated layer by layer: an affine layer by its
  product, any other by its own ``forward`` in the mode of the pass under way (its
  dropout mask, its running state), and the loss on the stack.

A layer or part that fails on stacked input, or changes the stack's shape, raises
``NotStackable``; the caller compares a few copies with plain evaluations besides, so a
layer that declares wrongly (a unit-mixing layer declared elementwise) is caught.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model.forward import Forward
from ..model.layers import Activation, Affine, Layer, Mode
from ..model.network import Network

__all__ = [
    "Carry",
    "NotStackable",
    "activation_of",
    "affine_of",
    "call_activation",
    "describe",
    "keeps_units",
    "one_unit_each",
    "per_sample",
    "replaced",
    "stacked_loss",
    "units_first_product",
]


class NotStackable(Exception):
    """A part that fails on, or gives different answers for, stacked perturbations."""


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


def keeps_units(layer: Layer) -> bool:
    """Whether each unit of the layer's output depends only on the same unit of its input
    (across the batch, perhaps): not affine, declared elementwise, samples of one axis in
    and out of the same size."""
    return (
        layer.affine is None
        and layer.elementwise
        and len(layer.input_shape) == 1
        and layer.output_shape == layer.input_shape
    )


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


def replaced(base: np.ndarray, columns: np.ndarray, column: np.ndarray) -> np.ndarray:
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


def stacked_loss(network: Network, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The loss of each stacked prediction ``y[p]`` against ``t``: one value per copy."""
    name = network.loss_function.name
    try:
        losses = np.asarray(network.loss_function(y, t))
    except Exception as error:
        raise NotStackable(
            f"loss '{name}' fails on stacked predictions ({type(error).__name__})"
        ) from None
    if losses.shape != y.shape[:1]:
        raise NotStackable(
            f"loss '{name}' does not give one value per stacked prediction; a loss that "
            "reduces over the last two axes only takes the fast path"
        )
    return losses


@dataclass(frozen=True)
class Carry:
    """Stacks carried from a layer to the loss, on one batch: the unperturbed pass
    (``forward``), each layer's ``modes`` in it, the targets, and ``budget``: how many
    numbers the widest stacked array may hold (a stack of whole copies is cut into as
    many copies as fit; a layer that keeps units apart gets as many packed arrays at once
    as fit, at least one)."""

    network: Network
    forward: Forward
    modes: Sequence[Mode]
    t: np.ndarray
    budget: int
    _rows: dict[int, int] = field(default_factory=dict)
    _identity: dict[int, bool] = field(default_factory=dict)
    _buffers: dict[tuple[int, np.dtype[Any]], np.ndarray] = field(default_factory=dict)

    def rows(self, m: int) -> int:
        """How many whole copies a stack entering layer m holds: its widest array, from
        layer m's input (where it is made whole there) to the output, within ``budget``."""
        kept = self._rows.get(m)
        if kept is None:
            kept = self._rows[m] = self._widest(m)
        return kept

    def _widest(self, m: int) -> int:
        """``rows(m)``, worked out."""
        forward, layers = self.forward, self.network.layers
        widths = [per_sample(forward.y)]
        for index in range(m, len(layers)):
            widths += [per_sample(forward.pre[index]), per_sample(forward.outputs[index])]
        if m < len(layers) and layers[m].affine is None:
            widths.append(per_sample(forward.inputs[m]))
        return max(1, self.budget // (len(forward.y) * max(widths)))

    def columns(self, m: int, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The losses of copies whose input to layer m differs from the unperturbed one in
        unit ``columns[p]`` only, which holds ``values[p]`` over the batch."""
        layers = self.network.layers
        while m < len(layers) and keeps_units(layers[m]):
            values = self._packed(m, columns, values)
            m += 1
        step = self.rows(m)
        parts = [
            (columns[start : start + step], values[start : start + step])
            for start in range(0, len(columns), step)
        ]
        if m == len(layers):
            y = self.forward.y
            return self._finish(m, (replaced(y, units, column) for units, column in parts))
        if layers[m].affine is None:
            base = self.forward.inputs[m]
            return self._finish(m, (replaced(base, units, column) for units, column in parts))
        if m + 1 == len(layers):
            return self._finish(
                m + 1,
                (self._rank_one(m, units, column)[0] for units, column in parts),
                step,
                reused=True,
            )
        return self._finish(
            m + 2,
            (self._after_rank_one(m, units, column) for units, column in parts),
            step,
            reused=True,
        )

    def whole(self, m: int, z: np.ndarray) -> np.ndarray:
        """The losses of whole copies ``z[p]`` of layer m's input."""
        return self._finish(m, iter([z]))

    def through(self, m: int, z: np.ndarray) -> np.ndarray:
        """Layer m's output for stacked input ``z``: an affine layer's product and its
        activation, any other layer's own forward pass in the pass's mode."""
        layer = self.network.layers[m]
        params = self.network.params
        affine = layer.affine
        if affine is not None:
            return self._activated(m, self._product(affine, z))
        try:
            output = np.asarray(layer.forward(z, params, self.modes[m]).output)
        except Exception as error:
            raise NotStackable(
                f"layer {m} (model.layers[{m}], {describe(layer)}) fails on stacked input "
                f"({type(error).__name__})"
            ) from None
        wanted = (*z.shape[: z.ndim - len(layer.input_shape)], *layer.output_shape)
        if output.shape != wanted:
            raise NotStackable(
                f"layer {m} (model.layers[{m}], {describe(layer)}) gives shape "
                f"{output.shape} for stacked input, not {wanted}"
            )
        return output

    def _product(self, affine: Affine, z: np.ndarray) -> np.ndarray:
        """An affine layer's pre-activation for stacked input ``z``."""
        params = self.network.params
        return units_first_product(z, params[affine.weight], params[affine.bias])

    def _activated(self, m: int, a: np.ndarray) -> np.ndarray:
        """Affine layer m's activation of its stacked pre-activation ``a``."""
        return call_activation(activation_of(self.network.layers[m]), a, NotStackable)

    def _detached(self, stack: np.ndarray) -> np.ndarray:
        """``stack``, copied if it may share memory with a reused buffer."""
        if any(np.may_share_memory(stack, buffer) for buffer in self._buffers.values()):
            return stack.copy()
        return stack

    def _finish(
        self,
        m: int,
        stacks: Iterator[np.ndarray],
        size: int | None = None,
        *,
        reused: bool = False,
    ) -> np.ndarray:
        """The losses of stacks of whole copies entering layer m (of ``size`` copies at
        most; ``rows(m)`` if not given), each through the rest; between layers, stacks are
        joined up to what the next widths allow (the narrow end of a network then takes
        many copies at once). At an affine layer that is after its product, before its
        activation: its input is as wide as what made it, so it is never joined. ``reused``:
        the stacks are written in a reused buffer (``_buffer``), so what layer m gives is
        copied where it refers to one, before the next stack is made."""
        layers = self.network.layers
        size = self.rows(m) if size is None else size
        for index in range(m, len(layers)):
            affine = layers[index].affine
            if affine is None:
                stacks = map(functools.partial(self.through, index), stacks)
            else:
                stacks = map(functools.partial(self._product, affine), stacks)
            if index == m and reused:
                stacks = map(self._detached, stacks)
            if affine is not None:
                if self.rows(index) > size:
                    size = self.rows(index)
                    stacks = _joined(stacks, size)
                stacks = map(functools.partial(self._activated, index), stacks)
            after = index + 1
            if (after == len(layers) or layers[after].affine is None) and self.rows(after) > size:
                size = self.rows(after)  # narrower from here on
                stacks = _joined(stacks, size)
        return np.concatenate([stacked_loss(self.network, z, self.t) for z in stacks])

    def _rank_one(
        self, m: int, columns: np.ndarray, values: np.ndarray
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
        """Affine layer m's output for copies whose input differs in unit ``columns[p]``
        only: its pre-activation moves by ``W[columns[p]] * dz``. With it, that change
        (``dz``, ``W[columns]``) where the output is the pre-activation itself (an
        activation that gives back its input, on these copies and on the unperturbed pass):
        then the output moved from the unperturbed one by exactly that rank-one amount."""
        layer = self.network.layers[m]
        dz = values - self.forward.inputs[m][:, columns].T
        w = self.network.params[affine_of(layer).weight][columns]
        pre = self.forward.pre[m]
        a = np.multiply(dz[:, :, None], w[:, None, :], out=self._buffer(m, dz, w, pre))
        a += pre
        z = call_activation(activation_of(layer), a, NotStackable)
        unchanged = z is a and self._passes_pre(m)
        return z, ((dz, w) if unchanged else None)

    def _buffer(self, m: int, dz: np.ndarray, w: np.ndarray, pre: np.ndarray) -> np.ndarray:
        """Where layer m's rank-one stack is written: one array per layer and type, reused
        for every stack (a fresh one each time costs more than filling it, as the allocator
        gives large arrays back to the system); ``_finish`` copies whatever still refers to
        it after the next layer, before the next stack is written."""
        dtype = np.result_type(dz, w, pre)
        buffer = self._buffers.get((m, dtype))
        if buffer is None or len(buffer) < len(dz):
            shape = (max(len(dz), self.rows(m)), *pre.shape)
            buffer = self._buffers[(m, dtype)] = np.empty(shape, dtype)
        return buffer[: len(dz)]

    def _passes_pre(self, m: int) -> bool:
        """Whether layer m's output on the unperturbed pass is its pre-activation."""
        kept = self._identity.get(m)
        if kept is None:
            kept = self._identity[m] = bool(
                np.array_equal(self.forward.outputs[m], self.forward.pre[m])
            )
        return kept

    def _after_rank_one(self, m: int, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Layer m+1's output after affine layer m, for copies whose input to m differs in
        unit ``columns[p]`` only: by layer m+1's ``rank_one_forward`` where the change
        reaching it is rank-one and it offers one, else by its ``forward``."""
        z, change = self._rank_one(m, columns, values)
        if change is not None:
            output = self._rank_one_forward(m + 1, z, *change)
            if output is not None:
                return output
        return self.through(m + 1, z)

    def _rank_one_forward(
        self, m: int, x: np.ndarray, dz: np.ndarray, w: np.ndarray
    ) -> np.ndarray | None:
        """Layer m's ``rank_one_forward`` on the stack ``x``, checked as ``through`` checks
        a forward pass; None where the layer offers none (or takes samples of more axes)."""
        layer = self.network.layers[m]
        if len(layer.input_shape) != 1:
            return None
        params = self.network.params
        try:
            output = layer.rank_one_forward(self.forward.step(m), x, dz, w, params, self.modes[m])
        except Exception as error:
            raise NotStackable(
                f"layer {m} (model.layers[{m}], {describe(layer)}) fails in rank_one_forward "
                f"({type(error).__name__})"
            ) from None
        if output is None:
            return None
        output = np.asarray(output)
        if output.shape != (*x.shape[:-1], *layer.output_shape):
            raise NotStackable(
                f"layer {m} (model.layers[{m}], {describe(layer)}) gives shape "
                f"{output.shape} in rank_one_forward, not {(*x.shape[:-1], *layer.output_shape)}"
            )
        return output

    def _packed(self, m: int, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Layer m's changed unit of each copy, from batch-shaped arrays that each carry
        copies with different units side by side (the other units as unperturbed)."""
        base = self.forward.inputs[m]
        slots = _slots(columns)
        group = max(1, self.budget // base.size)
        result: np.ndarray | None = None
        for first in range(0, int(slots.max(initial=-1)) + 1, group):
            chosen = (slots >= first) & (slots < first + group)
            slot = slots[chosen] - first
            stack = np.empty((int(slot.max()) + 1, *base.shape), np.result_type(base, values))
            stack[...] = base
            stack[slot, :, columns[chosen]] = values[chosen]
            output = self.through(m, stack)
            if result is None:
                result = np.empty(values.shape, dtype=output.dtype)
            result[chosen] = output[slot, :, columns[chosen]]
        return values if result is None else result


def units_first_product(z: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``z @ weight + bias`` for stacked ``z``, laid out units-first in memory (a transposed
    view): the product runs faster that way for a narrow ``weight``, and so do the
    reductions over the units axis that follow (softmax's)."""
    a = np.matmul(weight.T, np.swapaxes(z, -1, -2))
    if np.result_type(a, bias) == a.dtype:
        a += bias[:, None]
    else:
        a = a + bias[:, None]
    return np.swapaxes(a, -1, -2)


def _joined(stacks: Iterator[np.ndarray], rows: int) -> Iterator[np.ndarray]:
    """Consecutive stacks joined into stacks of at most ``rows`` copies (or one, larger)."""
    pending: list[np.ndarray] = []
    count = 0
    for stack in stacks:
        if pending and count + len(stack) > rows:
            yield pending[0] if len(pending) == 1 else np.concatenate(pending)
            pending, count = [], 0
        pending.append(stack)
        count += len(stack)
    if pending:
        yield pending[0] if len(pending) == 1 else np.concatenate(pending)


def one_unit_each(stack: np.ndarray, base: np.ndarray) -> np.ndarray | None:
    """Where every copy in ``stack`` differs from ``base`` (samples of one axis) in one unit
    at most: that unit of each (any, for a copy equal to it); else None."""
    if base.ndim != 2:
        return None
    changed = np.any(stack != base, axis=1)
    if np.any(np.count_nonzero(changed, axis=1) > 1):
        return None
    found: np.ndarray = np.argmax(changed, axis=1)
    return found


def _slots(columns: np.ndarray) -> np.ndarray:
    """For each copy, how many earlier copies change the same unit: where it is packed."""
    order = np.argsort(columns, kind="stable")
    ordered = columns[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    runs = np.diff(np.r_[starts, len(ordered)])
    slots = np.empty(len(columns), dtype=np.intp)
    slots[order] = np.arange(len(ordered)) - np.repeat(starts, runs)
    return slots


def per_sample(array: np.ndarray) -> int:
    """How many numbers one sample of a batch-shaped array holds."""
    return int(np.prod(array.shape[1:], dtype=np.int64))


def describe(layer: Layer) -> str:
    """A layer as messages name it: its part's name, or its class's."""
    return layer.type_name or type(layer).__name__
