"""Where a run's numbers stop being finite: a layer's starting weights, an activation, or
the loss part, named, rather than the learning rate.

The forward pass is replayed one step at a time at the current parameters. A step that
turns finite input into nan or inf through overflow is a matter of size (the weights: the
spec's init at the start, the learning rate later); one that does so without overflow is
the part's own doing (``log`` of a negative number, a part that returns nan).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..base.errors import RunError, ToolkitError, UsageError
from .network import Network

__all__ = ["non_finite_cause"]


def non_finite_cause(
    network: Network, x: np.ndarray, t: np.ndarray, *, start: bool
) -> ToolkitError | None:
    """The error naming the part or setting that makes the loss on ``(x, t)`` not finite
    at the network's current parameters, or None where only their size explains it.

    ``start`` says that no update has been made yet: sums that overflow are then the
    spec's starting weights (a UsageError at the layer's ``init``), not the learning rate.
    """
    try:
        return _cause(network, x, t, start)
    except Exception:  # a part that fails here failed in the run itself, and is reported there
        return None


def _cause(network: Network, x: np.ndarray, t: np.ndarray, start: bool) -> ToolkitError | None:
    z = np.asarray(x)
    if not np.isfinite(z).all():
        return None
    for index, layer in enumerate(network.layers):
        path = f"model.layers[{index}]"
        affine, activation = layer.affine, layer.activation
        if affine is None or activation is None:  # what goes on inside it is its own to say
            return None
        weights = network.params[affine.weight]
        with np.errstate(all="ignore"):
            a = z @ weights + network.params[affine.bias]
        if not np.isfinite(a).all():
            return _too_large(path, weights) if start else None
        z, overflowed = _call(activation, a)
        if not np.isfinite(z).all():
            if overflowed:
                return _too_large(path, weights) if start else None
            return RunError(
                f"{path}.activation: activation '{activation.name}' returned nan or inf "
                f"for finite input (from {a.min():.4g} to {a.max():.4g}); fix the part"
            )
    loss, overflowed = _call(network.loss_function, z, t)
    if overflowed or np.isfinite(loss).all():
        return None
    shown = loss.item() if loss.size == 1 else "nan or inf"
    last = network.layers[-1].activation
    named = f" '{last.name}'" if last is not None else ""
    return RunError(
        f"loss: loss '{network.loss_function.name}' returned {shown} for finite predictions "
        f"(from {z.min():.4g} to {z.max():.4g}); check that the output layer's activation"
        f"{named} suits the loss, or fix the loss part"
    )


def _call(part: Callable[..., Any], *inputs: Any) -> tuple[np.ndarray, bool]:
    """The part's result, and whether computing it overflowed."""
    try:
        with np.errstate(over="raise", divide="ignore", invalid="ignore", under="ignore"):
            return np.asarray(part(*inputs)), False
    except FloatingPointError:
        with np.errstate(all="ignore"):
            return np.asarray(part(*inputs)), True


def _too_large(path: str, weights: np.ndarray) -> UsageError:
    largest = float(np.max(np.abs(weights))) if weights.size else 0.0
    return UsageError(
        f"{path}.init: the starting weights (up to {largest:.4g} in size) make the layer's "
        "sums overflow to inf on the data; use a smaller init scale"
    )
