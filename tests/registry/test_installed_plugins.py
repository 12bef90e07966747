"""Third-party plugins installed for real (pip install --target), found through entry points."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT, SPECS, RunCli, pip_install, write

EXAMPLE = ROOT / "examples" / "toolkit-swish"

# Installed for real, found as a new process finds them: run_cli starts the command.
pytestmark = [pytest.mark.process, pytest.mark.long]


def distribution(folder: Path, name: str, module: str, code: str) -> Path:
    """A one-module distribution whose module is the plugin entry point ``name``."""
    folder.mkdir()
    write(folder / f"{module}.py", textwrap.dedent(code))
    write(
        folder / "pyproject.toml",
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "0.3.0"

        [tool.setuptools]
        py-modules = ["{module}"]

        [project.entry-points."toolkit.plugins"]
        {module} = "{module}"
    """),
    )
    return folder


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example plugin, a second provider of relu, and a plugin whose import fails."""
    root = tmp_path_factory.mktemp("installed")
    dupe = distribution(
        root / "dupe",
        "dupe-relu",
        "dupe",
        """
        def toolkit_activations():
            return {"relu": abs}
    """,
    )
    broken = distribution(
        root / "broken",
        "broken-plugin",
        "broken",
        """
        raise ImportError("this plugin needs a library that is not installed")
    """,
    )
    return {
        "example": str(pip_install(EXAMPLE, root / "example-site")),
        "dupe": str(pip_install(dupe, root / "dupe-site")),
        "broken": str(pip_install(broken, root / "broken-site")),
    }


def with_path(*folders: str) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(folders)}


def test_example_plugin_is_listed_with_its_distribution(
    installed: dict[str, str], run_cli: RunCli
) -> None:
    """Once installed, the example's parts are listed with its distribution and source."""
    result = run_cli("plugins", "--json", env=with_path(installed["example"]))
    assert result.returncode == 0, result.stderr
    parts = {p["qualified_name"]: p for p in json.loads(result.stdout)["parts"]}
    swish = parts["swish:swish"]
    assert swish["distribution"] == {"name": "toolkit-swish", "version": "0.1.0"}
    assert swish["defined_at"].startswith("toolkit_swish/__init__.py:")
    assert swish["parameters"] == {"beta": 1.0} and swish["has_derivative"]
    assert parts["swish:huber"]["kind"] == "loss"


def test_example_spec_trains_with_the_installed_parts(
    installed: dict[str, str], run_cli: RunCli
) -> None:
    """The example's spec, naming swish and huber, trains on the fast path: no note."""
    result = run_cli(
        "train",
        str(EXAMPLE / "swish.yaml"),
        "--set",
        "train.iterations=20",
        env=with_path(installed["example"]),
    )
    assert result.returncode == 0, result.stderr
    assert "iteration 20/20" in result.stdout
    assert result.stderr == ""


def test_example_huber_takes_class_index_targets(
    installed: dict[str, str], run_cli: RunCli, tmp_path: Path
) -> None:
    """The example's spec on a dataset with class-index targets trains (it used to crash)."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "labels.npz", x=rng.standard_normal((40, 100)), t=rng.integers(0, 10, 40))
    result = run_cli(
        "train",
        str(EXAMPLE / "swish.yaml"),
        "--set",
        f"data={{name: npz, path: {tmp_path / 'labels.npz'}}}",
        "--set",
        "train.iterations=5",
        env=with_path(installed["example"]),
    )
    assert result.returncode == 0, result.stderr
    assert "iteration 5/5" in result.stdout and result.stderr == ""


def clone(folder: Path) -> Path:
    """The checkout's files as a fresh clone has them: no venv, no build output."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
    )
    return Path(shutil.copytree(ROOT, folder / "layer-toolkit", ignore=ignore))


def documented_install() -> list[str]:
    """The example README's install command, as its first shell block gives it."""
    block = re.findall(r"```sh\n(.*?)```", (EXAMPLE / "README.md").read_text(), re.S)[0]
    (line,) = [line for line in block.splitlines() if line.startswith("pip install")]
    return shlex.split(line.split("#")[0])


