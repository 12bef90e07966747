"""Ctrl-C and SIGTERM as a request to stop at the next safe point, for train and sweep."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

__all__ = ["StopRequest"]


class StopRequest:
    """A callable that says whether Ctrl-C or SIGTERM was heard inside ``on_signals``: the
    command stops at its next safe point (a run after the iteration in progress, with a
    checkpoint; a sweep submits nothing more); a second signal stops it at once."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, number: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    @contextlib.contextmanager
    def on_signals(self) -> Iterator[None]:
        """Handle SIGINT and SIGTERM this way inside the block (main thread only)."""
        previous = {}
        try:
            for number in (signal.SIGINT, signal.SIGTERM):
                previous[number] = signal.signal(number, self._handle)
        except ValueError:  # not the main thread: signals stay as they were
            pass
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
