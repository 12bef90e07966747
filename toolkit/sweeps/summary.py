"""A sweep's summary: one row per configuration, with the mean and standard deviation over
its done seeds of each metric's final and best values; ``DIR/summary.csv``.

A configuration is the trials that differ only in their seed. For each metric the done
trials logged (loss, accuracy, test_loss, test_accuracy, ...), a row holds the mean and
the standard deviation over its done trials of the metric's **final** value (its last
log point) and of its **best** value over the run (the least for a name ending in
``loss``, the greatest for any other). The standard deviation is the *sample* one (the
``n - 1`` divisor, ``statistics.stdev``): the seeds are a sample of the seeds one could
run; with one done seed it is empty (None). Failed and crashed trials are counted, never
averaged; trials not run yet, running or stopped are counted as pending. Rows are sorted
by the chosen metric's final mean, best first (rows with none last), ties in sweep order.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import UsageError
from ..base.wording import did_you_mean
from ..runs.plot import matplotlib_available
from ..runs.rundir import write_atomically
from .results import SweepResults, TrialResult, lower_is_better, read_results, value_text

__all__ = [
    "COUNTS",
    "DEFAULT_METRICS",
    "STATS",
    "SUMMARY_CSV",
    "SUMMARY_PNG",
    "Row",
    "Stat",
    "Summary",
    "best",
    "import_drawing",
    "summarize",
    "summary_csv",
    "summary_png",
    "summary_rows",
    "write_summary",
]

SUMMARY_CSV = "summary.csv"
SUMMARY_PNG = "summary.png"
DEFAULT_METRICS = ("test_accuracy", "accuracy", "loss")
"""The metric rows are sorted by when none is chosen: the first of these logged."""
COUNTS = ("done", "failed", "pending")
STATS = ("final_mean", "final_std", "best_mean", "best_std")
"""Each metric's columns, after its name: ``test_accuracy_final_mean`` and so on."""


@dataclass(frozen=True)
class Stat:
    """One metric of a row: mean and sample standard deviation of the final and best
    values over the row's done trials (None: no done trial logged it; std: fewer than 2)."""

    final_mean: float | None
    final_std: float | None
    best_mean: float | None
    best_std: float | None


@dataclass(frozen=True)
class Row:
    """A configuration (or, grouped ``by`` a key, one value of it): its swept values, its
    trials counted by state, and a :class:`Stat` per metric."""

    values: dict[str, Any]
    done: int
    failed: int
    pending: int
    stats: dict[str, Stat]
    trials: tuple[TrialResult, ...]

    def mean(self, metric: str) -> float | None:
        """The final value's mean of ``metric`` (None where no done trial logged it)."""
        stat = self.stats.get(metric)
        return stat.final_mean if stat else None


@dataclass(frozen=True)
class Summary:
    """The rows of a sweep folder, best first by ``metric`` (None: nothing done yet)."""

    results: SweepResults
    keys: tuple[str, ...]
    """The swept keys the rows show: all of them, or the one they are grouped by."""
    metric: str | None
    rows: list[Row]

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.results.metrics

    def columns(self) -> list[str]:
        """summary.csv's header: the keys, the counts, then each metric's four columns."""
        stats = [f"{metric}_{stat}" for metric in self.metrics for stat in STATS]
        return [*self.keys, *COUNTS, *stats]

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as plain data (``--json``): values, counts, and each metric's stats."""
        return [
            {
                "values": row.values,
                **{count: getattr(row, count) for count in COUNTS},
                "metrics": {
                    metric: {stat: getattr(row.stats[metric], stat) for stat in STATS}
                    for metric in self.metrics
                },
            }
            for row in self.rows
        ]


def summarize(
    folder: str | os.PathLike[str], metric: str | None = None, by: str | None = None
) -> Summary:
    """The summary of the sweep folder ``folder``: one row per configuration, or with
    ``by`` one row per value of that swept key (over every other key and seed), sorted by
    ``metric`` (default: test_accuracy if logged, else accuracy, else loss)."""
    results = read_results(folder)
    chosen = _chosen_metric(results, metric)
    if by is not None and by not in results.keys:
        swept = ", ".join(results.keys) if results.keys else "none (it sweeps only seeds)"
        raise UsageError(
            f"--by {by}: not a key {results.folder} sweeps; {did_you_mean(by, results.keys)}"
            f"the swept keys are: {swept}"
        )
    return Summary(
        results, (by,) if by else results.keys, chosen, summary_rows(results, chosen, by)
    )


def summary_rows(results: SweepResults, metric: str | None, by: str | None = None) -> list[Row]:
    """The rows of ``results``, per configuration or per value of ``by``, best first by
    ``metric`` (None: in sweep order)."""
    rows = [_row(trials, results.metrics, by) for trials in _groups(results.trials, by)]
    return _sorted(rows, metric) if metric is not None else rows


