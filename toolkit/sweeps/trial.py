"""One trial of a sweep, and the plain data that goes to a worker and comes back.

A worker receives a :class:`Task` and returns a :class:`Outcome`: dictionaries of text,
numbers and lists only, so that any executor can carry them (a process pool pickles them,
a cluster sends them over the network) and no toolkit object crosses a process boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

__all__ = ["Outcome", "Status", "Task", "Trial", "final_metrics"]

Status = Literal["done", "failed", "stopped"]
"""How a trial's attempt ended: trained to the end; refused or failed during the run;
stopped by a request, with a checkpoint to continue from."""


@dataclass(frozen=True)
class Trial:
    """One run of a sweep: the swept values it sets and the seed it runs with."""

    index: int
    """Its place in the expansion (grid order, then random trials, then seeds), from 0."""
    config: int
    """Its configuration's place: the trials that differ only in their seed share it."""
    values: tuple[tuple[str, Any], ...]
    """Each swept key (dotted, as ``--set`` writes it) and its value, in the sweep's order."""
    seed: int | None
    """The seed it sets, or None to keep the spec's own."""
    id: str
    """Stable across expansions of the same sweep: derived from its values and seed."""
    name: str
    """Its run folder's name under ``DIR/runs/``: readable, unique within the sweep."""
    overrides: tuple[str, ...]
    """``KEY=VALUE`` overrides that make it, after the sweep's own ``set``."""


class Task(TypedDict):
    """What a worker is given to run one trial: plain data only."""

    id: str
    spec_text: str
    """The sweep's spec, as YAML text (the worker resolves it again)."""
    spec_source: str
    """The spec file's path, for messages and for files named relative to it."""
    overrides: list[str]
    """The sweep's ``set`` and then the trial's own, as ``KEY=VALUE`` strings."""
    plugins: list[str]
    """Plugin modules to import and register (``-p``), besides the installed ones."""
    folder: str
    """The trial's run folder (absolute): created, continued from its checkpoint, or
    restarted if it holds a run that started and wrote no checkpoint."""
    stop_file: str
    """While this file exists, the trial stops after the iteration in progress, with a
    checkpoint there."""


class Outcome(TypedDict):
    """What a worker gives back for one trial: plain data only."""

    id: str
    status: Status
    exit: int
    """The exit code ``toolkit train`` would give: 0 done, 2 bad input, 1 a run failure,
    130 stopped."""
    error: str | None
    """The one-line error of a failed trial."""
    seconds: float
    """Wall-clock seconds of this attempt in the worker."""
    iteration: int
    """The iteration it reached."""
    metrics: dict[str, float]
    """Its last logged record's values (empty if it logged none)."""


def final_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """A trial's final metrics: the numbers of its last logged record, without where
    (``iteration``) and when (``seconds``) it was logged."""
    return {
        key: float(value)
        for key, value in record.items()
        if key not in ("iteration", "seconds")
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    }
