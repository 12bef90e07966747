"""Trials on a real Dask cluster: one LocalCluster of two worker processes for the module,
trials run there giving the numbers they give in this process, and a worker whose
installed plugins differ refused by name."""

from __future__ import annotations

import operator
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import SPECS, write
from toolkit.sweeps.engines import make_executor
from toolkit.sweeps.fingerprint import admit_workers
from toolkit.sweeps.trial import Task
from toolkit.sweeps.worker import run_trial
from toolkit_plugins.executors import DaskExecutor

distributed = pytest.importorskip("distributed")  # the test extra installs it: CI runs these

pytestmark = pytest.mark.long

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
SHORT = ["train.iterations=12", "train.log_every=4", "train.checkpoint_every=4"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as started:
        yield started


@pytest.fixture
def executor(cluster: object) -> Iterator[DaskExecutor]:
    made = DaskExecutor(distributed.Client(cluster))
    yield made
    made.shutdown()


def _task(folder: Path, seed: int) -> Task:
    return Task(
        id=f"seed{seed}",
        spec_text=SIGMOID.read_text(),
        spec_source=str(SIGMOID),
        overrides=[*SHORT, f"seed={seed}"],
        plugins=[],
        folder=str(folder),
        stop_file=str(folder.parent / "stop"),
    )


def _params(folder: Path) -> dict[str, bytes]:
    with np.load(folder / "params.npz") as saved:
        return {name: saved[name].tobytes() for name in saved.files}


def _metrics(folder: Path) -> list[str]:
    """metrics.jsonl's lines less their wall-clock seconds."""
    import json

    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [
        json.dumps({k: v for k, v in json.loads(line).items() if k != "seconds"}) for line in lines
    ]


def _worker_address() -> str:
    return str(distributed.get_worker().address)


def test_trials_on_the_cluster_give_the_numbers_they_give_here(
    executor: DaskExecutor, tmp_path: Path
) -> None:
    """Two trials submitted together (the same function, other arguments; and the same
    arguments twice would be two tasks too) run on the workers, bit-identical to the same
    trials run in this process."""
    futures = [executor.submit(run_trial, _task(tmp_path / "cluster" / f"s{s}", s)) for s in (0, 1)]
    outcomes = [future.result(timeout=240) for future in futures]
    assert [(o["status"], o["exit"], o["iteration"]) for o in outcomes] == [("done", 0, 12)] * 2
    for seed, outcome in zip((0, 1), outcomes, strict=True):
        here = run_trial(_task(tmp_path / "here" / f"s{seed}", seed))
        assert outcome["metrics"] == here["metrics"]
        there, mine = tmp_path / "cluster" / f"s{seed}", tmp_path / "here" / f"s{seed}"
        assert _params(there) == _params(mine)
        assert _metrics(there) == _metrics(mine)
    assert _params(tmp_path / "here" / "s0") != _params(tmp_path / "here" / "s1")


def _mark(path: str) -> None:
    with open(path, "a") as file:
        file.write("ran\n")


def test_identical_submissions_are_not_merged(executor: DaskExecutor, tmp_path: Path) -> None:
    """Four submissions of the same function with the same arguments run four times."""
    marks = tmp_path / "marks"
    for future in [executor.submit(_mark, str(marks)) for _ in range(4)]:
        future.result(timeout=120)
    assert marks.read_text() == "ran\n" * 4


EXTRA = "toolkit_wobble"


def _plant(folder: Path) -> Path:
    """A tiny installed distribution in ``folder``: its module and its dist-info, whose
    entry point in the toolkit.plugins group gives one more activation."""
    folder.mkdir()
    write(
        folder / f"{EXTRA}.py",
        "import toolkit\n\n"
        "def wobble(x):\n    return x\n\n"
        "@toolkit.hookimpl\n"
        "def toolkit_activations():\n    return {'wobble': wobble}\n",
    )
    info = folder / "toolkit_wobble-1.0.dist-info"
    info.mkdir()
    write(info / "METADATA", "Metadata-Version: 2.1\nName: toolkit-wobble\nVersion: 1.0\n")
    write(info / "entry_points.txt", f"[toolkit.plugins]\n{EXTRA} = {EXTRA}\n")
    return folder


def _add_to_path(folder: str) -> None:
    import importlib

    sys.path.append(folder)
    importlib.invalidate_caches()


def _remove_from_path(folder: str) -> None:
    sys.path.remove(folder)
    sys.modules.pop(EXTRA, None)


def test_a_worker_with_another_plugin_installed_is_refused_by_name(
    executor: DaskExecutor, tmp_path: Path
) -> None:
    """One worker gets one more installed plugin: it is named with the part it has more,
    and the trials go to the other worker only."""
    folder = str(_plant(tmp_path / "site"))
    workers = sorted(executor.client.scheduler_info()["workers"])
    assert len(workers) == 2
    odd, even = workers
    executor.client.run(_add_to_path, folder, workers=[odd])
    try:
        notes = admit_workers(executor, [])
        assert notes == [
            f"worker {odd}: it has activation 'wobble' {EXTRA}:wobble from toolkit-wobble 1.0, "
            "which this process has not; it gets no trials"
        ]
        addresses = {executor.submit(_worker_address).result(timeout=120) for _ in range(8)}
        assert addresses == {even}
    finally:
        executor.client.run(_remove_from_path, folder, workers=[odd])
    assert admit_workers(executor, []) == []  # the same parts again: both kept


def test_the_dask_engine_reaches_a_running_cluster_and_leaves_it_running(cluster: Any) -> None:
    executor = make_executor("dask", None, {"address": cluster.scheduler_address}, [])
    assert isinstance(executor, DaskExecutor) and executor.cluster is None
    assert executor.submit(operator.add, 2, 3).result(timeout=120) == 5
    executor.shutdown()
    assert executor.client.status == "closed"
    with distributed.Client(cluster) as client:  # the cluster itself goes on
        assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # the module's cluster has it
def test_the_dask_engine_without_an_address_starts_a_cluster_and_closes_it() -> None:
    executor = make_executor("dask", 1, {}, [])
    assert isinstance(executor, DaskExecutor)
    try:
        assert len(executor.client.scheduler_info()["workers"]) == 1
        assert executor.submit(operator.add, 2, 3).result(timeout=120) == 5
    finally:
        executor.shutdown()
    assert executor.cluster.status.name == "closed"
