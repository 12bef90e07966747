"""``toolkit sweep``: many runs of one spec (a grid, random trials, seeds) into a sweep
folder, on a local process pool or another executor part; ``--resume DIR`` continues one.

What is printed: a bar over the trials on a terminal (done, failed and running counts
beside it), else one line per finished trial (none with ``-q``), then one final line.
Ctrl-C (or SIGTERM) stops submitting and lets running trials stop with a checkpoint, then
prints the resume command (exit 130); a second one stops at once.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..base.errors import UsageError
from ..base.wording import one_line
from ..sweeps.coordinator import Event, SessionResult
from ..sweeps.folder import SweepFolder
from ..sweeps.plan import SweepPlan, plan_from_options
from ..sweeps.session import (
    Engine,
    Options,
    Prepared,
    Setup,
    prepare_resume,
    prepare_start,
    run,
    setup_of,
)
from ..sweeps.sweepfile import is_sweep_file, load_sweep
from ..sweeps.validate import format_trials
from .loading import spec_path
from .options import Commands, refuse_empty
from .options import Options as ParserOptions
from .progress import bar_available
from .report import count
from .signals import StopRequest

__all__ = ["add_sweep"]

PLAN_OPTIONS = ("grid", "random", "trials", "seeds", "seed_list", "overrides", "plugins")
"""The options that say what a new sweep is: a resume takes them from its sweep.yaml."""


def add_sweep(commands: Commands, options: ParserOptions) -> None:
    """``toolkit sweep SPEC|SWEEP.yaml [--grid ...] --out DIR`` and ``--resume DIR``."""
    sweep = commands.add_parser(
        "sweep",
        parents=[options.spec],
        help="train many runs of a spec: a grid, random trials, seeds",
        description="Run many trials of one spec into a sweep folder, in parallel; "
        "continue an interrupted sweep with --resume DIR.",
    )
    sweep.add_argument("spec", nargs="?", help="spec file, or a sweep file (with a 'spec' key)")
    _plan_arguments(sweep)
    _run_arguments(sweep)
    sweep.set_defaults(handler=_sweep)


def _plan_arguments(sweep: argparse.ArgumentParser) -> None:
    """What a new sweep runs: grid, random trials, seeds."""
    sweep.add_argument(
        "--grid",
        metavar="KEY=V1,V2,...",
        action="append",
        default=[],
        help="every value of KEY (YAML scalars; repeatable: all combinations)",
    )
    sweep.add_argument(
        "--random",
        metavar="KEY=DIST",
        action="append",
        default=[],
        help="KEY drawn from uniform:a,b, loguniform:a,b, int:a,b or "
        "choice:a,b,c (repeatable; with --trials)",
    )
    sweep.add_argument("--trials", type=int, metavar="N", help="random trials to draw")
    seeds = sweep.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seeds", type=int, metavar="N", help="repeat every configuration with seed 0, 1, ..., N-1"
    )
    seeds.add_argument("--seed-list", metavar="0,1,2", help="repeat with these seeds")


def _run_arguments(sweep: argparse.ArgumentParser) -> None:
    """Where and how the trials run, and what is printed."""
    sweep.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="trials at once (default: the number of cores)",
    )
    sweep.add_argument(
        "--engine", default=None, metavar="NAME", help="the executor part: local (default) or dask"
    )
    sweep.add_argument(
        "--address", metavar="tcp://HOST:PORT", help="a running Dask scheduler (--engine dask)"
    )
    sweep.add_argument("--out", metavar="DIR", help="the sweep folder to create")
    sweep.add_argument(
        "--retries",
        type=_not_negative,
        default=0,
        metavar="N",
        help="run a trial again when its worker crashed, up to N times",
    )
    sweep.add_argument(
        "--fail-fast", action="store_true", help="submit nothing more once a trial failed"
    )
    sweep.add_argument("--dry-run", action="store_true", help="list the trials; create nothing")
    sweep.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no bar and no line per trial: only the final line",
    )
    sweep.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR")
    sweep.add_argument(
        "--retry-failed", action="store_true", help="with --resume: run the failed trials again"
    )


def _positive(text: str) -> int:
    value = _not_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _not_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more")
    return value


def _sweep(args: argparse.Namespace) -> int:
    args.started = time.perf_counter()  # the final line's time: the whole command's
    try:
        return _start_or_resume(args)
    except KeyboardInterrupt:  # before the session (an engine starting) or a second Ctrl-C
        folder = args.resume or args.out
        if folder is not None and SweepFolder(folder).is_sweep:
            print(_resume_line(Path(folder)), file=sys.stderr)
        else:
            print("error: interrupted", file=sys.stderr)
        return 130


def _start_or_resume(args: argparse.Namespace) -> int:
    _check_options(args)
    engine = Engine(args.engine or "local", args.workers, _settings(args))
    if args.resume is not None:
        return _run(args, prepare_resume(args.resume, engine))
    plan = _plan(args)
    setup = setup_of(plan)  # every trial validated: nothing is created for a bad one
    if args.dry_run:
        _list(plan, setup)
        return 0
    return _run(args, prepare_start(plan, setup, args.out, engine))


def _plan(args: argparse.Namespace) -> SweepPlan:
    """The plan of a sweep file, or of the options over a spec (a file or a shipped spec's
    name, as for train)."""
    spec = spec_path(args.spec)
    if is_sweep_file(spec):
        given = _plan_options(args)
        if given:
            raise UsageError(
                f"{args.spec} is a sweep file: it says what to sweep; drop "
                f"{', '.join(given)}, or write them into the file"
            )
        return load_sweep(spec)
    return plan_from_options(
        spec,
        grid=args.grid,
        random=args.random,
        trials=args.trials,
        seeds=args.seeds,
        seed_list=args.seed_list,
        overrides=args.overrides,
        plugins=args.plugins,
    )


def _plan_options(args: argparse.Namespace) -> list[str]:
    """The options given that say what a sweep is, as the command line writes them."""
    names = {"overrides": "--set", "plugins": "-p"}
    return [
        names.get(name, f"--{name.replace('_', '-')}")
        for name in PLAN_OPTIONS
        if getattr(args, name) not in (None, [])
    ]


def _list(plan: SweepPlan, setup: Setup) -> None:
    """``--dry-run``: each trial's index, id, folder name and overrides."""
    print(f"{count(len(setup.trials), 'trial')} of {plan.spec} (dry run: nothing created)")
    for line in format_trials(setup.trials):
        print(line)


