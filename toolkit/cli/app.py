"""The ``toolkit`` command: train, validate, evaluate, predict, plot, specs, plugins, gradcheck."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.metadata
import io
import json
import os
import shlex
import shutil
import signal
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

import numpy as np

from ..base.errors import SpecError, ToolkitError, ToolkitNotice, UsageError
from ..base.wording import brief, did_you_mean, one_line, quote
from ..gradients.memory import retain_freed_memory
from ..model.network import Network
from ..registry.manager import ToolkitPluginManager, get_plugin_manager
from ..registry.parts import describe_exit
from ..registry.registry import Registry, UnknownPart
from ..runs.arrays import read_arrays, read_dataset, write_arrays
from ..runs.build import Assembly, assemble
from ..runs.checkpoint import Checkpoint
from ..runs.rundir import RunDirectory, check_output
from ..runs.saved import restore_run
from ..runs.trainer import (
    Record,
    check_checkpoint,
    require_same_spec,
    spec_change,
    train,
    training_loss,
)
from ..spec.load import Spec, load_spec, shipped_specs, spec_summary
from ..spec.overrides import looks_like_override
from ..spec.schema import spec_schema
from .catalog import catalog, check_parts, describe_checks, describe_parts, select
from .progress import Progress, bar_available
from .report import describe_assembly

__all__ = ["main"]

DEFAULT_SPEC = "two_layer_sigmoid"
PIPED_WIDTH = 100
"""Columns of tables written anywhere but a terminal (and COLUMNS unset)."""
DEBUG_VARIABLE = "TOOLKIT_DEBUG"
DEBUG_HELP = f"show tracebacks for errors (or set {DEBUG_VARIABLE}=1)"
MEMORY_FIX = "make the sizes smaller (train.batch_size, the layers' units, the data) or free memory"
NAME_MAX = 255
"""The longest file name most file systems take, in bytes."""


class _Parser(argparse.ArgumentParser):
    """Reports usage mistakes in one line, with exit code 2."""

    def error(self, message: str) -> NoReturn:
        settings = [
            word
            for word in message.partition("unrecognized arguments: ")[2].split()
            if looks_like_override(word)
        ]
        if settings:  # ``toolkit train spec.yaml a.b=1``
            fix = " ".join(f"--set {shlex.quote(word)}" for word in settings)
            self.exit(2, f"error: {message}; to change a setting, use {fix}\n")
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
        "--out",
        metavar="DIR",
        help="write spec.yaml, inputs.json, metrics.jsonl, checkpoint.npz, params.npz "
        "(and curves.png) here",
    )
    run.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR from its last checkpoint "
        "(with --set train.iterations=N, on to N)",
    )
    run.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar and no per-log-point lines"
    )
    run.set_defaults(handler=_train)

    evaluation = commands.add_parser(
        "evaluate",
        parents=[plugin_option],
        help="loss and accuracy of a run's saved parameters on its data (or another file)",
    )
    evaluation.add_argument("run", metavar="RUN_DIR", help="a folder written by train --out")
    evaluation.add_argument(
        "--data", metavar="FILE.npz", help="evaluate on arrays x and t from this file instead"
    )
    evaluation.set_defaults(handler=_evaluate)

    prediction = commands.add_parser(
        "predict", parents=[plugin_option], help="a run's predictions for the inputs in a file"
    )
    prediction.add_argument("run", metavar="RUN_DIR", help="a folder written by train --out")
    prediction.add_argument(
        "--input", metavar="FILE.npz", required=True, help="a file with an array x of inputs"
    )
    prediction.add_argument(
        "--out",
        metavar="FILE.npz",
        help="write outputs y and classes to this file (default: print one class per line)",
    )
    prediction.add_argument(
        "--force",
        action="store_true",
        help="replace the --out file if it exists (never a run's own file)",
    )
    prediction.set_defaults(handler=_predict)

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

    check = commands.add_parser(
        "validate", parents=[spec_options], help="check a spec and show the network it builds"
    )
    check.add_argument("spec", help="spec file")
    check.set_defaults(handler=_validate)

    specs = commands.add_parser(
        "specs", help="list the shipped specs, or print one (to copy and edit)"
    )
    specs.add_argument(
        "name", metavar="NAME", nargs="?", help="print this shipped spec as it is written"
    )
    specs.set_defaults(handler=_specs)

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

    schema = commands.add_parser(
        "schema",
        parents=[plugin_option],
        help="print a JSON Schema of the spec, from every registered part, for editors",
    )
    schema.set_defaults(handler=_schema)

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


def _show_notice(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Notices print as one ``note:`` line; other warnings (numpy's, a plugin's) as one
    ``warning:`` line saying where they were raised."""
    if issubclass(category, ToolkitNotice):
        print(f"note: {one_line(str(message))}", file=sys.stderr)
    else:
        text = one_line(str(message))
        print(f"warning: {text} ({category.__name__} at {filename}:{lineno})", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 1 failed run, 2 bad input,
    130 interrupted)."""
    _escape_unwritable_characters()
    try:
        args = _parser().parse_args(argv)
    except SystemExit:  # --help and --version printed, or a usage error: flush here too
        try:
            _flush_output()
        except OSError as error:
            return _output_failed(error, debug=False)
        raise
    except OSError as error:
        return _output_failed(error, debug=False)
    warnings.showwarning = _show_notice
    retain_freed_memory()
    try:
        code = _command(args)
        _flush_output()  # now, not as Python exits: a closed pipe or a full device is seen
        return code
    except OSError as error:
        return _output_failed(error, debug=_debugging(args))


def _command(args: argparse.Namespace) -> int:
    """Run the chosen command, turning what it raises into ``error:`` lines and a code."""
    try:
        return int(args.handler(args) or 0)
    except ToolkitError as error:
        if _debugging(args):
            traceback.print_exc()
        lines = [str(p) for p in error.problems] if isinstance(error, SpecError) else [str(error)]
        for line in lines:  # one line each, whatever user text they carry
            print(f"error: {one_line(line)}", file=sys.stderr)
        return error.exit_code
    except SystemExit as exit:  # only plugin code raises it here: argparse's came before
        if _debugging(args):
            traceback.print_exc()
        print(f"error: {describe_exit(exit)}", file=sys.stderr)
        return 1
    except MemoryError as error:
        if _debugging(args):
            traceback.print_exc()
        what = one_line(str(error)) or "a request for memory failed"
        print(f"error: out of memory ({what}); {MEMORY_FIX}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        folder = getattr(args, "resume", None) or getattr(args, "out", None)
        hint = f"; continue with 'toolkit train --resume {folder}'" if folder else ""
        print(f"error: interrupted{hint}", file=sys.stderr)
        return 130


def _escape_unwritable_characters() -> None:
    """Text the terminal's encoding can't hold (a lone surrogate in a name, say) is written
    escaped (``\\ud800``), never a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, io.UnsupportedOperation):
                reconfigure(errors="backslashreplace")


