"""`toolkit plugins` fits the terminal: columns left out, then cells shortened, names whole."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.helpers import write
from toolkit.base.columns import Step, fit_columns, shorten
from toolkit.cli import main
from toolkit.cli.catalog import describe_parts
from toolkit.registry.kinds import KINDS
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry

WIDTHS = [80, 100, 200]
PLURALS = {kind.name: kind.plural for kind in KINDS}


def standard() -> Registry:
    return Registry.from_manager(get_plugin_manager())


def rows_by_kind(lines: list[str]) -> dict[str, list[str]]:
    """The listing's table lines (header first) under each ``kind (N)`` heading."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in lines:
        heading = re.fullmatch(r"(\w+) \(\d+\)", line)
        if heading:
            current = found.setdefault(heading.group(1), [])
        elif line.startswith("  ") and not line.startswith("   "):
            current.append(line)
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_every_line_fits_and_every_name_is_whole(width: int) -> None:
    """At 80, 100 and 200 columns no line is wider, and every part's name starts a row."""
    registry = standard()
    lines = describe_parts(registry, width)
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    tables = rows_by_kind(lines)
    for entry in registry.entries():
        firsts = {row.split()[0] for row in tables[PLURALS[entry.kind]][1:]}
        assert entry.name in firsts, (entry.kind, entry.name)


@pytest.mark.parametrize("width", WIDTHS)
def test_what_is_cut_is_said_and_shortened_cells_are_prefixes(width: int) -> None:
    """A cut listing ends saying so and pointing at --json; a cell cut short ends in '...'
    and starts as the full description does."""
    registry = standard()
    full = "\n".join(describe_parts(registry))
    lines = describe_parts(registry, width)
    assert lines[-1].endswith("'toolkit plugins --json' has it all") or (
        " ".join(lines[-2:]).endswith("'toolkit plugins --json' has it all")
    )
    assert any(line.startswith(f"fitted to {width} columns (") for line in lines)
    descriptions = {entry.part.description for entry in registry.entries()}
    for row in lines:
        if row.endswith("...") and not row.startswith("fitted"):
            start = row.rsplit("  ", 1)[-1][: -len("...")]
            assert any(text.startswith(start) for text in descriptions) or start in full, row


def test_a_wide_terminal_gets_the_whole_table() -> None:
    """Where everything fits, nothing is left out and nothing is said about fitting."""
    registry = standard()
    full = describe_parts(registry)
    assert describe_parts(registry, max(map(len, full))) == full
    assert "defined at" in full[1] and not any(line.startswith("fitted") for line in full)


def test_provenance_gives_way_first() -> None:
    """Just too narrow for the whole table: only 'defined at' (file:line) is left out."""
    registry = standard()
    full = describe_parts(registry)
    lines = describe_parts(registry, max(map(len, full)) - 1)
    assert lines[-1].startswith("fitted to") or lines[-2].startswith("fitted to")
    assert "left out: defined at)" in " ".join(lines[-2:])
    headers = [line for line in lines if line.startswith("  name")]
    assert all("distribution" in header and "description" in header for header in headers)
    assert any("defined at" not in header for header in headers)  # the widest kind's


def test_a_conflicting_name_keeps_its_qualified_names(tmp_path: Path, monkeypatch) -> None:
    """Two plugins give 'relu': at 80 columns the activations still show 'plugin:name'."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "tp_listing_dupe.py", "def toolkit_activations():\n    return {'relu': abs}\n")
    registry = Registry.from_manager(get_plugin_manager(["tp_listing_dupe"]))
    lines = describe_parts(registry, 80)
    activations = rows_by_kind(lines)["activations"]
    assert "tp_listing_dupe:relu" in "\n".join(activations)
    assert "toolkit_plugins.activations:relu" in "\n".join(activations)
    assert "qualified name" not in rows_by_kind(lines)["losses"][0]  # no conflict there


def test_the_command_follows_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """COLUMNS sets the width; output that is not a terminal, without COLUMNS, gets 100."""

    def no_terminal(*_: object) -> os.terminal_size:
        raise OSError("not a terminal")

    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    for columns, width in [("80", 80), ("200", 200), (None, 100)]:
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        assert main(["plugins"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert all(len(line) <= width for line in lines), (width, max(lines, key=len))
        assert any(line.startswith(f"fitted to {width} columns") for line in lines)


def test_fit_columns_follows_the_plan_in_order() -> None:
    """Columns drop in the plan's order, then cells shorten; a column not named stays whole."""
    rows = [["name-is-long", "bb", "cccccccccc", "dddddddddddddddddddd"]]
    plan = [Step(2), Step(3, shortest=5), Step(1)]
    assert fit_columns(rows, 100, plan).kept == (0, 1, 2, 3)
    assert fit_columns(rows, 40, plan).dropped == (2,)  # 12 + 2 + 2 + 2 + 20 = 38
    layout = fit_columns(rows, 30, plan)
    assert layout.dropped == (2,) and layout.caps == {3: 12}  # 30 - 12 - 2 - 2 - 2
    assert layout.apply(rows[0]) == ["name-is-long", "bb", "ddddddddd..."]
    layout = fit_columns(rows, 10, plan)  # cannot fit: everything gives way, the name stays
    assert layout.kept == (0, 3) and layout.apply(rows[0]) == ["name-is-long", "dd..."]


def test_shorten_keeps_short_text_and_marks_a_cut() -> None:
    """shorten: unchanged when it fits; otherwise at most the width, ending in '...'."""
    assert shorten("abc", 3) == "abc"
    assert shorten("abcdef", 5) == "ab..."
    assert shorten("ab  cdef", 6) == "ab..."
