"""One table of parts per kind, merged from every plugin's hooks, with provenance.

Two plugins may give the same name: both stay, and a bare name that means more than
one part is refused (name one as ``plugin:name``), unless one of them declares that
it ``replaces`` the other.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pluggy

from ..base.errors import PluginError
from ..base.wording import did_you_mean, raised
from .kinds import DEFAULT_KEYS, KINDS, Kind, kind_named
from .manager import PluginFailure
from .parts import Part, as_part

__all__ = ["DEFAULT_KEYS", "Default", "Entry", "Registry", "UnknownPart"]


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

    @property
    def defined_at(self) -> str:
        """``file:line`` of the part's function, the file relative to its import root."""
        try:
            path = inspect.getsourcefile(self.part.fn) or ""
            line = inspect.getsourcelines(self.part.fn)[1]
        except (TypeError, OSError):
            return "-"
        return f"{_relative_to_import_root(path)}:{line}"


class UnknownPart(LookupError):
    """A name that resolves to no part, or to more than one."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Default:
    """A plugin's choice of the part a spec gets for ``key`` when it names none."""

    key: str
    name: str
    plugin: str


class Registry:
    """Every registered part, by kind and name; several providers of one name all stay."""

    def __init__(
        self,
        entries: Iterable[Entry],
        failures: Iterable[PluginFailure] = (),
        defaults: Iterable[Default] = (),
    ) -> None:
        self._entries: dict[str, dict[str, list[Entry]]] = {kind.name: {} for kind in KINDS}
        self.failures = list(failures)
        self.defaults = list(defaults)
        for entry in entries:
            self._entries[entry.kind].setdefault(entry.name, []).append(entry)

    @classmethod
    def from_manager(cls, manager: pluggy.PluginManager) -> Registry:
        """Call every plugin's hooks, remembering which plugin gave what.

        A plugin whose hook fails or returns something unusable contributes nothing:
        it is added to the manager's failures, or raises PluginError if the user asked
        for it by name.
        """
        failures: list[PluginFailure] = getattr(manager, "failures", [])
        entries: list[Entry] = []
        defaults: list[Default] = []
        for name, plugin in manager.list_name_plugin():
            if plugin is None:
                continue
            try:
                given = (
                    _plugin_entries(manager, name, plugin),
                    _plugin_defaults(manager, name, plugin),
                )
            except PluginError as error:
                if name in getattr(manager, "requested", ()):
                    raise
                dist = getattr(manager, "distributions", {}).get(name)
                failure = PluginFailure(name, " ".join(dist) if dist else None, str(error))
                if failure not in failures:
                    failures.append(failure)  # kept on the manager, which skips the plugin
                continue
            entries += given[0]
            defaults += given[1]
        return cls(entries, failures, defaults)

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
        """Whether the bare ``name`` means more than one part."""
        return len(_winners(self._entries[kind].get(name, []))) > 1

    def default(self, key: str) -> str | None:
        """The part name plugins give as the default for spec key ``key``, if any."""
        names = sorted({d.name for d in self.defaults if d.key == key})
        if len(names) > 1:
            who = ", ".join(f"'{d.name}' ({d.plugin})" for d in self.defaults if d.key == key)
            raise UnknownPart(
                f"plugins disagree on the default {key}: {who}", f"name the {key} in the spec"
            )
        if not names:
            raise UnknownPart(
                f"missing {key}: no plugin gives a default", f"name the {key} in the spec"
            )
        return names[0]

    def lookup(self, kind: str, name: str) -> Entry:
        """The entry for ``name`` (or ``plugin:name``); raises UnknownPart with a fix."""
        label = kind_named(kind).label
        table = self._entries[kind]
        plugin, _, bare = name.rpartition(":")
        candidates = table.get(bare, [])
        if plugin:
            candidates = [entry for entry in candidates if entry.plugin == plugin]
        else:
            candidates = _winners(candidates)
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            qualified = [e.qualified_name for entries in table.values() for e in entries]
            hint = did_you_mean(name, [*table, *qualified] if plugin else table)
            hint += "available: " + (", ".join(sorted(table)) or "none")
            if self.failures:
                failed = ", ".join(failure.provider for failure in self.failures)
                hint += f"; it may come from a plugin that failed to load: {failed}"
            raise UnknownPart(f"unknown {label} '{name}'", hint)
        providers = ", ".join(entry.provider for entry in candidates)
        choices = " or ".join(f"'{entry.qualified_name}'" for entry in candidates)
        raise UnknownPart(
            f"{label} '{name}' is provided by {len(candidates)} plugins: {providers}",
            f"name one of them: {choices}",
        )


