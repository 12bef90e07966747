"""Fitting a table to a width: the least important columns left out, then cells shortened.

A plan, a sequence of :class:`Step`, lists what may give way, least important first: a
column dropped, or a column's cells shortened (with ``...``) down to a minimum. Steps
are taken in order only until the table fits; a column the plan does not name (a part's
name, say) is never cut, so a table can still overflow a very narrow width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .wording import one_line

__all__ = ["ELLIPSIS", "GAP", "Layout", "Step", "fit_columns", "shorten", "table"]

ELLIPSIS = "..."
GAP = 2
"""Spaces between columns, as :func:`table` puts them."""


@dataclass(frozen=True)
class Step:
    """Drop ``column``, or (with ``shortest``) shorten its cells down to that many characters."""

    column: int
    shortest: int | None = None


@dataclass(frozen=True)
class Layout:
    """The columns kept, in order, and the widest each may be (absent: as wide as it is)."""

    kept: tuple[int, ...]
    caps: dict[int, int] = field(default_factory=dict)
    dropped: tuple[int, ...] = ()

    @property
    def cut(self) -> bool:
        """Whether anything was left out or shortened."""
        return bool(self.dropped or self.caps)

    def apply(self, row: Sequence[str]) -> list[str]:
        """The row's kept cells, each shortened to its column's cap."""
        return [shorten(row[i], self.caps[i]) if i in self.caps else row[i] for i in self.kept]


def shorten(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` characters, else its start and ``...``."""
    if len(text) <= width:
        return text
    return text[: max(width - len(ELLIPSIS), 0)].rstrip() + ELLIPSIS


def fit_columns(rows: Sequence[Sequence[str]], width: int, plan: Sequence[Step]) -> Layout:
    """The layout that fits every row in ``width`` taking the fewest of ``plan``'s steps."""
    count = max((len(row) for row in rows), default=0)
    natural = [max((len(row[i]) for row in rows if i < len(row)), default=0) for i in range(count)]
    kept = list(range(count))
    shrinking: list[Step] = []
    for step in [None, *plan]:
        if step is not None and step.shortest is None:
            kept.remove(step.column)
        elif step is not None:
            shrinking.append(step)
        caps = _caps(natural, kept, shrinking, width)
        if caps is not None:
            break
    else:  # even the last step leaves it too wide: everything that may shrink, at its least
        caps = {s.column: s.shortest for s in shrinking if s.shortest is not None}
    dropped = tuple(i for i in range(count) if i not in kept)
    caps = {i: cap for i, cap in caps.items() if cap < natural[i]}
    return Layout(tuple(kept), caps, dropped)


def _caps(
    natural: list[int], kept: list[int], shrinking: list[Step], width: int
) -> dict[int, int] | None:
    """Caps for the shrinking columns that fit ``width``, or None if none do. The column
    named last in the plan (the more important) keeps the most of what is left."""
    columns = {step.column: min(natural[step.column], step.shortest or 0) for step in shrinking}
    fixed = sum(natural[i] for i in kept if i not in columns) + GAP * max(len(kept) - 1, 0)
    left = width - fixed - sum(columns.values())
    if left < 0:
        return None
    for step in reversed(shrinking):
        grown = min(natural[step.column], columns[step.column] + left)
        left -= grown - columns[step.column]
        columns[step.column] = grown
    return columns


def table(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Left-aligned columns, two spaces apart; line breaks and control characters in a
    cell (a name a plugin or a spec gave) are escaped, so each row stays one line."""
    cells = [[one_line(str(cell)) for cell in row] for row in rows]
    widths = [
        max(len(row[i]) for row in cells if i < len(row)) for i in range(max(map(len, cells)))
    ]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells
    ]
