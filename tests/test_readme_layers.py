"""The README's Layers section: its specs load, its table and error are what the tool
prints, and its layer type trains without a backward pass. A spec naming a layer type
that is not registered here is skipped, naming the type."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import toolkit
from tests.helpers import ROOT, RunCli, write
from toolkit.registry.kinds import LAYER_PART_KEYS
from toolkit.registry.registry import Registry
from toolkit.runs.layer_table import layer_table

README = (ROOT / "README.md").read_text()
SECTION = README.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```$", SECTION, re.S | re.M)
YAML = [body for language, body in BLOCKS if language == "yaml"]
PYTHON = [body for language, body in BLOCKS if language == "python"]
OUTPUT = [body for language, body in BLOCKS if not language]
STACK, CONVNET, BATCHNORM, LAYER_NORM = YAML
REGISTERED = set(Registry.from_manager(toolkit.get_plugin_manager()).names("layer"))


def needs_types(text: str) -> None:
    """Skip unless every layer type the spec names is registered here."""
    layers = yaml.safe_load(text)["model"]["layers"]
    missing = {layer["type"] for layer in layers if "type" in layer} - REGISTERED
    if missing:
        pytest.skip(f"layer types not registered here: {', '.join(sorted(missing))}")


def test_a_layer_without_type_is_dense() -> None:
    """The section's first claim, on its own spec: the typeless layers are dense."""
    rows = layer_table(yaml.safe_load(STACK))
    assert [row.type for row in rows if row.params] == ["dense", "dense"]


def test_the_shown_table_is_what_validate_prints(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path / "stack.yaml", STACK)
    result = run_cli("validate", "stack.yaml")
    assert result.returncode == 0, result.stderr
    table = OUTPUT[0].strip()
    assert table in result.stdout, result.stdout
    assert table.startswith("layer  type")


def test_the_shown_error_is_what_validate_says(run_cli: RunCli, tmp_path: Path) -> None:
    """The first spec without its flatten."""
    (flatten,) = [line for line in STACK.splitlines(keepends=True) if "type: flatten" in line]
    write(tmp_path / "spec.yaml", STACK.replace(flatten, ""))
    result = run_cli("validate", "spec.yaml")
    assert result.returncode == 2
    assert result.stderr.strip() == OUTPUT[1].strip()


def shapes(text: str) -> list[tuple[str, tuple[int, ...]]]:
    """Every parameter of the spec's network, by name, with its shape."""
    return [pair for row in layer_table(yaml.safe_load(text)) for pair in row.params]


def test_the_convnet_has_the_books_shapes() -> None:
    """SimpleConvNet's arrays: W1 (FN, C, FH, FW), pooling halves each side, and the
    flattened 16 * 4 * 4 feed the dense layers."""
    needs_types(CONVNET)
    rows = layer_table(yaml.safe_load(CONVNET))
    assert [row.output_shape for row in rows] == [
        (1, 8, 8),
        (16, 8, 8),
        (16, 4, 4),
        (256,),
        (64,),
        (10,),
    ]
    assert shapes(CONVNET) == [
        ("W1", (16, 1, 3, 3)),
        ("b1", (16,)),
        ("W2", (16 * 4 * 4, 64)),
        ("b2", (64,)),
        ("W3", (64, 10)),
        ("b3", (10,)),
    ]
    assert "W1 (16, 1, 3, 3), b1 (16,)`, `W2 (256, 64), b2 (64,)`" in SECTION.replace("\n", " ")


def test_the_batchnorm_net_has_the_books_names() -> None:
    """MultiLayerNetExtend's names: gamma1, beta1 after the first affine layer; the running
    statistics apart, as state."""
    needs_types(BATCHNORM)
    rows = layer_table(yaml.safe_load(BATCHNORM))
    assert [name for name, _ in shapes(BATCHNORM)] == ["W1", "b1", "gamma1", "beta1", "W2", "b2"]
    assert [name for row in rows for name, _ in row.state] == ["running_mean1", "running_var1"]
    assert "`W1, b1, gamma1, beta1, W2, b2`" in SECTION
    assert "`running_mean1, running_var1`" in SECTION


@pytest.fixture
def layer_norm_plugin(plugin_folder: Path) -> Path:
    write(plugin_folder / "layer_norm_plugin.py", PYTHON[0])
    write(plugin_folder / "spec.yaml", LAYER_NORM)
    return plugin_folder


def test_the_layer_type_normalizes_each_sample(layer_norm_plugin: Path) -> None:
    """With gamma 1 and beta 0 each sample comes out with mean 0 and variance
    var / (var + eps); extra leading axes are kept."""
    module: Any = importlib.import_module("layer_norm_plugin")
    layer = module.toolkit_layers()["layer_norm"].fn((5,), eps=1e-5)
    layer.names = {"gamma": "gamma1", "beta": "beta1"}
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(2, 4, 5))
    params = {"gamma1": np.ones(5), "beta1": np.zeros(5)}
    y = layer.forward(x, params, toolkit.Mode()).output
    assert y.shape == (2, 4, 5)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    variance = x.var(axis=-1)
    np.testing.assert_allclose(y.var(axis=-1), variance / (variance + 1e-5), rtol=1e-12)


def test_the_layer_type_trains_without_backward(layer_norm_plugin: Path, run_cli: RunCli) -> None:
    """Named after the dense layer before it; trained by central_difference; refused by
    backprop, naming the layer."""
    assert LAYER_PART_KEYS["type"].hook == "toolkit_layers"
    checked = run_cli("validate", "spec.yaml", cwd=layer_norm_plugin)
    assert checked.returncode == 0, checked.stderr
    assert re.search(
        r"^2\s+layer_norm\s+-\s+\(16,\)\s+gamma1 \(16,\), beta1 \(16,\)\s+32$", checked.stdout, re.M
    )
    trained = run_cli("train", "spec.yaml", "--set", "train.iterations=2", cwd=layer_norm_plugin)
    assert trained.returncode == 0, trained.stderr
    assert "done: 2 iterations" in trained.stdout
    refused = run_cli(
        "train",
        "spec.yaml",
        "--set",
        "gradient=backprop",
        "--set",
        "train.iterations=2",
        cwd=layer_norm_plugin,
    )
    assert refused.returncode == 2
    assert "layer 'layer_norm'" in refused.stderr
