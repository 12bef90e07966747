"""``toolkit plot``: a run's learning curves, drawn to a PNG file.

The drawing module (and matplotlib) is imported only when this command runs.
"""

from __future__ import annotations

import argparse

from ..base.wording import one_line
from .options import Commands, Options, refuse_empty

__all__ = ["add_plot"]


def add_plot(commands: Commands, options: Options) -> None:
    """``toolkit plot RUN_DIR [--out FILE.png] [--force]``."""
    plotting = commands.add_parser("plot", help="draw a run's loss and accuracy curves")
    plotting.add_argument("run", metavar="RUN_DIR", help="a folder written by train --out")
    plotting.add_argument(
        "--out", metavar="FILE.png", help="where to write the picture (default RUN_DIR/curves.png)"
    )
    plotting.add_argument(
        "--force",
        action="store_true",
        help="replace the --out file if it exists, or a curves.png in a folder that holds "
        "no run (never a run's own file)",
    )
    plotting.set_defaults(handler=_plot)


def _plot(args: argparse.Namespace) -> int:
    """Draw a run's curves; into the run folder only while holding its lock."""
    from ..runs.plot import plot_folder

    refuse_empty(args.out, "plot --out", "a file ending in .png")
    print(f"wrote {one_line(str(plot_folder(args.run, args.out, force=args.force)))}")
    return 0
