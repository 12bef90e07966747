"""One trial of a sweep, run where a worker runs it: from plain data to plain data.

:func:`run_trial` is what an executor runs. It resolves the spec again from its text (so
no toolkit object crosses a process boundary), brings the trial's run folder to its end
and says how that went; whatever the trial does wrong is a failed
:class:`~toolkit.sweeps.trial.Outcome`, never an exception.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

from ..base.errors import SpecError, ToolkitError
from ..base.wording import one_line, raised
from ..registry.manager import get_plugin_manager
from ..registry.parts import describe_exit
from ..runs.folder_run import FolderRun, last_record, run_in_folder
from ..spec.load import Spec, load_spec
from .trial import Outcome, Status, Task, final_metrics

__all__ = ["STOP_CHECK_SECONDS", "StopFile", "failure", "run_trial"]

STOP_CHECK_SECONDS = 0.2
"""The longest a trial runs on after its stop file appears, before it looks again."""

STOPPED = 130
"""The exit code of a trial stopped by a request, as of a command stopped by Ctrl-C."""


class StopFile:
    """Whether the stop file exists, looked at no more often than ``every`` seconds of
    wall time (a trial asks after every iteration)."""

    def __init__(self, path: str | os.PathLike[str], every: float = STOP_CHECK_SECONDS) -> None:
        self.path = Path(path)
        self.every = every
        self.requested = False
        self._checked = -math.inf

    def __call__(self) -> bool:
        if not self.requested:
            now = time.monotonic()
            if now - self._checked >= self.every:
                self._checked = now
                self.requested = self.path.exists()
        return self.requested


def run_trial(task: Task) -> Outcome:
    """Train ``task``'s spec (its text, with its overrides and plugin modules) into its
    folder, stopping with a checkpoint while its stop file exists.

    Every exception of the trial is a failed outcome with the exit code ``toolkit train``
    would give (2 for bad input, 1 for a failure during the run) and one line saying
    what went wrong; a stop request is a stopped outcome (exit 130), with a checkpoint
    where the trial had begun.
    """
    start = time.perf_counter()
    reached = [0]
    stop = StopFile(task["stop_file"])
    if stop():  # asked to stop before it began: its folder is left as it was
        return _outcome(task, start, "stopped", STOPPED, None, 0)
    try:
        run = _run(task, stop, reached)
    except KeyboardInterrupt:
        if not stop.requested:  # a real Ctrl-C in the process running it: not ours to keep
            raise
        return _outcome(task, start, "stopped", STOPPED, None, reached[0])
    except (Exception, SystemExit) as error:
        code, line = failure(error)
        return _outcome(task, start, "failed", code, line, reached[0])
    record = run.last or {}
    return _outcome(task, start, "done", 0, None, int(record.get("iteration", reached[0])))


def _run(task: Task, stop: StopFile, reached: list[int]) -> FolderRun:
    plugins = list(task["plugins"])

    def load_new() -> Spec:
        return _load(task["spec_source"], task["overrides"], plugins, task["spec_text"])

    def load_recorded(path: Path, overrides: Sequence[str]) -> Spec:
        return _load(path, overrides, plugins)

    def on_iteration(iteration: int) -> None:
        reached[0] = iteration

    return run_in_folder(
        task["folder"], load_new, load_recorded, on_iteration=on_iteration, stop=stop
    )


def _load(
    source: str | os.PathLike[str],
    overrides: Sequence[str],
    plugins: Sequence[str],
    text: str | None = None,
) -> Spec:
    """A spec resolved with a new plugin manager holding ``plugins`` (as ``-p`` gives)."""
    manager = get_plugin_manager(plugins)
    return load_spec(source, list(overrides), manager=manager, text=text)


def failure(error: BaseException) -> tuple[int, str]:
    """The exit code and the one line ``toolkit train`` would print for ``error``: 2 for a
    ToolkitError that is bad input, 1 for anything else."""
    if isinstance(error, SpecError):
        return error.exit_code, "; ".join(one_line(str(problem)) for problem in error.problems)
    if isinstance(error, ToolkitError):
        return error.exit_code, one_line(str(error))
    if isinstance(error, SystemExit):
        return 1, one_line(describe_exit(error))
    if isinstance(error, MemoryError):
        what = one_line(str(error)) or "a request for memory failed"
        return 1, f"out of memory ({what}); make the sizes smaller or free memory"
    return 1, one_line(raised(error))


def _outcome(
    task: Task, start: float, status: Status, code: int, error: str | None, iteration: int
) -> Outcome:
    metrics = final_metrics(last_record(task["folder"]) or {})
    return Outcome(
        id=task["id"],
        status=status,
        exit=code,
        error=error,
        seconds=time.perf_counter() - start,
        iteration=iteration,
        metrics=metrics,
    )