def _flush_output() -> None:
    if sys.stdout is not None:
        sys.stdout.flush()


def _output_failed(error: OSError, *, debug: bool) -> int:
    """One line (none for a reader that went away) for an OSError that reached main: exit 2
    for a path name too long, else 1.

    Standard output is then pointed at the null device, so that nothing is left for Python
    to flush into a closed pipe or a full device as it exits.
    """
    if debug and not isinstance(error, BrokenPipeError):
        traceback.print_exc()
    if isinstance(error, BrokenPipeError):  # `toolkit plugins | head`: quietly, as Unix tools do
        _discard_output()
        return 1
    if error.errno == errno.ENAMETOOLONG:
        named = f"{brief(error.filename)}: " if error.filename is not None else ""
        print(
            f"error: {named}the path, or a name in it, is longer than the file system allows "
            f"(usually {NAME_MAX} bytes a name); choose a shorter name",
            file=sys.stderr,
        )
        return 2
    reason = error.strerror or str(error)
    if error.filename is None:  # standard output: a full device, a disk quota, an I/O error
        print(f"error: cannot write the output: {reason}", file=sys.stderr)
        _discard_output()
    else:
        print(f"error: {brief(error.filename)}: {reason}", file=sys.stderr)
    return 1


def _discard_output() -> None:
    """Send what standard output still holds, and will be given, to the null device."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _spec_path(argument: str | None) -> str:
    """A spec file, or a shipped spec named by its name (``two_layer_relu``, ``specs/x.yaml``)."""
    shipped = shipped_specs()
    if argument is None:
        return str(shipped[DEFAULT_SPEC])
    if looks_like_override(argument) and not Path(argument).exists():
        raise UsageError(
            f"{argument}: no such spec file; to change a setting, use --set {shlex.quote(argument)}"
        )
    name = _shipped_name(argument, shipped)
    if name is not None and not Path(argument).exists():
        if argument != name:
            note = f"note: no file {one_line(argument)} here; using the shipped spec {name}"
            print(note, file=sys.stderr)
        return str(shipped[name])
    return argument


def _shipped_name(argument: str, shipped: Mapping[str, Path]) -> str | None:
    """The shipped spec ``argument`` names (``two_layer_relu``, ``two_layer_relu.yaml``,
    ``specs/two_layer_relu.yaml``), or None."""
    path = Path(argument)
    named = path.suffix in ("", ".yaml") and path.parts in ((path.name,), ("specs", path.name))
    return path.stem if named and path.stem in shipped else None


def _debugging(args: argparse.Namespace) -> bool:
    return bool(args.debug or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"))


def _warn_about_skipped_plugins(args: argparse.Namespace, manager: ToolkitPluginManager) -> None:
    for failure in manager.failures:
        print(f"warning: {one_line(str(failure))}", file=sys.stderr)
        if failure.details and _debugging(args):
            print(failure.details, file=sys.stderr, end="")


def _load(
    args: argparse.Namespace, path: Path | None = None, overrides: Sequence[str] = ()
) -> Spec:
    """The command line's spec with its overrides, or a run folder's ``path`` as it was
    written (with ``overrides``); plugins from ``-p`` either way."""
    manager = get_plugin_manager(args.plugins)
    source = _spec_path(args.spec) if path is None else path
    overrides = args.overrides if path is None else overrides
    try:
        return load_spec(source, overrides, manager=manager)
    finally:
        _warn_about_skipped_plugins(args, manager)


def _train(args: argparse.Namespace) -> int:
    if args.resume is not None:
        return _resume(args)
    _refuse_empty(args.out, "train --out", "a folder")
    spec = _load(args)
    if args.out is None:
        return _run(args, spec, None)
    out = RunDirectory(args.out)
    with out.locked(create=True):  # one writer: a second command on DIR is refused
        if out.holds_run:
            out.start(spec)  # refuses, saying how to resume instead
        return _run(args, spec, out)


def _refuse_empty(path: str | None, option: str, kind: str) -> None:
    """An empty path on the command line names nothing: refused, not taken as "none"."""
    if path == "":
        raise UsageError(f"{option} '': an empty path; give the name of {kind}")


def _resume(args: argparse.Namespace) -> int:
    if args.spec or args.out is not None:
        raise UsageError(
            "train --resume DIR continues with the run's own spec.yaml and folder; "
            "drop the spec and --out"
        )
    _refuse_empty(args.resume, "train --resume", "a run folder")
    out = RunDirectory(args.resume)
    if not out.path.is_dir():
        out.load_checkpoint()  # refuses: nothing to resume
    with out.locked():  # refused while another command writes the folder
        return _continue(args, out)


def _continue(args: argparse.Namespace, out: RunDirectory) -> int:
    """Resume the run in ``out``, whose lock this process holds."""
    checkpoint = out.load_checkpoint()
    out.check_inputs()  # the data the run read, unchanged, or refused
    recorded = _load(args, out.path / RunDirectory.SPEC)
    spec = _extended(args, out, recorded) if args.overrides else recorded
    total = spec.settings.train.iterations
    require_same_spec(checkpoint.spec, spec)  # all but the length
    out.check_named(recorded)
    if checkpoint.iteration > total:
        raise UsageError(
            f"train.iterations={total}: the run in {out.path} is already at iteration "
            f"{checkpoint.iteration}; give at least that many"
        )
    out.remove_temporary_files()
    extended = spec.config != recorded.config
    if checkpoint.iteration >= total:
        check_checkpoint(spec, checkpoint)  # its parameters become params.npz
        if extended:
            _extend(out, spec)
        if not (out.path / RunDirectory.PARAMS).exists():  # killed after its last checkpoint
            out.save_params(checkpoint.params)
            _draw_curves(out)
        print(
            f"{out.path}: the run already finished ({checkpoint.iteration}/{total}); nothing to do"
        )
        return 0
    return _run(args, spec, out, checkpoint, extended=extended)


def _extend(out: RunDirectory, spec: Spec) -> None:
    """Record a resumed run's longer spec (for the next resume and for evaluate)."""
    out.write_spec(spec)
    (out.path / RunDirectory.PARAMS).unlink(missing_ok=True)  # no longer the final ones


