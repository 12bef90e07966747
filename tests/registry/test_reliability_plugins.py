"""Plugin code that calls sys.exit: never a silent success, always the plugin's failure.

A module that exits as it is imported, a hook that exits, a part that exits during a run:
each is reported in one line naming the plugin or the part, with a failing exit code.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
import warnings
from pathlib import Path

import pytest

from tests.helpers import (
    FakeDistribution,
    RunCli,
    call_toolkit,
    only_distributions,
    pip_install,
    write,
)
from tests.registry.test_installed_plugins import distribution, with_path
from toolkit import load_spec, train
from toolkit.base.errors import PluginError, RunError, ToolkitNotice
from toolkit.cli import main
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry
from toolkit.testing import conformance

SMALL = """\
data: {name: random, samples: 12, features: 4, classes: 3}
model:
  layers:
    - {units: 5, activation: ACTIVATION}
    - {units: 3, activation: softmax}
gradient: GRADIENT
optimizer: OPTIMIZER
train: {iterations: 4, batch_size: 3, log_every: 2}
"""

EXITING_PARTS = """\
import sys

import numpy as np

from toolkit import Part


def quit_now(x):
    sys.exit(3)


def quit_later(x):
    if getattr(quit_later, "calls", 0) > 2:
        sys.exit(3)
    quit_later.calls = getattr(quit_later, "calls", 0) + 1
    return np.tanh(x)


def quit_backward(x):
    sys.exit("no derivative today")


class Quitter:
    def update(self, params, grads):
        sys.exit(7)


def toolkit_activations():
    return {
        "quit_now": quit_now,
        "quit_later": quit_later,
        "quit_backward": Part(np.tanh, derivative=quit_backward),
    }


def toolkit_optimizers():
    return {"quitter": Quitter}


def toolkit_datasets():
    return {"quitting_data": lambda rng: sys.exit()}
"""


def small_spec(
    activation: str = "tanh", gradient: str = "central_difference", optimizer: str = "sgd"
) -> str:
    return (
        SMALL.replace("ACTIVATION", activation)
        .replace("GRADIENT", gradient)
        .replace("OPTIMIZER", optimizer)
    )


def toolkit(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command in ``cwd``, run in this process as a new process runs it: a plugin's
    sys.exit that the toolkit let through would end it with that code, as it would a
    process."""
    return call_toolkit(*args, cwd=cwd, env=env)


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_module_that_exits_on_import_fails_the_command(tmp_path: Path) -> None:
    """The issue's reproduction: ``toolkit train -p quitter`` used to print nothing and exit 0."""
    write(tmp_path / "quitter.py", "import sys; sys.exit(0)\n")
    result = toolkit("train", "-p", "quitter", cwd=tmp_path, env={"PYTHONPATH": "."})
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert "plugin module 'quitter'" in line and "sys.exit(0)" in line
    assert result.stdout == ""


