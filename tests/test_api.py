"""The library front: its exports, and a network in the book's vocabulary."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS, write

SMALL = [
    "data.samples=20",
    "data.features=6",
    "data.classes=3",
    "model.layers.0.units=4",
    "model.layers.1.units=3",
    "train.iterations=3",
    "train.batch_size=5",
]


def test_all_matches_the_public_names() -> None:
    """__all__ lists exactly the public, non-module names of the package."""
    public = {
        name
        for name, value in vars(toolkit).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert set(toolkit.__all__) == public


def test_params_are_live() -> None:
    """Changing an array in network.params changes what the network predicts."""
    network = toolkit.build(toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", SMALL))
    x = np.ones((2, 6))
    before = network.predict(x)
    network.params["b2"][0] += 1.0
    after = network.predict(x)
    assert not np.allclose(before, after)
    assert np.all(after[:, 0] > before[:, 0])


def test_build_starts_where_train_starts() -> None:
    """build(spec) gives the weights a run of the spec starts from (the seed's uniform draws)."""
    network = toolkit.build(toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", SMALL))
    rs = np.random.RandomState(42)
    rs.randn(20, 6)
    for _ in range(20):
        rs.randint(0, 3)
    np.testing.assert_array_equal(network.params["W1"], 0.01 * rs.rand(6, 4))
    np.testing.assert_array_equal(network.params["b1"], np.zeros(4))
    np.testing.assert_array_equal(network.params["W2"], 0.01 * rs.rand(4, 3))


def test_loss_and_accuracy_match_hand_computation() -> None:
    """loss is the mean cross-entropy of predict; accuracy the share of argmax hits."""
    network = toolkit.build(toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", SMALL))
    x = np.random.RandomState(0).randn(4, 6)
    t = np.eye(3)[[0, 1, 2, 0]]
    y = network.predict(x)
    assert network.loss(x, t) == pytest.approx(
        -np.mean(np.log(y[np.arange(4), [0, 1, 2, 0]] + 1e-7)), rel=1e-12
    )
    assert network.accuracy(x, t) == np.mean(y.argmax(axis=1) == [0, 1, 2, 0])


def test_gradient_with_another_estimator_by_name() -> None:
    """gradient(x, t, 'forward_difference') agrees with central differences to O(h)."""
    network = toolkit.build(toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", SMALL))
    x, t = np.random.RandomState(1).randn(5, 6), np.eye(3)[[0, 1, 2, 1, 0]]
    central = network.gradient(x, t)
    forward = network.gradient(x, t, "forward_difference")
    assert set(central) == set(forward) == {"W1", "b1", "W2", "b2"}
    for key in central:
        assert central[key].shape == network.params[key].shape
        np.testing.assert_allclose(forward[key], central[key], atol=1e-4)
        assert not np.array_equal(forward[key], central[key])


def test_gradient_with_an_unknown_estimator_names_it() -> None:
    """An unknown estimator name raises SpecError with the close match."""
    network = toolkit.build(toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", SMALL))
    with pytest.raises(toolkit.SpecError, match="did you mean 'central_difference'"):
        network.gradient(np.ones((1, 6)), np.eye(3)[[0]], "central_diference")


def test_train_accepts_a_path_and_returns_history(tmp_path: Path) -> None:
    """train(path) loads the spec itself; history has one record per log point and the last."""
    text = (SPECS / "two_layer_relu.yaml").read_text()
    text = text.replace("iterations: 300", "iterations: 5").replace(
        "log_every: 100", "log_every: 2"
    )
    result = toolkit.train(write(tmp_path / "short.yaml", text))
    assert [r["iteration"] for r in result.history] == [2, 4, 5]
    assert result.final_loss == result.history[-1]["loss"]


def test_submodules_the_readme_calls_are_attributes_after_import_toolkit() -> None:
    """In a fresh interpreter, `import toolkit` alone gives toolkit.gradcheck."""
    code = "import toolkit; print(callable(toolkit.gradcheck.gradcheck))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path.home()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]