def _extended(args: argparse.Namespace, out: RunDirectory, recorded: Spec) -> Spec:
    """The run's spec with the command line's ``--set``, which may change only
    ``train.iterations``."""
    spec = _load(args, out.path / RunDirectory.SPEC, args.overrides)
    changed = spec_change(recorded.config, spec.config)
    if changed:
        raise UsageError(
            f"train --resume DIR: --set may change only train.iterations (to extend the run), "
            f"not {changed}; start a new run for another spec"
        )
    return spec


def _run(
    args: argparse.Namespace,
    spec: Spec,
    out: RunDirectory | None,
    checkpoint: Checkpoint | None = None,
    *,
    extended: bool = False,
) -> int:
    """Train, printing log lines (and a bar on a terminal), writing the run folder.

    A resumed run (``checkpoint``) writes its folder only once the checkpoint has been
    restored: a damaged one is refused with the folder as it was (``extended``: the
    spec is longer than the one recorded there)."""
    total = spec.settings.train.iterations
    done = checkpoint.iteration if checkpoint else 0
    history = list(checkpoint.history) if checkpoint else []
    progress = Progress(total, done, bar=not args.quiet and bar_available())

    def on_start(assembly: Assembly) -> None:
        layers = _count(len(assembly.network.layers), "layer")
        name = one_line(spec.name)
        if checkpoint:
            progress.start(f"resuming {name} at iteration {done}/{total}: {layers}")
        else:
            progress.start(f"training {name}: {layers}, {_count(total, 'iteration')}")
        if out and not checkpoint:
            out.start(spec)
        elif out and checkpoint:
            if extended:
                _extend(out, spec)
            out.resume_metrics(checkpoint)

    def on_log(record: Record) -> None:
        if out:
            out.append_metrics(record)
        if record["iteration"] == 0:  # the starting point: in metrics.jsonl only
            return
        history.append(record)
        if not args.quiet:
            progress.line(_log_line(record, total))

    def on_checkpoint(state: Checkpoint) -> None:
        assert out is not None
        out.save_checkpoint(state)

    stop = _StopRequest()
    try:
        with stop.on_signals() if out else contextlib.nullcontext():
            result = train(
                spec,
                on_start=on_start,
                on_log=on_log,
                on_iteration=lambda _: progress.step(history[-1]["loss"] if history else None),
                on_checkpoint=on_checkpoint if out else None,
                resume=checkpoint,
                stop=stop,
            )
    finally:
        progress.close()
        if out:
            out.close()
    if out:
        out.save_params(result.network.params)
        _draw_curves(out)
    last = result.history[-1] if result.history else {}
    final = ", ".join(shown.strip() for shown in _metrics(last))
    session = f" ({total - done} after resuming)" if checkpoint else ""
    print(f"done: {_count(total, 'iteration')}{session} in {result.seconds:.1f} s, final {final}")
    if out:
        print("wrote " + ", ".join(one_line(str(path)) for path in out.files))
    return 0


