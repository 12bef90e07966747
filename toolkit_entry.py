"""The ``toolkit`` command's entry point: Ctrl-C while the toolkit loads exits quietly.

Importing the toolkit (numpy, pluggy, yaml) takes a moment before any of its code can
handle Ctrl-C. This module imports nothing but ``sys``, and imports the toolkit inside a
try: an interrupt while it loads is one line and exit code 130, as it is later on.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130
"""The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""


def main() -> int:
    """Load the command line and run it; 130 if interrupted while loading."""
    try:
        from toolkit.cli import main as run

        return run()
    except KeyboardInterrupt:  # while importing; the command line handles it after that
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED
