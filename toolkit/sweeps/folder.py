"""A sweep's folder: its files, its lock, its stop file, its first start and its resume.

``DIR/sweep.yaml`` (the resolved sweep), ``DIR/spec.yaml`` (the base spec's text as read at
the first start), ``DIR/trials.jsonl`` (the trial log), ``DIR/runs/NAME/`` (one run folder
a trial), ``DIR/stop`` (while a stop is requested) and the lock, held by the coordinator
for its whole session so that a second one on the same folder is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..base.errors import RunError, UsageError
from ..base.lock import LOCK_NAME, FolderLock
from ..base.wording import describe_value
from ..runs.rundir import write_atomically
from .log import LOG_NAME, TrialLog, planned_record, planned_trials, read_log
from .trial import Trial

__all__ = ["SweepFolder"]


class SweepFolder:
    """The sweep folder at ``path``; ``start`` or ``reopen`` it, holding its lock, then
    ``close`` it (or use ``session``)."""

    SWEEP, SPEC, LOG, RUNS, STOP = "sweep.yaml", "spec.yaml", LOG_NAME, "runs", "stop"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.log = TrialLog(self.path)
        self._lock = FolderLock(self.path)
        self.recorded: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        """The sweep's own overrides and plugin modules, as its planned records hold them."""

    @property
    def is_sweep(self) -> bool:
        """Whether a sweep was started here (its log exists)."""
        return (self.path / self.LOG).is_file()

    @property
    def stop_file(self) -> Path:
        """While this file exists, trials stop after their iteration in progress."""
        return self.path / self.STOP

    def run_folder(self, trial: Trial) -> Path:
        """The run folder of ``trial`` (absolute)."""
        return (self.path / self.RUNS / trial.name).absolute()

    def spec_text(self) -> str:
        """The base spec's text, as copied at the sweep's first start."""
        return self._read(self.SPEC)

    def sweep_text(self) -> str:
        """The resolved sweep file's text."""
        return self._read(self.SWEEP)

    def start(
        self,
        trials: Sequence[Trial],
        *,
        spec_text: str,
        write_sweep: Callable[[Path], object],
        shared: Sequence[str] = (),
        plugins: Sequence[str] = (),
    ) -> None:
        """Create the sweep for a first start and lock it: the base spec's copy, the
        resolved sweep (``write_sweep`` writes it to the path it is given) and the planned
        trials.

        Refused: an existing sweep (resume it instead), a folder that holds anything else.
        """
        self._refuse_taken()
        self._create()
        self._acquire()
        try:
            self._refuse_taken()  # another coordinator started one here as we created it
            write_atomically(self.path / self.SPEC, lambda f: f.write(spec_text.encode()))
            write_sweep(self.path / self.SWEEP)
            (self.path / self.RUNS).mkdir(exist_ok=True)
            self.log.extend(planned_record(trial, shared, plugins) for trial in trials)
        except BaseException:
            self.close()
            raise

    def reopen(self) -> list[Trial]:
        """Lock an existing sweep for a resume; returns its planned trials."""
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(
                f"{self.path} is a file, not a sweep folder; give the folder a sweep was "
                "started in with --out"
            )
        if not self.path.is_dir():
            raise UsageError(
                f"{self.path} is not a sweep folder (it does not exist); start a sweep with "
                f"'toolkit sweep SPEC ... --out {self.path}'"
            )
        if not self.is_sweep:
            raise UsageError(
                f"{self.path} is not a sweep folder (no {self.LOG}); give the folder a "
                "sweep was started in with --out"
            )
        self._acquire()
        try:
            (self.path / self.RUNS).mkdir(exist_ok=True)
            records = read_log(self.path)
            self.recorded = _shared(records)
            return planned_trials(records)
        except BaseException:
            self.close()
            raise

    def check_unchanged(
        self,
        planned: Sequence[Trial],
        trials: Sequence[Trial],
        shared: Sequence[str] = (),
        plugins: Sequence[str] = (),
    ) -> None:
        """Refuse a resume whose re-expanded ``trials`` differ from the ``planned`` ones,
        naming the first trial and key that differ, or whose ``shared`` overrides or
        ``plugins`` differ from those recorded (``reopen`` read them)."""
        problem = _shared_difference(self.recorded, (tuple(shared), tuple(plugins)))
        problem = problem or _difference(planned, trials)
        if problem is not None:
            raise UsageError(
                f"{self.path / self.SWEEP} changed since the sweep started: {problem}; undo "
                "the change or start a new sweep with --out NEWDIR"
            )

    def request_stop(self) -> None:
        """Create the stop file: running trials stop with a checkpoint."""
        with contextlib.suppress(FileExistsError):
            self.stop_file.touch(exist_ok=False)

    def clear_stop(self) -> None:
        """Remove the stop file a previous session left."""
        self.stop_file.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the log and let the lock go."""
        self.log.close()
        self._lock.release()

    @contextlib.contextmanager
    def held(self) -> Iterator[SweepFolder]:
        """Close the folder (its lock released) at the end of the block."""
        try:
            yield self
        finally:
            self.close()

    def _refuse_taken(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"--out {self.path} is a file, not a folder; choose another path")
        for folder in self.path.parents:
            if folder.exists() and not folder.is_dir():
                raise UsageError(
                    f"--out {self.path}: {folder} is a file, not a folder; choose another path"
                )
        if self.is_sweep:
            raise UsageError(
                f"{self.path} already holds a sweep; continue it with "
                f"'toolkit sweep --resume {self.path}', or choose another folder with --out"
            )
        if self.path.is_dir() and any(p.name != LOCK_NAME for p in self.path.iterdir()):
            raise UsageError(
                f"--out {self.path} is a folder that holds other files, not a sweep; "
                "choose a new or empty folder (nothing is overwritten)"
            )

    def _create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:
                raise
            raise RunError(f"--out {self.path}: cannot create ({error.strerror})") from None

    def _acquire(self) -> None:
        try:
            self._lock.acquire()
        except UsageError as error:  # the lock's own words, naming the holder's process id
            raise UsageError(f"{error}; a coordinator is running this sweep") from None

    def _read(self, name: str) -> str:
        path = self.path / name
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RunError(f"{path} is missing; the sweep folder is damaged") from None
        except (OSError, UnicodeDecodeError) as error:
            raise RunError(f"{path}: cannot read ({error})") from None


def _shared(records: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sweep's ``set`` and plugins, from its first planned record."""
    for record in records:
        if record.get("event") == "planned":
            return tuple(record.get("set", ())), tuple(record.get("plugins", ()))
    return (), ()


