"""The coordinator: runs a sweep's trials on an executor, logs them, and stops on request.

One code path for every executor: ``submit`` a trial's task, wait for the first future
that completes, log its outcome, submit the next. At most ``workers`` trials are in flight,
so a stop (or ``fail_fast``) leaves the rest unsubmitted. A trial already done in its folder
is skipped, one whose last attempt failed too unless ``retry_failed``. A trial whose run
folder another process holds (the worker of a coordinator killed with kill -9, running on)
waits until it is let go, then runs (found done, or continued from its checkpoint): it is
not logged failed for a folder in use. A future that raises is a crash of the worker:
logged ``crashed`` and tried again while ``retries`` allows (an executor broken by it is
replaced by a new one from the factory).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, CancelledError, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ..base.lock import held_elsewhere
from ..base.wording import one_line
from ..runs.folder_run import last_record
from ..runs.rundir import RunDirectory
from .executor import TrialExecutor
from .folder import SweepFolder
from .log import finished_record, last_finished, read_log
from .trial import Outcome, Task, Trial, final_metrics

__all__ = ["Coordinator", "Event", "SessionResult", "TrialRecord"]

POLL_SECONDS = 0.2
"""How often a stop request is looked for while trials run."""

EventKind = Literal["start", "skipped", "submitted", "finished", "crashed"]


@dataclass(frozen=True)
class TrialRecord:
    """A trial's state at the end of a session: its last logged attempt."""

    trial: Trial
    status: str
    """``done``, ``failed``, ``stopped``, ``crashed`` or ``pending`` (never run)."""
    exit: int | None
    error: str | None
    seconds: float | None
    metrics: Mapping[str, float | None]
    folder: Path


@dataclass(frozen=True)
class Event:
    """What the coordinator tells its watcher (a progress bar, a log printer)."""

    kind: EventKind
    trial: Trial | None
    record: Mapping[str, Any] | None
    """The ``finished`` record of a finished or crashed attempt."""
    done: int
    failed: int
    running: int
    total: int


@dataclass(frozen=True)
class SessionResult:
    """How a session ended: each trial's record and the exit code of ``toolkit sweep``."""

    records: list[TrialRecord]
    exit_code: int
    """0 every trial done, 1 a trial failed (or crashed beyond its retries), 130 stopped
    (interrupted, or a trial stopped by its stop file)."""
    interrupted: bool

    def count(self, status: str) -> int:
        """How many trials ended with ``status``."""
        return sum(1 for record in self.records if record.status == status)


