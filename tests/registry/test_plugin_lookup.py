"""Where a named plugin module is found: the same for `toolkit` and `python -m toolkit`.

A spec's ``plugins:`` module: the spec file's folder, the current folder, the import path.
A ``-p`` module: the current folder, the import path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit
from tests.helpers import SPECS, RunCli, write

SPEC = (SPECS / "two_layer_sigmoid.yaml").read_text()

# The import path of the `toolkit` script itself is the subject: run_cli starts the command.
pytestmark = pytest.mark.process


def plugin(name: str, part: str) -> str:
    """A plain plugin module giving an activation named ``part``."""
    return f"def toolkit_activations():\n    return {{{part!r}: lambda x: x / (1 + abs(x))}}\n"


def spec_using(module: str, activation: str) -> str:
    return SPEC.replace("activation: sigmoid", f"activation: {activation}").replace(
        "name: two_layer_sigmoid", f"name: uses_{module}\nplugins: [{module}]"
    )


@pytest.fixture
def both(run_cli: RunCli, tmp_path: Path):
    """Run the same arguments through `toolkit` and `python -m toolkit` in ``cwd``."""

    def run(*args: str, cwd: Path) -> list[subprocess.CompletedProcess[str]]:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        module = subprocess.run(
            [sys.executable, "-m", "toolkit", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        return [run_cli(*args, cwd=cwd, env={"PYTHONPATH": ""}), module]

    return run


def test_a_specs_module_beside_it_is_found_from_another_folder(both, tmp_path: Path) -> None:
    """A spec and its module side by side: both commands find it from elsewhere, alike."""
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "project" / "side_plugin.py", plugin("side_plugin", "side_act"))
    write(tmp_path / "project" / "spec.yaml", spec_using("side_plugin", "side_act"))
    results = both("validate", "../project/spec.yaml", cwd=tmp_path / "elsewhere")
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "side_act" in result.stdout
    assert results[0].stdout == results[1].stdout


def test_the_specs_folder_comes_before_the_current_one(both, tmp_path: Path) -> None:
    """A module of the same name in both folders: the one beside the spec, for both commands."""
    (tmp_path / "project").mkdir()
    (tmp_path / "here").mkdir()
    write(tmp_path / "project" / "twin_plugin.py", plugin("twin_plugin", "beside_spec"))
    write(tmp_path / "here" / "twin_plugin.py", plugin("twin_plugin", "in_cwd"))
    write(tmp_path / "project" / "spec.yaml", spec_using("twin_plugin", "beside_spec"))
    for result in both("validate", "../project/spec.yaml", cwd=tmp_path / "here"):
        assert result.returncode == 0, result.stderr


def test_a_p_module_in_the_current_folder_is_found_without_pythonpath(both, tmp_path: Path) -> None:
    """`-p` looks in the current folder: no PYTHONPATH needed, by either command."""
    write(tmp_path / "here_plugin.py", plugin("here_plugin", "here_act"))
    args = ("validate", "two_layer_sigmoid", "-p", "here_plugin")
    sets = ("--set", "model.layers.0.activation=here_act")
    for result in both(*args, *sets, cwd=tmp_path):
        assert result.returncode == 0, result.stderr


def test_a_p_module_is_not_looked_up_beside_the_spec(both, tmp_path: Path) -> None:
    """`-p` names a module for the command, not the spec: both commands refuse it alike."""
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "project" / "far_plugin.py", plugin("far_plugin", "far_act"))
    write(tmp_path / "project" / "spec.yaml", SPEC)
    results = both(
        "validate", "../project/spec.yaml", "-p", "far_plugin", cwd=tmp_path / "elsewhere"
    )
    assert [result.returncode for result in results] == [2, 2]
    assert results[0].stderr == results[1].stderr
    assert "far_plugin" in results[0].stderr


def test_loading_leaves_the_import_path_as_it_was(tmp_path: Path) -> None:
    """load_spec finds the module beside the spec file and puts sys.path back."""
    write(tmp_path / "inproc_plugin.py", plugin("inproc_plugin", "inproc_act"))
    spec_file = write(tmp_path / "spec.yaml", spec_using("inproc_plugin", "inproc_act"))
    before = list(sys.path)
    try:
        spec = toolkit.load_spec(spec_file)
    finally:
        sys.modules.pop("inproc_plugin", None)
    assert sys.path == before
    assert spec.config["model"]["layers"][0]["activation"]["name"] == "inproc_act"
