"""Fixtures: the ``toolkit`` command (in this process, or a real process), a fresh plugin
manager, a folder for plugin modules. What tests import is in ``tests/helpers.py``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import RunCli, call_toolkit, run_toolkit
from toolkit.registry.manager import ToolkitPluginManager, get_plugin_manager


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` first (in their order): in a parallel run (``-n``) the short
    ones then fill in around them, and the workers finish together."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture
def run_cli(request: pytest.FixtureRequest, tmp_path: Path) -> RunCli:
    """Run the ``toolkit`` command's entry function in this process, as a process started in
    ``tmp_path`` would run it (see ``call_toolkit``); returns the finished "process".

    In a test marked ``process``, the installed command runs as a real process instead."""
    if request.node.get_closest_marker("process") is not None:
        return request.getfixturevalue("run_process")

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
        return call_toolkit(*args, cwd=cwd or tmp_path, env=env)

    return run


@pytest.fixture
def run_process(tmp_path: Path) -> RunCli:
    """Run the installed ``toolkit`` command as a real process in ``tmp_path``: for what only
    a new process shows (plugins installed and found through their entry points, the import
    path of the ``toolkit`` script)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
        return run_toolkit(*args, cwd=cwd or tmp_path, env=env)

    return run


@pytest.fixture
def manager() -> ToolkitPluginManager:
    """A fresh plugin manager with every installed plugin."""
    return get_plugin_manager()


@pytest.fixture
def plugin_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for plugin modules a test writes; they are forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]
