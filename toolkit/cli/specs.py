"""``toolkit validate``, ``toolkit specs`` and ``toolkit schema``: specs checked, listed,
printed, and described as a JSON Schema."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..base.errors import UsageError
from ..base.wording import did_you_mean, quote
from ..registry.manager import get_plugin_manager
from ..registry.registry import Registry
from ..runs.build import assemble
from ..spec.load import shipped_specs, spec_summary
from ..spec.schema import spec_schema
from .loading import load, shipped_name, warn_about_skipped_plugins
from .options import Commands, Options
from .report import describe_assembly

__all__ = ["add_schema", "add_specs", "add_validate"]


def add_validate(commands: Commands, options: Options) -> None:
    """``toolkit validate SPEC``."""
    check = commands.add_parser(
        "validate", parents=[options.spec], help="check a spec and show the network it builds"
    )
    check.add_argument("spec", help="spec file")
    check.set_defaults(handler=_validate)


def add_specs(commands: Commands, options: Options) -> None:
    """``toolkit specs [NAME]``."""
    specs = commands.add_parser(
        "specs", help="list the shipped specs, or print one (to copy and edit)"
    )
    specs.add_argument(
        "name", metavar="NAME", nargs="?", help="print this shipped spec as it is written"
    )
    specs.set_defaults(handler=_specs)


def add_schema(commands: Commands, options: Options) -> None:
    """``toolkit schema``."""
    schema = commands.add_parser(
        "schema",
        parents=[options.plugin],
        help="print a JSON Schema of the spec, from every registered part, for editors",
    )
    schema.set_defaults(handler=_schema)


def _validate(args: argparse.Namespace) -> int:
    assembly = assemble(load(args))
    print("\n".join(describe_assembly(assembly)))
    print("valid")
    return 0


def _specs(args: argparse.Namespace) -> int:
    """List the shipped specs with their descriptions, or print one as it is written."""
    shipped = shipped_specs()
    if args.name is None:
        width = max(map(len, shipped))
        for listed in sorted(shipped):
            print(f"{listed:<{width}}  {spec_summary(shipped[listed])}".rstrip())
        print(
            "print one with 'toolkit specs NAME' (> my.yaml to copy it), train one with "
            "'toolkit train NAME'"
        )
        return 0
    name = shipped_name(args.name, shipped)
    if name is None:
        raise UsageError(
            f"specs: no shipped spec {quote(args.name)}; "
            f"{did_you_mean(Path(args.name).stem, shipped)}shipped specs: "
            + ", ".join(sorted(shipped))
        )
    sys.stdout.write(shipped[name].read_text(encoding="utf-8"))
    return 0


def _schema(args: argparse.Namespace) -> int:
    manager = get_plugin_manager(args.plugins)
    warn_about_skipped_plugins(args, manager)
    print(json.dumps(spec_schema(Registry.from_manager(manager)), indent=2))
    return 0
