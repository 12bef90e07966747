"""Plugins: entry-point discovery, the plain-function form, local modules, conflicts, bad hooks."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import toolkit
from tests.helpers import ROOT, SPECS, FakeDistribution, RunCli, only_distributions, write
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry

STANDARD = {
    "activation": {"identity", "step", "sigmoid", "relu", "leaky_relu", "tanh", "softmax"},
    "loss": {"cross_entropy", "sum_squared_error", "mean_squared_error"},
    "initializer": {"uniform", "normal", "xavier", "he", "zeros"},
    "gradient_estimator": {
        "central_difference",
        "central_difference_loop",
        "forward_difference",
        "complex_step",
        "spsa",
        "backprop",
    },
    "dataset": {"random"},
    "optimizer": {"sgd"},
}

SOFTSIGN = """
import numpy as np

def toolkit_activations():
    return {"softsign": lambda x: x / (1 + np.abs(x))}
"""


def test_standard_parts_come_from_the_installed_entry_points() -> None:
    """Every standard part is registered by a toolkit_plugins entry point of layer-toolkit."""
    registry = Registry.from_manager(get_plugin_manager())
    for kind, names in STANDARD.items():
        entries = [e for e in registry.entries(kind) if e.name in names]
        assert {e.name for e in entries} == names
        assert {e.distribution for e in entries} == {"layer-toolkit"}
        assert all(e.plugin.startswith("toolkit_plugins.") for e in entries)


def test_no_plugins_without_autoload() -> None:
    """With entry points off and no modules, the registry is empty: the core has no parts."""
    registry = Registry.from_manager(get_plugin_manager(autoload=False))
    assert registry.entries() == []


def test_core_never_imports_the_standard_plugins() -> None:
    """No module of the core names the standard plugins package."""
    for path in (ROOT / "toolkit").glob("*.py"):
        assert "toolkit_plugins" not in path.read_text(), path.name


def test_plain_function_plugin_found_through_an_entry_point(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module whose toolkit_activations() returns a lambda adds an activation, with provenance."""
    write(plugin_folder / "tp_softsign.py", SOFTSIGN)
    only_distributions(
        monkeypatch, FakeDistribution("softsign-dist", "1.2", {"softsign": "tp_softsign"})
    )
    registry = Registry.from_manager(get_plugin_manager())
    (entry,) = [e for e in registry.entries("activation") if e.name == "softsign"]
    assert (entry.plugin, entry.distribution, entry.version) == ("softsign", "softsign-dist", "1.2")


def test_spec_naming_a_plugin_part_uses_it(plugin_folder: Path) -> None:
    """A network built with a plugin's activation computes with that function."""
    write(plugin_folder / "tp_softsign.py", SOFTSIGN)
    manager = get_plugin_manager(["tp_softsign"])
    spec = toolkit.load_spec(
        SPECS / "two_layer_sigmoid.yaml", ["model.layers.0.activation=softsign"], manager=manager
    )
    network = toolkit.build(spec)
    x = np.linspace(-2, 2, 200).reshape(2, 100)
    p = network.params
    hidden = x @ p["W1"] + p["b1"]
    logits = (hidden / (1 + np.abs(hidden))) @ p["W2"] + p["b2"]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(network.predict(x), expected, rtol=1e-12)


def test_local_module_with_p_trains(plugin_folder: Path, run_cli: RunCli) -> None:
    """`-p MODULE` registers a module found on PYTHONPATH for one run."""
    write(plugin_folder / "tp_softsign.py", SOFTSIGN)
    result = run_cli(
        "train",
        str(SPECS / "two_layer_sigmoid.yaml"),
        "-p",
        "tp_softsign",
        "--set",
        "model.layers.0.activation=softsign",
        "--set",
        "train.iterations=2",
        env={"PYTHONPATH": str(plugin_folder)},
    )
    assert result.returncode == 0, result.stderr
    assert "iteration 2/2" in result.stdout


