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
from tests.helpers import ROOT, SPECS, RunCli, write
from toolkit.registry.kinds import LAYER_PART_KEYS
from toolkit.registry.registry import Registry
from toolkit.runs.layer_table import layer_table

README = (ROOT / "README.md").read_text()
SECTION = README.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```$", SECTION, re.S | re.M)
YAML = [body for language, body in BLOCKS if language == "yaml"]
PYTHON = [body for language, body in BLOCKS if language == "python"]
OUTPUT = [body for language, body in BLOCKS if not language]
STACK, CONVNET_LAYERS, BATCHNORM_LAYERS, LAYER_NORM = YAML
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


@pytest.mark.parametrize(
    ("name", "block", "table"),
    [("digits_convnet", 1, 2), ("book_batchnorm", 2, 3)],
)
def test_shipped_networks_are_shown_as_written_and_as_validated(
    run_cli: RunCli, name: str, block: int, table: int
) -> None:
    """The layers shown are the shipped spec's, word for word, and the table shown is
    what validate prints for it."""
    shipped = (SPECS / f"{name}.yaml").read_text()
    needs_types(shipped)
    assert YAML[block] in shipped
    result = run_cli("validate", name)
    assert result.returncode == 0, result.stderr
    assert OUTPUT[table].strip() in result.stdout, result.stdout


def test_the_convnet_has_the_books_shapes() -> None:
    """SimpleConvNet's arrays: W1 (FN, C, FH, FW); a pad of 1 keeps 8x8, the 2x2 pooling
    halves each side, and the flattened 30 * 4 * 4 feed the hidden layer."""
    shipped = (SPECS / "digits_convnet.yaml").read_text()
    needs_types(shipped)
    rows = layer_table(SPECS / "digits_convnet.yaml")
    assert [row.output_shape for row in rows] == [
        (1, 8, 8),
        (30, 8, 8),
        (30, 4, 4),
        (30 * 4 * 4,),
        (100,),
        (10,),
    ]
    assert rows[1].params == (("W1", (30, 1, 3, 3)), ("b1", (30,)))


def test_the_batchnorm_net_has_the_books_names() -> None:
    """MultiLayerNetExtend's names: gamma{k}, beta{k} after the k-th affine layer; the
    running statistics apart, as state."""
    shipped = (SPECS / "book_batchnorm.yaml").read_text()
    needs_types(shipped)
    rows = layer_table(SPECS / "book_batchnorm.yaml")
    names = [name for row in rows for name, _ in row.params]
    assert names == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    state = [name for row in rows for name, _ in row.state]
    assert state == ["running_mean1", "running_var1", "running_mean2", "running_var2"]


def test_a_second_batchnorm_after_one_weighted_layer_gets_2() -> None:
    """The README's rule for a name already taken: gamma1, then gamma1_2."""
    tree = yaml.safe_load(STACK)
    needs_types("model:\n  layers:\n    - {type: batchnorm}\n")
    tree["model"]["layers"][3:3] = [{"type": "batchnorm"}, {"type": "batchnorm"}]
    names = [name for row in layer_table(tree) for name, _ in row.params]
    assert names[2:6] == ["gamma1", "beta1", "gamma1_2", "beta1_2"]
    assert "`gamma1`, `gamma1_2`" in SECTION


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