@dataclass
class Coordinator:
    """Runs the not yet done ``trials`` of the sweep in ``folder`` (which it holds)."""

    folder: SweepFolder
    trials: Sequence[Trial]
    make_task: Callable[[Trial], Task]
    make_executor: Callable[[], TrialExecutor]
    """A new executor, its workers checked: the first one, and one for each broken one."""
    run_trial: Callable[[Task], Outcome]
    """The worker function, given each task: importable by name (a pool pickles it)."""
    workers: int
    retries: int = 0
    fail_fast: bool = False
    retry_failed: bool = False
    stop_requested: Callable[[], bool] = lambda: False
    on_event: Callable[[Event], None] = lambda event: None
    on_end: Callable[[Path], object] | None = None
    """Called with the sweep folder at the end of the session (the summary)."""
    executor: TrialExecutor | None = None
    """The first executor, already made and prepared (None: one is made when needed);
    the coordinator shuts it down at the end."""
    _last: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    _counts: Counter[str] = field(default_factory=Counter, init=False)
    """How many of the trials are in each status (their last record's)."""
    _tried: Counter[str] = field(default_factory=Counter, init=False)
    """How many attempts of each trial the log held when the session started."""
    _running: int = field(default=0, init=False)

    def run(self) -> SessionResult:
        """Run the session; the executors it made are shut down however it ends."""
        self.folder.clear_stop()
        try:
            records = read_log(self.folder.path)
            ids = {trial.id for trial in self.trials}
            self._last = {k: v for k, v in last_finished(records).items() if k in ids}
            self._counts = Counter(str(record["status"]) for record in self._last.values())
            self._tried = Counter(str(r["id"]) for r in records if r["event"] == "finished")
            queue = deque(self._to_run())
            self._emit("start", None)
        except BaseException:
            _retire(self.executor)
            raise
        failed, interrupted = self._loop(queue)
        if self.on_end is not None:
            self.on_end(self.folder.path)
        results = [self._record(trial) for trial in self.trials]
        return SessionResult(results, _exit_code(results, failed, interrupted), interrupted)

    def _to_run(self) -> list[Trial]:
        """The trials this session runs; logs those found done in their folder, unlogged."""
        pending = []
        for trial in self.trials:
            last = self._last.get(trial.id)
            if _is_done(self.folder.run_folder(trial)):
                if last is None or last["status"] != "done":
                    self._log(_read_done(trial, self.folder, 1 + self._tried[trial.id]))
                self._emit("skipped", trial)
            elif last is not None and last["status"] == "failed" and not self.retry_failed:
                self._emit("skipped", trial)
            else:
                pending.append(trial)
        return pending

    def _loop(self, queue: deque[Trial]) -> tuple[bool, bool]:
        """Submit and collect until nothing is left; returns (a failure stopped it, a
        stop request stopped it)."""
        in_flight: dict[Future[Outcome], _Attempt] = {}
        tries = {trial.id: 0 for trial in queue}
        executor, self.executor = self.executor, None
        stopping = failed_fast = interrupted = False
        finished = False
        try:
            while queue or in_flight:
                if not stopping and self.stop_requested():
                    self.folder.request_stop()
                    stopping = interrupted = True
                held: list[Trial] = []  # run folders another process still writes
                while queue and not stopping and len(in_flight) < self.workers:
                    trial = queue.popleft()
                    if held_elsewhere(self.folder.run_folder(trial)):
                        held.append(trial)
                        continue
                    attempt = 1 + self._tried[trial.id] + tries[trial.id]
                    executor = self._submit(executor, trial, attempt, in_flight)
                queue.extendleft(reversed(held))  # looked at again at the next poll
                if not in_flight:
                    if held and not stopping:
                        time.sleep(POLL_SECONDS)
                        continue
                    break
                wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                done = [future for future in in_flight if future.done()]  # cancelled too
                for future in sorted(done, key=lambda f: in_flight[f].trial.index):
                    trial, attempt, ran_on = in_flight.pop(future)
                    self._running -= 1
                    record = self._collect(future, trial, attempt)
                    if record["status"] == "crashed":
                        tries[trial.id] += 1
                        if ran_on is executor and _broke(future):  # not a newer executor
                            _retire(executor)
                            executor = None
                        if tries[trial.id] <= self.retries:
                            queue.appendleft(trial)
                    elif record["status"] == "failed" and self.fail_fast:
                        stopping = failed_fast = True
            finished = True
        except KeyboardInterrupt:  # Ctrl-C not handled as a stop request: the trials stop too
            self.folder.request_stop()
            raise
        finally:  # interrupted at once (a second Ctrl-C): do not wait for the workers
            _retire(executor, finish=finished)
        return failed_fast, interrupted

    def _submit(
        self,
        executor: TrialExecutor | None,
        trial: Trial,
        attempt: int,
        in_flight: dict[Future[Outcome], _Attempt],
    ) -> TrialExecutor:
        """Submit ``trial`` (a new executor first if there is none or it is broken)."""
        task = self.make_task(trial)
        for _ in range(2):
            if executor is None:
                executor = self.make_executor()
            try:
                future = executor.submit(self.run_trial, task)
            except BrokenExecutor:
                _retire(executor)
                executor = None
                continue
            in_flight[future] = _Attempt(trial, attempt, executor)
            self._running += 1
            self._emit("submitted", trial)
            return executor
        raise BrokenExecutor("a new executor refused a trial at once")

    def _collect(self, future: Future[Outcome], trial: Trial, attempt: int) -> dict[str, Any]:
        """Log how the attempt ended: the worker's outcome, or ``crashed``."""
        error = CancelledError("cancelled") if future.cancelled() else future.exception()
        if error is not None:
            record = finished_record(
                trial.id,
                "crashed",
                exit=None,
                error=_crash_line(error),
                seconds=None,
                iteration=None,
                attempt=attempt,
                metrics={},
            )
            self._log(record)
            self._emit("crashed", trial, record)
            return record
        outcome = future.result()
        record = finished_record(
            trial.id,
            outcome["status"],
            exit=outcome["exit"],
            error=outcome["error"],
            seconds=outcome["seconds"],
            iteration=outcome["iteration"],
            attempt=attempt,
            metrics=outcome["metrics"],
        )
        self._log(record)
        self._emit("finished", trial, record)
        return record

    def _log(self, record: dict[str, Any]) -> None:
        self.folder.log.append(record)
        before = self._last.get(str(record["id"]))
        if before is not None:
            self._counts[str(before["status"])] -= 1
        self._counts[str(record["status"])] += 1
        self._last[str(record["id"])] = record

    def _emit(self, kind: EventKind, trial: Trial | None, record: Any = None) -> None:
        done, failed, total = self._counts["done"], self._counts["failed"], len(self.trials)
        self.on_event(Event(kind, trial, record, done, failed, self._running, total))

    def _record(self, trial: Trial) -> TrialRecord:
        last = self._last.get(trial.id)
        folder = self.folder.run_folder(trial)
        if last is None:
            return TrialRecord(trial, "pending", None, None, None, {}, folder)
        return TrialRecord(
            trial,
            str(last["status"]),
            last["exit"],
            last["error"],
            last["seconds"],
            dict(last["metrics"]),
            folder,
        )