def _winners(candidates: list[Entry]) -> list[Entry]:
    """The candidates no other candidate declares it replaces."""
    replaced = {entry.part.replaces for entry in candidates if entry.part.replaces}
    return [entry for entry in candidates if entry.qualified_name not in replaced]


def _plugin_entries(manager: pluggy.PluginManager, name: str, plugin: object) -> list[Entry]:
    """Every part one plugin gives, through all of its hooks; PluginError if any is unusable."""
    dist, version = getattr(manager, "distributions", {}).get(name, (None, None))
    entries = []
    for kind in KINDS:
        for impl in getattr(manager.hook, kind.hook).get_hookimpls():
            if impl.plugin is not plugin:
                continue
            entries += [
                Entry(kind.name, part_name, part, name, dist, version)
                for part_name, part in _table(impl, kind).items()
            ]
    return entries


def _plugin_defaults(manager: pluggy.PluginManager, name: str, plugin: object) -> list[Default]:
    """The defaults one plugin names; PluginError if they are not ``{known key: name}``."""
    defaults = []
    for impl in manager.hook.toolkit_defaults.get_hookimpls():
        if impl.plugin is not plugin:
            continue
        where = f"plugin '{name}', hook toolkit_defaults"
        try:
            given = impl.function()
        except (Exception, SystemExit) as error:  # a hook that exits is the plugin's failure
            raise PluginError(f"{where} raised {raised(error)}") from error
        if not isinstance(given, Mapping):
            raise PluginError(f"{where} returned {type(given).__name__}; return {{key: part name}}")
        for key, part in given.items():
            if key not in DEFAULT_KEYS or not isinstance(part, str):
                raise PluginError(
                    f"{where}: {key!r}: {part!r} is not a default; keys: {', '.join(DEFAULT_KEYS)}"
                )
            defaults.append(Default(key, part, name))
    return defaults


def _table(impl: pluggy.HookImpl, kind: Kind) -> dict[str, Part]:
    """Call one hook implementation and check that it returned names and usable parts."""
    where = f"plugin '{impl.plugin_name}', hook {kind.hook}"
    try:
        table = impl.function()
    except (Exception, SystemExit) as error:  # a hook that exits is the plugin's failure
        raise PluginError(f"{where} raised {raised(error)}") from error
    if not isinstance(table, Mapping):
        raise PluginError(
            f"{where} returned {type(table).__name__}; return a dict of name -> {kind.name}"
        )
    parts: dict[str, Part] = {}
    for name, value in table.items():
        if not isinstance(name, str) or not name or ":" in name:
            raise PluginError(f"{where}: part name {name!r} must be a non-empty text without ':'")
        try:
            parts[name] = as_part(value, kind)
        except TypeError as error:
            raise PluginError(f"{where}: {kind.name} '{name}': {error}") from error
        replaces = parts[name].replaces
        if replaces is not None and replaces.rpartition(":")[2] != name:
            raise PluginError(
                f"{where}: {kind.name} '{name}' replaces {replaces!r}; "
                f"write replaces='plugin:{name}', naming a part of the same name"
            )
    return parts


def _relative_to_import_root(path: str) -> str:
    """``.../site-packages/pkg/mod.py`` -> ``pkg/mod.py``; other paths unchanged."""
    roots = sorted((os.path.abspath(p) for p in sys.path if p), key=len, reverse=True)
    full = os.path.abspath(path)
    for root in roots:
        if full.startswith(root + os.sep):
            return os.path.relpath(full, root)
    return path
