"""A sweep's picture, ``summary.png``: the chosen metric against each swept key, and the
learning curves of the best configurations.

One panel per swept key: the metric's final value of every done trial as a point (one per
seed) against the key's value, and the mean per value as a line. The axis is logarithmic
for a key the random search draws log-uniformly (``loguniform:a,b`` in sweep.yaml) and for
a grid of three or more positive numbers spanning a factor of 10 or more (learning
rates, say); text, true/false and null values are categories, in sweep order. A last
panel draws the metric against iteration for the best few configurations, each the mean
over its done seeds, labelled with its values.

matplotlib is optional (``pip install 'layer-toolkit[plot]'``), imported only here and
only when a figure is drawn, through its object API (no pyplot, backend-free).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..base.errors import RunError, UsageError
from ..runs.rundir import write_atomically
from .results import SweepResults, TrialResult, short_names, shown_value, value_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BEST_CURVES",
    "DPI",
    "import_figure_class",
    "is_log_axis",
    "save_figure",
    "summary_figure",
]

BEST_CURVES = 3
"""How many configurations the learning-curve panel draws."""
DPI = 100
PANEL_SIZE = (4.6, 3.6)  # inches per panel
COLUMNS = 3  # panels per row at most
LOG_SPAN = 10.0  # a grid of positive numbers spanning this factor or more gets a log axis
INSTALL_HINT = "pip install 'layer-toolkit[plot]'"
GRID_TICKS = 8  # a grid of at most this many numbers has a tick at each
SPREAD = 0.3  # the width over which a category's points are spread
LABEL_WIDTH = 40  # characters of a curve's label before it is shortened


def summary_figure(
    results: SweepResults, metric: str | None, best: Sequence[Sequence[TrialResult]]
) -> Figure:
    """The summary picture of ``results`` for ``metric``; ``best`` is the done trials of
    each configuration, best first (the curves panel draws the first ``BEST_CURVES``)."""
    figure_class = import_figure_class()
    count = len(results.keys) + 1
    columns = min(count, COLUMNS)
    rows = math.ceil(count / columns)
    width, height = PANEL_SIZE
    figure = figure_class(
        figsize=(width * columns, height * rows + 0.8), dpi=DPI, layout="constrained"
    )
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, key in zip(axes, results.keys, strict=False):
        _key_panel(ax, results, key, metric)
    if results.keys and axes[0].get_lines():  # one legend for the key panels, below the first
        axes[0].legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize="small", frameon=False
        )
    _curves_panel(axes[len(results.keys)], results.keys, metric, best)
    for ax in axes[count:]:
        ax.set_visible(False)
    done, failed = len(results.done), sum(t.state == "failed" for t in results.trials)
    title = f"{results.folder.resolve().name}: {done} of {len(results.trials)} trials done"
    figure.suptitle(title + (f", {failed} failed" if failed else ""))
    return figure


def save_figure(figure: Figure, target: Path, *, replace: bool = True) -> Path:
    """Write ``figure`` to ``target`` as a PNG, whole or not at all (an existing file is
    kept and refused unless ``replace``)."""
    try:
        write_atomically(
            target,
            lambda file: figure.savefig(
                file, format="png", dpi=DPI, pil_kwargs={"compress_level": 1}
            ),
            replace=replace,
        )
    except OSError as error:
        raise RunError(f"{target}: cannot write ({error.strerror or error})") from None
    return target


def is_log_axis(key: str, values: Sequence[Any], log_keys: frozenset[str]) -> bool:
    """Whether ``key``'s panel has a log axis: drawn log-uniformly, or three or more
    positive numbers spanning a factor of ``LOG_SPAN`` or more."""
    if key in log_keys:
        return True
    numbers = set(values)
    if len(numbers) < 3 or not all(_is_real(v) and v > 0 for v in numbers):
        return False
    return bool(max(numbers) / min(numbers) >= LOG_SPAN)


def _key_panel(ax: Axes, results: SweepResults, key: str, metric: str | None) -> None:
    """The final ``metric`` of each done trial against ``key``, and the mean per value."""
    ax.set_title(key)
    ax.set_xlabel(key)
    ax.set_ylabel(f"{metric} (final)" if metric else "")
    finals = [(t.values.get(key), t.final(metric)) for t in results.done if metric]
    points = [(x, y) for x, y in finals if y is not None]
    if not points:
        _empty(ax, "no trial done yet")
        return
    xs = [x for x, _ in points]
    categorical = not all(_is_real(x) for x in xs)
    if categorical:
        names = list(dict.fromkeys(value_text(x) for x in xs))
        positions = [names.index(value_text(x)) for x in xs]
        ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 4 else 0)
        ax.set_xlim(-0.5, len(names) - 0.5)
        plotted: list[float] = [float(p) for p in positions]
        spread = _spread(positions)
    else:
        plotted = [float(x) for x in xs if x is not None]  # all real numbers here
        spread = plotted
        if is_log_axis(key, xs, results.log_keys) and min(plotted) > 0:
            ax.set_xscale("log")
    ys = [y for _, y in points]
    ax.plot(spread, ys, "o", color="C0", alpha=0.55, label="a trial's final value (one seed)")
    means = _means_by_x(plotted, ys)
    # A line joins the means only for a grid (as sweep.yaml says, or where values repeat
    # across configurations): values drawn at random differ in every other key too, so a
    # line would zigzag.
    configs: dict[str, set[int]] = {}
    for trial in results.done:
        configs.setdefault(value_text(trial.values.get(key)), set()).add(trial.config)
    grid = key in results.grid_keys or any(len(c) > 1 for c in configs.values())
    if grid and not categorical and len(means) <= GRID_TICKS:  # a tick at each grid value
        given = {float(x): x for x in xs if x is not None}  # 4, not 4.0
        ax.set_xticks(list(means), [shown_value(given[x]) for x in means])
        ax.set_xticks([], minor=True)
    line = "-" if grid else "none"
    ax.plot(
        list(means),
        list(means.values()),
        linestyle=line,
        color="C1",
        marker="_",
        ms=12,
        label="mean per value",
    )
    ax.grid(alpha=0.3)


def _spread(positions: Sequence[int]) -> list[float]:
    """Category positions with the points of one category spread a little sideways, so
    that equal values stay visible."""
    counts: dict[int, int] = {}
    for p in positions:
        counts[p] = counts.get(p, 0) + 1
    seen: dict[int, int] = {}
    spread = []
    for p in positions:
        k = seen[p] = seen.get(p, -1) + 1
        spread.append(p + SPREAD * (k - (counts[p] - 1) / 2) / max(counts[p] - 1, 1))
    return spread


def _means_by_x(xs: Sequence[float], ys: Sequence[float]) -> dict[float, float]:
    """The mean of ``ys`` at each distinct x, by increasing x (NaN values left out)."""
    by_x: dict[float, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        by_x.setdefault(x, []).append(y)
    return {x: float(np.nanmean(by_x[x])) for x in sorted(by_x) if not np.isnan(by_x[x]).all()}


def _curves_panel(
    ax: Axes, keys: Sequence[str], metric: str | None, best: Sequence[Sequence[TrialResult]]
) -> None:
    """The mean curve of ``metric`` over the seeds of each of the best configurations."""
    ax.set_title("learning curves of the best (mean over seeds)")
    ax.set_xlabel("iteration")
    ax.set_ylabel(metric or "")
    drawn = [
        (trials, curve)
        for trials, curve in ((t, _mean_curve(t, metric) if metric else None) for t in best)
        if curve is not None
    ][:BEST_CURVES]
    if not drawn:
        _empty(ax, "no trial done yet")
        return
    names = short_names(keys)
    shared = [k for k in keys if len({_value_of(t, k) for t, _ in drawn}) == 1 and len(drawn) > 1]
    for number, (trials, curve) in enumerate(drawn):
        shown = [k for k in keys if k not in shared]
        seeds = f"{len(trials)} seeds" if len(trials) != 1 else "1 seed"
        label = _wrapped(", ".join(f"{names[k]}={_value_of(trials, k)}" for k in shown))
        ax.plot(*curve, color=f"C{number}", label=f"{label} ({seeds})" if label else seeds)
    ax.grid(alpha=0.3)
    # Below the panel: a legend inside it would hide the curves it names. Values the
    # curves share are said once, as its title.
    title = _wrapped("all: " + ", ".join(f"{names[k]}={_value_of(drawn[0][0], k)}" for k in shared))
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        fontsize="small",
        title=title if shared else None,
        title_fontsize="small",
        frameon=False,
    )


def _value_of(trials: Sequence[TrialResult], key: str) -> str:
    return shown_value(trials[0].values.get(key))


def _wrapped(text: str) -> str:
    """``text`` broken into lines of at most ``LABEL_WIDTH`` characters at its commas."""
    return "\n".join(textwrap.wrap(text, LABEL_WIDTH, break_long_words=False))


def _mean_curve(
    trials: Sequence[TrialResult], metric: str
) -> tuple[list[float], list[float]] | None:
    """The mean over ``trials`` of ``metric`` at the iterations all of them logged it."""
    curves = [dict(zip(*trial.curve(metric), strict=True)) for trial in trials]
    common = sorted(set.intersection(*(set(curve) for curve in curves))) if curves else []
    if not common:
        return None
    return common, [float(np.mean([curve[x] for curve in curves])) for x in common]


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def import_figure_class() -> type[Figure]:
    """matplotlib's Figure class; UsageError with the install hint where it is missing."""
    try:
        import matplotlib  # noqa: F401  (first, so a cached submodule cannot hide its absence)
        from matplotlib.figure import Figure
    except ImportError as error:
        raise UsageError(
            f"the summary picture needs matplotlib, which cannot be imported ({error}); "
            f"{INSTALL_HINT}"
        ) from None
    return Figure
