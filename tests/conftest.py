"""Shared fixtures: the real ``toolkit`` command, the shipped specs, a fresh plugin manager."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from toolkit.manager import ToolkitPluginManager, get_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def _toolkit_command() -> str:
    found = shutil.which("toolkit", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("the toolkit command is not installed: run pip install -e '.[test]'")
    return found


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run the installed ``toolkit`` command in ``tmp_path``; returns the finished process."""
    command = _toolkit_command()

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
        environment = {key: value for key, value in os.environ.items() if key != "TOOLKIT_DEBUG"}
        environment.update(env or {})
        return subprocess.run(
            [command, *args],
            cwd=cwd or tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )

    return run


@pytest.fixture
def manager() -> ToolkitPluginManager:
    """A fresh plugin manager with every installed plugin."""
    return get_plugin_manager()


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.write_text(text, encoding="utf-8")
    return path


def pip_install(source: Path, target: Path) -> Path:
    """Install the distribution at ``source`` into ``target`` (not its dependencies)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return target
