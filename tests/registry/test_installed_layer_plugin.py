"""The example layer plugin (examples/toolkit-layernorm) installed for real (pip install
--target) and found through its entry point: listed, checked, trained numerically, and
refused by backprop in one line."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT, RunCli, pip_install

EXAMPLE = ROOT / "examples" / "toolkit-layernorm"
SPEC = EXAMPLE / "layernorm.yaml"

# Installed for real, found as a new process finds them: run_cli starts the command.
pytestmark = [pytest.mark.process, pytest.mark.long]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose import path has the installed example."""
    target = pip_install(EXAMPLE, tmp_path_factory.mktemp("layernorm") / "site")
    return {"PYTHONPATH": str(target)}


def test_the_layer_is_listed_with_its_distribution(site: dict[str, str], run_cli: RunCli) -> None:
    """`toolkit plugins --json` lists layer_norm as a layer from toolkit-layernorm 0.1.0."""
    result = run_cli("plugins", "--json", env=site)
    assert result.returncode == 0, result.stderr
    parts = {p["qualified_name"]: p for p in json.loads(result.stdout)["parts"]}
    layer = parts["layernorm:layer_norm"]
    assert layer["kind"] == "layer"
    assert layer["distribution"] == {"name": "toolkit-layernorm", "version": "0.1.0"}
    assert layer["parameters"] == {"eps": 1e-5}


def test_the_layer_passes_plugins_check(site: dict[str, str], run_cli: RunCli) -> None:
    """`toolkit plugins --check layer_norm`: made for (6,), every check that applies passes,
    backward skipped (none given)."""
    result = run_cli("plugins", "--check", "layer_norm", env=site)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "layer layer_norm (layernorm:layer_norm): ok"
    assert "  ok    made for samples of shape (6,): output shape (6,)" in lines
    assert sum(line.startswith("  ok    ") for line in lines) == 6
    (backward,) = [line for line in lines if line[8:].startswith("backward matches")]
    assert backward.startswith("  skip  ") and "none given" in backward
    assert lines[-1] == "checked 1 parts: 1 passed, 0 failed"


def test_the_spec_trains_with_central_differences(
    site: dict[str, str], run_cli: RunCli, tmp_path: Path
) -> None:
    """The example's spec trains from the command line with central_difference, and the run
    folder holds the layer's parameters gain1, bias1 beside W1, b1, W2, b2, moved from their
    starts (ones, zeros) by training."""
    out = tmp_path / "run"
    result = run_cli(
        "train", str(SPEC), "--set", "train.iterations=20", "--out", str(out), env=site
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "iteration 20/20" in result.stdout
    assert "error" not in result.stderr
    params = np.load(out / "params.npz")
    assert set(params.files) == {"W1", "b1", "gain1", "bias1", "W2", "b2"}
    assert params["gain1"].shape == params["bias1"].shape == (16,)
    assert not np.array_equal(params["gain1"], np.ones(16))
    assert not np.array_equal(params["bias1"], np.zeros(16))


def test_backprop_is_refused_naming_the_layer(site: dict[str, str], run_cli: RunCli) -> None:
    """With gradient: backprop the run stops with one error line naming the layer and its
    place, suggesting central_difference; exit 2, no traceback."""
    result = run_cli(
        "train", str(SPEC), "--set", "gradient=backprop", "--set", "train.iterations=2", env=site
    )
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: model.layers[1]: backprop needs the backward pass of layer 'layer_norm', which "
        "its plugin does not give; use gradient: central_difference (it needs the forward "
        "pass only)"
    ]
    assert "Traceback" not in result.stderr


def test_the_examples_own_tests_pass(site: dict[str, str]) -> None:
    """The example distribution's own test suite, run against the installed copy, passes."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        cwd=EXAMPLE / "tests",
        env={**os.environ, **site},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def documented_install() -> list[str]:
    """The example README's install command, as its first shell block gives it."""
    block = re.findall(r"```sh\n(.*?)```", (EXAMPLE / "README.md").read_text(), re.S)[0]
    (line,) = [line for line in block.splitlines() if line.startswith("pip install")]
    return shlex.split(line.split("#")[0])


def test_the_readme_install_command_names_the_toolkit_and_the_example() -> None:
    """The README's install command installs the clone's toolkit and this folder together
    (as toolkit-swish's does, whose resolution in a fresh environment is tested)."""
    assert documented_install() == ["pip", "install", ".", "./examples/toolkit-layernorm"]


@pytest.mark.slow
def test_the_readme_commands_work_in_a_fresh_venv(tmp_path: Path) -> None:
    """The example README's commands, for real, in a new virtual environment (pytest -m slow)."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_folder = tmp_path / "venv" / "bin"
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
    )
    root = Path(shutil.copytree(ROOT, tmp_path / "layer-toolkit", ignore=ignore))
    subprocess.run(
        [str(bin_folder / "python"), "-m", *documented_install(), "--quiet"], cwd=root, check=True
    )
    for args in (
        ["plugins", "--check", "layer_norm"],
        ["train", "examples/toolkit-layernorm/layernorm.yaml"],
    ):
        result = subprocess.run(
            [str(bin_folder / "toolkit"), *args], cwd=root, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "error" not in result.stderr
