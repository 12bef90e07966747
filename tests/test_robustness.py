"""Defects that were fixed stay fixed: empty values, bad parts, odd YAML, plugin failures.

Plugin modules are written by each test into ``tmp_path`` (on ``sys.path`` for library
tests, on ``PYTHONPATH`` for the command); their names start with ``rb_``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

import toolkit
from tests.helpers import SPECS, FakeDistribution, RunCli, only_distributions, write
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry

RELU_SPEC = SPECS / "two_layer_relu.yaml"
SMALL = ("--set", "train.iterations=1", "--set", "data.samples=20", "--set", "data.features=4")
STANDARD = {
    "activation": ("identity", "step", "sigmoid", "relu", "leaky_relu", "tanh", "softmax"),
    "loss": ("cross_entropy", "sum_squared_error", "mean_squared_error"),
    "initializer": ("uniform", "normal", "xavier", "he", "zeros"),
    "gradient_estimator": ("central_difference", "forward_difference"),
    "dataset": ("random",),
    "optimizer": ("sgd",),
}
SMALL_SPEC = """\
data: {name: random, samples: 20, features: 4, classes: 3}
model:
  layers:
    - {units: 5, activation: relu}
    - {units: 3, activation: softmax}
optimizer: {name: sgd, learning_rate: 0.1}
train: {iterations: 1, batch_size: 5}
"""
SOFTSIGN = """\
import numpy as np


def softsign(x):
    return x / (1 + np.abs(x))


def toolkit_activations():
    return {"softsign": softsign}
"""
MY_RELU = """\
import numpy as np
from toolkit import Part


def my_relu(x):
    return np.maximum(0.0, x)


def toolkit_activations():
    return {"relu": Part(my_relu, replaces="toolkit_plugins.activations:relu")}
"""


def module(folder: Path, name: str, text: str) -> Path:
    """Write the plugin module ``name`` into ``folder``."""
    return write(folder / f"{name}.py", textwrap.dedent(text))


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The non-blank lines on stderr."""
    return [line for line in result.stderr.splitlines() if line.strip()]


def one_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Exit ``code``, exactly one ``error: `` line on stderr and no traceback; returns it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    return lines[0]


def position(text: str, token: str) -> tuple[int, int]:
    """1-based line and column of the first ``token`` in ``text``."""
    index = text.index(token)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


# -- 1. present but empty whole numbers ---------------------------------------------------------


@pytest.mark.parametrize("key", ["train.iterations", "train.batch_size", "seed"])
def test_empty_whole_number_is_bad_input_naming_the_key(run_cli: RunCli, key: str) -> None:
    """`--set KEY=` on a whole-number key is exit 2 naming the key: expected a number."""
    line = one_error(run_cli("validate", str(RELU_SPEC), "--set", f"{key}="), 2)
    assert line.startswith(f"error: {key}: "), line
    assert "expected a whole number, got nothing" in line


def test_empty_units_is_one_problem(run_cli: RunCli, tmp_path: Path) -> None:
    """A present but empty layer `units:` is one line, 'got nothing', not also 'missing'."""
    line = one_error(run_cli("validate", str(RELU_SPEC), "--set", "model.layers.0.units="), 2)
    assert line.startswith("error: model.layers[0].units: "), line
    assert "expected a whole number, got nothing" in line
    write(tmp_path / "spec.yaml", SMALL_SPEC.replace("{units: 5,", "{units: ,"))
    line = one_error(run_cli("validate", "spec.yaml"), 2)
    assert line.startswith("error: model.layers[0].units: "), line
    assert "expected a whole number, got nothing" in line


# -- 2. the defaults alone: identity output into cross_entropy ----------------------------------


