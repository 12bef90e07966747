"""What a run prints as it goes: log lines, and a progress bar on an interactive terminal.

The bar is tqdm's (the optional extra ``progress``), drawn on standard error only when
that is a terminal; log lines go to standard output either way, unchanged, so pipes
and files get exactly the lines a terminal shows.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from typing import Any

__all__ = ["Progress", "bar_available"]


def bar_available() -> bool:
    """Whether a bar can be drawn: tqdm installed and standard error a terminal."""
    return sys.stderr.isatty() and importlib.util.find_spec("tqdm") is not None


class Progress:
    """Log lines, and with ``bar=True`` a bar over ``total`` iterations from ``done``.

    The bar is drawn by ``start``, after the run's header line, so that the header is
    never written over.
    """

    def __init__(self, total: int, done: int = 0, *, bar: bool = False) -> None:
        self._bar: Any = None
        self._total, self._done, self._wants_bar = total, done, bar

    def start(self, header: str) -> None:
        """Print the run's header line, then draw the bar below it."""
        print(header, flush=True)
        if not self._wants_bar or self._bar is not None:
            return
        from tqdm import tqdm  # type: ignore[import-untyped]

        width = shutil.get_terminal_size().columns  # 0 on a terminal that won't say
        self._bar = tqdm(
            total=self._total,
            initial=self._done,
            unit="it",
            file=sys.stderr,
            dynamic_ncols=width > 0,
            ncols=None if width > 0 else 80,
        )

    def line(self, text: str) -> None:
        """Print a log line (above the bar, if there is one)."""
        if self._bar is not None:
            self._bar.write(text, file=sys.stdout)
            sys.stdout.flush()
        else:
            print(text, flush=True)

    def step(self, loss: float | None = None) -> None:
        """One iteration done; ``loss`` is the last one logged, shown beside the bar."""
        if self._bar is not None:
            if loss is not None:
                self._bar.set_postfix_str(f"loss {loss:.6g}", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.close()
