"""The ``toolkit`` command: train, validate and plugins."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .assembly import Assembly, assemble
from .catalog import catalog, check_parts, describe_checks, describe_parts, select
from .errors import ToolkitError, ToolkitNotice, UsageError
from .manager import ToolkitPluginManager, get_plugin_manager
from .registry import Registry, UnknownPart
from .report import describe_assembly
from .rundir import RunDirectory
from .spec import Spec, load_spec, shipped_specs
from .trainer import Record, train

__all__ = ["main"]

_python_show_warning = warnings.showwarning
DEFAULT_SPEC = "two_layer_sigmoid"
DEBUG_VARIABLE = "TOOLKIT_DEBUG"
DEBUG_HELP = f"show tracebacks for errors (or set {DEBUG_VARIABLE}=1)"


class _Parser(argparse.ArgumentParser):
    """Reports usage mistakes in one line, with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}; see '{self.prog} --help'\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="toolkit", description="Build and train networks from registered parts.")
    parser.add_argument("--version", action="version", version=f"toolkit {_version()}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugin_option = _Parser(add_help=False)
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
    spec_options = _Parser(add_help=False, parents=[plugin_option])
    spec_options.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override a spec value, e.g. optimizer.learning_rate=0.5",
    )

    run = commands.add_parser(
        "train", parents=[spec_options], help="train the network a spec describes"
    )
    run.add_argument("spec", nargs="?", help=f"spec file (default: the shipped {DEFAULT_SPEC})")
    run.add_argument(
        "--out", metavar="DIR", help="write spec.yaml, metrics.jsonl and params.npz here"
    )
    run.set_defaults(handler=_train)

    check = commands.add_parser(
        "validate", parents=[spec_options], help="check a spec and show the network it builds"
    )
    check.add_argument("spec", help="spec file")
    check.set_defaults(handler=_validate)

    listing = commands.add_parser(
        "plugins", parents=[plugin_option], help="list every registered part"
    )
    listing.add_argument("--json", action="store_true", help="print the listing as JSON")
    listing.add_argument(
        "--check",
        nargs="*",
        metavar="NAME",
        help="run the conformance checks on the named parts (all when none are named)",
    )
    listing.set_defaults(handler=_plugins)

    gradients = commands.add_parser(
        "gradcheck",
        parents=[spec_options],
        help="compare gradient estimators with the element-loop reference on one batch",
    )
    gradients.add_argument("spec", help="spec file")
    gradients.add_argument(
        "--estimators",
        metavar="A,B,...",
        help="estimators to check (default: every registered one but the reference)",
    )
    gradients.add_argument(
        "--batch", metavar="N", type=int, help="batch size (default: the spec's train.batch_size)"
    )
    gradients.add_argument(
        "--sample",
        metavar="K",
        type=int,
        help="elements per parameter compared where the reference is sampled (default: 200)",
    )
    gradients.set_defaults(handler=_gradcheck)
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("layer-toolkit")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _show_notice(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """Notices print as one ``note:`` line; other warnings as Python shows them."""
    if issubclass(category, ToolkitNotice):
        print(f"note: {message}", file=sys.stderr)
    else:
        _python_show_warning(message, category, *_, **__)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 1 failed run, 2 bad input)."""
    args = _parser().parse_args(argv)
    warnings.showwarning = _show_notice
    try:
        return int(args.handler(args) or 0)
    except ToolkitError as error:
        if _debugging(args):
            traceback.print_exc()
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _spec_path(argument: str | None) -> str:
    """A spec file, or a shipped spec named by its name (``two_layer_relu``, ``specs/x.yaml``)."""
    shipped = shipped_specs()
    if argument is None:
        return str(shipped[DEFAULT_SPEC])
    path = Path(argument)
    is_shipped_name = (
        path.stem in shipped
        and path.suffix in ("", ".yaml")
        and path.parts in ((path.name,), ("specs", path.name))
    )
    if not path.exists() and is_shipped_name:
        if argument != path.stem:
            print(
                f"note: no file {argument} here; using the shipped spec {path.stem}",
                file=sys.stderr,
            )
        return str(shipped[path.stem])
    return argument


def _debugging(args: argparse.Namespace) -> bool:
    return bool(args.debug or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"))


def _warn_about_skipped_plugins(args: argparse.Namespace, manager: ToolkitPluginManager) -> None:
    for failure in manager.failures:
        print(f"warning: {failure}", file=sys.stderr)
        if failure.details and _debugging(args):
            print(failure.details, file=sys.stderr, end="")


def _load(args: argparse.Namespace) -> Spec:
    manager = get_plugin_manager(args.plugins)
    try:
        return load_spec(_spec_path(args.spec), args.overrides, manager=manager)
    finally:
        _warn_about_skipped_plugins(args, manager)


def _train(args: argparse.Namespace) -> int:
    spec = _load(args)
    out = RunDirectory(args.out) if args.out else None
    total = spec.config["train"]["iterations"]

    def on_start(assembly: Assembly) -> None:
        layers = len(assembly.network.layers)
        print(
            f"training {spec.name}: {_count(layers, 'layer')}, {_count(total, 'iteration')}",
            flush=True,
        )
        if out:
            out.start(spec)

    def on_log(record: Record) -> None:
        width = len(str(total))
        print(
            f"iteration {record['iteration']:>{width}}/{total}  loss {record['loss']!r}", flush=True
        )
        if out:
            out.log(record)

    result = train(spec, on_start=on_start, on_log=on_log)
    if out:
        out.save_params(result.network.params)
    final = f"final loss {result.final_loss!r}"
    print(f"done: {_count(total, 'iteration')} in {result.seconds:.1f} s, {final}")
    if out:
        print("wrote " + ", ".join(str(path) for path in out.files))
    return 0


def _validate(args: argparse.Namespace) -> int:
    assembly = assemble(_load(args))
    print("\n".join(describe_assembly(assembly)))
    print("valid")
    return 0


def _plugins(args: argparse.Namespace) -> int:
    manager = get_plugin_manager(args.plugins)
    registry = Registry.from_manager(manager)
    _warn_about_skipped_plugins(args, manager)
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
        print("\n".join(describe_parts(registry)))
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    """Print the gradient check of one batch; 1 if a checked estimator is out of tolerance."""
    from .gradcheck import describe_report, gradcheck, parse_names  # only this command needs it

    names = parse_names(args.estimators) if args.estimators is not None else None
    report = gradcheck(_load(args), names, batch=args.batch, sample=args.sample)
    print("\n".join(describe_report(report)))
    return 0 if report.passed else 1
