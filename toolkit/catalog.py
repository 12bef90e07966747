"""The registered parts as records: the plugin listing, its JSON form, conformance runs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .kinds import KINDS
from .parts import REQUIRED
from .registry import Entry, Registry, UnknownPart
from .report import table
from .testing import Check, conformance
from .wording import did_you_mean

__all__ = ["catalog", "check_parts", "describe_checks", "describe_parts", "select"]


def catalog(registry: Registry) -> dict[str, Any]:
    """Every part with its provenance, and every skipped plugin, as JSON-ready data."""
    return {
        "parts": [_record(registry, entry) for entry in registry.entries()],
        "skipped_plugins": [
            {"plugin": f.plugin, "distribution": f.distribution, "error": f.error}
            for f in registry.failures
        ],
    }


def _record(registry: Registry, entry: Entry) -> dict[str, Any]:
    distribution = (
        {"name": entry.distribution, "version": entry.version} if entry.distribution else None
    )
    return {
        "kind": entry.kind,
        "name": entry.name,
        "qualified_name": entry.qualified_name,
        "plugin": entry.plugin,
        "distribution": distribution,
        "defined_at": entry.defined_at,
        "parameters": {key: _json_value(value) for key, value in (entry.part.params or {}).items()},
        "has_derivative": entry.part.derivative is not None,
        "description": entry.part.description,
        "replaces": entry.part.replaces,
        "conflict": registry.is_ambiguous(entry.kind, entry.name),
    }


def _json_value(value: Any) -> Any:
    if value is REQUIRED:
        return "required"
    return value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)


def _marks(registry: Registry, entry: Entry) -> str:
    marks = " [conflict]" if registry.is_ambiguous(entry.kind, entry.name) else ""
    return marks + (f" [replaces {entry.part.replaces}]" if entry.part.replaces else "")


def describe_parts(registry: Registry) -> list[str]:
    """Every part by kind: name, parameters, qualified name, distribution, source, summary."""
    lines: list[str] = []
    for kind in KINDS:
        entries = registry.entries(kind.name)
        lines.append(f"{kind.plural} ({len(entries)})")
        header = [
            "  name",
            "parameters",
            "qualified name",
            "distribution",
            "defined at",
            "description",
        ]
        rows = [
            [
                f"  {entry.name}{_marks(registry, entry)}",
                ", ".join(f"{k}={_json_value(v)!r}" for k, v in (entry.part.params or {}).items())
                or "-",
                entry.qualified_name,
                f"{entry.distribution} {entry.version}" if entry.distribution else "local module",
                entry.defined_at,
                entry.part.description,
            ]
            for entry in entries
        ]
        lines += [*table([header, *rows]), ""] if rows else ["  (none)", ""]
    if any(registry.is_ambiguous(e.kind, e.name) for e in registry.entries()):
        lines.append("[conflict]: more than one plugin gives this name; name one as 'plugin:name'")
    for failure in registry.failures:
        lines.append(f"skipped: {failure}")
    return lines[:-1] if lines and lines[-1] == "" else lines


def select(registry: Registry, names: Iterable[str]) -> list[Entry]:
    """The entries named (bare or ``plugin:name``, any kind); every entry when none are."""
    names = list(names)
    if not names:
        return registry.entries()
    chosen: list[Entry] = []
    for name in names:
        plugin, _, bare = name.rpartition(":")
        found = [e for e in registry.entries() if e.name == bare and plugin in ("", e.plugin)]
        if not found:
            known = sorted({e.name for e in registry.entries()})
            hint = did_you_mean(bare, known) + "parts: " + ", ".join(known)
            raise UnknownPart(f"unknown part '{name}'", hint)
        chosen += [entry for entry in found if entry not in chosen]
    return chosen


def check_parts(entries: Iterable[Entry]) -> list[tuple[Entry, list[Check]]]:
    """The conformance checks of each entry, with its default settings."""
    return [(entry, conformance(entry.kind, entry.part)) for entry in entries]


def describe_checks(results: list[tuple[Entry, list[Check]]]) -> list[str]:
    """Each part's checks, one line each, then a count of parts that passed and failed.

    A part skipped because an optional dependency is missing is neither: it is counted
    apart, naming what to install.
    """
    lines: list[str] = []
    failed = skipped = 0
    for entry, checks in results:
        bad = any(check.passed is False for check in checks)
        install = sorted({check.install for check in checks if check.install})
        failed += bad
        skipped += bool(install) and not bad
        status = "FAILED" if bad else "ok"
        if install and not bad:
            status = "skipped: install " + ", ".join(f"'{name}'" for name in install)
        label = entry.kind.replace("_", " ")
        lines.append(f"{label} {entry.name} ({entry.qualified_name}): {status}")
        lines += [f"  {check}" for check in checks]
    passed = len(results) - failed - skipped
    summary = f"checked {len(results)} parts: {passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped for a missing optional dependency"
    lines.append(summary)
    return lines
