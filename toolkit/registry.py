"""One table of parts per kind, merged from every plugin's hooks, with provenance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pluggy

from .errors import PluginError
from .kinds import KINDS, Kind, kind_named
from .parts import Part, as_part
from .suggest import did_you_mean

__all__ = ["Entry", "Registry", "UnknownPart"]


@dataclass(frozen=True)
class Entry:
    """One registered part and who provides it."""

    kind: str
    name: str
    part: Part
    plugin: str
    distribution: str | None = None
    version: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def provider(self) -> str:
        """The plugin, and its distribution where it came from one."""
        if self.distribution is None:
            return f"{self.plugin} (local module)"
        return f"{self.plugin} ({self.distribution} {self.version})"


class UnknownPart(LookupError):
    """A name that resolves to no part, or to more than one."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Registry:
    """Every registered part, by kind and name; several providers of one name all stay."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._entries: dict[str, dict[str, list[Entry]]] = {kind.name: {} for kind in KINDS}
        for entry in entries:
            self._entries[entry.kind].setdefault(entry.name, []).append(entry)

    @classmethod
    def from_manager(cls, manager: pluggy.PluginManager) -> Registry:
        """Call every plugin's hooks one by one, remembering which plugin gave what."""
        distributions: dict[str, tuple[str, str]] = getattr(manager, "distributions", {})
        entries: list[Entry] = []
        for kind in KINDS:
            for impl in getattr(manager.hook, kind.hook).get_hookimpls():
                dist, version = distributions.get(impl.plugin_name, (None, None))
                entries.extend(
                    Entry(
                        kind=kind.name,
                        name=name,
                        part=part,
                        plugin=impl.plugin_name,
                        distribution=dist,
                        version=version,
                    )
                    for name, part in _table(impl, kind).items()
                )
        return cls(entries)

    def entries(self, kind: str | None = None) -> list[Entry]:
        """All entries (of one kind), sorted by kind, name and plugin."""
        kinds = [kind] if kind else [k.name for k in KINDS]
        return [
            entry
            for k in kinds
            for name in sorted(self._entries[k])
            for entry in sorted(self._entries[k][name], key=lambda e: e.plugin)
        ]

    def names(self, kind: str) -> list[str]:
        """The names registered for ``kind``, sorted."""
        return sorted(self._entries[kind])

    def is_ambiguous(self, kind: str, name: str) -> bool:
        return len(self._entries[kind].get(name, [])) > 1

    def lookup(self, kind: str, name: str) -> Entry:
        """The entry for ``name`` (or ``plugin:name``); raises UnknownPart with a fix."""
        label = kind.replace("_", " ")
        table = self._entries[kind]
        plugin, _, bare = name.rpartition(":")
        candidates = table.get(bare, [])
        if plugin:
            candidates = [entry for entry in candidates if entry.plugin == plugin]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            qualified = [e.qualified_name for entries in table.values() for e in entries]
            hint = did_you_mean(name, [*table, *qualified] if plugin else table)
            raise UnknownPart(
                f"unknown {label} '{name}'",
                hint + "available: " + (", ".join(sorted(table)) or "none"),
            )
        providers = ", ".join(entry.provider for entry in candidates)
        choices = " or ".join(f"'{entry.qualified_name}'" for entry in candidates)
        raise UnknownPart(
            f"{label} '{name}' is provided by {len(candidates)} plugins: {providers}",
            f"name one of them: {choices}",
        )


def _table(impl: pluggy.HookImpl, kind: Kind) -> dict[str, Part]:
    """Call one hook implementation and check that it returned names and usable parts."""
    where = f"plugin '{impl.plugin_name}', hook {kind.hook}"
    try:
        table = impl.function()
    except Exception as error:
        raise PluginError(f"{where} raised {type(error).__name__}: {error}") from error
    if not isinstance(table, Mapping):
        raise PluginError(
            f"{where} returned {type(table).__name__}; return a dict of name -> {kind.name}"
        )
    parts: dict[str, Part] = {}
    for name, value in table.items():
        if not isinstance(name, str) or not name or ":" in name:
            raise PluginError(f"{where}: part name {name!r} must be a non-empty string without ':'")
        try:
            parts[name] = as_part(value, kind_named(kind.name))
        except TypeError as error:
            raise PluginError(f"{where}: {kind.name} '{name}': {error}") from error
    return parts
