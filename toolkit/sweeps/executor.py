"""The interface of an executor part: where a sweep's trials run.

An executor part is ``f(workers, **settings)`` listed by a plugin's ``toolkit_executors``
hook; ``workers`` is the number of trials to run at once (None: the executor's own
default). It returns a :class:`TrialExecutor`, the part of ``concurrent.futures.Executor``
the coordinator uses, so a ``ProcessPoolExecutor`` is one as it is. An executor whose
workers are other machines may also offer :class:`WorkerProbe`, which the coordinator uses
to check each worker's registry before it submits anything.

A future that raises means the worker crashed (its process died, its machine went away):
what a trial itself does wrong comes back as an :class:`~toolkit.sweeps.trial.Outcome`.
An executor broken by a crash raises ``concurrent.futures.BrokenExecutor`` from
``submit``; the coordinator then makes a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = ["TrialExecutor", "WorkerProbe"]

T = TypeVar("T")


@runtime_checkable
class TrialExecutor(Protocol):
    """Runs functions elsewhere: ``submit`` gives a future, ``shutdown`` ends it."""

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a worker; its arguments and result are plain data."""
        ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; with ``cancel_futures``, drop what has not started."""
        ...


@runtime_checkable
class WorkerProbe(Protocol):
    """An executor that can run a function on each of its workers and keep to some."""

    def on_each_worker(self, fn: Callable[..., T], /, *args: Any) -> Mapping[str, T]:
        """``fn(*args)`` run once on every worker, keyed by the worker's name."""
        ...

    def use_only(self, workers: Collection[str]) -> None:
        """Submit from now on to these workers only."""
        ...