def _check_options(args: argparse.Namespace) -> None:
    """The combinations argparse does not refuse."""
    if args.resume is not None:
        refuse_empty(args.resume, "sweep --resume", "a sweep folder")
        extra = ([args.spec] if args.spec else []) + _plan_options(args)
        extra += ["--out"] * (args.out is not None) + ["--dry-run"] * args.dry_run
        if extra:
            raise UsageError(
                "sweep --resume DIR continues the sweep in DIR with its own sweep.yaml and "
                f"spec.yaml; drop {', '.join(extra)}"
            )
        return
    if args.retry_failed:
        raise UsageError("--retry-failed goes with --resume DIR; add --resume or drop it")
    if not args.spec:
        raise UsageError(
            "give a spec or a sweep file, e.g. 'toolkit sweep spec.yaml "
            "--grid optimizer.learning_rate=0.1,0.2 --out DIR'"
        )
    if args.out is None and not args.dry_run:
        raise UsageError(
            "give the sweep folder to create with --out DIR (or --dry-run to list the trials)"
        )
    refuse_empty(args.out, "sweep --out", "a folder")


def _settings(args: argparse.Namespace) -> dict[str, object]:
    return {} if args.address is None else {"address": args.address}


def _run(args: argparse.Namespace, prepared: Prepared) -> int:
    watcher = _Watcher(len(prepared.setup.trials), quiet=args.quiet)
    stop = StopRequest()
    options = Options(
        retries=args.retries,
        fail_fast=args.fail_fast,
        retry_failed=args.retry_failed,
        stop_requested=stop,
        on_event=watcher,
    )
    try:
        with stop.on_signals():
            result = run(prepared, options)
    finally:
        watcher.close()
    print(_final_line(result, prepared.folder.path, time.perf_counter() - args.started))
    if result.interrupted:
        print(_resume_line(prepared.folder.path), file=sys.stderr)
    return result.exit_code


