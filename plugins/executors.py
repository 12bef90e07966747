"""Executors: where a sweep's trials run.

``local`` is a pool of worker processes on this machine; ``dask`` is a Dask cluster,
started here or reached at its scheduler's address. Each part is
``f(workers, **settings)`` returning an object with ``submit`` and ``shutdown``
(``toolkit.sweeps.executor.TrialExecutor``); Dask's also runs a function on each of its
workers (``WorkerProbe``), so that the toolkit can check their parts are its own.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TextIO, TypeVar

from toolkit import MissingDependency, Part, SettingError, hookimpl
from toolkit.base.errors import warning_line

T = TypeVar("T")

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables that set how many threads numpy's linear algebra starts: one per worker,
as each worker process is one trial at a time (more, on busy cores, only slow it down)."""

DASK_INSTALL = "layer-toolkit[dask]"


def usable_cores() -> int:
    """The cores this process may run on: ``os.process_cpu_count()`` (Python 3.13), else
    its CPU affinity, else every core."""
    counted = getattr(os, "process_cpu_count", None)
    if counted is not None:
        return int(counted() or 1)
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def start_method() -> str:
    """``forkserver`` where the system has it, else ``spawn``: never ``fork``, which copies
    the coordinator's threads and locks into each worker."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


_PINNED_SERVERS: set[int] = set()
"""The process ids of fork servers started here by a pool, with one BLAS thread."""


def _pinned_start_method() -> str:
    """The start method, with the fork server (where it is the method) started now, inside
    the pool's environment: its workers inherit its environment. A fork server that other
    code of this process started before, in another environment, is not used: ``spawn``."""
    method = start_method()
    if method != "forkserver":
        return method
    from multiprocessing import forkserver

    server = forkserver._forkserver
    running = getattr(server, "_forkserver_pid", None)
    if running is not None and running not in _PINNED_SERVERS:
        return "spawn"
    server.ensure_running()
    started = getattr(server, "_forkserver_pid", None)
    if started is not None:
        _PINNED_SERVERS.add(started)
    return method


class _Pinned:
    """The BLAS variables set to 1 in this process's environment while any pool lives: set
    by the first pool, put back as they were by the last one to shut down, whatever the
    order (a pool broken by a crash may be replaced before it is shut down)."""

    def __init__(self) -> None:
        self.pools = 0
        self.before: dict[str, str | None] = {}
        self.lock = threading.Lock()

    def acquire(self) -> None:
        with self.lock:
            if self.pools == 0:
                self.before = {name: os.environ.get(name) for name in BLAS_THREADS}
                os.environ.update(dict.fromkeys(BLAS_THREADS, "1"))
            self.pools += 1

    def release(self) -> None:
        with self.lock:
            self.pools -= 1
            if self.pools:
                return
            for name, value in self.before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


_PINNED = _Pinned()


def _start_worker() -> None:
    """A worker's start: Ctrl-C is the coordinator's to handle (it asks the trials to
    stop, through the sweep's stop file); warnings are one line each; and the worker ends
    when the coordinator's process does, however it ends (a kill -9 included): else it
    would wait for work forever, or train on unwatched (a resume continues its trial)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.showwarning = _one_line_warning
    parent = multiprocessing.parent_process()
    if parent is not None:
        watch = threading.Thread(target=_end_with, args=(parent,), name="end with coordinator")
        watch.daemon = True
        watch.start()


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A warning in a worker, one line as the toolkit's commands print it: ``note: ...``
    for a notice, else ``warning: ... (Category at file:line)``."""
    text = " ".join(str(message).split())  # a message's line breaks as spaces
    print(warning_line(text, category, filename, lineno), file=sys.stderr, flush=True)


def _end_with(parent: Any) -> None:
    """Wait until ``parent`` (the coordinator's process) has ended, then end this one."""
    parent.join()
    os._exit(1)


class LocalPool:
    """A process pool whose workers start with one BLAS thread each and ignore Ctrl-C.

    A worker's environment is the one it starts with, before numpy loads there: the pool
    sets the BLAS variables in this process's environment while it lives (the fork server
    and each spawned worker start from it), and they are put back as they were once every
    pool is shut down.
    """

    def __init__(self, workers: int | None) -> None:
        self.workers = workers or usable_cores()
        _PINNED.acquire()
        self._pinned = True
        try:
            self.method = _pinned_start_method()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context(self.method),
                initializer=_start_worker,
            )
        except BaseException:
            self._unpin()
            raise

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run ``fn(*args)`` in a worker process."""
        return self._pool.submit(fn, *args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """End the pool; the last pool to end puts this process's environment back."""
        try:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        finally:
            self._unpin()

    def _unpin(self) -> None:
        if self._pinned:
            self._pinned = False
            _PINNED.release()


def local(workers: int | None) -> LocalPool:
    """A pool of processes on this machine (default: one per usable core)."""
    return LocalPool(workers)


class DaskExecutor:
    """Trials on a Dask cluster through its client's ``concurrent.futures`` executor.

    ``on_each_worker`` runs a function on every worker (``Client.run``); ``use_only``
    keeps later submissions to some of them. Every submission is a new task (``pure=False``):
    two trials with the same arguments are not merged. ``shutdown`` closes the client, and
    the cluster if it started one.
    """

    def __init__(self, client: Any, cluster: Any = None) -> None:
        self.client = client
        self.cluster = cluster
        self._executor = client.get_executor(pure=False)
        self._futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a worker of the cluster."""
        future: Future[T] = self._executor.submit(fn, *args)
        self._futures.append(future)
        return future

    def on_each_worker(self, fn: Callable[..., T], /, *args: Any) -> Mapping[str, T]:
        """``fn(*args)`` on every worker, by the worker's address."""
        return dict(self.client.run(fn, *args))

    def use_only(self, workers: Collection[str]) -> None:
        """Submit from now on to ``workers`` (addresses) only."""
        self._executor = self.client.get_executor(
            pure=False, workers=list(workers), allow_other_workers=False
        )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop submitting (cancelling what has not started, with ``cancel_futures``), then
        close the client and a cluster started here."""
        if cancel_futures:
            for future in self._futures:
                future.cancel()
        try:
            self._executor.shutdown(wait=wait)
        finally:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def dask(workers: int | None, address: str | None = None, dashboard: bool = False) -> DaskExecutor:
    """A Dask cluster: a new one of worker processes here (default: one per usable core),
    or the running one whose scheduler is at ``address`` (``tcp://host:8786``)."""
    try:
        import distributed as api
    except ImportError:
        raise MissingDependency(
            "engine",
            "the dask engine needs Dask's distributed, which is not installed",
            DASK_INSTALL,
        ) from None
    distributed: Any = api  # no type hints there
    if address is not None:
        return DaskExecutor(_client(distributed, address))
    cluster = distributed.LocalCluster(
        n_workers=workers or usable_cores(),
        threads_per_worker=1,
        processes=True,
        dashboard_address=":8787" if dashboard else None,
    )
    try:
        return DaskExecutor(distributed.Client(cluster), cluster)
    except BaseException:
        cluster.close()
        raise


def _client(distributed: Any, address: str) -> Any:
    """A client of the scheduler at ``address``; an address that is malformed or reaches no
    scheduler is a bad setting (Dask raises ValueError, OSError or a timeout for them)."""
    try:
        return distributed.Client(address)
    except (OSError, ValueError, TypeError) as error:  # TimeoutError is an OSError
        reason = " ".join(str(error).split()) or type(error).__name__
        raise SettingError(
            "address",
            f"{address}: no Dask scheduler reached there ({reason}); give its address as "
            "tcp://HOST:PORT and start it first ('dask scheduler' prints it)",
        ) from None


@hookimpl
def toolkit_executors() -> dict[str, Part]:
    return {"local": Part(local), "dask": Part(dask)}
