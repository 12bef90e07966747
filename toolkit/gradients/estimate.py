"""A network's gradient: its estimator called on an ``Objective``, the answer checked.

``Estimate`` is the gradient source ``toolkit.build`` gives a network: ``network.gradient``
calls it. An estimator given by name is looked up with ``lookup``, by default in the
network's registry (the spec's), as a spec names one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..base.errors import RunError
from ..model.network import Network
from ..registry.parts import BoundPart
from ..spec.resolver import bind_part
from .objective import Objective

__all__ = ["Estimate", "Lookup"]

Lookup = Callable[[str | Mapping[str, Any]], BoundPart]
"""An estimator by name, or by ``{"name": ..., **settings}``, bound to its settings."""


class Estimate:
    """Gradients by a network's estimator, or by another one looked up with ``lookup``
    (by default in ``network.registry``)."""

    def __init__(self, lookup: Lookup | None = None) -> None:
        self.lookup = lookup

    def gradient(
        self,
        network: Network,
        x: np.ndarray,
        t: np.ndarray,
        estimator: str | Mapping[str, Any] | None,
    ) -> dict[str, np.ndarray]:
        """The loss gradient for each parameter of ``network`` on the batch, shaped like it."""
        bound = network.estimator if estimator is None else self._estimator(network, estimator)
        for key, value in network.params.items():
            if np.asarray(value).dtype.kind != "f":
                raise RunError(
                    f"params['{key}'] holds {np.asarray(value).dtype} values; parameters must be "
                    f"floating-point arrays (network.params['{key}'] = value.astype(float))"
                )
        x, t = _as_batch(x, t)
        grads = bound(Objective(network, x, t, network.rng))
        return {key: _checked(network, bound, grads, key) for key in network.params}

    def _estimator(self, network: Network, ref: str | Mapping[str, Any]) -> BoundPart:
        if self.lookup is not None:
            return self.lookup(ref)
        if network.registry is None:
            raise RunError("this network has no registry to look an estimator up in")
        return bind_part(network.registry, "gradient_estimator", ref, ("estimator",))


def _checked(network: Network, bound: BoundPart, grads: Any, key: str) -> np.ndarray:
    """The estimator's gradient for ``key``, which must be shaped like the parameter."""
    grad = np.asarray(grads[key]) if isinstance(grads, Mapping) and key in grads else None
    if grad is None or grad.shape != network.params[key].shape or grad.dtype.kind == "c":
        got = "nothing" if grad is None else f"shape {grad.shape}"
        if grad is not None and grad.dtype.kind == "c":
            got = f"complex values ({grad.dtype})"
        raise RunError(
            f"gradient: estimator '{bound.name}' returned {got} for {key}, expected real "
            f"numbers of shape {network.params[key].shape}"
        )
    return grad


def _as_batch(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A single sample (1-D x) as a batch of one, its target as one row or one index."""
    x, t = np.asarray(x), np.asarray(t)
    if x.ndim != 1:
        return x, t
    return x[None], (t.reshape(1, -1) if t.size > 1 else t.reshape(1))
