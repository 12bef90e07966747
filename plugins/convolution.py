"""Convolution and pooling layers, for samples of shape ``(channels, height, width)``.

``conv2d`` is the book's ``Convolution`` followed by an activation part; ``max_pool`` the
book's ``Pooling``, the maximum over each window. ``conv2d`` copies the windows of the
padded input once into the book's ``im2col`` column matrix (from a strided view) and
multiplies it by the filters; ``max_pool`` takes the maximum one kernel element at a time
over every window at once. Gradients go back as the book's ``col2im`` puts them: each
window's added where the window lies, one slice per kernel element, no loop over samples.

``kernel``, ``size``, ``stride`` and ``pad`` are a whole number or a pair
``[height, width]``; each output side is the book's ``1 + (side + 2 * pad - kernel) // stride``.
Extra leading axes before the batch axis are folded into it, computed, and unfolded.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from toolkit import REQUIRED, Layer, Part, SettingError, hookimpl
from toolkit.base.wording import describe_value
from toolkit.model.layers import ParamSpec, Shape, Step
from toolkit.registry.parts import BoundPart

from .layers import Activated

Pair = tuple[int, int]


class Windows:
    """Where the windows of a ``(channels, height, width)`` sample lie: their size
    (``kernel``), the step between them (``stride``), the zeros around the input (``pad``),
    each ``(height, width)``, and how many fit (``out``)."""

    def __init__(self, sample: Shape, kernel: Pair, stride: Pair, pad: Pair) -> None:
        self.sample, self.kernel, self.stride, self.pad = tuple(sample), kernel, stride, pad
        (_, height, width), (kh, kw), (sh, sw), (ph, pw) = self.sample, kernel, stride, pad
        self.out: Pair = (1 + (height + 2 * ph - kh) // sh, 1 + (width + 2 * pw - kw) // sw)
        """The output's height and width: ``1 + (side + 2 * pad - kernel) // stride``."""

    def padded(self, x: np.ndarray) -> np.ndarray:
        """``x`` (``(B, C, H, W)``) with ``pad`` zeros around each side (``x`` itself for none)."""
        (ph, pw) = self.pad
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x

    def at(self, i: int, j: int) -> tuple[slice, ...]:
        """Where kernel element ``(i, j)`` of every window lies in the padded input: a slice
        giving ``(B, C, OH, OW)``."""
        (sh, sw), (oh, ow) = self.stride, self.out
        return (
            slice(None),
            slice(None),
            slice(i, i + sh * (oh - 1) + 1, sh),
            slice(j, j + sw * (ow - 1) + 1, sw),
        )

    def positions(self) -> list[tuple[int, int]]:
        """Every kernel element ``(i, j)``, in row order."""
        return [(i, j) for i in range(self.kernel[0]) for j in range(self.kernel[1])]

    def view(self, x: np.ndarray) -> np.ndarray:
        """The windows of ``x`` (``(B, C, H, W)``) as ``(B, C, OH, OW, KH, KW)``: a view of
        the zero-padded input, nothing copied but the padding."""
        (sh, sw) = self.stride
        view = np.lib.stride_tricks.sliding_window_view(self.padded(x), self.kernel, axis=(2, 3))
        return view[:, :, ::sh, ::sw]

    def columns(self, x: np.ndarray) -> np.ndarray:
        """The book's ``im2col``: one row per (sample, output row, output column), one column
        per (channel, kernel row, kernel column)."""
        windows = self.view(x).transpose(0, 2, 3, 1, 4, 5)
        return windows.reshape(windows.shape[0] * windows.shape[1] * windows.shape[2], -1)

    def fold(self, grads: np.ndarray) -> np.ndarray:
        """The book's ``col2im`` on ``(B, C, OH, OW, KH, KW)``: each window's gradient added
        back where the window lies, the padding cut off; ``(B, C, H, W)``."""
        (_, height, width), (ph, pw) = self.sample, self.pad
        image = np.zeros((grads.shape[0], grads.shape[1], height + 2 * ph, width + 2 * pw))
        for i, j in self.positions():
            image[self.at(i, j)] += grads[..., i, j]
        return image[:, :, ph : ph + height, pw : pw + width]


