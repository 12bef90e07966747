"""The in-process command (``run_cli``) says what the real ``toolkit`` process says, and
leaves this process as it found it."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SPECS, call_toolkit, run_toolkit, write

PLUGIN = "def toolkit_activations():\n    return {'probe_act': lambda x: x / (1 + abs(x))}\n"
SPEC_WITH_PLUGIN = (SPECS / "two_layer_relu.yaml").read_text() + "plugins: [probe_spec_mod]\n"
NPZ_SPEC = """\
seed: 3
data: {name: npz, path: data.npz}
model:
  layers:
    - {units: 5, activation: sigmoid}
    - {units: 3, activation: softmax}
train: {iterations: 2, batch_size: 10}
"""


def commands(folder: Path) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """Commands whose whole output is the same from run to run: every way out of ``main``."""
    write(folder / "probe_mod.py", PLUGIN)
    (folder / "site").mkdir()
    write(folder / "site" / "probe_spec_mod.py", PLUGIN)
    write(folder / "spec.yaml", SPEC_WITH_PLUGIN)
    write(folder / "bad.yaml", "model: [\n")
    site = {"PYTHONPATH": str(folder / "site")}
    return [
        (("validate", "two_layer_relu"), {}),
        (("--version",), {}),
        (("train", "--nonsense"), {}),
        (("plugins", "--json", "-p", "probe_mod"), {"COLUMNS": "1000"}),
        (("plugins", "-p", "probe_mod"), {}),
        (("validate", "spec.yaml"), site),
        (("validate", "spec.yaml"), {}),
        (("validate", "bad.yaml"), {}),
        (("validate", "bad.yaml", "--debug"), {}),
        (("validate", "bad.yaml"), {"TOOLKIT_DEBUG": "1"}),
        (("validate", "two_layer_relu", "--set", "train.iterations=0"), {}),
        (("plugins", "-p", "no_such_module_here"), {}),
    ]


@pytest.mark.long
def test_in_process_runs_say_what_the_process_says(tmp_path: Path) -> None:
    """Exit code, standard output and standard error are the real command's, to the byte."""
    for args, env in commands(tmp_path):
        real = run_toolkit(*args, cwd=tmp_path, env=env)
        here = call_toolkit(*args, cwd=tmp_path, env=env)
        assert (here.returncode, here.stdout, here.stderr) == (
            real.returncode,
            real.stdout,
            real.stderr,
        ), args
    assert real.returncode == 2 and real.stderr.startswith("error: ")  # the last one failed


def test_a_notice_is_a_note_line_as_in_a_process(tmp_path: Path) -> None:
    """Pytest's own warning filters (notices are errors in tests) do not reach the command:
    a notice is its ``note:`` line, as in a process."""
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "data.npz", x=rng.standard_normal((20, 4)), t=np.eye(3)[rng.integers(0, 3, 20)]
    )
    write(tmp_path / "spec.yaml", NPZ_SPEC)
    assert call_toolkit("train", "spec.yaml", "--out", "run", "-q", cwd=tmp_path).returncode == 0
    (tmp_path / "run" / "inputs.json").unlink()  # a run from before the record: a notice
    real = run_toolkit("evaluate", "run", cwd=tmp_path)
    assert real.returncode == 0 and real.stderr.startswith("note: "), real.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        here = call_toolkit("evaluate", "run", cwd=tmp_path)
    assert (here.returncode, here.stdout, here.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )


def test_an_in_process_run_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder, environment, import path, arguments, streams and warning filters are as
    they were; the plugin modules it imported from the test's folders are forgotten."""
    monkeypatch.setenv("TOOLKIT_DEBUG", "1")
    for args, env in commands(tmp_path):
        before = (
            os.getcwd(),
            dict(os.environ),
            list(sys.path),
            list(sys.argv),
            (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__),
            list(warnings.filters),
            warnings.showwarning,
        )
        call_toolkit(*args, cwd=tmp_path, env=env)
        after = (
            os.getcwd(),
            dict(os.environ),
            list(sys.path),
            list(sys.argv),
            (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__),
            list(warnings.filters),
            warnings.showwarning,
        )
        assert after == before, args
        assert "probe_mod" not in sys.modules and "probe_spec_mod" not in sys.modules


def test_a_module_on_pythonpath_hides_the_loaded_one_as_in_a_process(tmp_path: Path) -> None:
    """A module first on PYTHONPATH is the one the command imports as it runs, though this
    process had loaded one of that name; the loaded one is back afterwards. (Modules that
    importing the toolkit loads, numpy or yaml, can't be hidden so: use ``run_process``.)"""
    import sklearn

    fake = tmp_path / "fake"
    (fake / "sklearn").mkdir(parents=True)
    write(fake / "sklearn" / "__init__.py", "raise ImportError('simulated')\n")
    args = ("plugins", "--check", "digits")
    real = run_toolkit(*args, cwd=tmp_path, env={"PYTHONPATH": str(fake)})
    here = call_toolkit(*args, cwd=tmp_path, env={"PYTHONPATH": str(fake)})
    assert real.returncode == 0 and "skipped: install 'layer-toolkit[digits]'" in real.stdout
    assert (here.returncode, here.stdout, here.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )
    assert sys.modules["sklearn"] is sklearn