def test_conflicting_names_both_stay_and_bare_name_is_refused(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two providers of 'relu': the bare name fails naming both; a qualified name picks one."""
    write(plugin_folder / "tp_dupe.py", "def toolkit_activations():\n    return {'relu': abs}\n")
    only_distributions(monkeypatch, FakeDistribution("dupe-dist", "0.1", {"dupe": "tp_dupe"}))
    manager = get_plugin_manager()
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(SPECS / "two_layer_relu.yaml", manager=manager)
    message = str(caught.value)
    assert "model.layers[0].activation: activation 'relu' is provided by 2 plugins" in message
    assert "dupe (dupe-dist 0.1)" in message
    assert "toolkit_plugins.activations (layer-toolkit" in message
    assert "'dupe:relu'" in message and "'toolkit_plugins.activations:relu'" in message
    spec = toolkit.load_spec(
        SPECS / "two_layer_relu.yaml",
        manager=manager,
        overrides=["model.layers.0.activation=dupe:relu"],
    )
    assert spec.bind(("model", "layers", 0, "activation"), "activation").part.fn is abs


def test_misspelled_hook_is_reported_with_the_close_match(plugin_folder: Path) -> None:
    """A hook named toolkit_activation is refused at registration, naming toolkit_activations."""
    write(plugin_folder / "tp_typo.py", "def toolkit_activation():\n    return {}\n")
    with pytest.raises(toolkit.PluginError, match="did you mean 'toolkit_activations'"):
        get_plugin_manager(["tp_typo"])


def test_hook_returning_a_non_mapping_is_reported(plugin_folder: Path) -> None:
    """A hook that returns a list is reported with the plugin and hook named."""
    write(plugin_folder / "tp_list.py", "def toolkit_losses():\n    return ['mse']\n")
    with pytest.raises(
        toolkit.PluginError, match="plugin 'tp_list', hook toolkit_losses returned list"
    ):
        Registry.from_manager(get_plugin_manager(["tp_list"]))


def test_richer_part_form_carries_parameters_and_description(plugin_folder: Path) -> None:
    """A Part with a derivative, parameters read from the signature, and a docstring summary."""
    write(
        plugin_folder / "tp_swish.py",
        textwrap.dedent('''
        import numpy as np
        from toolkit import Part, hookimpl

        def swish(x, beta=1.0):
            """x * sigmoid(beta * x)."""
            return x / (1 + np.exp(-beta * x))

        @hookimpl
        def toolkit_activations():
            return {"swish": Part(swish, derivative=lambda x, beta=1.0: x)}
    '''),
    )
    registry = Registry.from_manager(get_plugin_manager(["tp_swish"], autoload=False))
    (entry,) = registry.entries("activation")
    assert entry.part.params == {"beta": 1.0}
    assert entry.part.description == "x * sigmoid(beta * x)."
    assert entry.part.derivative is not None


def test_plugins_package_is_not_importable_by_its_folder_name(tmp_path: Path) -> None:
    """Nothing called `plugins` is installed: the standard parts import as toolkit_plugins."""
    result = subprocess.run(
        [sys.executable, "-c", "import plugins"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "No module named 'plugins'" in result.stderr


def test_core_names_no_standard_part() -> None:
    """No text in the core is the name of a standard part: defaults come from plugins."""
    names = set().union(*STANDARD.values())
    for path in (ROOT / "toolkit").glob("*.py"):
        texts = {
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not texts & names, (path.name, texts & names)


MINIMAL = {
    "data": {"name": "random", "samples": 6, "features": 2, "classes": 2},
    "model": {"layers": [{"units": 2}]},
}


STANDARD_MODULES = [
    f"toolkit_plugins.{module}"
    for module in (
        "datasets",
        "losses",
        "activations",
        "initializers",
        "gradient_estimators",
        "optimizers",
        "layers",
        "regularization",
        "convolution",
    )
]

OWN_OPTIMIZER = """
def toolkit_optimizers():
    return {"still": lambda: type("Still", (), {"update": lambda self, p, g: None})()}


def toolkit_defaults():
    return {"optimizer": "still"}
"""


def test_defaults_come_from_the_plugins(plugin_folder: Path) -> None:
    """A plugin's toolkit_defaults names the part a spec leaves out."""
    write(plugin_folder / "tp_still.py", OWN_OPTIMIZER)
    modules = [m for m in STANDARD_MODULES if not m.endswith("optimizers")]
    manager = get_plugin_manager([*modules, "tp_still"], autoload=False)
    assert toolkit.load_spec(MINIMAL, manager=manager).config["optimizer"] == {"name": "still"}


def test_disagreeing_defaults_are_reported(plugin_folder: Path) -> None:
    """Two plugins naming different default optimizers: leaving it out is a spec problem."""
    write(plugin_folder / "tp_still.py", OWN_OPTIMIZER)
    manager = get_plugin_manager([*STANDARD_MODULES, "tp_still"], autoload=False)
    with pytest.raises(toolkit.SpecError, match="plugins disagree on the default optimizer"):
        toolkit.load_spec(MINIMAL, manager=manager)
    spec = toolkit.load_spec({**MINIMAL, "optimizer": "sgd"}, manager=manager)
    assert spec.config["optimizer"]["name"] == "sgd"


def test_a_missing_part_without_a_default_is_reported(plugin_folder: Path) -> None:
    """With no plugin naming a default optimizer, leaving it out is a spec problem."""
    modules = [
        "toolkit_plugins.datasets",
        "toolkit_plugins.losses",
        "toolkit_plugins.activations",
        "toolkit_plugins.initializers",
        "toolkit_plugins.gradient_estimators",
        "toolkit_plugins.layers",
    ]
    manager = get_plugin_manager(modules, autoload=False)
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(MINIMAL, manager=manager)
    assert [str(p) for p in caught.value.problems] == [
        "optimizer: missing optimizer: no plugin gives a default; name the optimizer in the spec"
    ]


# -- a module named with -p that is also installed ----------------------------------------------


def test_a_p_module_also_installed_is_one_plugin(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-p naming the module an entry point already loaded: no error, its parts once."""
    write(plugin_folder / "tp_softsign.py", SOFTSIGN)
    only_distributions(
        monkeypatch, FakeDistribution("softsign-dist", "1.0", {"softsign": "tp_softsign"})
    )
    manager = get_plugin_manager(["tp_softsign"])
    registry = Registry.from_manager(manager)
    (entry,) = [e for e in registry.entries("activation") if e.name == "softsign"]
    assert entry.qualified_name == "softsign:softsign"
    assert "softsign" in manager.requested  # its failures are the user's errors, as for -p


def test_one_module_under_two_entry_points_is_one_plugin(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same module behind two entry points loads once, and nothing is reported skipped."""
    write(plugin_folder / "tp_softsign.py", SOFTSIGN)
    only_distributions(
        monkeypatch,
        FakeDistribution("softsign-dist", "1.0", {"softsign": "tp_softsign"}),
        FakeDistribution("softsign-copy", "1.0", {"softsign_again": "tp_softsign"}),
    )
    manager = get_plugin_manager()
    assert manager.failures == []
    registry = Registry.from_manager(manager)
    assert len([e for e in registry.entries("activation") if e.name == "softsign"]) == 1


def test_a_different_module_under_a_taken_name_is_one_line_with_a_fix(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-p tp_taken, while an installed plugin is called tp_taken but is another module."""
    write(plugin_folder / "tp_softsign.py", SOFTSIGN)
    write(plugin_folder / "tp_taken.py", "def toolkit_losses():\n    return {}\n")
    only_distributions(
        monkeypatch, FakeDistribution("softsign-dist", "1.0", {"tp_taken": "tp_softsign"})
    )
    with pytest.raises(toolkit.PluginError) as caught:
        get_plugin_manager(["tp_taken"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("plugin module 'tp_taken': the plugin name 'tp_taken' is taken by")
    assert "softsign-dist 1.0" in message and "module 'tp_softsign'" in message
    assert "rename your module" in message and "TOOLKIT_DISABLE_PLUGIN_AUTOLOAD=1" in message
    assert "already registered" not in message


def test_a_p_module_whose_import_raises_says_so(plugin_folder: Path) -> None:
    """The module was found; its own code raised: the error, not a hint about PYTHONPATH."""
    write(plugin_folder / "tp_raises.py", "import numpy\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(toolkit.PluginError) as caught:
        get_plugin_manager(["tp_raises"], autoload=False)
    message = str(caught.value)
    assert "importing it raised RuntimeError: no GPU here" in message
    assert "PYTHONPATH" not in message


def test_a_p_module_missing_a_dependency_names_the_dependency(plugin_folder: Path) -> None:
    """A module that imports a library that is not installed is not itself 'not found'."""
    write(plugin_folder / "tp_needs.py", "import tp_no_such_library\n")
    with pytest.raises(toolkit.PluginError) as caught:
        get_plugin_manager(["tp_needs"], autoload=False)
    message = str(caught.value)
    assert "importing it raised ModuleNotFoundError: No module named 'tp_no_such_library'" in (
        message
    )
    assert "PYTHONPATH" not in message


def test_a_p_module_that_does_not_exist_points_at_the_path(plugin_folder: Path) -> None:
    """Not found at all: check the name and PYTHONPATH."""
    with pytest.raises(toolkit.PluginError, match=r"cannot import it .*on PYTHONPATH"):
        get_plugin_manager(["tp_nowhere"], autoload=False)