def test_a_spec_plugin_that_exits_on_import_is_a_spec_problem(tmp_path: Path) -> None:
    """The same module named in a spec's ``plugins:`` is refused at that line."""
    write(tmp_path / "quitter.py", "import sys\nsys.exit(4)\n")
    write(tmp_path / "spec.yaml", "plugins: [quitter]\n" + small_spec())
    result = toolkit("train", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: plugins[0]: plugin module 'quitter'")
    assert "sys.exit(4)" in line and "line 1" in line
    assert "Traceback" not in result.stderr


def test_a_named_plugin_whose_hook_exits_fails_the_command(tmp_path: Path) -> None:
    """A hook that calls sys.exit is the plugin's failure, named with its hook."""
    write(tmp_path / "hooked.py", "import sys\ndef toolkit_losses():\n    sys.exit(5)\n")
    result = toolkit("plugins", "-p", "hooked", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert errors(result.stderr) == [
        "error: plugin 'hooked', hook toolkit_losses raised SystemExit from sys.exit(5)"
    ]
    assert result.stdout == ""


def test_an_activation_that_exits_mid_run_is_a_run_failure(tmp_path: Path) -> None:
    """An activation calling sys.exit(3) during training used to end the command with exit 3
    and no message; it is a one-line run failure naming the part, exit 1."""
    write(tmp_path / "exiting.py", EXITING_PARTS)
    write(tmp_path / "spec.yaml", "plugins: [exiting]\n" + small_spec("quit_later"))
    result = toolkit("train", "spec.yaml", "-q", "--out", "run", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    (line,) = errors(result.stderr)
    assert "activation 'quit_later' called sys.exit(3)" in line
    assert line.startswith("error: iteration ")
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def installed_quitter(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A distribution whose entry-point module exits as it is imported, installed for real."""
    root = tmp_path_factory.mktemp("quitter")
    source = distribution(
        root / "quitter", "quitter-plugin", "quitter_plugin", "import sys\nsys.exit(0)\n"
    )
    return str(pip_install(source, root / "site"))


@pytest.mark.process
def test_an_installed_plugin_that_exits_on_import_is_skipped_with_a_warning(
    installed_quitter: str, run_cli: RunCli, tmp_path: Path
) -> None:
    """Like any broken installed plugin: a warning naming it, and the rest works."""
    write(tmp_path / "spec.yaml", small_spec())
    result = run_cli("train", "spec.yaml", "-q", env=with_path(installed_quitter))
    assert result.returncode == 0, result.stderr
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("warning: plugin quitter_plugin (quitter-plugin 0.3.0) was skipped")
    assert "sys.exit(0)" in warning
    assert result.stdout.startswith("training ") and "done: 4 iterations" in result.stdout


def test_an_entry_point_whose_hook_exits_is_skipped(plugin_folder: Path, monkeypatch) -> None:
    """A plugin loaded through its entry point whose hook exits is skipped, the rest kept."""
    write(plugin_folder / "hook_exit.py", "import sys\ndef toolkit_losses():\n    sys.exit(2)\n")
    only_distributions(
        monkeypatch, FakeDistribution("hook-exit", "1.0", {"hook_exit": "hook_exit"})
    )
    manager = get_plugin_manager()
    registry = Registry.from_manager(manager)
    (failure,) = registry.failures
    assert failure.provider == "hook_exit (hook-exit 1.0)"
    assert "SystemExit from sys.exit(2)" in failure.error
    assert "cross_entropy" in registry.names("loss")


def load_small(plugin_folder: Path, **parts: str):
    write(plugin_folder / "exiting.py", EXITING_PARTS)
    return load_spec(
        write(plugin_folder / "spec.yaml", "plugins: [exiting]\n" + small_spec(**parts))
    )


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        ({"activation": "quit_now"}, "activation 'quit_now' called sys.exit(3)"),
        ({"activation": "quit_later"}, "activation 'quit_later' called sys.exit(3)"),
        (
            {"activation": "quit_backward", "gradient": "backprop"},
            "activation 'quit_backward' called sys.exit('no derivative today')",
        ),
        (
            {"activation": "quit_later", "gradient": "central_difference_loop"},
            "activation 'quit_later' called sys.exit(3)",
        ),
    ],
)
def test_a_part_that_exits_in_training_is_named(plugin_folder: Path, parts, named) -> None:
    """Forward, derivative, and the engines' fast paths alike: the part is named."""
    with pytest.raises(RunError) as raised:
        train(load_small(plugin_folder, **parts))
    assert named in str(raised.value)
    assert re.match(r"iteration \d+: ", str(raised.value))


def test_a_dataset_that_exits_is_named_at_its_key(plugin_folder: Path) -> None:
    """A dataset is called when the data is built: its exit is a failed run naming its key."""
    data = "data: {name: random, samples: 12, features: 4, classes: 3}"
    spec_text = small_spec().replace(data, "data: {name: quitting_data}")
    write(plugin_folder / "exiting.py", EXITING_PARTS)
    spec = load_spec(write(plugin_folder / "spec.yaml", "plugins: [exiting]\n" + spec_text))
    with pytest.raises(RunError) as raised:
        train(spec)
    assert str(raised.value).startswith("data: dataset 'quitting_data' called sys.exit()")


def test_an_optimizer_that_exits_is_located(plugin_folder: Path) -> None:
    """The optimizer's update is plugin code too: the line that exited is named."""
    with pytest.raises(RunError) as raised:
        train(load_small(plugin_folder, optimizer="quitter"))
    assert "exiting.py:" in str(raised.value) and "called sys.exit(7)" in str(raised.value)


def test_the_command_line_turns_any_other_exit_into_one_line(plugin_folder: Path, capsys) -> None:
    """A part's validate that exits while a spec loads reaches main: one line, exit 1."""
    write(
        plugin_folder / "validating.py",
        textwrap.dedent("""
        import sys
        from toolkit import Part

        def toolkit_losses():
            return {"picky": Part(lambda y, t: 0.0, validate=lambda: sys.exit(6))}
        """),
    )
    spec = write(plugin_folder / "spec.yaml", "plugins: [validating]\nloss: picky\n" + small_spec())
    assert main(["validate", str(spec)]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("error: code at ") and "called sys.exit(6)" in line
    assert captured.out == ""


def test_the_conformance_kit_fails_a_part_that_exits() -> None:
    """``conformance`` never raises: a part that exits fails its first check."""

    def quitting(x):
        raise SystemExit(9)

    (check,) = conformance("activation", quitting)
    assert check.passed is False and "sys.exit(9)" in check.detail


def test_a_module_that_exits_is_refused_in_process(plugin_folder: Path) -> None:
    write(plugin_folder / "quits.py", "raise SystemExit('bye')\n")
    with pytest.raises(PluginError, match=r"SystemExit from sys.exit\('bye'\)"):
        get_plugin_manager(["quits"])


# --------------------------------------------- numbers that stop being numbers, and whose doing

MISBEHAVING = """\
import numpy as np

from toolkit import Part


def nan_loss(y, t):
    return float("nan")


def nan_later(y, t):
    nan_later.calls = getattr(nan_later, "calls", 0) + 1
    if nan_later.calls > 30:
        return float("nan")
    return float(np.mean((y - t) ** 2))


def nan_activation(x):
    return np.where(x > 0, np.nan, x)


def complex_init(shape, rng):
    return np.full(shape, 0.01 + 0.01j)


def complex_data(rng):
    return rng.random((12, 4)) + 1j, np.eye(3)[rng.integers(0, 3, 12)]


def complex_activation(x):
    return np.tanh(x) + 0j


def complex_gradient(objective):
    return {key: np.zeros_like(value) + 1j for key, value in objective.params.items()}


def toolkit_losses():
    return {"nan_loss": nan_loss, "nan_later": nan_later}


def toolkit_activations():
    return {
        "nan_activation": Part(nan_activation, derivative=np.ones_like),
        "complex_activation": Part(complex_activation, derivative=np.ones_like),
    }


def toolkit_initializers():
    return {"complex_init": complex_init}


def toolkit_datasets():
    return {"complex_data": complex_data}


def toolkit_gradient_estimators():
    return {"complex_gradient": complex_gradient}
"""


def misbehaving(plugin_folder: Path, *settings: str):
    write(plugin_folder / "misbehaving.py", MISBEHAVING)
    spec = write(plugin_folder / "spec.yaml", "plugins: [misbehaving]\n" + small_spec())
    return load_spec(spec, list(settings))


@pytest.mark.parametrize("loss", ["nan_loss", "nan_later"])
def test_a_loss_part_returning_nan_is_named_not_the_learning_rate(
    plugin_folder: Path, loss: str
) -> None:
    """It used to say "the parameters became nan; try a smaller learning_rate"."""
    with warnings.catch_warnings(), pytest.raises(RunError) as raised:
        warnings.simplefilter("ignore", ToolkitNotice)  # the slower path, for a scalar loss
        train(misbehaving(plugin_folder, f"loss={loss}"))
    message = str(raised.value)
    assert f"loss: loss '{loss}' returned nan for finite predictions" in message
    assert "learning_rate" not in message


def test_an_activation_returning_nan_on_finite_input_is_named(plugin_folder: Path) -> None:
    with pytest.raises(RunError) as raised:
        train(misbehaving(plugin_folder, "model.layers[0].activation=nan_activation"))
    message = str(raised.value)
    assert "model.layers[0].activation: activation 'nan_activation' returned nan or inf" in message
    assert "learning_rate" not in message


def test_diverging_weights_are_still_the_learning_rate(plugin_folder: Path) -> None:
    """A loss that overflows because the predictions grew is not the loss part's fault."""
    settings = ["model.layers[1].activation=identity", "loss=mean_squared_error"]
    spec = misbehaving(plugin_folder, *settings, "optimizer.learning_rate=1e6")
    with pytest.raises(RunError, match=r"try a smaller optimizer\.learning_rate"):
        train(spec)


def test_an_init_scale_that_overflows_is_refused_at_its_key(tmp_path: Path) -> None:
    """``init: {scale: 1e308}`` used to print numpy's RuntimeWarning and train on infinite
    sums; the sums overflow (100 features of up to 1e308 each), so the setting is refused."""
    result = toolkit(
        "train",
        "two_layer_sigmoid",
        "-q",
        "--set",
        "model.layers[0].init.scale=1e308",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    (line,) = errors(result.stderr)
    assert line.startswith("error: model.layers[0].init: the starting weights")
    assert "smaller init scale" in line
    assert "RuntimeWarning" not in result.stderr and "overflow encountered" not in result.stderr


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        (
            "model.layers[0].init=complex_init",
            "model.layers[0].init: initializer 'complex_init' returned complex values",
        ),
        ("data={name: complex_data}", "x holds complex numbers"),
        (
            "model.layers[0].activation=complex_activation",
            "activation 'complex_activation' returned complex values for real input",
        ),
        ("gradient=complex_gradient", "estimator 'complex_gradient' returned complex values"),
    ],
)
def test_complex_numbers_from_a_part_are_refused(
    plugin_folder: Path, setting: str, named: str
) -> None:
    """They used to be cast to real with a ComplexWarning (or a numpy casting error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning (nor any other) on the way
        with pytest.raises(RunError) as raised:
            train(misbehaving(plugin_folder, setting))
    assert named in str(raised.value)


def test_any_other_warning_is_one_located_line(capsys) -> None:
    """A warning the toolkit does not turn into an error still prints as one line."""
    from toolkit.cli.app import _show_notice

    _show_notice(RuntimeWarning("overflow encountered\nin reduce"), RuntimeWarning, "m.py", 49)
    assert capsys.readouterr().err == (
        "warning: overflow encountered\\nin reduce (RuntimeWarning at m.py:49)\n"
    )