class _StopRequest:
    """Ctrl-C or SIGTERM during a run with a folder: the run stops after the iteration in
    progress, with a checkpoint there; a second signal stops it at once."""

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


def _log_line(record: Record, total: int) -> str:
    """``iteration 100/300  loss 2.38...  accuracy 0.1`` (and the held-out split's)."""
    width = len(str(total))
    return f"iteration {record['iteration']:>{width}}/{total}" + "".join(_metrics(record))


def _metrics(record: Record) -> list[str]:
    shown = []
    for key in ("loss", "accuracy", "test_loss", "test_accuracy"):
        if key in record:
            value = record[key]
            shown.append(f"  {key} {value!r}" if key.endswith("loss") else f"  {key} {value:.4g}")
    return shown


def _draw_curves(out: RunDirectory) -> None:
    """curves.png beside the metrics, where matplotlib is installed; else a note saying
    how to get it (a failure to draw is a warning: the run itself is done)."""
    from ..runs.plot import INSTALL_HINT, matplotlib_available, plot_run

    if not matplotlib_available():
        print(
            f"note: no {RunDirectory.CURVES}: matplotlib is not installed; to draw it, "
            f"{INSTALL_HINT}, then 'toolkit plot {out.path}'",
            file=sys.stderr,
        )
        return
    try:
        plot_run(out.path)
    except Exception as error:  # the run itself is done and saved
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        print(f"warning: no {RunDirectory.CURVES}: {one_line(reason)}", file=sys.stderr)


def _saved_network(args: argparse.Namespace) -> Assembly:
    """The network of a run folder, with its final (or last checkpointed) parameters."""
    manager = get_plugin_manager(args.plugins)
    try:
        return restore_run(args.run, manager=manager)
    finally:
        _warn_about_skipped_plugins(args, manager)


