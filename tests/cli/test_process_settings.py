"""The toolkit command leaves the process's memory allocator as it found it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import toolkit
from tests.helpers import SPECS

RECORDING = textwrap.dedent(
    """
    import ctypes, sys

    asked = []

    class Recording(ctypes.CDLL):
        def __getattr__(self, name):
            asked.append(name)
            return super().__getattr__(name)

    ctypes.CDLL = Recording
    from toolkit.cli.app import main

    code = main(["train", sys.argv[1], "--set", "train.iterations=2"])
    print(code, "mallopt" in asked)
    """
)


def test_the_command_leaves_malloc_alone() -> None:
    """A training run through the command, in a fresh process, never looks up glibc's
    ``mallopt``: the allocator's thresholds stay as the process had them."""
    result = subprocess.run(
        [sys.executable, "-c", RECORDING, str(SPECS / "two_layer_sigmoid.yaml")],
        capture_output=True,
        text=True,
        cwd=Path.home(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["0", "False"]


def test_import_toolkit_has_no_memory_module() -> None:
    """The malloc tuning module is gone from the package's attributes and its ``__all__``."""
    assert not hasattr(toolkit, "memory")
    assert "memory" not in toolkit.__all__
