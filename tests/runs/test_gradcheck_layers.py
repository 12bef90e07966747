"""toolkit gradcheck on every layer shape: with masks drawn for the batch (every estimator
sees the same ones), batch normalization, convolution- and pooling-like layers; backprop
and complex_step refuse, in one line, the layers they cannot go through."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import toolkit
from tests.gradients import layer_parts
from tests.helpers import RunCli, write
from toolkit.registry.manager import get_plugin_manager
from toolkit.runs.build import assemble
from toolkit.runs.gradcheck import gradcheck

MODULE = "tl_layer_parts"
"""The test layers, copied beside the spec as a plugin module of this name."""
EVERY = {
    "backprop",
    "central_difference",
    "central_difference_loop",
    "complex_step",
    "forward_difference",
    "spsa",
}
TANH = {"units": 6, "activation": "tanh", "init": {"name": "normal", "scale": 0.6}}
SOFTMAX = {"units": 3, "activation": "softmax", "init": {"name": "normal", "scale": 0.6}}
MASKED = [
    {"units": 6, "init": {"name": "normal", "scale": 0.6}},
    {"type": "centre"},
    {"type": "activation", "activation": "tanh"},
    {"type": "mask", "rate": 0.4},
    TANH,
    {"type": "mask", "rate": 0.2},
    SOFTMAX,
]
CONVOLVED = [
    {"type": "reshape", "shape": [2, 6]},
    {"type": "mix", "filters": 3, "activation": "relu", "init": {"name": "he"}},
    {"type": "pairmax"},
    {"type": "flatten"},
    {"units": 5, "activation": "relu", "init": {"name": "he"}},
    SOFTMAX,
]


def spec(layers: list[dict[str, Any]], features: int = 5, **extra: Any) -> dict[str, Any]:
    return {
        "name": "layers",
        "seed": 4,
        "plugins": [MODULE],
        "data": {"name": "random", "samples": 40, "features": features, "classes": 3},
        "model": {"layers": layers},
        "loss": "cross_entropy",
        "train": {"batch_size": 20},
        **extra,
    }


@pytest.fixture
def folder(plugin_folder: Path) -> Path:
    """A folder with the test layers as a plugin module."""
    write(plugin_folder / f"{MODULE}.py", Path(layer_parts.__file__).read_text(encoding="utf-8"))
    return plugin_folder


def spec_file(folder: Path, layers: list[dict[str, Any]], **extra: Any) -> Path:
    return write(folder / "layers.yaml", yaml.safe_dump(spec(layers, **extra)))


def checked_and_skipped(stdout: str) -> tuple[set[str], dict[str, str]]:
    rows = [line.split() for line in stdout.splitlines()]
    start = next(i for i, row in enumerate(rows) if row[:1] == ["estimator"])
    checked = set()
    for row in rows[start + 1 :]:
        if not row:
            break
        checked.add(row[0])
        assert "FAIL" not in row, row
    skipped = dict(re.findall(r"^skipped (\S+): (.*)$", stdout, re.M))
    return checked, skipped


def test_masks_and_batch_statistics_pass_with_every_estimator(
    folder: Path, run_cli: RunCli
) -> None:
    result = run_cli("gradcheck", str(spec_file(folder, MASKED)), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    checked, skipped = checked_and_skipped(result.stdout)
    assert checked == EVERY and skipped == {}
    assert "its layers' draws too, which every estimator sees" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("gradcheck passed: 5 of 5 estimators")


def test_convolution_and_pooling_pass(folder: Path, run_cli: RunCli) -> None:
    result = run_cli("gradcheck", str(spec_file(folder, CONVOLVED, data=None)), cwd=folder)
    assert result.returncode == 2  # data: null is not a dataset: checked before anything runs
    path = spec_file(folder, CONVOLVED)
    text = path.read_text().replace("features: 5", "features: 12")
    result = run_cli("gradcheck", str(write(path, text)), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    checked, skipped = checked_and_skipped(result.stdout)
    assert checked == EVERY - {"complex_step"}
    assert skipped == {
        "complex_step": "complex_step cannot be used: activation 'relu' is not analytic: a "
        "complex step through it does not give its derivative"
    }


def test_complex_step_refuses_a_layer_not_declared_smooth(folder: Path, run_cli: RunCli) -> None:
    layers = [dict(layer) for layer in CONVOLVED]
    layers[1]["activation"] = "tanh"
    path = write(
        folder / "smooth.yaml",
        yaml.safe_dump(spec(layers)).replace("features: 5", "features: 12"),
    )
    result = run_cli("gradcheck", str(path), "--estimators", "complex_step,backprop", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    _, skipped = checked_and_skipped(result.stdout)
    assert skipped == {
        "complex_step": "complex_step cannot be used: layer 'pairmax' does not declare itself "
        "smooth (breakpoints: ())"
    }


def test_every_estimator_sees_the_masks_drawn_after_the_batch() -> None:
    """The reference is the loop's arithmetic with the masks a run's first iteration draws
    after its batch; the loop as an estimator matches it exactly, and differences written
    out with those masks match it too."""
    loaded = toolkit.load_spec(
        {**spec(MASKED), "plugins": []},
        manager=get_plugin_manager(("tests.gradients.layer_parts",)),
    )
    report = gradcheck(loaded, ["central_difference_loop", "central_difference"])
    loop = report.estimator("central_difference_loop")
    assert all(check.max_abs_diff == 0.0 for check in loop.parameters)
    assert report.passed and report.draws
    assembly = assemble(loaded)
    network, rng = assembly.network, assembly.rng
    batch = rng.choice(assembly.data.samples, 20)
    x, t = assembly.data.x[batch], assembly.data.t[batch]
    with network.training(network.draw(rng, 20)):
        for name, param in network.params.items():
            flat, h = param.reshape(-1), 1e-4
            written = []
            for index in report.reference.indices[name]:
                value = flat[index]
                flat[index] = value + h
                up = network.loss(x, t, train=None)
                flat[index] = value - h
                down = network.loss(x, t, train=None)
                flat[index] = value
                written.append((up - down) / (2 * h))
            np.testing.assert_array_equal(report.reference.values[name], written, err_msg=name)


def test_backprop_refuses_a_layer_without_a_backward_pass(folder: Path, run_cli: RunCli) -> None:
    layers = [TANH, {"type": "plain"}, SOFTMAX]
    result = run_cli("gradcheck", str(spec_file(folder, layers)), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    _, skipped = checked_and_skipped(result.stdout)
    assert skipped["backprop"] == (
        "backprop needs the backward pass of layer 'plain', which its plugin does not give"
    )
    path = spec_file(folder, layers, gradient="backprop")
    trained = run_cli("train", str(path), cwd=folder)
    assert trained.returncode == 2, trained.stdout + trained.stderr
    (line,) = trained.stderr.splitlines()
    assert line.startswith(
        "error: model.layers[1]: backprop needs the backward pass of layer 'plain', which its "
        "plugin does not give"
    )
    assert line.endswith("use gradient: central_difference (it needs the forward pass only)")


OFFSET_PLUGIN = '''
from toolkit import Part
from toolkit_plugins.gradient_estimators import central_difference


def offset_difference(objective, h=1e-4):
    """Central differences, each 1e-6 too large."""
    return {name: grad + 1e-6 for name, grad in central_difference(objective, h).items()}


def toolkit_gradient_estimators():
    return {"offset_difference": Part(offset_difference, tolerance=1e-7)}
'''


def test_a_gradient_of_zero_is_told_from_a_wrong_one(folder: Path, run_cli: RunCli) -> None:
    """The bias before batch normalization has a gradient of 0, which the reference gives to
    rounding: central differences and backprop pass on it, an estimator 1e-6 off fails."""
    write(folder / "tl_offset.py", OFFSET_PLUGIN)
    path = spec_file(folder, MASKED)
    result = run_cli(
        "gradcheck",
        str(path),
        "-p",
        "tl_offset",
        "--estimators",
        "offset_difference,backprop,central_difference",
        cwd=folder,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {tuple(line.split()[:2]): line.split() for line in result.stdout.splitlines()}
    assert float(rows["central_difference", "b1"][3]) <= 1e-10  # the reference: 0 to rounding
    assert rows["central_difference", "b1"][6] == "pass"
    assert rows["backprop", "b1"][6] == "pass"
    assert rows["offset_difference", "b1"][6] == "FAIL"
    assert result.stdout.splitlines()[-1].startswith("gradcheck FAILED: offset_difference (W1, b1")


STANDARD_MASKED = [
    {"units": 6, "init": {"name": "normal", "scale": 0.6}},
    {"type": "batchnorm"},
    {"type": "activation", "activation": "tanh"},
    {"type": "dropout", "rate": 0.4},
    TANH,
    {"type": "dropout", "rate": 0.2},
    SOFTMAX,
]
STANDARD_CONVOLVED = [
    {"type": "reshape", "shape": [1, 4, 4]},
    {"type": "conv2d", "filters": 2, "kernel": 3, "pad": 1, "activation": "relu", "init": "he"},
    {"type": "max_pool", "size": 2},
    {"type": "flatten"},
    {"units": 5, "activation": "relu", "init": {"name": "he"}},
    SOFTMAX,
]


def test_dropout_and_batchnorm_pass_with_every_estimator(tmp_path: Path, run_cli: RunCli) -> None:
    tree = {**spec(STANDARD_MASKED), "plugins": []}
    result = run_cli("gradcheck", str(write(tmp_path / "s.yaml", yaml.safe_dump(tree))))
    assert result.returncode == 0, result.stdout + result.stderr
    checked, skipped = checked_and_skipped(result.stdout)
    assert checked == EVERY and skipped == {}
    assert "its layers' draws too" in result.stdout


def test_conv2d_and_max_pool_pass(tmp_path: Path, run_cli: RunCli) -> None:
    tree = {**spec(STANDARD_CONVOLVED, features=16), "plugins": []}
    result = run_cli("gradcheck", str(write(tmp_path / "s.yaml", yaml.safe_dump(tree))))
    assert result.returncode == 0, result.stdout + result.stderr
    checked, skipped = checked_and_skipped(result.stdout)
    assert checked == EVERY - {"complex_step"} and set(skipped) == {"complex_step"}
