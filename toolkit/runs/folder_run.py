"""A run trained into its folder: started, restarted, continued from its checkpoint, or
found done, with each log point and checkpoint written as the run goes.

``toolkit train`` trains into a folder with :func:`train_in_folder`; a sweep's worker
brings a trial's folder to its end, whatever state it was left in, with
:func:`run_in_folder`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..spec.load import Spec
from .build import Assembly
from .resume import Resumption, SpecLoader, finish, prepare_resume, reopen
from .rundir import RunDirectory
from .trainer import Record, TrainResult, train

__all__ = [
    "FolderRun",
    "TrialState",
    "last_record",
    "run_in_folder",
    "train_in_folder",
    "trial_state",
]

TrialState = Literal["new", "started", "checkpointed", "done"]
"""A run folder as a run finds it: none of a run's files; a run that started and wrote no
checkpoint; a checkpoint to continue from; the final parameters written."""


def trial_state(folder: str | os.PathLike[str]) -> TrialState:
    """What the run folder at ``folder`` holds (see :data:`TrialState`)."""
    out = RunDirectory(folder)
    if (out.path / RunDirectory.PARAMS).exists():
        return "done"
    if out.has_checkpoint:
        return "checkpointed"
    return "started" if out.holds_run else "new"


def train_in_folder(
    spec: Spec,
    out: RunDirectory | None,
    resumption: Resumption | None = None,
    *,
    on_start: Callable[[Assembly], None] | None = None,
    on_log: Callable[[Record], None] | None = None,
    on_iteration: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train ``spec`` writing the run's files into ``out`` (whose lock the caller holds;
    None: no folder), continuing ``resumption`` where given, and write its parameters at
    the end.

    The folder is written only once everything is assembled (a resumed run's checkpoint
    restored): a run refused before that leaves it as it was. ``on_start``, ``on_log`` and
    ``on_iteration`` are the trainer's (called before the folder is written, after each
    record is queued for metrics.jsonl); ``stop`` ends the run with a checkpoint there
    (KeyboardInterrupt, as :func:`~toolkit.runs.trainer.train` says).
    """

    def started(assembly: Assembly) -> None:
        if on_start:
            on_start(assembly)
        if out and not resumption:
            out.start(spec)
        elif out and resumption:
            reopen(out, resumption)

    def logged(record: Record) -> None:
        if out:
            out.append_metrics(record)
        if on_log:
            on_log(record)

    try:
        result = train(
            spec,
            on_start=started,
            on_log=logged,
            on_iteration=on_iteration,
            on_checkpoint=out.save_checkpoint if out else None,
            resume=resumption.checkpoint if resumption else None,
            stop=stop,
        )
    finally:
        if out:
            out.close()
    if out:
        out.save_params(result.network.params, result.network.state)
    return result


@dataclass(frozen=True)
class FolderRun:
    """How :func:`run_in_folder` found the folder, and its last logged record after."""

    found: TrialState
    last: Record | None


def run_in_folder(
    folder: str | os.PathLike[str],
    load_new: Callable[[], Spec],
    load_recorded: SpecLoader,
    *,
    on_iteration: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> FolderRun:
    """Bring the run in ``folder`` to its end, holding the folder's lock throughout.

    A new folder gets a run of ``load_new()``. A run that started and wrote no checkpoint
    (a worker killed early) has its run files removed, those only, and starts again. A
    checkpoint is continued with the exact resume, on the folder's own spec.yaml loaded
    by ``load_recorded``; a run whose checkpoint is at its end gets its parameters
    written. A done run is left as it is. No curves picture is drawn. ``stop``: as in
    :func:`train_in_folder` (KeyboardInterrupt once the checkpoint is written).
    """
    out = RunDirectory(folder)
    with out.locked(create=True):  # a second writer of the folder is refused
        found = trial_state(folder)
        if found == "started":
            _remove_run_files(out)
        if found in ("new", "started"):
            train_in_folder(load_new(), out, on_iteration=on_iteration, stop=stop)
        elif found == "checkpointed":
            resumption = prepare_resume(out, load_recorded)
            if resumption.finished:
                finish(out, resumption)
            else:
                train_in_folder(
                    resumption.spec, out, resumption, on_iteration=on_iteration, stop=stop
                )
        return FolderRun(found, last_record(out.path))


def _remove_run_files(out: RunDirectory) -> None:
    """Delete the files a run writes (and the temporary files a killed one left), no other;
    only while holding the folder's lock."""
    out.remove_temporary_files()
    for name in RunDirectory.NAMES:
        (out.path / name).unlink(missing_ok=True)


def last_record(folder: str | os.PathLike[str]) -> Record | None:
    """The last whole record of the run's metrics.jsonl (None: none logged)."""
    path = Path(folder) / RunDirectory.METRICS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut off by a kill
        if isinstance(record, dict):
            return record
    return None
