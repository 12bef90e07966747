"""Engines by name: an executor part made with its settings, every mistake one line with
its fix; and workers whose parts differ from the coordinator's, refused by name."""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from toolkit.base.errors import UsageError
from toolkit.sweeps.engines import make_executor
from toolkit.sweeps.fingerprint import admit_workers, first_difference, registry_fingerprint
from toolkit_plugins.executors import LocalPool


def test_the_local_engine_is_a_pool_of_the_workers_asked_for() -> None:
    executor = make_executor("local", 1, {"address": None}, [])
    try:
        assert isinstance(executor, LocalPool) and executor.workers == 1
        assert executor.submit(operator.add, 2, 3).result(timeout=120) == 5
    finally:
        executor.shutdown()


@pytest.mark.parametrize(
    ("engine", "workers", "settings", "line"),
    [
        ("lokal", None, {}, "--engine: unknown engine 'lokal'; did you mean 'local'? available:"),
        (
            "local",
            2,
            {"address": "tcp://127.0.0.1:8786"},
            "--address: the local engine does not take it; it is a setting of --engine dask; "
            "the local engine's settings: none",
        ),
        (
            "dask",
            2,
            {"adress": "tcp://127.0.0.1:8786"},
            "--adress: the dask engine does not take it; did you mean 'address'? the dask "
            "engine's settings: --address, --dashboard",
        ),
        ("dask", 2, {"dashboard": "yes"}, "--dashboard: expected true or false, got text 'yes'"),
        ("local", 0, {}, "--workers 0: give a whole number of at least 1"),
    ],
)
def test_a_mistake_is_a_usage_error_in_one_line(
    engine: str, workers: int | None, settings: dict[str, object], line: str
) -> None:
    with pytest.raises(UsageError) as raised:
        make_executor(engine, workers, settings, [])
    assert str(raised.value).startswith(line), str(raised.value)
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)


def test_a_missing_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(UsageError) as raised:
        make_executor("dask", 2, {}, [])
    assert str(raised.value) == (
        "--engine dask: the dask engine needs Dask's distributed, which is not installed; "
        "pip install 'layer-toolkit[dask]'"
    )


def test_an_engine_from_a_plugin_module_is_found_and_what_it_gives_checked(
    plugin_folder: Path,
) -> None:
    write(
        plugin_folder / "odd_engines.py",
        "import concurrent.futures\n\n"
        "def threads(workers, spare=1):\n"
        "    return concurrent.futures.ThreadPoolExecutor(workers or spare)\n\n"
        "def nothing(workers):\n"
        "    return 42\n\n"
        "def toolkit_executors():\n"
        "    return {'threads': threads, 'nothing': nothing}\n",
    )
    executor = make_executor("threads", None, {"spare": 2}, ["odd_engines"])
    try:
        assert executor.submit(operator.mul, 6, 7).result() == 42
    finally:
        executor.shutdown()
    with pytest.raises(Exception, match=r"gave 42, not an executor with submit and shutdown"):
        make_executor("nothing", None, {}, ["odd_engines"])


class _Probed:
    """An executor whose workers answer with given fingerprints."""

    def __init__(self, answers: Mapping[str, object]) -> None:
        self.answers = answers
        self.kept: list[str] | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        raise AssertionError("nothing is submitted while workers are checked")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass

    def on_each_worker(self, fn: Callable[..., Any], /, *args: Any) -> Mapping[str, Any]:
        return dict(self.answers)

    def use_only(self, workers: Collection[str]) -> None:
        self.kept = sorted(workers)


def _with(fingerprint: dict[str, Any], kind: str, key: str, **part: object) -> dict[str, Any]:
    changed = {k: dict(v) for k, v in fingerprint.items()}
    changed[kind][key] = part
    return changed


def test_workers_whose_parts_differ_are_refused_by_name() -> None:
    ours = registry_fingerprint()
    extra = _with(
        ours,
        "activation",
        "toolkit_swish:swish",
        name="swish",
        function="toolkit_swish:swish",
        distribution="toolkit-swish",
        version="1.0",
    )
    older = {k: dict(v) for k, v in ours.items()}
    relu = dict(older["activation"]["toolkit_plugins.activations:relu"])
    older["activation"]["toolkit_plugins.activations:relu"] = {**relu, "version": "0.0.1"}
    executor = _Probed(
        {"tcp://a:1": ours, "tcp://b:2": extra, "tcp://c:3": older, "tcp://d:4": "no module x"}
    )
    notes = admit_workers(executor, [])  # type: ignore[arg-type]
    assert executor.kept == ["tcp://a:1"]
    assert notes == [
        "worker tcp://b:2: it has activation 'swish' toolkit_swish:swish from toolkit-swish "
        "1.0, which this process has not; it gets no trials",
        "worker tcp://c:3: activation 'relu' is toolkit_plugins.activations:relu from "
        f"layer-toolkit 0.0.1 there, toolkit_plugins.activations:relu from layer-toolkit "
        f"{relu['version']} here; it gets no trials",
        "worker tcp://d:4: cannot load its parts: no module x; it gets no trials",
    ]
    assert first_difference(extra, ours) == (
        "activation 'swish' toolkit_swish:swish from toolkit-swish 1.0 is missing"
    )


def test_no_worker_left_is_a_usage_error() -> None:
    executor = _Probed({"tcp://b:2": "no module x"})
    with pytest.raises(UsageError, match=r"^no worker has the parts this process has \(worker"):
        admit_workers(executor, [])  # type: ignore[arg-type]
    assert executor.kept is None


def test_a_pool_on_this_machine_is_not_probed() -> None:
    executor = make_executor("local", 1, {}, [])
    try:
        assert admit_workers(executor, []) == []
    finally:
        executor.shutdown()