class Conv2D(Activated):
    """``activation(conv(x, W) + b)``: the book's ``Convolution`` and its activation layer in
    one. W is ``(filters, channels, kernel_h, kernel_w)``, b ``(filters,)``; each sample
    ``(channels, height, width)`` gives ``(filters, out_h, out_w)``."""

    weighted = True

    def __init__(self, windows: Windows, filters: int, activation: BoundPart) -> None:
        super().__init__(windows.sample, activation)
        self.windows = windows
        self.filters = filters
        self.output_shape = (filters, *windows.out)

    def param_specs(self) -> tuple[ParamSpec, ...]:
        """W from ``init``, then b from ``bias_init``."""
        channels = self.input_shape[0]
        return (
            ParamSpec("W", (self.filters, channels, *self.windows.kernel), "init"),
            ParamSpec("b", (self.filters,), "bias_init"),
        )

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Any = None) -> Step:
        """The book's forward: ``im2col(x) @ W.reshape(FN, -1).T + b``, back to
        ``(N, FN, OH, OW)``, then the activation; the columns kept for the backward pass."""
        batch = x.reshape(-1, *self.input_shape)
        columns = self.windows.columns(batch)
        weight = params[self.names["W"]].reshape(self.filters, -1)
        out = columns @ weight.T
        out += params[self.names["b"]]  # in place: one large array fewer
        pre = out.reshape(batch.shape[0], *self.windows.out, self.filters).transpose(0, 3, 1, 2)
        pre = pre.reshape(*x.shape[: x.ndim - 3], *self.output_shape)
        return Step(x, pre, self._activation(pre), columns)

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """The activation's vjp, then the book's ``Convolution.backward``:
        ``db = sum(dout)``, ``dW = col.T @ dout``, ``dx = col2im(dout @ col_W.T)``."""
        weight, bias = self.names["W"], self.names["b"]
        g = self._activation.vjp(step.pre, grad_out).reshape(-1, *self.output_shape)
        dout = g.transpose(0, 2, 3, 1).reshape(-1, self.filters)
        shaped = params[weight].shape
        grads = {weight: (step.cache.T @ dout).T.reshape(shaped), bias: dout.sum(axis=0)}
        if not inputs:
            return None, grads
        dcol = dout @ params[weight].reshape(self.filters, -1)
        dcol = dcol.reshape(g.shape[0], *self.windows.out, *shaped[1:]).transpose(0, 3, 1, 2, 4, 5)
        return self.windows.fold(dcol).reshape(step.input.shape), grads


