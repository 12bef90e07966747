"""Layer types from plugins, like every other kind of part: listed with their provenance
(``toolkit plugins``, ``--json``), conflicts named, a broken plugin kept apart, and a
third-party layer without a backward pass trained by a numerical estimator."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from tests.helpers import SPECS, FakeDistribution, RunCli, only_distributions, write
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry

STANDARD_LAYERS = {
    "dense": "layers",
    "activation": "layers",
    "flatten": "layers",
    "reshape": "layers",
    "conv2d": "convolution",
    "max_pool": "convolution",
    "dropout": "regularization",
    "batchnorm": "regularization",
}
"""Each standard layer type, and the module of toolkit_plugins that gives it."""

SCALE = textwrap.dedent('''\
    import numpy as np
    from toolkit import Layer, ParamSpec, Part, Step


    class Scale(Layer):
        def param_specs(self):
            return (ParamSpec("gamma", self.input_shape, 1.0),)

        def forward(self, x, params, mode):
            y = x * params[self.names["gamma"]]
            return Step(x, y, y)


    def scale(input_shape):
        """Each feature times a learned factor."""
        return Scale(input_shape)


    def toolkit_layers():
        return {"scale": Part(scale)}
''')

SCALED_SPEC = """\
seed: 3
data: {name: teacher, samples: 40, features: 6, classes: 3}
model:
  layers:
    - {units: 5, activation: tanh}
    - {type: scale}
    - {units: 3, activation: softmax}
gradient: central_difference
train: {iterations: 2, batch_size: 10}
"""


def test_standard_layer_types_come_from_the_installed_entry_point() -> None:
    registry = Registry.from_manager(get_plugin_manager())
    entries = [entry for entry in registry.entries("layer") if entry.name in STANDARD_LAYERS]
    assert {entry.name for entry in entries} == set(STANDARD_LAYERS)
    assert {entry.distribution for entry in entries} == {"layer-toolkit"}
    assert {entry.name: entry.plugin for entry in entries} == {
        name: f"toolkit_plugins.{module}" for name, module in STANDARD_LAYERS.items()
    }


def test_plugins_lists_the_standard_layer_types_with_their_provider(run_cli: RunCli) -> None:
    """Qualified name, distribution and file:line, as for every other kind."""
    result = run_cli("plugins", env={"COLUMNS": "1000"})
    assert result.returncode == 0, result.stderr
    for name, module in STANDARD_LAYERS.items():
        pattern = (
            rf"^  {name}\s.*\stoolkit_plugins\.{module}:{name}\s+layer-toolkit \S+\s+"
            rf"\S*plugins/{module}\.py:\d+\s"
        )
        assert re.search(pattern, result.stdout, re.M), name


@pytest.fixture
def scale_plugin(plugin_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``scale`` layer type, installed (as far as entry points tell) by scale-dist 0.2."""
    write(plugin_folder / "tp_scale.py", SCALE)
    only_distributions(monkeypatch, FakeDistribution("scale-dist", "0.2", {"scale": "tp_scale"}))
    return plugin_folder


def test_an_installed_layer_type_is_listed_with_its_provenance(
    scale_plugin: Path, run_cli: RunCli
) -> None:
    env = {"PYTHONPATH": str(scale_plugin), "COLUMNS": "1000"}
    listing = run_cli("plugins", env=env)
    assert listing.returncode == 0, listing.stderr
    assert re.search(rf"^layers \({len(STANDARD_LAYERS) + 1}\)$", listing.stdout, re.M)
    line = SCALE.splitlines().index("def scale(input_shape):") + 1
    assert re.search(
        rf"^  scale\s+-\s+scale:scale\s+scale-dist 0\.2\s+\S*tp_scale\.py:{line}\s+"
        r"Each feature times a learned factor\.$",
        listing.stdout,
        re.M,
    ), listing.stdout
    parts = json.loads(run_cli("plugins", "--json", env=env).stdout)["parts"]
    (entry,) = [part for part in parts if part["kind"] == "layer" and part["name"] == "scale"]
    assert entry["distribution"] == {"name": "scale-dist", "version": "0.2"}
    assert entry["defined_at"].endswith(f"tp_scale.py:{line}")
    assert entry["parameters"] == {} and entry["conflict"] is False
    assert {part["name"] for part in parts if part["kind"] == "layer"} == {
        *STANDARD_LAYERS,
        "scale",
    }


def test_a_layer_type_without_backward_trains_with_central_differences(
    scale_plugin: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    """Its parameters are named after the weighted layer before it (gamma1) and trained."""
    env = {"PYTHONPATH": str(scale_plugin)}
    spec = write(tmp_path / "scaled.yaml", SCALED_SPEC)
    checked = run_cli("validate", str(spec), env=env)
    assert checked.returncode == 0, checked.stderr
    assert re.search(r"^2\s+scale\s+-\s+\(5,\)\s+gamma1 \(5,\)\s+5$", checked.stdout, re.M)
    trained = run_cli("train", str(spec), "--out", str(tmp_path / "run"), env=env)
    assert trained.returncode == 0, trained.stderr
    assert "done: 2 iterations" in trained.stdout


def test_two_plugins_giving_a_layer_type_both_stay_and_a_spec_names_one(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    """A second 'dense': a layer without type is refused, naming both and the way out; the
    qualified name picks one."""
    write(
        plugin_folder / "tp_dense2.py",
        "from toolkit import Layer, Part\n"
        "def dense(input_shape, units=3):\n"
        "    return Layer(input_shape)\n"
        "def toolkit_layers():\n"
        "    return {'dense': Part(dense)}\n",
    )
    only_distributions(monkeypatch, FakeDistribution("dense2", "1.0", {"dense2": "tp_dense2"}))
    env = {"PYTHONPATH": str(plugin_folder)}
    spec = str(SPECS / "two_layer_relu.yaml")
    refused = run_cli("validate", spec, env=env)
    assert refused.returncode == 2
    first = refused.stderr.splitlines()[0]
    assert first.startswith(
        "error: model.layers[0].type: layer 'dense' is provided by 2 plugins: "
        "toolkit_plugins.layers (layer-toolkit "
    )
    assert "dense2 (dense2 1.0)" in first
    fix = first.rpartition("; name one of them: ")[2]
    assert sorted(fix.split(" or ")) == ["'dense2:dense'", "'toolkit_plugins.layers:dense'"]
    chosen = run_cli(
        "validate",
        spec,
        "--set",
        "model.layers.0.type=toolkit_plugins.layers:dense",
        "--set",
        "model.layers.1.type=toolkit_plugins.layers:dense",
        env=env,
    )
    assert chosen.returncode == 0, chosen.stderr
    listing = run_cli("plugins", env=env)
    assert listing.stdout.count("  dense [conflict]") == 2


def test_a_broken_layer_plugin_is_reported_and_the_rest_runs(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    """An installed plugin whose import fails: one warning line, and a spec of the standard
    layer types still validates."""
    write(
        plugin_folder / "tp_broken_layers.py",
        "import not_installed_anywhere\ndef toolkit_layers():\n    return {}\n",
    )
    only_distributions(
        monkeypatch, FakeDistribution("broken-layers", "0.1", {"bl": "tp_broken_layers"})
    )
    result = run_cli(
        "validate", str(SPECS / "two_layer_relu.yaml"), env={"PYTHONPATH": str(plugin_folder)}
    )
    assert result.returncode == 0, result.stderr
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "bl (broken-layers 0.1)" in warning
    assert "Traceback" not in result.stderr