class _Attempt(NamedTuple):
    """A trial in flight: which attempt, on which executor."""

    trial: Trial
    attempt: int
    executor: TrialExecutor


def _broke(future: Future[Outcome]) -> bool:
    """Whether the future's executor broke (a worker process died)."""
    return not future.cancelled() and isinstance(future.exception(), BrokenExecutor)


def _exit_code(records: Sequence[TrialRecord], failed_fast: bool, interrupted: bool) -> int:
    """130 interrupted; 1 a trial failed (or crashed beyond its retries); 130 a trial not
    finished (stopped by a stop file); 0 every trial done."""
    if interrupted:
        return 130
    if failed_fast or any(record.status in ("failed", "crashed") for record in records):
        return 1
    return 0 if all(record.status == "done" for record in records) else 130


def _retire(executor: TrialExecutor | None, *, finish: bool = False) -> None:
    """Shut ``executor`` down, waiting for what still runs there only with ``finish``."""
    if executor is not None:
        executor.shutdown(wait=finish, cancel_futures=True)


def _crash_line(error: BaseException) -> str:
    text = one_line(str(error))
    kind = type(error).__name__
    return f"the worker crashed ({kind}: {text})" if text else f"the worker crashed ({kind})"


def _is_done(folder: Path) -> bool:
    """Whether the trial in ``folder`` trained to its end (its parameters are written)."""
    return (folder / RunDirectory.PARAMS).is_file()


def _read_done(trial: Trial, folder: SweepFolder, attempt: int) -> dict[str, Any]:
    """The ``finished`` record of a trial done in its folder but not logged: its metrics
    are the last line of its metrics.jsonl."""
    last = last_record(folder.run_folder(trial)) or {}
    iteration = last.get("iteration")
    metrics = final_metrics(last)
    return finished_record(
        trial.id,
        "done",
        exit=0,
        error=None,
        seconds=None,
        iteration=iteration if isinstance(iteration, int) else None,
        attempt=attempt,
        metrics=metrics,
    )
