"""The registered parts as records: the plugin listing, its JSON form, conformance runs."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any

from ..base.columns import Layout, Step, fit_columns, table
from ..base.wording import did_you_mean, one_line
from ..registry.kinds import KINDS, kind_named
from ..registry.parts import REQUIRED
from ..registry.registry import Entry, Registry, UnknownPart
from ..testing import Check, conformance

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


HEADER = ("  name", "parameters", "qualified name", "distribution", "defined at", "description")
NAME, PARAMETERS, QUALIFIED, DISTRIBUTION, DEFINED_AT, DESCRIPTION = range(len(HEADER))
FIT = (
    Step(DEFINED_AT),
    Step(DISTRIBUTION),
    Step(QUALIFIED),
    Step(DESCRIPTION, shortest=20),
    Step(PARAMETERS, shortest=12),
)
"""What gives way, first to last, when a kind's table is wider than the terminal: where
a part is defined, its distribution, its qualified name (kept where two plugins give
one name), its description's length, its parameters' length. Names are never cut."""


def describe_parts(registry: Registry, width: int | None = None) -> list[str]:
    """Every part by kind: name, parameters, qualified name, distribution, source, summary.

    With ``width``, each kind's table leaves out or shortens columns (``FIT``) to fit
    that many characters, and a last line says what was left out.
    """
    lines: list[str] = []
    layouts: list[Layout] = []
    for kind in KINDS:
        entries = registry.entries(kind.name)
        rows = [list(HEADER), *(_row(registry, entry) for entry in entries)]
        conflict = any(registry.is_ambiguous(kind.name, entry.name) for entry in entries)
        plan = [step for step in FIT if not (conflict and step.column == QUALIFIED)]
        layout = fit_columns(rows, width, plan) if width else Layout(tuple(range(len(HEADER))))
        layouts.append(layout)
        lines.append(f"{kind.plural} ({len(entries)})")
        lines += [*table([layout.apply(row) for row in rows]), ""] if entries else ["  (none)", ""]
    notes = []
    if any(registry.is_ambiguous(e.kind, e.name) for e in registry.entries()):
        notes.append("[conflict]: more than one plugin gives this name; name one as 'plugin:name'")
    notes += [f"skipped: {failure}" for failure in registry.failures]
    if width and any(layout.cut for layout in layouts):
        notes.append(_fitted(layouts, width))
    for note in notes:
        lines += textwrap.wrap(note, width, subsequent_indent="  ") if width else [note]
    return lines[:-1] if lines and lines[-1] == "" else lines


def _row(registry: Registry, entry: Entry) -> list[str]:
    parameters = (entry.part.params or {}).items()
    cells = [
        f"  {entry.name}{_marks(registry, entry)}",
        ", ".join(f"{k}={_json_value(v)!r}" for k, v in parameters) or "-",
        entry.qualified_name,
        f"{entry.distribution} {entry.version}" if entry.distribution else "local module",
        entry.defined_at,
        entry.part.description,
    ]
    return [one_line(cell) for cell in cells]  # a name with a line break stays one row


def _fitted(layouts: list[Layout], width: int) -> str:
    """``fitted to 100 columns (left out: defined at; shortened: description); ...``."""
    dropped = sorted({i for layout in layouts for i in layout.dropped})
    shortened = sorted({i for layout in layouts for i in layout.caps})
    cut = []
    if dropped:
        cut.append("left out: " + ", ".join(HEADER[i].strip() for i in dropped))
    if shortened:
        cut.append("shortened: " + ", ".join(HEADER[i].strip() for i in shortened))
    return f"fitted to {width} columns ({'; '.join(cut)}); 'toolkit plugins --json' has it all"


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
        label = kind_named(entry.kind).label
        lines.append(one_line(f"{label} {entry.name} ({entry.qualified_name}): {status}"))
        lines += [f"  {check}" for check in checks]
    passed = len(results) - failed - skipped
    summary = f"checked {len(results)} parts: {passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped for a missing optional dependency"
    lines.append(summary)
    return lines
