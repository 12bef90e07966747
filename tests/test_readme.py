"""The README's examples run as shown, and CI runs the README's test command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT, SPECS, RunCli, pip_install, write
from toolkit.cli import main
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.registry import Registry

README = (ROOT / "README.md").read_text()


def code_blocks(language: str, section: str) -> list[str]:
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run ends with the test command the README gives."""
    command = re.search(r"pip install -e '\.\[test\]' && (.+)", README).group(1)
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == command


def test_plain_plugin_from_the_readme_trains_with_p(tmp_path: Path, run_cli: RunCli) -> None:
    """The README's softsign module, used as its command shows, trains."""
    module = code_blocks("python", "Writing a plugin")[0]
    write(tmp_path / "softsign_plugin.py", module)
    command = code_blocks("sh", "Writing a plugin")[0].split()
    assert command[0] == "toolkit"  # the module is found in the current folder
    result = run_cli(*command[1:], "--set", "train.iterations=1")
    assert result.returncode == 0, result.stderr
    assert "iteration 1/1" in result.stdout
    assert "note:" not in result.stderr  # a plain function takes the fast gradient path


@pytest.mark.process
@pytest.mark.long
def test_minimal_plugin_from_the_readme_installs_lists_and_trains(
    tmp_path: Path, run_cli: RunCli
) -> None:
    """The README's two files, pip-installed as shown, are listed with their distribution."""
    package = tmp_path / "softsign-plugin"
    package.mkdir()
    write(package / "softsign_plugin.py", code_blocks("python", "Writing a plugin")[0])
    write(package / "pyproject.toml", code_blocks("toml", "Writing a plugin")[0])
    env = {"PYTHONPATH": str(pip_install(package, tmp_path / "site"))}
    listing = run_cli("plugins", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    (part,) = [p for p in json.loads(listing.stdout)["parts"] if p["name"] == "softsign"]
    assert part["distribution"] == {"name": "softsign-plugin", "version": "1.0.0"}
    result = run_cli(
        "train",
        "--set",
        "model.layers.0.activation=softsign",
        "--set",
        "train.iterations=1",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "iteration 1/1" in result.stdout


def test_testing_example_from_the_readme_passes(tmp_path: Path) -> None:
    """The README's plugin test, run with pytest against the example plugin, passes."""
    write(tmp_path / "test_readme_example.py", code_blocks("python", "Writing a plugin")[2])
    source = ROOT / "examples" / "toolkit-swish" / "src"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_richer_plugin_from_the_readme_registers_swish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's swish Part registers, with a derivative that matches its function."""
    write(tmp_path / "readme_swish.py", code_blocks("python", "Writing a plugin")[1])
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry.from_manager(get_plugin_manager(["readme_swish"], autoload=False))
    (entry,) = registry.entries("activation")
    assert (entry.name, entry.part.params) == ("swish", {"beta": 1.0})
    assert entry.part.breakpoints == ()
    assert list(entry.part.validate(beta=-1.0)) == [("beta", "must be positive, got -1.0")]
    x = np.linspace(-3, 3, 13)
    h = 1e-6
    numeric = (entry.part.fn(x + h) - entry.part.fn(x - h)) / (2 * h)
    np.testing.assert_allclose(entry.part.derivative(x), numeric, atol=1e-8)
    np.testing.assert_allclose(entry.part.fn(x), x / (1 + np.exp(-x)))


def test_readme_spec_is_the_shipped_spec() -> None:
    """The spec shown in the README is the shipped seed spec, comments aside."""
    shown = code_blocks("yaml", "The spec")[0]
    shipped = "".join(
        line + "\n"
        for line in (SPECS / "two_layer_sigmoid.yaml").read_text().splitlines()
        if not line.startswith("#")
    )
    assert shown == shipped


def test_readme_exit_codes_name_every_code_the_command_returns() -> None:
    """The Commands section's exit codes: done, bad input, a failed run, and an interrupt."""
    paragraph = README.split("Exit codes: ", 1)[1].split("\n\n", 1)[0]
    for code in ("0 done", "2 bad input", "1 a failure during a run", "130 interrupted"):
        assert code in paragraph.replace("\n", " "), code


def test_readme_error_example_is_what_the_tool_says(tmp_path: Path, run_cli: RunCli) -> None:
    """The error line shown in the README is printed for that misspelling."""
    shown = re.search(r"^error: model\.layers\[0\]\.activation: .*$", README, re.M).group(0)
    text = (
        (SPECS / "two_layer_sigmoid.yaml")
        .read_text()
        .replace("activation: sigmoid", "activation: sigmiod")
    )
    write(tmp_path / "spec.yaml", text)
    result = run_cli("validate", "spec.yaml")
    assert result.returncode == 2
    assert result.stderr.strip() == shown


def test_readme_library_blocks_run_as_pasted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The "As a library" blocks, run in order in one namespace from a folder laid out as
    the repository's root (its specs/), with the shell command between them, print what
    their comments say."""
    (tmp_path / "specs").symlink_to(SPECS)
    monkeypatch.chdir(tmp_path)
    first, second = code_blocks("python", "As a library")
    (command,) = code_blocks("sh", "As a library")
    namespace: dict[str, object] = {}
    exec(first, namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("{'iteration': 50, 'loss': ")
    words = command.split()
    assert words[0] == "toolkit" and main(words[1:]) == 0
    capsys.readouterr()
    exec(second, namespace)
    shown = re.search(r"# (\S+)$", second.strip()).group(1)
    assert capsys.readouterr().out.strip() == shown
