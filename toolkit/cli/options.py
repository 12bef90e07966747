"""The options several commands share, the parser that reports mistakes in one line, and
the checks on option values that argparse does not make."""

from __future__ import annotations

import argparse
import os
import shlex
from typing import NamedTuple, NoReturn, TypeAlias

from ..base.errors import UsageError
from ..spec.overrides import looks_like_override

__all__ = [
    "DEBUG_HELP",
    "DEBUG_VARIABLE",
    "CommandParser",
    "Commands",
    "Options",
    "debugging",
    "options",
    "refuse_empty",
]

DEBUG_VARIABLE = "TOOLKIT_DEBUG"
DEBUG_HELP = f"show tracebacks for errors (or set {DEBUG_VARIABLE}=1)"


class CommandParser(argparse.ArgumentParser):
    """Reports usage mistakes in one line, with exit code 2."""

    def error(self, message: str) -> NoReturn:
        settings = [
            word
            for word in message.partition("unrecognized arguments: ")[2].split()
            if looks_like_override(word)
        ]
        if settings:  # ``toolkit train spec.yaml a.b=1``
            fix = " ".join(f"--set {shlex.quote(word)}" for word in settings)
            self.exit(2, f"error: {message}; to change a setting, use {fix}\n")
        self.exit(2, f"error: {message}; see '{self.prog} --help'\n")


Commands: TypeAlias = "argparse._SubParsersAction[CommandParser]"
"""What ``add_subparsers()`` returns: each command module adds its parser to it."""


class Options(NamedTuple):
    """Parent parsers: ``plugin`` gives ``--debug`` and ``-p``; ``spec`` adds ``--set``."""

    plugin: CommandParser
    spec: CommandParser


def options() -> Options:
    """The shared options, as parents for the commands' parsers."""
    plugin_option = CommandParser(add_help=False)
    plugin_option.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
    )
    plugin_option.add_argument(
        "-p",
        dest="plugins",
        metavar="MODULE",
        action="append",
        default=[],
        help="register an importable module as a plugin (repeatable)",
    )
    spec_options = CommandParser(add_help=False, parents=[plugin_option])
    spec_options.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override a spec value, e.g. optimizer.learning_rate=0.5",
    )
    return Options(plugin_option, spec_options)


def debugging(args: argparse.Namespace) -> bool:
    """Whether tracebacks are shown: ``--debug``, or ``TOOLKIT_DEBUG`` set (and not 0)."""
    return bool(args.debug or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"))


def refuse_empty(path: str | None, option: str, kind: str) -> None:
    """An empty path on the command line names nothing: refused, not taken as "none"."""
    if path == "":
        raise UsageError(f"{option} '': an empty path; give the name of {kind}")