def test_example_install_command_resolves_in_a_fresh_environment(tmp_path: Path) -> None:
    """The example README's `pip install . ./examples/toolkit-swish`, resolved from a clone as
    in an environment with nothing installed: layer-toolkit comes from the clone itself."""
    command = documented_install()
    assert command == ["pip", "install", ".", "./examples/toolkit-swish"]
    report = str(tmp_path / "report.json")
    result = subprocess.run(
        [sys.executable, "-m", *command, "--dry-run", "--ignore-installed", "--report", report],
        cwd=clone(tmp_path),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    chosen = {
        item["metadata"]["name"]: item["download_info"]["url"]
        for item in json.loads(Path(report).read_text())["install"]
    }
    assert chosen["layer-toolkit"] == (tmp_path / "layer-toolkit").as_uri()
    assert chosen["toolkit-swish"] == (tmp_path / "layer-toolkit/examples/toolkit-swish").as_uri()


@pytest.mark.slow
def test_example_readme_commands_work_in_a_fresh_venv(tmp_path: Path) -> None:
    """The example README's commands, for real, in a new virtual environment (pytest -m slow)."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    bin_folder = tmp_path / "venv" / "bin"
    root = clone(tmp_path)
    command = documented_install()
    subprocess.run([str(bin_folder / "python"), "-m", *command, "--quiet"], cwd=root, check=True)
    for args in (
        ["plugins", "--check", "swish", "huber"],
        ["train", "examples/toolkit-swish/swish.yaml"],
    ):
        result = subprocess.run(
            [str(bin_folder / "toolkit"), *args], cwd=root, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stderr == "", result.stderr


def test_example_parts_pass_the_conformance_kit(installed: dict[str, str], run_cli: RunCli) -> None:
    """`toolkit plugins --check swish huber` passes on the installed parts."""
    result = run_cli("plugins", "--check", "swish", "huber", env=with_path(installed["example"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("checked 2 parts: 2 passed, 0 failed")


def test_example_plugins_own_tests_pass(installed: dict[str, str]) -> None:
    """The example distribution's own test suite, run against the installed copy, passes."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        cwd=EXAMPLE / "tests",
        env={**os.environ, **with_path(installed["example"])},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_second_relu_makes_the_bare_name_ambiguous(
    installed: dict[str, str], run_cli: RunCli
) -> None:
    """With two installed providers of relu, bare relu fails naming both; qualified works."""
    env = with_path(installed["dupe"])
    result = run_cli("validate", str(SPECS / "two_layer_relu.yaml"), env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "dupe (dupe-relu 0.3.0)" in result.stderr
    assert "toolkit_plugins.activations (layer-toolkit" in result.stderr
    assert "'dupe:relu' or 'toolkit_plugins.activations:relu'" in result.stderr
    chosen = run_cli(
        "validate",
        str(SPECS / "two_layer_relu.yaml"),
        "--set",
        "model.layers.0.activation=toolkit_plugins.activations:relu",
        env=env,
    )
    assert chosen.returncode == 0, chosen.stderr
    listing = run_cli("plugins", env=env)
    assert "  relu [conflict]" in listing.stdout


def test_broken_plugin_is_reported_and_the_rest_runs(
    installed: dict[str, str], run_cli: RunCli
) -> None:
    """A plugin whose import fails is reported in one line; a run not needing it goes on."""
    env = with_path(installed["broken"], installed["example"])
    result = run_cli("train", str(EXAMPLE / "swish.yaml"), "--set", "train.iterations=1", env=env)
    assert result.returncode == 0, result.stderr
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "broken (broken-plugin 0.3.0)" in warning
    assert "this plugin needs a library that is not installed" in warning
    assert "Traceback" not in result.stderr


def test_unknown_part_names_the_plugins_that_failed(
    installed: dict[str, str], run_cli: RunCli
) -> None:
    """An unknown part while a plugin failed to load says which plugin may have had it."""
    result = run_cli(
        "validate",
        str(SPECS / "two_layer_sigmoid.yaml"),
        "--set",
        "model.layers.0.activation=gelu",
        env=with_path(installed["broken"]),
    )
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "unknown activation 'gelu'" in error[0]
    assert "may come from a plugin that failed to load: broken (broken-plugin 0.3.0)" in error[0]


def test_broken_plugin_traceback_only_when_debugging(
    installed: dict[str, str], run_cli: RunCli
) -> None:
    """--debug shows the failed import's traceback; without it there is none."""
    env = with_path(installed["broken"])
    plain = run_cli("plugins", env=env)
    debug = run_cli("--debug", "plugins", env=env)
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "ImportError" in debug.stderr


def test_disable_autoload_keeps_only_standard_and_named_plugins(
    installed: dict[str, str], run_cli: RunCli, tmp_path: Path
) -> None:
    """TOOLKIT_DISABLE_PLUGIN_AUTOLOAD=1 skips installed third parties but keeps -p modules."""
    write(
        tmp_path / "local_parts.py",
        "def toolkit_losses():\n    return {'zero': lambda y, t: 0.0}\n",
    )
    env = {
        **with_path(installed["example"], installed["broken"], str(tmp_path)),
        "TOOLKIT_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    result = run_cli("plugins", "--json", "-p", "local_parts", env=env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    plugins = {p["plugin"] for p in listing["parts"]}
    assert "swish" not in plugins and "local_parts" in plugins
    assert {p for p in plugins if p.startswith("toolkit_plugins.")} == {
        "toolkit_plugins.activations",
        "toolkit_plugins.losses",
        "toolkit_plugins.initializers",
        "toolkit_plugins.layers",
        "toolkit_plugins.regularization",
        "toolkit_plugins.convolution",
        "toolkit_plugins.gradient_estimators",
        "toolkit_plugins.datasets",
        "toolkit_plugins.optimizers",
        "toolkit_plugins.executors",
    }
    assert listing["skipped_plugins"] == []
