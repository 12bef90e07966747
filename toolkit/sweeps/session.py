"""A sweep session from start to end: the plan expanded and every trial validated, the
executor made, the folder started or reopened, the coordinator run. ``toolkit sweep`` and
``toolkit.sweep`` both run sweeps through here.

Everything that can refuse bad input does so before the folder is created or changed: the
trials' specs, the engine and its workers.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..base.errors import ToolkitNotice
from ..spec.yamlsource import read_spec_text
from .coordinator import Coordinator, Event, SessionResult
from .engines import make_executor
from .executor import TrialExecutor, WorkerProbe
from .fingerprint import admit_workers
from .folder import SweepFolder
from .plan import SweepPlan, expand
from .sweepfile import load_sweep, write_sweep
from .trial import Task, Trial
from .validate import check_trials
from .worker import run_trial

__all__ = [
    "Engine",
    "Options",
    "Prepared",
    "Setup",
    "in_flight",
    "make_task",
    "prepare_resume",
    "prepare_start",
    "run",
    "setup_of",
    "summarize_at_end",
]


@dataclass(frozen=True)
class Setup:
    """What every trial of a sweep shares, and its trials."""

    trials: list[Trial]
    spec_text: str
    """The base spec's text (a resume: the copy in the sweep folder)."""
    spec_source: str
    """The base spec's path, for messages and for files named relative to it."""
    overrides: tuple[str, ...]
    """The sweep's own ``set``, before each trial's overrides."""
    plugins: tuple[str, ...]


@dataclass(frozen=True)
class Engine:
    """Where the trials run: an executor part's name, its worker count, its settings."""

    name: str = "local"
    workers: int | None = None
    settings: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """How a session treats failures, and how it is stopped and watched."""

    retries: int = 0
    fail_fast: bool = False
    retry_failed: bool = False
    stop_requested: Callable[[], bool] = lambda: False
    on_event: Callable[[Event], None] = lambda event: None
    on_end: Callable[[Path], object] | None = None
    """Called with the sweep folder at the end of the session: by default
    :func:`summarize_at_end`."""


@dataclass
class Prepared:
    """A sweep ready to run: its folder (locked), its trials, its first executor."""

    folder: SweepFolder
    setup: Setup
    engine: Engine
    resumed: bool
    executor: TrialExecutor


def setup_of(plan: SweepPlan, spec_text: str | None = None) -> Setup:
    """The plan's trials, every one validated (SpecError, located, for any that is bad),
    with the spec's text (read from the plan's spec file unless given)."""
    trials = expand(plan)
    text = read_spec_text(plan.spec) if spec_text is None else spec_text
    check_trials(plan, trials, text)
    return Setup(trials, text, str(plan.spec), plan.overrides, plan.plugins)


def prepare_start(
    plan: SweepPlan, setup: Setup, out: str | os.PathLike[str], engine: Engine
) -> Prepared:
    """Make the executor, then create the sweep folder ``out`` for a first start."""
    executor = open_executor(engine, setup.plugins)
    folder = SweepFolder(out)
    try:
        folder.start(
            setup.trials,
            spec_text=setup.spec_text,
            write_sweep=lambda path: write_sweep(plan, path),
            shared=setup.overrides,
            plugins=setup.plugins,
        )
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    return Prepared(folder, setup, engine, False, executor)


def prepare_resume(out: str | os.PathLike[str], engine: Engine) -> Prepared:
    """Reopen the sweep in ``out``: its sweep.yaml expanded again must give the trials it
    planned (else a UsageError naming the trial and key), its spec is the copy it made."""
    folder = SweepFolder(out)
    planned = folder.reopen()
    try:
        plan = load_sweep(folder.path / folder.SWEEP, need_spec=False)  # its copy is used
        setup = setup_of(plan, folder.spec_text())
        folder.check_unchanged(planned, setup.trials, setup.overrides, setup.plugins)
        executor = open_executor(engine, setup.plugins)
    except BaseException:
        folder.close()
        raise
    return Prepared(folder, setup, engine, True, executor)


def open_executor(engine: Engine, plugins: Sequence[str]) -> TrialExecutor:
    """The engine's executor, its workers checked (notes for the ones refused)."""
    executor = make_executor(engine.name, engine.workers, engine.settings, plugins)
    try:
        _notes(admit_workers(executor, plugins))
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    return executor


def run(prepared: Prepared, options: Options) -> SessionResult:
    """Run the session: the trials not yet done, the folder's lock let go at the end."""
    folder, setup, engine = prepared.folder, prepared.setup, prepared.engine
    workers = in_flight(engine, prepared.executor)
    on_end = options.on_end or summarize_at_end
    if on_end is summarize_at_end:  # load the drawing modules while the trials run
        threading.Thread(target=_import_drawing, name="summary imports", daemon=True).start()
    with folder.held():
        folder.log.append(
            {
                "event": "session",
                "resumed": prepared.resumed,
                "engine": engine.name,
                "workers": workers,
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        )
        coordinator = Coordinator(
            folder,
            setup.trials,
            make_task=lambda trial: make_task(folder, setup, trial),
            make_executor=lambda: open_executor(engine, setup.plugins),
            run_trial=run_trial,
            workers=workers,
            retries=options.retries,
            fail_fast=options.fail_fast,
            retry_failed=options.retry_failed,
            stop_requested=options.stop_requested,
            on_event=options.on_event,
            on_end=on_end,
            executor=prepared.executor,
        )
        return coordinator.run()


def summarize_at_end(folder: Path) -> list[Path]:
    """A session's default end: summary.csv, and summary.png with the plot extra (the
    summary module is imported here, so that loading the sweep command loads no drawing)."""
    from .summary import write_summary

    return write_summary(folder)


def _import_drawing() -> None:
    from .summary import import_drawing

    import_drawing()


def in_flight(engine: Engine, executor: TrialExecutor) -> int:
    """How many trials to keep submitted: ``--workers``, else as many as the executor has
    workers (a cluster's are counted), else one per core here."""
    if engine.workers is not None:
        return engine.workers
    count = getattr(executor, "workers", None)
    if isinstance(count, int) and count > 0:
        return count
    if isinstance(executor, WorkerProbe):
        return max(1, len(executor.on_each_worker(_alive)))
    return os.cpu_count() or 1


def _alive() -> bool:
    """Run on each worker to count them."""
    return True


def make_task(folder: SweepFolder, setup: Setup, trial: Trial) -> Task:
    """The plain data a worker is given for ``trial``."""
    return Task(
        id=trial.id,
        spec_text=setup.spec_text,
        spec_source=setup.spec_source,
        overrides=[*setup.overrides, *trial.overrides],
        plugins=list(setup.plugins),
        folder=str(folder.run_folder(trial)),
        stop_file=str(folder.stop_file.absolute()),
    )


def _notes(notes: Sequence[str]) -> None:
    for note in notes:
        warnings.warn(note, ToolkitNotice, stacklevel=3)