def test_minimal_spec_with_identity_output_stops_with_a_hint(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Only data and model.layers: iteration 1 stops with one line naming the loss part,
    which returns nan for the identity output's negative predictions, and the output
    activation (not the learning rate: no update has been made)."""
    write(
        tmp_path / "minimal.yaml",
        "data: {name: random, samples: 20, features: 4, classes: 3}\n"
        "model:\n  layers:\n    - {units: 3}\n",
    )
    result = run_cli("train", "minimal.yaml")
    line = one_error(result, 1)
    assert line.startswith("error: iteration 1: "), line
    assert "loss 'cross_entropy' returned nan for finite predictions" in line
    assert "output layer's activation 'identity' suits the loss" in line
    assert "learning_rate" not in line
    assert "RuntimeWarning" not in result.stderr


# -- 3. --out at a file -------------------------------------------------------------------------


@pytest.mark.parametrize("out", ["taken", "taken/run", "taken/run/deeper"])
def test_out_at_or_below_a_file_is_refused_and_creates_nothing(
    run_cli: RunCli, tmp_path: Path, out: str
) -> None:
    """--out at an existing file (or below one) is exit 2 naming it; nothing is written."""
    write(tmp_path / "taken", "keep me\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    line = one_error(run_cli("train", str(RELU_SPEC), *SMALL, "--out", out), 2)
    assert "taken" in line and "file" in line, line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "taken").read_text() == "keep me\n"


# -- 4. datasets that return unusable targets ---------------------------------------------------


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ('np.array(list("abcde"))', "t must hold numbers"),
        ("np.array([0, 1, -1, 2, 1])", "class indices"),
    ],
)
def test_dataset_plugin_with_unusable_targets_fails_in_one_line(
    run_cli: RunCli, tmp_path: Path, targets: str, expected: str
) -> None:
    """A dataset whose t is text, or holds a negative class index, is exit 1 in one line."""
    module(
        tmp_path,
        "rb_data",
        f"""
        import numpy as np

        def toolkit_datasets():
            return {{"bad": lambda rng: (np.ones((5, 3)), {targets})}}
        """,
    )
    write(
        tmp_path / "spec.yaml",
        "data: bad\nmodel:\n  layers:\n    - {units: 3, activation: softmax}\n"
        "train: {iterations: 1, batch_size: 5}\n",
    )
    result = run_cli("train", "spec.yaml", "-p", "rb_data", env={"PYTHONPATH": str(tmp_path)})
    line = one_error(result, 1)
    assert expected in line, line
    assert "'bad'" in line, line


# -- 5. estimators returning the wrong shapes ---------------------------------------------------

WRONG_ESTIMATOR = """
import numpy as np

def toolkit_gradient_estimators():
    return {"rb_wrong": lambda objective: {k: np.ones(3) for k in objective.params}}
"""


def test_estimator_with_wrong_shapes_fails_naming_it_in_one_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A run with an estimator of wrong shapes is exit 1 naming it, W1 and W1's shape (4, 10)."""
    module(tmp_path, "rb_estimator", WRONG_ESTIMATOR)
    result = run_cli(
        "train",
        str(RELU_SPEC),
        *SMALL,
        "-p",
        "rb_estimator",
        "--set",
        "gradient=rb_wrong",
        env={"PYTHONPATH": str(tmp_path)},
    )
    line = one_error(result, 1)
    assert "'rb_wrong'" in line and "W1" in line and "(4, 10)" in line, line


def test_network_gradient_with_a_wrong_shape_estimator_raises_run_error(
    plugin_folder: Path,
) -> None:
    """network.gradient(x, t, name) raises RunError when that estimator's shapes are wrong."""
    module(plugin_folder, "rb_estimator", WRONG_ESTIMATOR)
    spec = toolkit.load_spec(
        RELU_SPEC,
        ["data.samples=20", "data.features=4"],
        manager=get_plugin_manager(["rb_estimator"]),
    )
    network = toolkit.build(spec)
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    t = np.eye(10)[[0, 4, 9]]
    with pytest.raises(toolkit.RunError, match="rb_wrong"):
        network.gradient(x, t, "rb_wrong")


# -- 6. activations that change the shape -------------------------------------------------------


def test_activation_changing_the_shape_fails_naming_its_layer(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """An activation returning one column is exit 1 naming model.layers[0].activation."""
    module(
        tmp_path,
        "rb_narrow",
        """
        def toolkit_activations():
            return {"first_column": lambda x: x[:, :1]}
        """,
    )
    result = run_cli(
        "train",
        str(RELU_SPEC),
        *SMALL,
        "-p",
        "rb_narrow",
        "--set",
        "model.layers.0.activation=first_column",
        env={"PYTHONPATH": str(tmp_path)},
    )
    line = one_error(result, 1)
    assert line.startswith("error: model.layers[0].activation: "), line


# -- 7. settings the standard parts cannot work with --------------------------------------------


@pytest.mark.parametrize(
    ("override", "path", "word"),
    [
        ("gradient.h=0", "gradient.h", "positive"),
        ("optimizer.learning_rate=-1", "optimizer.learning_rate", "positive"),
    ],
)
def test_unworkable_standard_settings_are_bad_input(
    run_cli: RunCli, override: str, path: str, word: str
) -> None:
    """A zero step or a negative learning rate is exit 2 at that setting, before any run."""
    result = run_cli("train", str(RELU_SPEC), *SMALL, "--set", override)
    line = one_error(result, 2)
    assert line.startswith(f"error: {path}: "), line
    assert word in line
    assert "training" not in result.stdout


# -- 8. errors raised by a part while it is set up ----------------------------------------------

INITIALIZERS = """
import numpy as np
import toolkit
from toolkit.base.errors import SettingError


def picky(shape, rng, scale=0.01):
    if scale > 0.001:
        raise SettingError("scale", "must be small")
    return scale * rng.standard_normal(shape)


def broken(shape, rng, scale=0.01):
    raise ValueError("broken on purpose")


def toolkit_initializers():
    return {"picky": picky, "broken": broken}
"""


def test_setting_error_from_an_initializer_points_at_the_setting(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """SettingError('scale', ...) raised during build is exit 2 at model.layers[0].init.scale."""
    module(tmp_path, "rb_init", INITIALIZERS)
    text = SMALL_SPEC.replace(
        "activation: relu}", "activation: relu, init: {name: picky, scale: 0.5}}"
    )
    write(tmp_path / "spec.yaml", text)
    result = run_cli("train", "spec.yaml", "-p", "rb_init", env={"PYTHONPATH": str(tmp_path)})
    line = one_error(result, 2)
    assert line.startswith("error: model.layers[0].init.scale: "), line
    assert "must be small" in line
    line_no, column = position(text, "0.5")
    assert f"spec.yaml line {line_no}, column {column}" in line, line


def test_plain_value_error_from_an_initializer_is_a_failure_of_the_part(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A ValueError from an initializer is exit 1 at model.layers[0].init, naming its provider."""
    module(tmp_path, "rb_init", INITIALIZERS)
    result = run_cli(
        "train",
        str(RELU_SPEC),
        *SMALL,
        "-p",
        "rb_init",
        "--set",
        "model.layers.0.init=broken",
        env={"PYTHONPATH": str(tmp_path)},
    )
    line = one_error(result, 1)
    assert line.startswith("error: model.layers[0].init: "), line
    assert "rb_init" in line and "broken on purpose" in line


# -- 9. and 10. library conveniences ------------------------------------------------------------


def test_accuracy_of_a_single_one_dimensional_sample() -> None:
    """accuracy(x_row, t_row) with 1-D arrays equals the 2-D result for that one row."""
    network = toolkit.build(toolkit.load_spec(RELU_SPEC, ["data.samples=20", "data.features=4"]))
    for key in network.params:
        network.params[key][...] = 0.0
    network.params["b2"][7] = 5.0  # every input is predicted as class 7
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    t = np.eye(10)[[7, 7, 2]]
    assert network.accuracy(x, t) == pytest.approx(2 / 3)
    assert network.accuracy(x[0], t[0]) == 1.0 == network.accuracy(x[:1], t[:1])
    assert network.accuracy(x[2], t[2]) == 0.0 == network.accuracy(x[2:], t[2:])
    assert network.accuracy(x[1], np.array([7])) == 1.0


def test_load_spec_takes_a_single_override_string() -> None:
    """overrides='train.iterations=5' works as ['train.iterations=5'] does."""
    single = toolkit.load_spec(RELU_SPEC, overrides="train.iterations=5")
    listed = toolkit.load_spec(RELU_SPEC, overrides=["train.iterations=5"])
    assert single.config["train"]["iterations"] == 5
    assert single.config == listed.config


# -- 11. spec files and shipped names -----------------------------------------------------------


def test_missing_spec_path_is_no_such_file(run_cli: RunCli) -> None:
    """A path to a file that isn't there is exit 2, 'no such spec file', even if named like one."""
    line = one_error(run_cli("validate", "/nonexistent/specs/two_layer_relu.yaml"), 2)
    assert "no such spec file" in line


def test_bare_shipped_name_works_from_an_empty_folder(run_cli: RunCli, tmp_path: Path) -> None:
    """`toolkit validate two_layer_relu` in an empty folder uses the shipped spec."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("validate", "two_layer_relu", cwd=empty)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "valid"
    assert "spec two_layer_relu" in result.stdout
    assert list(empty.iterdir()) == []


# -- 12. YAML corners ---------------------------------------------------------------------------


def test_several_yaml_documents_are_refused(run_cli: RunCli, tmp_path: Path) -> None:
    """A file of several YAML documents is exit 2 asking for a single document."""
    write(tmp_path / "multi.yaml", SMALL_SPEC + "---\nname: second\n---\nname: third\n")
    line = one_error(run_cli("validate", "multi.yaml"), 2)
    assert "single document" in line


def test_on_is_a_key_not_a_boolean(run_cli: RunCli, tmp_path: Path) -> None:
    """A top-level `on:` is reported as the unknown key 'on' (YAML 1.2: it is text)."""
    write(tmp_path / "spec.yaml", "on: 1\n" + SMALL_SPEC)
    line = one_error(run_cli("validate", "spec.yaml"), 2)
    assert line.startswith("error: on: unknown key 'on'"), line
    assert "spec.yaml line 1, column 1" in line


@pytest.mark.parametrize("word", ["no", "yes", "off", "on"])
def test_yaml_11_boolean_words_are_text(tmp_path: Path, word: str) -> None:
    """`name: no` (or yes, off, on) is the name itself: only true and false are booleans."""
    path = write(tmp_path / "spec.yaml", f"name: {word}\n" + SMALL_SPEC)
    assert toolkit.load_spec(path).name == word


# -- 13. and 14. plugin modules recorded in and read from specs ---------------------------------


def test_run_folder_spec_names_its_plugin_and_trains_again(run_cli: RunCli, tmp_path: Path) -> None:
    """run/spec.yaml lists the -p module under plugins:, so it trains again without -p."""
    modules = tmp_path / "modules"
    modules.mkdir()
    module(modules, "rb_softsign", SOFTSIGN)
    env = {"PYTHONPATH": str(modules)}
    first = run_cli(
        "train",
        str(RELU_SPEC),
        *SMALL,
        "-p",
        "rb_softsign",
        "--set",
        "model.layers.0.activation=softsign",
        "--out",
        "run",
        env=env,
    )
    assert first.returncode == 0, first.stderr
    saved = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())
    assert saved["plugins"] == ["rb_softsign"]
    again = run_cli("train", "run/spec.yaml", env=env)
    assert again.returncode == 0, again.stderr
    assert "iteration 1/1" in again.stdout
    assert again.stdout.splitlines()[-1].startswith("done: 1 iteration")


def test_spec_plugin_that_cannot_be_imported_is_placed(run_cli: RunCli, tmp_path: Path) -> None:
    """`plugins: [no_such_module]` is exit 2 at plugins[0], with the file, line and column."""
    text = "plugins: [no_such_module]\n" + SMALL_SPEC
    write(tmp_path / "spec.yaml", text)
    line = one_error(run_cli("validate", "spec.yaml"), 2)
    line_no, column = position(text, "no_such_module")
    assert line.startswith("error: plugins[0]: "), line
    assert "no_such_module" in line
    assert f"spec.yaml line {line_no}, column {column}" in line, line


def test_spec_plugin_parts_can_be_named_without_p(run_cli: RunCli, tmp_path: Path) -> None:
    """A module listed under plugins: provides parts the spec names, with no -p."""
    module(tmp_path, "rb_softsign", SOFTSIGN)
    text = "plugins: [rb_softsign]\n" + SMALL_SPEC.replace(
        "activation: relu", "activation: softsign"
    )
    write(tmp_path / "spec.yaml", text)
    result = run_cli("validate", "spec.yaml", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("model.layers[0].act")]
    assert "softsign" in row and row.endswith("rb_softsign (local module)"), row


# -- 15. Part(replaces=...) ---------------------------------------------------------------------

LAYER0 = ("model", "layers", 0, "activation")


def test_entry_point_part_that_replaces_relu_wins_the_bare_name(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed plugin's relu with replaces= takes 'relu'; the qualified name still works."""
    module(plugin_folder, "rb_relu", MY_RELU)
    only_distributions(monkeypatch, FakeDistribution("myrelu-dist", "1.0", {"myrelu": "rb_relu"}))
    manager = get_plugin_manager()
    spec = toolkit.load_spec(RELU_SPEC, manager=manager)
    entry = spec.entry(LAYER0, "activation")
    assert (entry.plugin, entry.distribution) == ("myrelu", "myrelu-dist")
    assert spec.bind(LAYER0, "activation").part.fn is importlib.import_module("rb_relu").my_relu
    standard = toolkit.load_spec(
        RELU_SPEC, ["model.layers.0.activation=toolkit_plugins.activations:relu"], manager=manager
    )
    entry = standard.entry(LAYER0, "activation")
    assert (entry.plugin, entry.distribution) == ("toolkit_plugins.activations", "layer-toolkit")


def test_p_module_part_that_replaces_relu_wins_the_bare_name(plugin_folder: Path) -> None:
    """A -p module's relu declaring replaces= takes the bare name without ambiguity."""
    module(plugin_folder, "rb_relu", MY_RELU)
    manager = get_plugin_manager(["rb_relu"])
    assert not Registry.from_manager(manager).is_ambiguous("activation", "relu")
    spec = toolkit.load_spec(RELU_SPEC, manager=manager)
    assert spec.entry(LAYER0, "activation").plugin == "rb_relu"
    standard = toolkit.load_spec(
        RELU_SPEC, ["model.layers.0.activation=toolkit_plugins.activations:relu"], manager=manager
    )
    assert standard.entry(LAYER0, "activation").plugin == "toolkit_plugins.activations"


def test_p_module_replacing_relu_on_the_command_line(run_cli: RunCli, tmp_path: Path) -> None:
    """`validate -p module` resolves relu to the module's; a qualified name to the standard."""
    module(tmp_path, "rb_relu", MY_RELU)
    env = {"PYTHONPATH": str(tmp_path)}

    def layer0_row(*extra: str) -> str:
        result = run_cli("validate", str(RELU_SPEC), "-p", "rb_relu", *extra, env=env)
        assert result.returncode == 0, result.stderr
        rows = result.stdout.splitlines()
        (row,) = [line for line in rows if line.startswith("model.layers[0].activation ")]
        return row

    assert layer0_row().endswith("rb_relu (local module)")
    qualified = layer0_row("--set", "model.layers.0.activation=toolkit_plugins.activations:relu")
    assert "toolkit_plugins.activations (layer-toolkit" in qualified


def test_replaces_naming_another_part_name_is_refused(plugin_folder: Path) -> None:
    """Part(replaces='...:relu') registered as 'my_relu' is a PluginError naming both."""
    module(
        plugin_folder,
        "rb_misreplace",
        """
        from toolkit import Part

        def toolkit_activations():
            return {"my_relu": Part(abs, replaces="toolkit_plugins.activations:relu")}
        """,
    )
    with pytest.raises(toolkit.PluginError, match="my_relu") as caught:
        Registry.from_manager(get_plugin_manager(["rb_misreplace"]))
    assert "toolkit_plugins.activations:relu" in str(caught.value)


# -- 16. broken plugins never stop the others ---------------------------------------------------

BROKEN = {
    "rb_boom": ('raise RuntimeError("boom at import")\n', "boom at import"),
    "rb_raises": (
        "def toolkit_losses():\n    raise RuntimeError('hook exploded')\n",
        "hook exploded",
    ),
    "rb_listy": ("def toolkit_losses():\n    return ['mse']\n", "list"),
    "rb_typo": ("def toolkit_activation():\n    return {'typo_act': abs}\n", "toolkit_activation"),
    "rb_half": (
        "def toolkit_activations():\n    return {'half_act': abs}\n\n\n"
        "def toolkit_losses():\n    raise RuntimeError('second hook fails')\n",
        "second hook fails",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_entry_point_plugin_is_recorded_and_skipped(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A plugin that fails anywhere is one failure (name, distribution, error) and gives no part."""
    text, error_text = BROKEN[name]
    module(plugin_folder, name, text)
    plugin = name.removeprefix("rb_")
    only_distributions(monkeypatch, FakeDistribution(f"{plugin}-dist", "0.3", {plugin: name}))
    manager = get_plugin_manager()
    registry = Registry.from_manager(manager)
    (failure,) = [f for f in manager.failures if f.plugin == plugin]
    assert failure.distribution == f"{plugin}-dist 0.3"
    assert error_text in failure.error
    assert [e for e in registry.entries() if e.plugin == plugin] == []
    all_names = {e.name for e in registry.entries()}
    assert not all_names & {"typo_act", "half_act", "mse"}
    for kind, names in STANDARD.items():
        for part in names:
            assert registry.lookup(kind, part).distribution == "layer-toolkit"
    assert toolkit.load_spec(RELU_SPEC, manager=manager).name == "two_layer_relu"


def test_all_broken_plugins_at_once_leave_the_standard_parts(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five broken plugins together: five failures, and every standard part still resolves."""
    dists = []
    for name, (text, _) in BROKEN.items():
        module(plugin_folder, name, text)
        plugin = name.removeprefix("rb_")
        dists.append(FakeDistribution(f"{plugin}-dist", "0.3", {plugin: name}))
    only_distributions(monkeypatch, *dists)
    manager = get_plugin_manager()
    registry = Registry.from_manager(manager)
    plugins = {name.removeprefix("rb_") for name in BROKEN}
    assert sorted(f.plugin for f in manager.failures) == sorted(plugins)
    assert plugins.isdisjoint(e.plugin for e in registry.entries())
    for kind, names in STANDARD.items():
        for part in names:
            assert registry.lookup(kind, part).distribution == "layer-toolkit"


def test_hook_with_arguments_is_refused_for_a_p_module(plugin_folder: Path) -> None:
    """A hook that asks for arguments, given via -p, is a PluginError: hooks take none."""
    module(plugin_folder, "rb_args", "def toolkit_activations(config):\n    return {}\n")
    with pytest.raises(toolkit.PluginError, match="takes no arguments"):
        get_plugin_manager(["rb_args"])


# -- 17. tracebacks only on request -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("train", "--debug", "spec.yaml"), {}),
        (("train", "spec.yaml", "--debug"), {}),
        (("--debug", "train", "spec.yaml"), {}),
        (("train", "spec.yaml"), {"TOOLKIT_DEBUG": "1"}),
        (("validate", "spec.yaml", "--debug"), {}),
    ],
)
def test_debug_shows_the_traceback_of_a_bad_spec(
    run_cli: RunCli, tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    """--debug (before or after the subcommand) or TOOLKIT_DEBUG=1 adds the traceback."""
    write(tmp_path / "spec.yaml", "on: 1\n" + SMALL_SPEC)
    result = run_cli(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" in result.stderr
    assert error_lines(result)[-1].startswith("error: on: unknown key 'on'")


def test_no_traceback_without_debug(run_cli: RunCli, tmp_path: Path) -> None:
    """Without --debug or TOOLKIT_DEBUG a bad spec is one error line, no traceback."""
    write(tmp_path / "spec.yaml", "on: 1\n" + SMALL_SPEC)
    line = one_error(run_cli("train", "spec.yaml"), 2)
    assert line.startswith("error: on: unknown key 'on'")
