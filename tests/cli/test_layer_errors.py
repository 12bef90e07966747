"""A bad layer spec is one located line and exit 2, before any data is drawn where the
dataset declares its sample shape: the key path, the file's line and column, and the fix.

Lines and columns are computed from the text written, never copied from the tool.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli_errors import assert_refused, where
from tests.helpers import RunCli, write
from toolkit import SpecError, load_spec
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry

HEAD = """\
seed: 1
data: {name: digits}
model:
  layers:
"""
OUTPUT = "    - {units: 10, activation: softmax}\n"
TYPES = "available: " + ", ".join(
    sorted(Registry.from_manager(get_plugin_manager()).names("layer"))
)


def refused(run_cli: RunCli, tmp_path: Path, layers: str) -> tuple[str, str]:
    """Validate a spec with these layers: the one error line it gives, and the spec text."""
    text = HEAD + layers
    write(tmp_path / "spec.yaml", text)
    result = run_cli("validate", "spec.yaml", cwd=tmp_path)
    (line,) = assert_refused(result)
    return line, text


def test_unknown_type_suggests_the_nearest_and_lists_the_types(
    run_cli: RunCli, tmp_path: Path
) -> None:
    line, text = refused(run_cli, tmp_path, "    - {type: dnse, units: 10, activation: softmax}\n")
    assert line.startswith("error: model.layers[0].type: unknown layer 'dnse' ")
    assert f"({where(text, 'dnse')})" in line
    assert line.endswith(f"did you mean 'dense'? {TYPES}")


@pytest.mark.parametrize(
    ("given", "shown"), [("3", "3"), ("[dense]", "a list"), ("null", "nothing")]
)
def test_type_that_is_not_a_name(run_cli: RunCli, tmp_path: Path, given: str, shown: str) -> None:
    """``type: 3``, ``type: [dense]``, and ``type:`` left empty (not silently dense)."""
    layer = f"    - {{type: {given}, units: 10, activation: softmax}}\n"
    line, text = refused(run_cli, tmp_path, layer)
    assert line.startswith(f"error: model.layers[0].type: expected a layer type name, got {shown} ")
    assert f"({where(text, given)})" in line
    assert line.endswith(f"{TYPES} (leave 'type' out for 'dense')")


def test_unknown_key_lists_the_keys_of_that_type(run_cli: RunCli, tmp_path: Path) -> None:
    line, text = refused(run_cli, tmp_path, "    - {units: 16, activaton: relu}\n" + OUTPUT)
    assert line.startswith("error: model.layers[0].activaton: unknown key 'activaton' ")
    assert f"({where(text, 'activaton')})" in line
    assert line.endswith(
        "did you mean 'activation'? layer 'dense' takes: type, units, activation, init, bias_init"
    )


def test_a_misspelt_required_key_is_both_unknown_and_missing(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Every problem is told, each at its place."""
    text = HEAD + "    - {type: reshape, shpe: [1, 8, 8]}\n" + OUTPUT
    write(tmp_path / "spec.yaml", text)
    missing, unknown = assert_refused(run_cli("validate", "spec.yaml", cwd=tmp_path))
    assert missing.startswith("error: model.layers[0].shape: missing required key 'shape' ")
    assert f"({where(text, '{type: reshape')})" in missing
    assert unknown.startswith("error: model.layers[0].shpe: unknown key 'shpe' ")
    assert unknown.endswith(
        f"({where(text, 'shpe')}); did you mean 'shape'? layer 'reshape' takes: type, shape"
    )


def test_unknown_key_on_a_type_without_settings(run_cli: RunCli, tmp_path: Path) -> None:
    line, text = refused(run_cli, tmp_path, "    - {type: flatten, units: 3}\n" + OUTPUT)
    assert line.startswith("error: model.layers[0].units: unknown key 'units' ")
    assert f"({where(text, 'units')})" in line
    assert line.endswith("layer 'flatten' takes no settings besides 'type'; remove it")


def test_missing_required_setting(run_cli: RunCli, tmp_path: Path) -> None:
    """Placed at the layer that lacks it."""
    line, text = refused(run_cli, tmp_path, "    - {type: reshape}\n" + OUTPUT)
    assert line.startswith("error: model.layers[0].shape: missing required key 'shape' ")
    assert f"({where(text, '{type: reshape}')})" in line
    assert line.endswith("add 'shape: ...'")


def test_missing_required_part_setting(run_cli: RunCli, tmp_path: Path) -> None:
    """An activation layer names its activation: it is not silently the identity."""
    line, text = refused(run_cli, tmp_path, "    - {type: activation}\n" + OUTPUT)
    assert line.startswith("error: model.layers[0].activation: missing required key 'activation' ")
    assert f"({where(text, '{type: activation}')})" in line
    assert line.endswith(
        "name an activation: identity, leaky_relu, relu, sigmoid, softmax, step, tanh"
    )


