"""The ``toolkit`` command: train, sweep, summary, validate, evaluate, predict, plot, specs,
plugins, gradcheck.

Each command's parser and handler live in its own module (``train``, ``trained``, ``plot``,
``specs``, ``plugins``, ``gradcheck``, ``sweep``, ``summary``); here the parser is assembled and
whatever a command raises becomes ``error:`` lines and an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.metadata
import io
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import TextIO

from ..base.errors import SpecError, ToolkitError, warning_line
from ..base.wording import brief, one_line
from ..registry.parts import describe_exit
from . import gradcheck, plot, plugins, specs, summary, sweep, train, trained
from .options import DEBUG_HELP, CommandParser, debugging, options

__all__ = ["main"]

MEMORY_FIX = "make the sizes smaller (train.batch_size, the layers' units, the data) or free memory"
NAME_MAX = 255
"""The longest file name most file systems take, in bytes."""
COMMANDS = (
    train.add_train,
    sweep.add_sweep,
    summary.add_summary,
    trained.add_evaluate,
    trained.add_predict,
    plot.add_plot,
    specs.add_validate,
    specs.add_specs,
    plugins.add_plugins,
    specs.add_schema,
    gradcheck.add_gradcheck,
)
"""Each command's parser, in the order ``toolkit --help`` lists them."""


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="toolkit", description="Build and train networks from registered parts."
    )
    parser.add_argument("--version", action="version", version=f"toolkit {_version()}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = options()
    for add in COMMANDS:
        add(commands, shared)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("layer-toolkit")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _show_notice(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Notices print as one ``note:`` line; other warnings (numpy's, a plugin's) as one
    ``warning:`` line saying where they were raised."""
    print(warning_line(message, category, filename, lineno), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 1 failed run, 2 bad input,
    130 interrupted)."""
    _escape_unwritable_characters()
    try:
        args = _parser().parse_args(argv)
    except SystemExit:  # --help and --version printed, or a usage error: flush here too
        try:
            _flush_output()
        except OSError as error:
            return _output_failed(error, debug=False)
        raise
    except OSError as error:
        return _output_failed(error, debug=False)
    warnings.showwarning = _show_notice
    try:
        code = _command(args)
        _flush_output()  # now, not as Python exits: a closed pipe or a full device is seen
        return code
    except OSError as error:
        return _output_failed(error, debug=debugging(args))


def _command(args: argparse.Namespace) -> int:
    """Run the chosen command, turning what it raises into ``error:`` lines and a code."""
    try:
        return int(args.handler(args) or 0)
    except ToolkitError as error:
        if debugging(args):
            traceback.print_exc()
        lines = [str(p) for p in error.problems] if isinstance(error, SpecError) else [str(error)]
        for line in lines:  # one line each, whatever user text they carry
            print(f"error: {one_line(line)}", file=sys.stderr)
        return error.exit_code
    except SystemExit as exit:  # only plugin code raises it here: argparse's came before
        if debugging(args):
            traceback.print_exc()
        print(f"error: {describe_exit(exit)}", file=sys.stderr)
        return 1
    except MemoryError as error:
        if debugging(args):
            traceback.print_exc()
        what = one_line(str(error)) or "a request for memory failed"
        print(f"error: out of memory ({what}); {MEMORY_FIX}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        folder = getattr(args, "resume", None) or getattr(args, "out", None)
        hint = f"; continue with 'toolkit train --resume {folder}'" if folder else ""
        print(f"error: interrupted{hint}", file=sys.stderr)
        return 130


def _escape_unwritable_characters() -> None:
    """Text the terminal's encoding can't hold (a lone surrogate in a name, say) is written
    escaped (``\\ud800``), never a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, io.UnsupportedOperation):
                reconfigure(errors="backslashreplace")


def _flush_output() -> None:
    if sys.stdout is not None:
        sys.stdout.flush()


def _output_failed(error: OSError, *, debug: bool) -> int:
    """One line (none for a reader that went away) for an OSError that reached main: exit 2
    for a path name too long, else 1.

    Standard output is then pointed at the null device, so that nothing is left for Python
    to flush into a closed pipe or a full device as it exits.
    """
    if debug and not isinstance(error, BrokenPipeError):
        traceback.print_exc()
    if isinstance(error, BrokenPipeError):  # `toolkit plugins | head`: quietly, as Unix tools do
        _discard_output()
        return 1
    if error.errno == errno.ENAMETOOLONG:
        named = f"{brief(error.filename)}: " if error.filename is not None else ""
        print(
            f"error: {named}the path, or a name in it, is longer than the file system allows "
            f"(usually {NAME_MAX} bytes a name); choose a shorter name",
            file=sys.stderr,
        )
        return 2
    reason = error.strerror or str(error)
    if error.filename is None:  # standard output: a full device, a disk quota, an I/O error
        print(f"error: cannot write the output: {reason}", file=sys.stderr)
        _discard_output()
    else:
        print(f"error: {brief(error.filename)}: {reason}", file=sys.stderr)
    return 1


def _discard_output() -> None:
    """Send what standard output still holds, and will be given, to the null device."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
