"""The ``toolkit`` command's entry point: Ctrl-C while the toolkit loads exits quietly.

Importing the toolkit (numpy, pluggy, yaml) takes a moment before any of its code can
handle Ctrl-C. This module imports nothing but ``sys`` and ``signal``, and imports the
toolkit inside a try: an interrupt while it loads is one line and exit code 130, as it is
later on. An interrupt that lands in a C extension's own imports comes out as that
extension's ImportError (numpy's names ``datetime``), and one that lands in a callback
Python runs while importing cannot propagate at all; both are known by the signal heard.
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
        previous, hook = _listen(heard), sys.unraisablehook
        sys.unraisablehook = _quiet_interrupts(hook)
        try:
            from toolkit.cli import main as run
        finally:
            sys.unraisablehook = hook
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if heard:  # an interrupt raised where Python could only report it (a callback)
            return _interrupted()
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


def _quiet_interrupts(
    hook: Callable[[sys.UnraisableHookArgs], object],
) -> Callable[[sys.UnraisableHookArgs], None]:
    """``hook``, except for a KeyboardInterrupt: one raised inside a callback Python runs
    while importing (a module lock's weakref callback) cannot propagate, and would be
    printed with its traceback; ``main`` answers it once the import is done."""

    def report(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            hook(unraisable)

    return report


def _interrupted() -> int:
    print("error: interrupted", file=sys.stderr)
    return INTERRUPTED
