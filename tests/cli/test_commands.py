"""The command line's shape: each command in its own module, help that says what the
command does, and a ``--help`` that loads no drawing machinery."""

from __future__ import annotations

import subprocess
import sys

import pytest

from toolkit.cli import app, main
from toolkit.runs.gradcheck import LOOP_BOUND


def _help(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines at any width


def test_every_command_has_its_handler_outside_the_entry_module() -> None:
    """app.py assembles the parser; each command's handler lives in a module of its group."""
    parser = app._parser()
    commands = parser._subparsers._group_actions[0].choices
    assert list(commands) == [
        "train",
        "sweep",
        "summary",
        "evaluate",
        "predict",
        "plot",
        "validate",
        "specs",
        "plugins",
        "schema",
        "gradcheck",
    ]
    for name, command in commands.items():
        module = command.get_default("handler").__module__
        assert module.startswith("toolkit.cli."), (name, module)
        assert module != "toolkit.cli.app", name


def test_gradcheck_help_says_every_registered_estimator_is_checked(capsys) -> None:
    """The reference is the core's own element loop, not an estimator left out by default:
    the default checks every registered one (the README says so too)."""
    text = _help(capsys, "gradcheck")
    assert "(default: every registered one)" in text
    assert "but the reference" not in text
    assert f"a parameter has more than {LOOP_BOUND} (default: 200)" in text


def test_help_loads_no_plotting() -> None:
    """``toolkit --help`` imports the command modules but not the drawing module or
    matplotlib, which only ``plot`` needs (a fresh interpreter: sys.modules is clean)."""
    code = (
        "import sys, contextlib, io\n"
        "from toolkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('toolkit', 'matplotlib')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "toolkit.cli.train" in loaded  # the command modules themselves are cheap
    for lazy in ("toolkit.runs.plot", "matplotlib"):
        assert lazy not in loaded
