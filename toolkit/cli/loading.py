"""The spec a command names (a file, or a shipped spec by its name), loaded with the
command line's plugins and overrides."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..base.errors import UsageError
from ..base.wording import one_line
from ..registry.manager import ToolkitPluginManager, get_plugin_manager
from ..spec.load import Spec, load_spec, shipped_specs
from ..spec.overrides import looks_like_override
from .options import debugging

__all__ = ["DEFAULT_SPEC", "load", "shipped_name", "spec_path", "warn_about_skipped_plugins"]

DEFAULT_SPEC = "two_layer_sigmoid"


def spec_path(argument: str | None) -> str:
    """A spec file, or a shipped spec named by its name (``two_layer_relu``, ``specs/x.yaml``)."""
    shipped = shipped_specs()
    if argument is None:
        return str(shipped[DEFAULT_SPEC])
    if looks_like_override(argument) and not Path(argument).exists():
        raise UsageError(
            f"{argument}: no such spec file; to change a setting, use --set {shlex.quote(argument)}"
        )
    name = shipped_name(argument, shipped)
    if name is not None and not Path(argument).exists():
        if argument != name:
            note = f"note: no file {one_line(argument)} here; using the shipped spec {name}"
            print(note, file=sys.stderr)
        return str(shipped[name])
    return argument


def shipped_name(argument: str, shipped: Mapping[str, Path]) -> str | None:
    """The shipped spec ``argument`` names (``two_layer_relu``, ``two_layer_relu.yaml``,
    ``specs/two_layer_relu.yaml``), or None."""
    path = Path(argument)
    named = path.suffix in ("", ".yaml") and path.parts in ((path.name,), ("specs", path.name))
    return path.stem if named and path.stem in shipped else None


def warn_about_skipped_plugins(args: argparse.Namespace, manager: ToolkitPluginManager) -> None:
    """One ``warning:`` line per plugin that failed to load (its traceback with --debug)."""
    for failure in manager.failures:
        print(f"warning: {one_line(str(failure))}", file=sys.stderr)
        if failure.details and debugging(args):
            print(failure.details, file=sys.stderr, end="")


def load(args: argparse.Namespace, path: Path | None = None, overrides: Sequence[str] = ()) -> Spec:
    """The command line's spec with its overrides, or a run folder's ``path`` as it was
    written (with ``overrides``); plugins from ``-p`` either way."""
    manager = get_plugin_manager(args.plugins)
    source = spec_path(args.spec) if path is None else path
    overrides = args.overrides if path is None else overrides
    try:
        return load_spec(source, overrides, manager=manager)
    finally:
        warn_about_skipped_plugins(args, manager)
