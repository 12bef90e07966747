"""Fakes for the coordinator's tests: trials made by hand, an executor that runs each task
at once in this process, and a worker whose behaviour each trial's overrides choose."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Future
from pathlib import Path
from typing import Any

from toolkit.sweeps.trial import Outcome, Task, Trial


def make_trials(*rates: float, seeds: tuple[int | None, ...] = (None,)) -> list[Trial]:
    """One trial per learning rate and seed, in that order."""
    trials = []
    for config, rate in enumerate(rates):
        for seed in seeds:
            index = len(trials)
            overrides = [f"optimizer.learning_rate={rate}"]
            if seed is not None:
                overrides.append(f"seed={seed}")
            trials.append(
                Trial(
                    index=index,
                    config=config,
                    values=(("optimizer.learning_rate", rate),),
                    seed=seed,
                    id=f"id{index:03d}",
                    name=f"{index:03d}-lr{rate}" + ("" if seed is None else f"-s{seed}"),
                    overrides=tuple(overrides),
                )
            )
    return trials


class SyncExecutor:
    """Runs each submitted function at once; its future is already complete."""

    def __init__(self) -> None:
        self.submitted: list[Any] = []
        self.shut = False
        self.broken = False

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        if self.broken:
            raise BrokenExecutor("broken")
        self.submitted.append(args)
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args))
        except BrokenExecutor as error:
            self.broken = True
            future.set_exception(error)
        except Exception as error:
            future.set_exception(error)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut = True


class FakeWorker:
    """``run_trial``'s stand-in: a trial whose overrides hold a rate in ``fail`` fails, one
    in ``crash`` raises (a dead worker) as many times as given; the others write params.npz
    and a metrics.jsonl whose loss is the rate."""

    def __init__(self, fail: set[float] = frozenset(), crash: dict[float, int] | None = None):
        self.fail, self.crash = fail, dict(crash or {})
        self.calls: list[str] = []
        self.on_call: Callable[[Task], None] = lambda task: None

    def __call__(self, task: Task) -> Outcome:
        self.calls.append(task["id"])
        self.on_call(task)
        rate = _rate(task)
        if self.crash.get(rate, 0) > 0:
            self.crash[rate] -= 1
            raise BrokenExecutor("a process in the pool was terminated abruptly")
        folder = Path(task["folder"])
        if rate in self.fail:
            return outcome(task, "failed", 1, error="the loss diverged")
        if Path(task["stop_file"]).exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "checkpoint.npz").write_bytes(b"x")
            return outcome(task, "stopped", 130)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metrics.jsonl").write_text(json.dumps({"iteration": 5, "loss": rate}) + "\n")
        (folder / "params.npz").write_bytes(b"x")
        return outcome(task, "done", 0, metrics={"loss": rate})


def outcome(
    task: Task, status: Any, code: int, *, error: str | None = None, metrics: Any = None
) -> Outcome:
    return Outcome(
        id=task["id"],
        status=status,
        exit=code,
        error=error,
        seconds=0.5,
        iteration=5,
        metrics=metrics or {},
    )


def _rate(task: Task) -> float:
    (rate,) = [o for o in task["overrides"] if o.startswith("optimizer.learning_rate=")]
    return float(rate.partition("=")[2])


class DyingPool:
    """A pool on threads: on the first pool made, the trial named ``crash`` kills a worker
    after ``soon`` seconds, and the pool's other trials learn it later (after ``late``),
    as a process pool's do; on later pools each trial takes ``late * 2`` seconds."""

    def __init__(self, first: bool, crash: str, soon: float = 0.05, late: float = 0.3) -> None:
        self.first, self.crash, self.soon, self.late = first, crash, soon, late
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()  # a worker for each: running at once
        self.futures.append(future)
        (task,) = args
        if self.first:
            delay = self.soon if task["id"] == self.crash else self.late
            action: Callable[[], None] = lambda: future.set_exception(  # noqa: E731
                BrokenExecutor("a process in the pool was terminated abruptly")
            )
        else:
            delay = self.late * 2
            action = lambda: future.set_result(fn(task))  # noqa: E731
        timer = threading.Timer(delay, action)
        timer.daemon = True
        timer.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            for future in self.futures:
                future.cancel()
