"""The standard executors: a local pool of worker processes started safely (never by
fork), one BLAS thread and Ctrl-C ignored in each worker, the coordinator's environment
left as it was; and the dask part's missing extra, said with its fix."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from toolkit import MissingDependency
from toolkit.registry.registry import Registry
from toolkit.sweeps.executor import TrialExecutor
from toolkit_plugins.executors import BLAS_THREADS, LocalPool, dask, local, usable_cores

WHERE = "imported"
"""Set otherwise by a test in this process: a worker forked from it would see the change."""


def square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def blas() -> dict[str, object]:
    """What a worker's BLAS runs with: the variables and the threads numpy's BLAS started."""
    import numpy  # noqa: F401  (loaded, so that threadpoolctl sees its BLAS)
    from threadpoolctl import threadpool_info

    threads = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return {"environ": {name: os.environ.get(name) for name in BLAS_THREADS}, "threads": threads}


def interrupted() -> str:
    """Ctrl-C sent to the worker itself: it goes on."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # time for a handler to run
    except KeyboardInterrupt:
        return "interrupted"
    return f"alive, SIGINT {signal.getsignal(signal.SIGINT)!r}"


def where() -> str:
    return WHERE


@pytest.fixture
def pool() -> object:
    executor = local(2)
    yield executor
    executor.shutdown()


def test_a_local_pool_of_two_runs_plain_functions_elsewhere(pool: LocalPool) -> None:
    assert isinstance(pool, TrialExecutor)
    assert pool.workers == 2
    results = [future.result(timeout=120) for future in [pool.submit(square, x) for x in range(6)]]
    assert [value for value, _ in results] == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in {pid for _, pid in results}


def test_its_workers_run_one_blas_thread(pool: LocalPool) -> None:
    reported = pool.submit(blas).result(timeout=120)
    assert reported["environ"] == dict.fromkeys(BLAS_THREADS, "1")
    assert reported["threads"] and set(reported["threads"]) == {1}  # type: ignore[arg-type]


def test_its_workers_ignore_ctrl_c(pool: LocalPool) -> None:
    assert pool.submit(interrupted).result(timeout=120) == "alive, SIGINT <Handlers.SIG_IGN: 1>"


def test_its_workers_are_not_forked_from_the_coordinator(
    pool: LocalPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change made here after the pool began is not seen there (a forked worker would)."""
    assert pool.method in ("forkserver", "spawn")
    monkeypatch.setattr(sys.modules[__name__], "WHERE", "changed in the coordinator")
    assert pool.submit(where).result(timeout=120) == "imported"


def test_the_coordinators_environment_is_as_it_was_after_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    before = {name: os.environ.get(name) for name in BLAS_THREADS}
    executor = local(1)
    assert executor.submit(square, 3).result(timeout=120)[0] == 9
    executor.shutdown()
    assert {name: os.environ.get(name) for name in BLAS_THREADS} == before


def test_overlapping_pools_put_the_environment_back_whatever_the_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second pool made before the first is shut down (a broken pool replaced), shut down
    after it: the environment is as it was before the first, and the second's workers ran
    with one BLAS thread all along."""
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    first = local(1)
    second = local(1)
    first.shutdown()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"  # the second pool still lives
    assert second.submit(blas).result(timeout=120)["threads"] == [1]
    second.shutdown()
    second.shutdown()  # twice: nothing more is put back
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"


def test_a_pool_takes_every_usable_core_by_default() -> None:
    executor = local(None)
    try:
        assert executor.workers == usable_cores() == len(os.sched_getaffinity(0))
    finally:
        executor.shutdown()


def test_the_executors_are_parts_of_the_standard_plugin(manager: object) -> None:
    registry = Registry.from_manager(manager)  # type: ignore[arg-type]
    assert registry.names("executor") == ["dask", "local"]
    dask_part = registry.lookup("executor", "dask").part
    assert dask_part.params == {"address": None, "dashboard": False}
    assert registry.lookup("executor", "local").part.params == {}


def test_dask_without_its_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(MissingDependency, match=r"pip install 'layer-toolkit\[dask\]'"):
        dask(2)
