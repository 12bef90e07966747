"""The ``toolkit`` command's entry point: Ctrl-C while the toolkit loads exits quietly.

Importing the toolkit (numpy, pluggy, yaml) takes a moment before any of its code can
handle Ctrl-C. This module imports nothing but ``sys`` and ``signal``, and imports the
toolkit inside a try: an interrupt while it loads is one line and exit code 130, as it is
later on. An interrupt that lands in a C extension's own imports comes out as that
extension's ImportError (numpy's names ``datetime``); it is known by the signal heard.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None

INTERRUPTED = 130
"""The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""


def main() -> int:
    """Load the command line and run it; 130 if interrupted while loading."""
    heard: list[int] = []
    try:
        previous = _listen(heard)
        try:
            from toolkit.cli import main as run
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return run()
    except KeyboardInterrupt:  # while importing; the command line handles it after that
        return _interrupted()
    except ImportError:
        if not heard:
            raise
        return _interrupted()


def _listen(heard: list[int]) -> Handler:
    """Note each SIGINT in ``heard`` (and raise KeyboardInterrupt, as Python does); the
    handler it replaces, or None where none can be set (not the main thread)."""

    def interrupt(number: int, frame: FrameType | None) -> None:
        heard.append(number)
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGINT, interrupt)
    except ValueError:
        return None


def _interrupted() -> int:
    print("error: interrupted", file=sys.stderr)
    return INTERRUPTED
