"""Layers that regularize training: the book's ``Dropout`` and ``BatchNormalization``.

``dropout`` multiplies each unit by a mask drawn once per training batch (``U[0, 1) >
rate``), and by ``1 - rate`` in evaluation. ``batchnorm`` normalizes each unit over the
batch in training (over the running statistics in evaluation), then scales by ``gamma``
and shifts by ``beta``. Both take samples of any shape and keep it.

Every forward pass keeps any leading axes before the batch axis (see ``toolkit.Layer``):
a dropout mask broadcasts over them, and batch statistics are taken over the batch axis
of each leading slice alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit import Layer, Mode, ParamSpec, Part, Step, hookimpl
from toolkit.base.rng import Rng
from toolkit.model.layers import Shape

Problems = Iterator[tuple[str, str]]
"""What a ``validate`` function yields: (setting, what is wrong with it)."""

EPSILON = 10e-7
"""Added to the variance under the square root, as the book writes it (1e-6)."""


class Dropout(Layer):
    """The book's ``Dropout``: in training ``x * mask``, ``mask = U[0, 1) > rate``; in
    evaluation ``x * (1 - rate)``.

    The mask is drawn by ``draw`` once per training batch, from the run's generator, after
    the batch and before the gradient (``rng.random`` for a Generator, ``random_sample``
    for a RandomState: the book's ``np.random.rand``); every evaluation of that batch's
    gradient sees the same mask, which broadcasts over leading stacked axes.

    Declarations: no parameters; ``breakpoints == ()`` (given its mask it is linear);
    ``elementwise`` (each output unit depends on the same input unit alone); it keeps the
    samples of a batch apart.
    """

    def __init__(self, shape: Shape, rate: float) -> None:
        super().__init__(shape)
        self.rate = rate

    @property
    def elementwise(self) -> bool:
        """True: each output unit is its input unit times a number."""
        return True

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Empty: linear given the mask."""
        return ()

    def draw(self, rng: Rng, batch: int) -> np.ndarray:
        """The mask for a training batch: ``U[0, 1) > rate``, one number per input unit."""
        shape = (batch, *self.input_shape)
        if isinstance(rng, np.random.Generator):
            uniform = rng.random(shape)
        else:
            uniform = rng.random_sample(shape)
        return np.asarray(uniform > self.rate)

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        """``x * mask`` in training, ``x * (1 - rate)`` in evaluation."""
        factor = self._mask(x, mode.noise) if mode.train else 1.0 - self.rate
        y = x * factor
        return Step(x, y, y, factor)

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """``grad_out`` times the factor the forward pass used (the mask, in training)."""
        return (grad_out * step.cache if inputs else None), {}

    def _mask(self, x: np.ndarray, mask: Any) -> np.ndarray:
        """The batch's mask, checked against the batch it is applied to."""
        if mask is None:
            raise ValueError("a training pass of a dropout layer needs its mask (draw it first)")
        batch = x.shape[x.ndim - 1 - len(self.input_shape) :]
        if np.shape(mask) != batch:
            raise ValueError(
                f"the dropout mask was drawn for shape {np.shape(mask)}, but the batch has "
                f"shape {batch}; draw the mask for this batch"
            )
        return np.asarray(mask)


@dataclass(eq=False, repr=False)  # arrays: no equality by value, no long reprs
class BatchStats:
    """What a batch normalization pass keeps for its backward pass and the running state:
    the statistics it normalized with (the batch's in training), the centred input, the
    normalized input, and the standard deviation (each with the samples flattened)."""

    train: bool
    mean: np.ndarray
    var: np.ndarray
    xc: np.ndarray
    xn: np.ndarray
    std: np.ndarray


class BatchNorm(Layer):
    """The book's ``BatchNormalization``: ``gamma * (x - mean) / sqrt(var + 10e-7) + beta``,
    each sample flattened to one axis of units, then put back in its shape.

    Training normalizes with the batch's mean and variance over the batch axis (of each
    leading slice alone); evaluation with the running ones, which ``next_state`` moves on
    once per training batch: ``momentum * running + (1 - momentum) * batch``.

    Declarations: ``mixes_samples`` (in training a sample's output depends on the other
    samples of the batch, through its mean and variance); ``elementwise`` (each output unit
    depends only on the same input unit, across the batch, so a change of one unit stays
    in that unit's column); ``breakpoints == ()`` (smooth). It is not a weighted layer:
    its ``gamma`` and ``beta`` carry the number of the weighted layer before it.
    """

    def __init__(self, shape: Shape, momentum: float) -> None:
        super().__init__(shape)
        self.momentum = momentum
        self.units = int(np.prod(shape))

    @property
    def elementwise(self) -> bool:
        """True: each output unit depends only on the same input unit (across the batch)."""
        return True

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Empty: smooth."""
        return ()

    @property
    def mixes_samples(self) -> bool:
        """True: in training, the batch's statistics enter every sample's output."""
        return True

    def param_specs(self) -> tuple[ParamSpec, ...]:
        """gamma (ones), then beta (zeros): one per unit of a flattened sample."""
        return (ParamSpec("gamma", (self.units,), 1.0), ParamSpec("beta", (self.units,), 0.0))

    def state_specs(self) -> tuple[ParamSpec, ...]:
        """The running mean and variance, starting at zeros as the book's."""
        return (
            ParamSpec("running_mean", (self.units,), 0.0),
            ParamSpec("running_var", (self.units,), 0.0),
        )

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        """Normalize each unit (batch statistics in training, running ones in evaluation)."""
        flat = x.reshape(*self.lead(x), -1, self.units)
        if mode.train:
            mean = flat.mean(axis=-2)
            xc = flat - mean[..., None, :]
            var = np.mean(xc**2, axis=-2)
            std = np.sqrt(var + EPSILON)
            xn = xc / std[..., None, :]
        else:
            mean = mode.state[self.state_names["running_mean"]]
            var = mode.state[self.state_names["running_var"]]
            xc = flat - mean
            std = np.sqrt(var + EPSILON)
            xn = xc / std
        out = params[self.names["gamma"]] * xn + params[self.names["beta"]]
        y = out.reshape(x.shape)
        return Step(x, y, y, BatchStats(mode.train, mean, var, xc, xn, std))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """The book's backward pass (in evaluation, the statistics are constants)."""
        stats: BatchStats = step.cache
        dout = grad_out.reshape(stats.xn.shape)
        gamma, beta = self.names["gamma"], self.names["beta"]
        grads = {beta: dout.sum(axis=-2), gamma: np.sum(stats.xn * dout, axis=-2)}
        if not inputs:
            return None, grads
        dxn = params[gamma] * dout
        if not stats.train:
            return (dxn / stats.std).reshape(step.input.shape), grads
        std = stats.std[..., None, :]
        batch = np.size(dout, -2)
        dxc = dxn / std
        dstd = -np.sum((dxn * stats.xc) / (std * std), axis=-2, keepdims=True)
        dvar = 0.5 * dstd / std
        dxc += (2.0 / batch) * stats.xc * dvar
        dmu = np.sum(dxc, axis=-2, keepdims=True)
        dx = dxc - dmu / batch
        return dx.reshape(step.input.shape), grads

    def rank_one_forward(
        self,
        step: Step,
        x: np.ndarray,
        dz: np.ndarray,
        w: np.ndarray,
        params: Mapping[str, np.ndarray],
        mode: Mode,
    ) -> np.ndarray | None:
        """In training, the output for copies of the batch moved by ``dz[p] (x) w[p]``, with
        each copy's batch statistics in closed form from the unperturbed ones: the mean
        moves by ``mean(dz) * w``, the variance by ``2 * w * cov(x, dz) + w**2 * var(dz)``
        (one product of the centred ``dz`` with the centred input per copy), so no
        reduction runs over the stack: ``x * scale + (beta - mean * scale)``, two passes.
        None in evaluation (``forward`` is as fast there)."""
        stats: BatchStats = step.cache
        if not (mode.train and stats.train) or stats.xc.ndim != 2 or x.ndim != 3:
            return None
        batch = dz.shape[-1]
        dz_mean = dz.mean(axis=-1)
        dzc = dz - dz_mean[:, None]
        cov = (dzc @ stats.xc) / batch
        dz_var = np.sum(dzc * dzc, axis=-1) / batch  # no conjugate: as forward squares
        var = stats.var + w * (2.0 * cov + w * dz_var[:, None])
        mean = stats.mean + dz_mean[:, None] * w
        scale = params[self.names["gamma"]] / np.sqrt(var + EPSILON)
        shift = params[self.names["beta"]] - mean * scale  # two passes over the stack, not three
        if np.result_type(x.dtype, scale.dtype, shift.dtype) != x.dtype:
            return np.asarray(x * scale[:, None, :] + shift[:, None, :])
        x *= scale[:, None, :]
        x += shift[:, None, :]
        return x

    def next_state(self, step: Step, state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The running mean and variance moved towards this training batch's."""
        stats: BatchStats = step.cache
        momentum = self.momentum
        mean, var = self.state_names["running_mean"], self.state_names["running_var"]
        return {
            mean: momentum * state[mean] + (1 - momentum) * stats.mean,
            var: momentum * state[var] + (1 - momentum) * stats.var,
        }


def dropout(input_shape: Shape, rate: float = 0.5) -> Dropout:
    """Drop each unit with probability rate in training; scale by 1 - rate in evaluation."""
    return Dropout(input_shape, rate)


def batchnorm(input_shape: Shape, momentum: float = 0.9) -> BatchNorm:
    """Normalize each unit over the batch, then scale by gamma and shift by beta."""
    return BatchNorm(input_shape, momentum)


def check_rate(rate: float) -> Problems:
    """``rate``: in [0, 1); 1 would drop every unit."""
    if rate == 1:
        yield "rate", "must be below 1: a rate of 1 drops every unit, so the output is all zeros"
    elif not 0 <= rate < 1:
        yield "rate", f"must be in [0, 1), got {rate}"


def check_momentum(momentum: float) -> Problems:
    """``momentum``: in [0, 1); 1 would keep the running statistics at their start."""
    if momentum == 1:
        yield (
            "momentum",
            "must be below 1: a momentum of 1 never moves the running statistics from zero",
        )
    elif not 0 <= momentum < 1:
        yield "momentum", f"must be in [0, 1), got {momentum}"


@hookimpl
def toolkit_layers() -> dict[str, Part]:
    return {
        "dropout": Part(dropout, validate=check_rate),
        "batchnorm": Part(batchnorm, validate=check_momentum),
    }
