"""The hook specifications: one collect-all hook per kind of part, and the defaults hook.

Every hook takes no arguments and returns a mapping of part name to part. A part
is either a plain callable or a :class:`toolkit.Part` carrying the callable, an
optional derivative, its parameters and a one-line description. What the callable
receives and returns depends on its kind: the kind hooks are generated from the
descriptors in :mod:`toolkit.registry.kinds`, so a new kind needs no code here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pluggy

from .kinds import DEFAULT_KEYS, KINDS, Kind

__all__ = ["HOOK_NAMES", "PROJECT", "Hookspecs", "hookimpl", "hookspec", "namespace"]

PROJECT = "toolkit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

PartTable = Mapping[str, Any]


def _kind_hook(kind: Kind) -> Callable[[], PartTable]:
    """The hook specification collecting the parts of ``kind``."""

    def spec() -> PartTable:
        """Stands for every plugin's hook of this kind."""

    spec.__name__ = spec.__qualname__ = kind.hook
    spec.__doc__ = f"{kind.plural.capitalize().replace('_', ' ')}: ``{kind.signature}``."
    return hookspec(spec)


@hookspec
def toolkit_defaults() -> Mapping[str, str]:
    """Default parts for spec keys a spec leaves out: ``{key: part name}``."""


toolkit_defaults.__doc__ = (
    "Default parts for spec keys a spec leaves out: ``{key: part name}``.\n\n"
    f"Keys: {', '.join(DEFAULT_KEYS)}. The core names no part itself; the standard "
    "plugins give these."
)


def namespace(kinds: Iterable[Kind]) -> type:
    """A class holding the hook specification of each of ``kinds`` and ``toolkit_defaults``,
    for ``PluginManager.add_hookspecs``."""
    hooks = {kind.hook: _kind_hook(kind) for kind in kinds}
    doc = "The hooks a plugin may implement, as pluggy's hook specifications."
    return type("Hookspecs", (), {"__doc__": doc, "toolkit_defaults": toolkit_defaults, **hooks})


Hookspecs = namespace(KINDS)
"""The namespace the plugin manager takes the hook specifications from."""

HOOK_NAMES: tuple[str, ...] = tuple(
    sorted(name for name in vars(Hookspecs) if name.startswith(f"{PROJECT}_"))
)
"""Every hook's name, sorted."""