def _evaluate(args: argparse.Namespace) -> int:
    """Print loss and accuracy of a run's parameters on its data, or on a file's."""
    assembly = _saved_network(args)
    network = assembly.network
    data = read_dataset(args.data) if args.data else assembly.data
    _check_features(data.x, network, args.data or "the run's data")
    splits = [("train" if not args.data else "data", data.x, data.t)]
    if data.x_test is not None and data.t_test is not None:
        splits.append(("test", data.x_test, data.t_test))
    decay = assembly.spec.settings.train.weight_decay
    for label, x, t in splits:
        try:
            loss, accuracy = training_loss(network, x, t, decay), network.accuracy(x, t)
        except (IndexError, ValueError) as error:
            raise UsageError(
                f"{args.data or 'the data'}: the targets don't fit the network's "
                f"{network.predict(x[:1]).shape[-1]} outputs ({error})"
            ) from None
        print(f"{label}: loss {loss!r}  accuracy {accuracy:.4g}  ({_count(len(x), 'sample')})")
    return 0


def _predict(args: argparse.Namespace) -> int:
    """Print (or write) a run's predicted classes for the inputs x in a file."""
    _refuse_empty(args.out, "predict --out", "a file")
    if args.out is not None:  # refused before any work: a run's file, or one that exists
        check_output(Path(args.out), force=args.force, runs=[Path(args.run)])
    assembly = _saved_network(args)
    network = assembly.network
    x = read_arrays(args.input, ["x"])["x"]
    if x.ndim == 1:
        x = x[None]
    _check_features(x, network, args.input)
    _check_inputs(x, args.input)
    y = network.predict(x)
    classes = np.argmax(y, axis=1)
    if args.out is not None:
        write_arrays(args.out, {"y": y, "classes": classes}, force=args.force, runs=[args.run])
        print(f"wrote outputs y and classes for {_count(len(x), 'sample')} to {one_line(args.out)}")
    else:
        print("\n".join(str(int(c)) for c in classes))
    return 0


def _check_features(x: np.ndarray, network: Network, where: str) -> None:
    expected = network.params[network.layers[0].params[0]].shape[0]
    if x.ndim != 2 or x.shape[1] != expected:
        raise UsageError(
            f"{where}: x has shape {x.shape}, the network takes rows of {expected} features"
        )


def _check_inputs(x: np.ndarray, where: str) -> None:
    """Rows to predict: at least one, each of finite numbers (no class is right for a nan)."""
    if len(x) == 0:
        raise UsageError(f"{where}: x has no rows; give at least one sample to predict")
    broken = ~np.isfinite(x).all(axis=1)
    if broken.any():
        raise UsageError(
            f"{where}: x has {_count(int(broken.sum()), 'row')} holding nan or infinite values "
            f"(first: row {int(np.argmax(broken))}); remove or replace them"
        )


def _plot(args: argparse.Namespace) -> int:
    """Draw a run's curves; into the run folder only while holding its lock."""
    from ..runs.plot import draws_into_run, plot_run

    _refuse_empty(args.out, "plot --out", "a file ending in .png")
    folder = Path(args.run)
    run = RunDirectory(folder) if folder.is_dir() else None
    into_run = run and run.written_by_train and draws_into_run(folder, args.out)
    with run.locked() if run and into_run else contextlib.nullcontext():
        print(f"wrote {one_line(str(plot_run(folder, args.out, force=args.force)))}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    assembly = assemble(_load(args))
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
    name = _shipped_name(args.name, shipped)
    if name is None:
        raise UsageError(
            f"specs: no shipped spec {quote(args.name)}; "
            f"{did_you_mean(Path(args.name).stem, shipped)}shipped specs: "
            + ", ".join(sorted(shipped))
        )
    sys.stdout.write(shipped[name].read_text(encoding="utf-8"))
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
        print("\n".join(describe_parts(registry, _terminal_width())))
    return 0


def _schema(args: argparse.Namespace) -> int:
    manager = get_plugin_manager(args.plugins)
    _warn_about_skipped_plugins(args, manager)
    print(json.dumps(spec_schema(Registry.from_manager(manager)), indent=2))
    return 0


def _terminal_width() -> int:
    """The terminal's columns (``COLUMNS`` if set); ``PIPED_WIDTH`` when not a terminal."""
    return shutil.get_terminal_size((PIPED_WIDTH, 24)).columns


def _gradcheck(args: argparse.Namespace) -> int:
    """Print the gradient check of one batch; 1 if a checked estimator is out of tolerance,
    2 if every estimator refused the spec's network (nothing was compared)."""
    from ..runs.gradcheck import (  # only this command needs it
        describe_report,
        gradcheck,
        parse_names,
    )

    names = parse_names(args.estimators) if args.estimators is not None else None
    report = gradcheck(_load(args), names, batch=args.batch, sample=args.sample)
    print("\n".join(describe_report(report)))
    if report.skipped_all:
        return 2
    return 0 if report.passed else 1
