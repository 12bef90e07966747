"""The hook specifications: one collect-all hook per kind of part.

Every hook takes no arguments and returns a mapping of part name to part. A part
is either a plain callable or a :class:`toolkit.Part` carrying the callable, an
optional derivative, its parameters and a one-line description. What the callable
receives and returns depends on its kind; see :mod:`toolkit.kinds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "toolkit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

PartTable = Mapping[str, Any]


@hookspec
def toolkit_activations() -> PartTable:
    """Activations: ``f(x, **params) -> array`` of the shape of ``x``."""


@hookspec
def toolkit_losses() -> PartTable:
    """Losses: ``f(y, t, **params) -> float``, with ``t`` one-hot rows or class indices."""


@hookspec
def toolkit_initializers() -> PartTable:
    """Initializers: ``f(shape, rng, **params) -> array`` of that shape."""


@hookspec
def toolkit_gradient_estimators() -> PartTable:
    """Gradient estimators: ``f(objective, **params) -> {name: gradient}``."""


@hookspec
def toolkit_datasets() -> PartTable:
    """Datasets: ``f(rng, **params) -> Dataset`` or an ``(x, t)`` pair."""


@hookspec
def toolkit_defaults() -> Mapping[str, str]:
    """Default parts for spec keys a spec leaves out: ``{key: part name}``.

    Keys: ``loss``, ``gradient``, ``optimizer`` and, per layer, ``activation``, ``init``,
    ``bias_init``. The core names no part itself; the standard plugins give these.
    """


@hookspec
def toolkit_optimizers() -> PartTable:
    """Optimizers: ``f(**params) -> object`` with ``update(params, grads)``."""