def _shared_difference(
    was: tuple[tuple[str, ...], tuple[str, ...]], now: tuple[tuple[str, ...], tuple[str, ...]]
) -> str | None:
    for name, old, new in zip(("set", "plugins"), was, now, strict=True):
        if old != new:
            return f"its {name} was {_listed(old)}, is now {_listed(new)}"
    return None


def _listed(items: Sequence[str]) -> str:
    return " ".join(items) if items else "empty"


def _difference(planned: Sequence[Trial], trials: Sequence[Trial]) -> str | None:
    """The first difference between the planned trials and the re-expanded ones, in words."""
    if len(planned) != len(trials):
        return f"it made {len(planned)} trials, it now makes {len(trials)}"
    for was, now in zip(planned, trials, strict=True):
        found = _trial_difference(was, now)
        if found is not None:
            return f"trial {was.index}'s {found}"
    return None


def _trial_difference(was: Trial, now: Trial) -> str | None:
    old, new = dict(was.values), dict(now.values)
    for key in [*old, *(key for key in new if key not in old)]:
        if key not in new:
            return f"{key} was {_shown(old[key])}, it is no longer swept"
        if key not in old:
            return f"{key} was not swept, it is now {_shown(new[key])}"
        if not _same(old[key], new[key]):
            return f"{key} was {_shown(old[key])}, is now {_shown(new[key])}"
    if was.seed != now.seed:
        return f"seed was {_shown(was.seed)}, is now {_shown(now.seed)}"
    if was.overrides != now.overrides:
        return f"settings were {' '.join(was.overrides)}, are now {' '.join(now.overrides)}"
    if (was.id, was.name) != (now.id, now.name):
        return f"id was {was.id} ({was.name}), is now {now.id} ({now.name})"
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``1`` is not ``1.0`` nor ``true``)."""
    return type(a) is type(b) and a == b


def _shown(value: Any) -> str:
    return "not set" if value is None else describe_value(value)
