"""``toolkit summary``: a sweep's table, one row per configuration, for people or machines.

The summary module (and matplotlib, for ``--plot``) is imported only when this command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.columns import Step, fit_columns, table
from ..base.errors import UsageError
from ..base.wording import one_line
from .options import Commands, Options, refuse_empty

if TYPE_CHECKING:
    from ..sweeps.summary import Row, Summary

__all__ = ["add_summary", "mean_std_text", "summary_table"]

DIGITS = 4
"""Significant digits of a mean shown without a standard deviation."""
MAX_DECIMALS = 6


def add_summary(commands: Commands, options: Options) -> None:
    """``toolkit summary DIR [--metric NAME] [--by KEY] [--json | --csv] [--plot FILE]``."""
    summary = commands.add_parser(
        "summary",
        help="a sweep's results: one row per configuration, mean and spread over seeds",
        description="One row per configuration of the sweep in DIR (the trials that differ "
        "only in their seed): the trials done, failed and pending, and for each metric the "
        "mean ± sample standard deviation over the done seeds of its final value and of its "
        "best value over the run (the least for a loss, the greatest otherwise); best row "
        "first. Works on a sweep that is still running or was interrupted.",
    )
    summary.add_argument("folder", metavar="DIR", help="a folder written by toolkit sweep --out")
    summary.add_argument(
        "--metric",
        metavar="NAME",
        help="sort by this metric's final mean (default: test_accuracy if logged, else "
        "accuracy, else loss)",
    )
    summary.add_argument(
        "--by", metavar="KEY", help="one row per value of this swept key, over all the others"
    )
    output = summary.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="a JSON list of rows, full precision")
    output.add_argument("--csv", action="store_true", help="CSV, as DIR/summary.csv holds it")
    summary.add_argument(
        "--plot", metavar="FILE.png", help="also draw the summary picture to this file"
    )
    summary.add_argument(
        "--force", action="store_true", help="replace the --plot file if it exists"
    )
    summary.set_defaults(handler=_summary)


def _summary(args: argparse.Namespace) -> int:
    from ..sweeps.summary import summarize, summary_csv

    refuse_empty(args.folder, "summary", "the folder toolkit sweep --out wrote")
    refuse_empty(args.plot, "summary --plot", "a file ending in .png")
    result = summarize(args.folder, args.metric, args.by)
    target = _plot_target(result, Path(args.plot), force=args.force) if args.plot else None
    if args.json:
        print(json.dumps(_plain(result.as_dicts()), indent=2, allow_nan=False))
    elif args.csv:
        sys.stdout.write(summary_csv(result))
    else:
        width = shutil.get_terminal_size((0, 24)).columns  # 0: not a terminal, no fitting
        print("\n".join(summary_table(result, width or None)))
    if target is not None:
        from ..sweeps.summary import summary_png

        written = summary_png(result, target, replace=args.force)
        print(f"wrote {one_line(str(written))}", file=sys.stderr if args.json or args.csv else None)
    return 0


def _plot_target(summary: Summary, target: Path, *, force: bool) -> Path:
    """``target`` if the picture may go there: a .png name in a folder that exists, not a
    file of the sweep's runs, not an existing file unless ``force``."""
    from ..runs.rundir import check_output

    if target.suffix.lower() != ".png":
        raise UsageError(f"--plot {target}: the picture is a PNG image; give a name ending in .png")
    if target.is_dir():
        raise UsageError(f"--plot {target}: is a folder; give a file name such as summary.png")
    if not target.parent.is_dir():
        raise UsageError(
            f"--plot {target}: the folder {target.parent} does not exist; create it or "
            "choose another path"
        )
    runs = [summary.results.folder / "runs" / trial.name for trial in summary.results.trials]
    check_output(target, force=force, runs=runs)
    return target


def _plain(value: Any) -> Any:
    """``value`` with non-finite floats as None, for JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def summary_table(summary: Summary, width: int | None = None) -> list[str]:
    """A heading line and the rows as aligned columns: the swept values, the counts, and
    mean ± std of the chosen metric (final, then best), then of the others. With
    ``width``, the other metrics' columns are left out as needed to fit, and a last line
    says so."""
    from ..sweeps.results import lower_is_better, short_names, shown_value

    metrics = [m for m in (summary.metric,) if m] + [
        m for m in summary.metrics if m != summary.metric
    ]
    pending = any(row.pending for row in summary.rows)
    counts = ["done", "failed", *(["pending"] if pending else [])]
    names = short_names(summary.keys)
    header = [*(names[key] for key in summary.keys), *counts]
    header += [f"{m} ({kind})" for m in metrics for kind in ("final", "best")]
    rows = [header]
    for row in summary.rows:
        cells = [shown_value(row.values.get(key)) for key in summary.keys]
        cells += [str(getattr(row, count)) for count in counts]
        cells += [_cell(row, m, kind) for m in metrics for kind in ("final", "best")]
        rows.append(cells)
    first_metric = len(summary.keys) + len(counts)
    # Least important first: the other metrics' best columns, then their final ones.
    plan = [Step(first_metric + 2 * i + 1) for i in reversed(range(1, len(metrics)))]
    plan += [Step(first_metric + 2 * i) for i in reversed(range(1, len(metrics)))]
    layout = fit_columns(rows, width, plan) if width else None
    notes = [_heading(summary, lower_is_better)]
    shortened = [f"{name} is {key}" for key, name in names.items() if name != key]
    notes += [f"({', '.join(shortened)})"] if shortened else []
    lines = [line for note in notes for line in _wrapped(note, width)]
    lines += table([layout.apply(r) for r in rows] if layout else rows)
    if layout and layout.dropped:
        left_out = ", ".join(header[i] for i in layout.dropped)
        note = f"(left out to fit the width: {left_out}; --csv or --json has every column)"
        lines += _wrapped(note, width)
    return lines


def _wrapped(text: str, width: int | None) -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent="  ") if width else [text]


def _heading(summary: Summary, lower_is_better: Any) -> str:
    trials = summary.results.trials
    done = sum(t.state == "done" for t in trials)
    failed = sum(t.state == "failed" for t in trials)
    counts = f"{done} of {len(trials)} trials done, {failed} failed"
    if summary.metric is None:
        return f"{summary.results.folder}: {counts}; no metric logged yet"
    better = "lower" if lower_is_better(summary.metric) else "higher"
    return (
        f"{summary.results.folder}: {counts}; best first by {summary.metric} "
        f"(final, {better} is better); mean {_plus_minus()} std over the done trials"
    )


def _cell(row: Row, metric: str, kind: str) -> str:
    stat = row.stats[metric]
    mean, std = (
        (stat.final_mean, stat.final_std) if kind == "final" else (stat.best_mean, stat.best_std)
    )
    return mean_std_text(mean, std)


def mean_std_text(mean: float | None, std: float | None) -> str:
    """``0.912 ± 0.013``: the std to two significant digits and the mean to the same
    decimal place; a mean alone to ``DIGITS`` significant digits; ``-`` for none."""
    if mean is None:
        return "-"
    if std is None or not math.isfinite(std) or not math.isfinite(mean) or std == 0:
        alone = f"{mean:.{DIGITS}g}"
        return alone if std is None else f"{alone} {_plus_minus()} {std:.{DIGITS}g}"
    decimals = min(max(1 - math.floor(math.log10(std)), 0), MAX_DECIMALS)
    return f"{mean:.{decimals}f} {_plus_minus()} {std:.{decimals}f}"


def _plus_minus() -> str:
    """``±``, or ``+-`` where standard output cannot write it."""
    try:
        "±".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "+-"
    return "±"
