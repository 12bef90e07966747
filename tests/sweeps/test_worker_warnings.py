"""A warning raised in a local pool's worker (a trial's notice) is one line on the sweep's
standard error, as ``toolkit train`` prints it: not Python's two lines with a file, a line
number and the source line."""

from __future__ import annotations

import subprocess
import sys

import pytest

POOL = """
import warnings
from plugins.executors import local
from toolkit import ToolkitNotice
pool = local(1)
pool.submit(warnings.warn, "central differences are slower\\n  here", ToolkitNotice).result()
pool.submit(warnings.warn, "overflow in exp", RuntimeWarning).result()
pool.shutdown()
"""


@pytest.mark.process
def test_a_workers_warnings_are_one_line_each() -> None:
    done = subprocess.run([sys.executable, "-c", POOL], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "note: central differences are slower here"
    assert lines[1].startswith("warning: overflow in exp (RuntimeWarning at ")
    assert len(lines) == 2, lines
