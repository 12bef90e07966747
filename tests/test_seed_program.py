"""The shipped specs reproduce the seed program's numbers, through the CLI and the library."""

from __future__ import annotations

import re

import numpy as np
import pytest

import toolkit
from conftest import SPECS, RunCli
from reference import seed_program

# Stated in the core issue (seed 42, numpy 2.x, x86-64).
SIGMOID_LOSSES = [2.389361774963056, 2.2981696908842117, 2.310003577235071]
RELU_LOSSES = [2.346301585424711, 1.87846491591094, 0.5043815649504119]

SMALL = {
    "seed": 7,
    "samples": 30,
    "features": 8,
    "hidden": 5,
    "classes": 4,
    "iterations": 12,
    "batch_size": 6,
    "learning_rate": 0.5,
    "log_every": 4,
}


def printed_losses(stdout: str) -> list[float]:
    return [
        float(value) for value in re.findall(r"^iteration\s+\d+/\d+\s+loss (\S+)$", stdout, re.M)
    ]


def small_overrides(activation: str = "sigmoid", **changes: object) -> dict[str, object]:
    settings = {**SMALL, **changes}
    return {
        "seed": settings["seed"],
        "data.samples": settings["samples"],
        "data.features": settings["features"],
        "data.classes": settings["classes"],
        "model.layers.0.units": settings["hidden"],
        "model.layers.0.activation": activation,
        "model.layers.1.units": settings["classes"],
        "optimizer.learning_rate": settings["learning_rate"],
        "train.iterations": settings["iterations"],
        "train.batch_size": settings["batch_size"],
        "train.log_every": settings["log_every"],
    }


def test_bare_train_prints_the_seed_losses(run_cli: RunCli) -> None:
    """A bare `toolkit train`, from a folder with no specs, prints the three stated losses."""
    result = run_cli("train")
    assert result.returncode == 0, result.stderr
    assert printed_losses(result.stdout) == pytest.approx(SIGMOID_LOSSES, abs=1e-9)


def test_relu_spec_prints_the_relu_losses(run_cli: RunCli) -> None:
    """The shipped ReLU spec prints the three stated ReLU losses."""
    result = run_cli("train", str(SPECS / "two_layer_relu.yaml"))
    assert result.returncode == 0, result.stderr
    assert printed_losses(result.stdout) == pytest.approx(RELU_LOSSES, abs=1e-9)


def test_relu_spec_differs_from_sigmoid_spec_in_one_setting() -> None:
    """Apart from its name and comments, the ReLU spec changes only the hidden activation."""

    def settings(name: str) -> list[str]:
        lines = (SPECS / name).read_text().splitlines()
        return [line for line in lines if not line.startswith(("#", "name:"))]

    sigmoid, relu = settings("two_layer_sigmoid.yaml"), settings("two_layer_relu.yaml")
    changed = [(a, b) for a, b in zip(sigmoid, relu, strict=True) if a != b]
    assert changed == [(changed[0][0], changed[0][0].replace("sigmoid", "relu"))]
    assert "activation: sigmoid" in changed[0][0]


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize(
    "changes",
    [{}, {"seed": 3, "batch_size": 1}, {"learning_rate": 2.0, "hidden": 3, "classes": 3}],
)
def test_other_settings_match_the_seed_program(activation: str, changes: dict) -> None:
    """Other seeds, sizes, learning rates and batch sizes match the seed program run with them."""
    expected, expected_params = seed_program(activation=activation, **{**SMALL, **changes})
    spec = toolkit.load_spec(
        SPECS / "two_layer_sigmoid.yaml", overrides=small_overrides(activation, **changes)
    )
    result = toolkit.train(spec)
    assert [(r["iteration"], r["loss"]) for r in result.history] == expected
    for key, value in expected_params.items():
        np.testing.assert_array_equal(result.network.params[key], value)


def test_default_generator_matches_the_program_on_numpy_generator() -> None:
    """With rng: default the same draws come from numpy's Generator, in the same order."""
    expected, _ = seed_program(legacy=False, **SMALL)
    overrides = {**small_overrides(), "rng": "default"}
    result = toolkit.train(toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", overrides))
    assert [(r["iteration"], r["loss"]) for r in result.history] == expected


def test_set_overrides_on_the_command_line_match_the_seed_program(run_cli: RunCli) -> None:
    """`--set` on the command line changes the run exactly as the seed program's settings do."""
    expected, _ = seed_program(activation="relu", **SMALL)
    args = [f"--set={key}={value}" for key, value in small_overrides("relu").items()]
    result = run_cli("train", str(SPECS / "two_layer_sigmoid.yaml"), *args)
    assert result.returncode == 0, result.stderr
    assert printed_losses(result.stdout) == [loss for _, loss in expected]


def test_two_runs_are_bit_identical() -> None:
    """The same spec and seed give the same numbers, bit for bit."""
    spec = toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", small_overrides())
    first, second = toolkit.train(spec), toolkit.train(spec)
    assert first.history[-1]["loss"] == second.history[-1]["loss"]
    for key in first.network.params:
        assert first.network.params[key].tobytes() == second.network.params[key].tobytes()
