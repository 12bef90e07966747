"""A Python user's two reaches: the data a spec draws, and a trained run loaded back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS
from toolkit.cli import main

SEED_SPEC = SPECS / "two_layer_sigmoid.yaml"
TEACHER = SPECS / "two_layer_teacher.yaml"


def test_load_data_draws_the_seed_programs_inputs_and_labels() -> None:
    """The legacy stream's first draws: x = randn(samples, features), then one label per row."""
    data = toolkit.load_data(toolkit.load_spec(SEED_SPEC, ["data.samples=30"]))
    rs = np.random.RandomState(42)
    np.testing.assert_array_equal(data.x, rs.randn(30, 100))
    labels = [rs.randint(0, 10) for _ in range(30)]
    np.testing.assert_array_equal(data.t, np.eye(10)[labels])
    assert data.x_test is None and data.t_test is None


def test_load_data_takes_a_path_and_gives_the_held_out_split() -> None:
    """The teacher spec's 1000 samples: 800 to train on, 200 held out, 20 features, 3 classes."""
    data = toolkit.load_data(TEACHER)
    assert data.x.shape == (800, 20) and data.x_test.shape == (200, 20)
    assert data.t.shape[0] == 800 and data.t_test.shape[0] == 200
    np.testing.assert_array_equal(toolkit.load_data(str(TEACHER)).x, data.x)  # repeatable


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("library") / "run"
    sets = ["--set", "train.iterations=40", "--set", "train.log_every=10"]
    assert main(["train", str(TEACHER), *sets, "--out", str(folder), "-q"]) == 0
    return folder


def test_load_run_has_the_saved_parameters(teacher_run: Path) -> None:
    """load_run's parameters are params.npz's arrays, not the initial weights."""
    network = toolkit.load_run(teacher_run)
    with np.load(teacher_run / "params.npz") as saved:
        assert set(saved.files) == set(network.params)
        for key in saved.files:
            np.testing.assert_array_equal(network.params[key], saved[key])
    initial = toolkit.build(teacher_run / "spec.yaml")
    assert not np.array_equal(initial.params["W1"], network.params["W1"])


def test_load_run_on_load_datas_held_out_split_gives_the_runs_last_test_metrics(
    teacher_run: Path,
) -> None:
    """The network and the data, loaded back apart, give the run's own last test_loss and
    test_accuracy (as metrics.jsonl recorded them during training)."""
    network = toolkit.load_run(teacher_run)
    data = toolkit.load_data(teacher_run / "spec.yaml")
    last = json.loads((teacher_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert network.loss(data.x_test, data.t_test) == last["test_loss"]
    assert network.accuracy(data.x_test, data.t_test) == last["test_accuracy"]


def test_load_run_of_an_unfinished_run_takes_its_checkpoint_and_says_so(
    teacher_run: Path, tmp_path: Path
) -> None:
    """Without params.npz, the checkpoint's parameters, with a notice naming its iteration."""
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for name in ("spec.yaml", "checkpoint.npz"):
        (unfinished / name).write_bytes((teacher_run / name).read_bytes())
    checkpoint = toolkit.load_checkpoint(unfinished / "checkpoint.npz")
    with pytest.warns(
        toolkit.ToolkitNotice, match=f"checkpoint at iteration {checkpoint.iteration}"
    ):
        network = toolkit.load_run(unfinished)
    for key, value in checkpoint.params.items():
        np.testing.assert_array_equal(network.params[key], value)


def test_load_run_of_a_folder_without_a_run_is_a_usage_error(tmp_path: Path) -> None:
    """An empty folder holds no run: one UsageError saying how to make one."""
    with pytest.raises(toolkit.UsageError, match="holds no run"):
        toolkit.load_run(tmp_path)