def _resume_line(folder: Path) -> str:
    return f"interrupted; continue with: toolkit sweep --resume {folder}"


def _final_line(result: SessionResult, folder: Path, seconds: float) -> str:
    """``16 trials: 16 done, 0 failed in 9.3 s; summary in DIR/summary.csv``."""
    total = len(result.records)
    done, failed = result.count("done"), result.count("failed") + result.count("crashed")
    counts = f"{done} done, {failed} failed"
    rest = total - done - failed
    if rest:
        counts += f", {rest} not finished"
    summary = folder / "summary.csv"
    where = f"; summary in {summary}" if summary.exists() else ""
    return f"{count(total, 'trial')}: {counts} in {seconds:.1f} s{where}"


class _Watcher:
    """Shows the coordinator's events: a bar on a terminal, else a line per trial."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self._quiet = quiet
        self._bar: Any = None
        self._wants_bar = not quiet and bar_available()
        self._total = total
        self._shown = 0
        """The trials the bar counts as finished: done or failed, each trial once (a
        failed trial run again by --retry-failed is not counted twice)."""

    def __call__(self, event: Event) -> None:
        if event.kind == "start":
            self._start(event)
        elif event.kind in ("finished", "crashed") and event.record is not None:
            self._finished(event)
        if self._bar is not None:
            self._advance(event.done + event.failed)
            self._bar.set_postfix_str(
                f"done {event.done}, failed {event.failed}, running {event.running}",
                refresh=False,
            )
            self._bar.refresh()

    def _start(self, event: Event) -> None:
        before = event.done + event.failed
        if not self._quiet:
            already = f" ({before} finished before)" if before else ""
            print(f"sweep: {count(event.total, 'trial')}{already}", flush=True)
        if self._wants_bar:
            from tqdm import tqdm  # type: ignore[import-untyped]

            width = shutil.get_terminal_size().columns  # 0 on a terminal that won't say
            self._shown = before
            self._bar = tqdm(
                total=event.total,
                initial=before,
                unit="trial",
                file=sys.stderr,
                dynamic_ncols=width > 0,
                ncols=None if width > 0 else 80,
            )

    def _advance(self, finished: int) -> None:
        """Move the bar to ``finished`` trials (the coordinator's done and failed counts)."""
        if finished != self._shown:
            self._bar.update(finished - self._shown)
            self._shown = finished

    def _finished(self, event: Event) -> None:
        assert event.record is not None and event.trial is not None
        record = event.record
        if self._quiet or (self._bar is not None and record["status"] == "done"):
            return
        line = _trial_line(event.trial.index, self._total, event.trial.name, record)
        if self._bar is not None:
            self._bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _trial_line(index: int, total: int, name: str, record: Mapping[str, Any]) -> str:
    """``trial 3/16 003-lr0.1: done in 1.2 s, loss 0.52, test_accuracy 0.81``."""
    head = f"trial {index + 1}/{total} {name}: {record['status']}"
    seconds = record.get("seconds")
    if seconds is not None:
        head += f" in {seconds:.1f} s"
    if record["status"] in ("failed", "crashed"):
        code = record.get("exit")
        return (
            head
            + (f" (exit {code})" if code is not None else "")
            + (f": {one_line(str(record['error']))}" if record.get("error") else "")
        )
    shown = [
        f"{key} {value:.4g}"
        for key, value in record.get("metrics", {}).items()
        if isinstance(value, float | int) and key != "iteration"
    ]
    return head + (", " + ", ".join(shown) if shown else "")