def test_bad_value(run_cli: RunCli, tmp_path: Path) -> None:
    line, text = refused(run_cli, tmp_path, "    - {units: -3}\n" + OUTPUT)
    assert line == f"error: model.layers[0].units: must be at least 1, got -3 ({where(text, '-3')})"


def test_shape_a_layer_part_cannot_take(run_cli: RunCli, tmp_path: Path) -> None:
    """The part's SettingError, at the setting it names, with the shape reaching the layer."""
    layers = "    - {type: reshape, shape: [2, 8, 8]}\n    - {type: flatten}\n" + OUTPUT
    line, text = refused(run_cli, tmp_path, layers)
    assert line.startswith(
        "error: model.layers[0].shape: layer 'reshape' on samples of shape (64,): "
        "[2, 8, 8] holds 128 numbers, but each sample holds 64; give a shape of 64 numbers "
        "in all "
    )
    assert line.endswith(f"({where(text, '[2, 8, 8]')})")


def test_dense_on_samples_of_several_axes(run_cli: RunCli, tmp_path: Path) -> None:
    line, text = refused(run_cli, tmp_path, "    - {type: reshape, shape: [1, 8, 8]}\n" + OUTPUT)
    assert line == (
        "error: model.layers[1].units: layer 'dense' on samples of shape (1, 8, 8): a dense "
        "layer takes samples of one axis; put {type: flatten} before it "
        f"({where(text, '10', after=OUTPUT)})"
    )


def test_last_units_not_the_classes(run_cli: RunCli, tmp_path: Path) -> None:
    layers = "    - {units: 16}\n    - {units: 7, activation: softmax}\n"
    line, text = refused(run_cli, tmp_path, layers)
    assert line == (
        "error: model.layers[1].units: the output layer has 7 units but the data has 10 "
        f"classes ({where(text, '7')}); set units: 10"
    )


def test_last_layer_of_another_shape(run_cli: RunCli, tmp_path: Path) -> None:
    """A non-dense last layer: its whole output shape is named, at the layer."""
    layers = OUTPUT + "    - {type: reshape, shape: [2, 5]}\n"
    line, text = refused(run_cli, tmp_path, layers)
    assert line == (
        "error: model.layers[1]: the output layer gives samples of shape (2, 5) but the data "
        f"has 10 classes ({where(text, '{type: reshape')}); end with a layer that gives 10 "
        "values per sample"
    )


def test_refused_before_any_data_is_drawn(plugin_folder: Path) -> None:
    """The dataset declares its sample shape and classes; loading the spec refuses the
    layers, and the dataset's function is never called."""
    write(
        plugin_folder / "declared.py",
        "from toolkit import Part\n"
        "def never(rng):\n"
        "    raise AssertionError('the data was drawn')\n"
        "def toolkit_datasets():\n"
        "    return {'declared': Part(never, features=lambda: [1, 8, 8], classes=lambda: 10)}\n",
    )
    text = "plugins: [declared]\n" + HEAD.replace("digits", "declared") + OUTPUT
    with pytest.raises(SpecError) as raised:
        load_spec(write(plugin_folder / "spec.yaml", text))
    (problem,) = raised.value.problems
    assert problem.path == "model.layers[0].units"
    assert (
        "a dense layer takes samples of one axis; put {type: flatten} before it" in problem.message
    )


def test_without_a_declared_shape_the_build_gives_the_same_located_error(
    plugin_folder: Path, run_cli: RunCli
) -> None:
    """A dataset that declares nothing: the layers are checked once its data is drawn,
    with the same one line, at the same place, exit 2."""
    write(
        plugin_folder / "undeclared.py",
        "import numpy as np\n"
        "from toolkit import Dataset, Part\n"
        "def undeclared(rng):\n"
        "    return Dataset(rng.standard_normal((8, 12)), np.eye(3)[np.arange(8) % 3])\n"
        "def toolkit_datasets():\n"
        "    return {'undeclared': Part(undeclared)}\n",
    )
    layers = "    - {type: reshape, shape: [2, 8]}\n    - {type: flatten}\n" + OUTPUT
    text = "plugins: [undeclared]\n" + HEAD.replace("digits", "undeclared") + layers
    write(plugin_folder / "spec.yaml", text)
    result = run_cli("validate", "spec.yaml", cwd=plugin_folder)
    (line,) = assert_refused(result)
    assert line == (
        "error: model.layers[0].shape: layer 'reshape' on samples of shape (12,): [2, 8] holds "
        f"16 numbers, but each sample holds 12; give a shape of 12 numbers in all "
        f"({where(text, '[2, 8]')})"
    )
    write(plugin_folder / "spec.yaml", text.replace("shape: [2, 8]", "shape: [2, 6]"))
    (line,) = assert_refused(run_cli("validate", "spec.yaml", cwd=plugin_folder))
    assert line.startswith(
        "error: model.layers[2].units: the output layer has 10 units but the data has 3 classes "
    )
    assert line.endswith("; set units: 3")