def _chosen_metric(results: SweepResults, metric: str | None) -> str | None:
    """``metric`` if the done trials logged it (or none is done yet), else the default."""
    logged = results.metrics
    if metric is None:
        defaults = [name for name in DEFAULT_METRICS if name in logged]
        return defaults[0] if defaults else (logged[0] if logged else None)
    if logged and metric not in logged:
        raise UsageError(
            f"--metric {metric}: the done trials of {results.folder} logged no such metric; "
            f"{did_you_mean(metric, logged)}choose one of: {', '.join(logged)}"
        )
    return metric


def _groups(trials: Sequence[TrialResult], by: str | None) -> list[tuple[TrialResult, ...]]:
    """The trials of each configuration (or of each value of ``by``), in sweep order."""
    groups: dict[Any, list[TrialResult]] = {}
    for trial in trials:
        key = trial.config if by is None else _identity(trial.values.get(by))
        groups.setdefault(key, []).append(trial)
    return [tuple(group) for group in groups.values()]


def _identity(value: Any) -> str:
    """A key telling values apart as YAML does (``1``, ``1.0`` and ``true`` differ)."""
    return json.dumps(value, sort_keys=True, default=str)


def _row(trials: tuple[TrialResult, ...], metrics: Sequence[str], by: str | None) -> Row:
    first = trials[0].values
    values = dict(first) if by is None else {by: first.get(by)}
    done = [trial for trial in trials if trial.state == "done"]
    counts = {state: sum(t.state == state for t in trials) for state in ("failed", "pending")}
    stats = {metric: _stat(done, metric) for metric in metrics}
    return Row(values, len(done), counts["failed"], counts["pending"], stats, trials)


def _stat(done: Sequence[TrialResult], metric: str) -> Stat:
    finals = [v for v in (trial.final(metric) for trial in done) if v is not None]
    bests = [v for v in (trial.best(metric) for trial in done) if v is not None]
    return Stat(*_mean_std(finals), *_mean_std(bests))


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """The mean and the sample standard deviation (ddof=1; None for fewer than 2)."""
    if not values:
        return None, None
    array = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # infinite values: an infinite mean, a NaN spread
        std = float(np.std(array, ddof=1)) if len(array) > 1 else None
        return float(np.mean(array)), std


def _sorted(rows: list[Row], metric: str) -> list[Row]:
    """Best mean first; rows without a finite mean last, in their order."""
    sign = 1.0 if lower_is_better(metric) else -1.0

    def rank(row: Row) -> tuple[bool, float]:
        mean = row.mean(metric)
        missing = mean is None or not math.isfinite(mean)
        return missing, 0.0 if missing or mean is None else sign * mean

    return sorted(rows, key=rank)


def summary_csv(summary: Summary) -> str:
    """The summary as CSV text: the header of ``Summary.columns``, one line per row;
    numbers in full precision, an empty cell for a value there is not (nan for NaN)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(summary.columns())
    for row in summary.rows:
        cells = [value_text(row.values.get(key)) for key in summary.keys]
        cells += [str(getattr(row, count)) for count in COUNTS]
        for metric in summary.metrics:
            cells += [_number_text(getattr(row.stats[metric], stat)) for stat in STATS]
        writer.writerow(cells)
    return buffer.getvalue()


def _number_text(value: float | None) -> str:
    return "" if value is None else repr(value)


def write_summary(folder: str | os.PathLike[str], metric: str | None = None) -> list[Path]:
    """Write ``folder/summary.csv`` and, where matplotlib is installed, ``folder/summary.png``
    (each whole or as it was), replacing earlier ones; the paths written."""
    summary = summarize(folder, metric)
    target = summary.results.folder / SUMMARY_CSV
    text = summary_csv(summary).encode()
    write_atomically(target, lambda file: file.write(text))
    written = [target]
    if matplotlib_available():
        written.append(summary_png(summary, summary.results.folder / SUMMARY_PNG))
    return written


def import_drawing() -> None:
    """Import the modules that draw summary.png, where they are installed (nothing else).

    A session calls this in a thread of its own while its trials run, so that the summary
    at its end does not wait for matplotlib to load; a failure here is reported, if at
    all, by :func:`write_summary`."""
    if matplotlib_available():
        with contextlib.suppress(Exception):
            import matplotlib.backends.backend_agg  # noqa: F401  (savefig's canvas)

            from .figure import import_figure_class

            import_figure_class()


def summary_png(summary: Summary, target: Path, *, replace: bool = True) -> Path:
    """Draw the summary's picture (see :mod:`toolkit.sweeps.figure`) to ``target``; an
    existing file is kept and refused unless ``replace``."""
    from .figure import save_figure, summary_figure

    return save_figure(
        summary_figure(summary.results, summary.metric, best(summary)), target, replace=replace
    )


def best(summary: Summary) -> list[tuple[TrialResult, ...]]:
    """The done trials of each configuration, best first by the summary's metric."""
    rows = summary_rows(summary.results, summary.metric)
    done = ([trial for trial in row.trials if trial.state == "done"] for row in rows)
    return [tuple(trials) for trials in done if trials]
