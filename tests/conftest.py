"""Shared fixtures: the real ``toolkit`` command, the shipped specs, a fresh plugin manager."""

from __future__ import annotations

import importlib.metadata
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from toolkit.registry.manager import ENTRY_POINT_GROUP, ToolkitPluginManager, get_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

RunCli = Callable[..., subprocess.CompletedProcess[str]]

_FUZZ_HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def fuzz_settings(ci: int, slow: int) -> tuple[settings, settings]:
    """Hypothesis settings of the fuzz tests: ``ci`` examples in a fixed, derandomized
    search (shrinking one bug, quickly), and ``slow`` random ones for ``pytest -m slow``."""
    common = settings(deadline=None, database=None, suppress_health_check=_FUZZ_HEALTH)
    quick = settings(common, max_examples=ci, derandomize=True, report_multiple_bugs=False)
    return quick, settings(common, max_examples=slow)


def memory_cap(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` that gives the child at most ``limit`` bytes of address space, so
    that a command that reads without bound fails at once instead of taking the machine."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap


def capped_toolkit(*args: str, memory: int = 1 << 30) -> subprocess.CompletedProcess[str]:
    """The real command (``python -m toolkit``) within ``memory`` bytes and 60 seconds: a
    read that blocks or never ends fails the test instead of hanging it."""
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=memory_cap(memory),
        env={key: value for key, value in os.environ.items() if key != "TOOLKIT_DEBUG"},
    )


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


@pytest.fixture
def plugin_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for plugin modules a test writes; they are forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


class FakeDistribution:
    """Just enough of importlib.metadata.Distribution for entry-point loading."""

    def __init__(self, name: str, version: str, entry_points: dict[str, str]) -> None:
        self.metadata = {"Name": name}
        self.version = version
        self.entry_points = [
            importlib.metadata.EntryPoint(ep_name, value, ENTRY_POINT_GROUP)
            for ep_name, value in entry_points.items()
        ]


def only_distributions(monkeypatch: pytest.MonkeyPatch, *dists: FakeDistribution) -> None:
    """Entry points come from the installed distributions plus ``dists``."""
    real = list(importlib.metadata.distributions())
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [*real, *dists])
