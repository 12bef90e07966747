"""``toolkit train``: a run from a spec, into a folder (``--out``) or continued (``--resume``)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from ..base.errors import UsageError
from ..base.wording import one_line
from ..runs.build import Assembly
from ..runs.folder_run import train_in_folder
from ..runs.resume import Resumption, finish, prepare_resume, resumable
from ..runs.rundir import RunDirectory
from ..runs.trainer import Record
from ..spec.load import Spec
from .loading import DEFAULT_SPEC, load
from .options import Commands, Options, refuse_empty
from .progress import Progress, bar_available
from .report import count
from .signals import StopRequest

__all__ = ["add_train"]


def add_train(commands: Commands, options: Options) -> None:
    """``toolkit train [SPEC] [--out DIR | --resume DIR] [-q]``."""
    run = commands.add_parser(
        "train", parents=[options.spec], help="train the network a spec describes"
    )
    run.add_argument("spec", nargs="?", help=f"spec file (default: the shipped {DEFAULT_SPEC})")
    run.add_argument(
        "--out",
        metavar="DIR",
        help="write spec.yaml, inputs.json, metrics.jsonl, checkpoint.npz, params.npz "
        "(state.npz, curves.png) here",
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


def _train(args: argparse.Namespace) -> int:
    if args.resume is not None:
        return _resume(args)
    refuse_empty(args.out, "train --out", "a folder")
    spec = load(args)
    if args.out is None:
        return _run(args, spec, None)
    out = RunDirectory(args.out)
    with out.claimed(spec):  # refused for a folder that holds a run, saying how to resume
        return _run(args, spec, out)


def _resume(args: argparse.Namespace) -> int:
    if args.spec or args.out is not None:
        raise UsageError(
            "train --resume DIR continues with the run's own spec.yaml and folder; "
            "drop the spec and --out"
        )
    refuse_empty(args.resume, "train --resume", "a run folder")
    out = resumable(args.resume)
    with out.locked():  # refused while another command writes the folder
        return _continue(args, out)


def _continue(args: argparse.Namespace, out: RunDirectory) -> int:
    """Resume the run in ``out``, whose lock this process holds."""
    resumption = prepare_resume(
        out, lambda path, overrides: load(args, path, overrides), args.overrides
    )
    if resumption.finished:
        if finish(out, resumption):  # killed after its last checkpoint: params.npz written
            _draw_curves(out)
        done, total = resumption.checkpoint.iteration, resumption.total
        print(f"{out.path}: the run already finished ({done}/{total}); nothing to do")
        return 0
    return _run(args, resumption.spec, out, resumption)


def _run(
    args: argparse.Namespace,
    spec: Spec,
    out: RunDirectory | None,
    resumption: Resumption | None = None,
) -> int:
    """Train, printing log lines (and a bar on a terminal), writing the run folder.

    A resumed run (``resumption``) writes its folder only once the checkpoint has been
    restored: a damaged one is refused with the folder as it was."""
    checkpoint = resumption.checkpoint if resumption else None
    total = spec.settings.train.iterations
    done = checkpoint.iteration if checkpoint else 0
    history = list(checkpoint.history) if checkpoint else []
    progress = Progress(total, done, bar=not args.quiet and bar_available())

    def on_start(assembly: Assembly) -> None:
        layers = count(len(assembly.network.layers), "layer")
        name = one_line(spec.name)
        if checkpoint:
            progress.start(f"resuming {name} at iteration {done}/{total}: {layers}")
        else:
            progress.start(f"training {name}: {layers}, {count(total, 'iteration')}")

    def on_log(record: Record) -> None:
        if record["iteration"] == 0:  # the starting point: in metrics.jsonl only
            return
        history.append(record)
        if not args.quiet:
            progress.line(_log_line(record, total))

    stop = StopRequest()
    try:
        with stop.on_signals() if out else contextlib.nullcontext():
            result = train_in_folder(
                spec,
                out,
                resumption,
                on_start=on_start,
                on_log=on_log,
                on_iteration=lambda _: progress.step(history[-1]["loss"] if history else None),
                stop=stop,
            )
    finally:
        progress.close()
    if out:
        _draw_curves(out)
    last = result.history[-1] if result.history else {}
    final = ", ".join(shown.strip() for shown in _metrics(last))
    session = f" ({total - done} after resuming)" if checkpoint else ""
    print(f"done: {count(total, 'iteration')}{session} in {result.seconds:.1f} s, final {final}")
    if out:
        print("wrote " + ", ".join(one_line(str(path)) for path in out.files))
    return 0


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
