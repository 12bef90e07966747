"""``toolkit plugins``: every registered part, as a table or JSON, or their conformance checks."""

from __future__ import annotations

import argparse
import json
import shutil

from ..base.errors import UsageError
from ..registry.manager import get_plugin_manager
from ..registry.registry import Registry, UnknownPart
from .catalog import catalog, check_parts, describe_checks, describe_parts, select
from .loading import warn_about_skipped_plugins
from .options import Commands, Options

__all__ = ["PIPED_WIDTH", "add_plugins"]

PIPED_WIDTH = 100
"""Columns of tables written anywhere but a terminal (and COLUMNS unset)."""


def add_plugins(commands: Commands, options: Options) -> None:
    """``toolkit plugins [--json] [--check [NAME ...]]``."""
    listing = commands.add_parser(
        "plugins", parents=[options.plugin], help="list every registered part"
    )
    listing.add_argument("--json", action="store_true", help="print the listing as JSON")
    listing.add_argument(
        "--check",
        nargs="*",
        metavar="NAME",
        help="run the conformance checks on the named parts (all when none are named)",
    )
    listing.set_defaults(handler=_plugins)


def _plugins(args: argparse.Namespace) -> int:
    manager = get_plugin_manager(args.plugins)
    registry = Registry.from_manager(manager)
    warn_about_skipped_plugins(args, manager)
    if args.check is not None:
        try:
            entries = select(registry, args.check)
        except UnknownPart as error:
            raise UsageError(f"plugins --check: {error.message}; {error.hint}") from None
        results = check_parts(entries)
        print("\n".join(describe_checks(results)))
        return 1 if any(c.passed is False for _, checks in results for c in checks) else 0
    if args.json:
        print(json.dumps(catalog(registry), indent=2))
    else:
        print("\n".join(describe_parts(registry, _terminal_width())))
    return 0


def _terminal_width() -> int:
    """The terminal's columns (``COLUMNS`` if set); ``PIPED_WIDTH`` when not a terminal."""
    return shutil.get_terminal_size((PIPED_WIDTH, 24)).columns