class MaxPool(Layer):
    """The maximum over each window of each channel: the book's ``Pooling``. Each sample
    ``(channels, height, width)`` gives ``(channels, out_h, out_w)``.

    As in the book, the padding is zeros (``im2col`` pads with 0): a window over the
    padding whose inputs are all negative gives 0. A tie goes to the first of the
    window's elements in row order (``argmax``), and only it gets the gradient.

    Its kinks are those ties, which move with the input: it declares no ``breakpoints``,
    and tells which element is each window's maximum instead (``pieces``).
    """

    def __init__(self, windows: Windows) -> None:
        super().__init__(windows.sample)
        self.windows = windows
        self.output_shape = (windows.sample[0], *windows.out)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Any = None) -> Step:
        """The maximum of each window, one kernel element at a time over every window at
        once; the backward pass finds where it was from the step's input."""
        padded = self.windows.padded(x.reshape(-1, *self.input_shape))
        first, *rest = self.windows.positions()
        out = padded[self.windows.at(*first)].copy()
        for i, j in rest:
            np.maximum(out, padded[self.windows.at(i, j)], out=out)
        out = out.reshape(*x.shape[: x.ndim - 3], *self.output_shape)
        return Step(x, out, out)

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Each output's gradient to the element that was the maximum (the book's
        ``Pooling.backward``: the first one in row order, for a tie), added where windows
        overlap."""
        if not inputs:
            return None, {}
        padded = self.windows.padded(step.input.reshape(-1, *self.input_shape))
        g = grad_out.reshape(-1, *self.output_shape)
        image = np.zeros(padded.shape)
        for at, _, found in self._maxima(padded, step.output):
            image[at] += g * found
        (_, height, width), (ph, pw) = self.input_shape, self.windows.pad
        return image[:, :, ph : ph + height, pw : pw + width].reshape(step.input.shape), {}

    def pieces(self, step: Step) -> np.ndarray:
        """Each output's piece: the index (row order) of the window element that is its
        maximum, the first one for a tie, as the backward pass routes the gradient. An
        input moved past another of its window switches the label: a kink."""
        labels = np.zeros(step.output.shape, dtype=np.intp).reshape(-1, *self.output_shape)
        padded = self.windows.padded(step.input.reshape(-1, *self.input_shape))
        for _, index, found in self._maxima(padded, step.output):
            labels[found] = index
        return labels.reshape(step.output.shape)

    def _maxima(
        self, padded: np.ndarray, output: np.ndarray
    ) -> Iterator[tuple[tuple[slice, ...], int, np.ndarray]]:
        """For each kernel element in row order: where it lies in the ``padded`` input, its
        index, and the windows whose maximum (``output``) it is first (``(B, C, OH, OW)``)."""
        out = output.reshape(-1, *self.output_shape)
        open_ = np.ones(out.shape, dtype=bool)  # windows whose maximum is still to be found
        for index, (i, j) in enumerate(self.windows.positions()):
            at = self.windows.at(i, j)
            found = (padded[at] == out) & open_
            yield at, index, found
            open_ &= ~found


def conv2d(
    input_shape: Shape,
    filters: int = REQUIRED,
    kernel: Any = REQUIRED,
    stride: Any = 1,
    pad: Any = 0,
    activation: Any = None,
    init: Any = None,
    bias_init: Any = None,
) -> Conv2D:
    """A convolution: activation(conv(x, W) + b), W (filters, channels, kh, kw) from init."""
    if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
        raise SettingError(
            "filters", f"must be a whole number of at least 1, got {describe_value(filters)}"
        )
    windows = _windows("conv2d", "kernel", input_shape, kernel, stride, pad)
    return Conv2D(windows, filters, activation)


def max_pool(input_shape: Shape, size: Any = 2, stride: Any = 2, pad: Any = 0) -> MaxPool:
    """The maximum over each size x size window of each channel (the book's Pooling)."""
    return MaxPool(_windows("max_pool", "size", input_shape, size, stride, pad))


def _windows(
    layer: str, name: str, input_shape: Shape, kernel: Any, stride: Any, pad: Any
) -> Windows:
    """The windows' geometry from the settings, or a SettingError naming the one at fault."""
    if len(input_shape) != 3:
        raise SettingError(name, _rank_problem(layer, input_shape))
    windows = Windows(
        input_shape, _pair(name, kernel, 1), _pair("stride", stride, 1), _pair("pad", pad, 0)
    )
    padded = [side + 2 * p for side, p in zip(input_shape[1:], windows.pad, strict=True)]
    if any(k > side for k, side in zip(windows.kernel, padded, strict=True)):
        raise SettingError(
            name,
            f"{name} {list(windows.kernel)} is larger than the padded input {padded} "
            f"(height and width + 2 * pad); use a {name} of at most {padded} or more pad",
        )
    return windows


def _pair(name: str, value: Any, minimum: int) -> Pair:
    """A whole number (both sides) or a pair ``[height, width]``, each at least ``minimum``."""
    values = list(value) if isinstance(value, list | tuple) else [value, value]
    whole = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if len(values) != 2 or not whole or min(values) < minimum:
        raise SettingError(
            name,
            f"must be a whole number of at least {minimum} or a pair [height, width] of them, "
            f"got {_shown(value)}",
        )
    return values[0], values[1]


def _shown(value: Any) -> str:
    """A setting's value as a message shows it: a list as written in YAML."""
    return repr(list(value)) if isinstance(value, list | tuple) else describe_value(value)


def _rank_problem(layer: str, shape: Shape) -> str:
    """What to put before a layer that takes (channels, height, width) samples."""
    target = "[channels, height, width]"
    if len(shape) == 2:
        target = f"[1, {shape[0]}, {shape[1]}]"
    elif len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        target = f"[1, {math.isqrt(shape[0])}, {math.isqrt(shape[0])}]"
    return (
        f"{layer} takes samples of shape (channels, height, width); "
        f"put {{type: reshape, shape: {target}}} before it"
    )


@hookimpl
def toolkit_layers() -> dict[str, Part]:
    # Pair defaults: the loader checks a setting against its default's type, and a list
    # default lets a spec give either a whole number or a pair [height, width].
    conv = {
        "filters": REQUIRED,
        "kernel": REQUIRED,
        "stride": [1, 1],
        "pad": [0, 0],
        "activation": None,
        "init": None,
        "bias_init": None,
    }
    pool = {"size": [2, 2], "stride": [2, 2], "pad": [0, 0]}
    return {"conv2d": Part(conv2d, params=conv), "max_pool": Part(max_pool, params=pool)}
