"""A run's learning curves: loss and accuracy against iteration, drawn to a PNG file.

matplotlib is optional (``pip install 'layer-toolkit[plot]'``): it is imported only when a
figure is drawn, through its object API (no pyplot), so nothing global changes and no display
is needed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..base.errors import RunError, SpecError, UsageError
from ..base.wording import one_line
from ..spec.yamlsource import parse_yaml, read_spec_text
from .rundir import RunDirectory, check_output, write_atomically

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "FIGURE_SIZE",
    "Curve",
    "curves",
    "draw",
    "draws_into_run",
    "matplotlib_available",
    "plot_folder",
    "plot_run",
    "plot_target",
    "read_metrics",
    "smoothed",
]

FIGURE_SIZE = (10.0, 4.0)  # inches: two panels side by side
DPI = 100  # so the PNG is 1000 x 400 pixels
INSTALL_HINT = "pip install 'layer-toolkit[plot]'"
METRICS = RunDirectory.METRICS
REQUIRED = ("iteration", "loss")
PANELS = {"loss": ("loss", "test_loss"), "accuracy": ("accuracy", "test_accuracy")}
_PLOTTED = frozenset({"iteration", *(name for names in PANELS.values() for name in names)})
Record = dict[str, float]
SMOOTH_FROM = 10  # a train curve of this many points or more gets a moving mean over it
MARKERS_UP_TO = 25  # a line with more points than this has no markers
MARGINS = {"left": 0.07, "right": 0.98, "bottom": 0.13, "wspace": 0.22}  # of the figure
FAINT = 0.35  # the opacity of a noisy curve under its moving mean


class Curve(NamedTuple):
    """One metric's points: the iterations that logged it and its values (NaN if non-finite)."""

    iterations: list[float]
    values: list[float]

    @property
    def non_finite(self) -> int:
        return sum(math.isnan(value) for value in self.values)


def matplotlib_available() -> bool:
    """Whether matplotlib can be found, without importing it."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except ValueError:  # in sys.modules without a __spec__: it is imported, so present
        return True


def plot_run(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
) -> Path:
    """Draw the curves of the run in ``run_dir`` to ``out`` (default ``run_dir/curves.png``).

    The default replaces the run's curves.png, in a folder toolkit train wrote only; ``out``
    is never a run's own file, and an existing ``out`` is replaced only with ``force``.
    """
    figure_class = _figure_class()
    folder = Path(run_dir)
    records = read_metrics(folder)
    target = plot_target(folder, out, force=force)
    replace = force or (target == folder / RunDirectory.CURVES and _written_by_train(folder))
    figure = figure_class(figsize=FIGURE_SIZE, dpi=DPI)
    draw(figure, records, title=_spec_name(folder))
    # A full-figure box, so a user's savefig.bbox = tight cannot change the size.
    box = figure.bbox_inches.frozen()
    try:
        write_atomically(
            target,
            lambda file: figure.savefig(
                file, format="png", dpi=DPI, bbox_inches=box, pil_kwargs={"compress_level": 1}
            ),
            replace=replace,
        )
    except OSError as error:
        raise RunError(f"{target}: cannot write ({error.strerror or error})") from None
    return target


def plot_folder(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
) -> Path:
    """``plot_run``, holding the run folder's lock while it draws into a run that toolkit
    train wrote (refused while another command writes that folder), as ``toolkit plot`` does."""
    folder = Path(run_dir)
    run = RunDirectory(folder) if folder.is_dir() else None
    into_run = run and run.written_by_train and draws_into_run(folder, out)
    with run.locked() if run and into_run else contextlib.nullcontext():
        return plot_run(folder, out, force=force)


def read_metrics(run_dir: str | os.PathLike[str]) -> list[Record]:
    """The log points of ``run_dir/metrics.jsonl``, each checked; non-finite values are NaN."""
    folder = Path(run_dir)
    if not folder.is_dir():
        state = "is a file, not a folder" if folder.exists() else "no such folder"
        raise UsageError(
            f"run folder {folder}: {state}; give the folder that toolkit train --out DIR wrote"
        )
    path = folder / METRICS
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file; run toolkit train --out {folder} first") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read ({error}); check the file") from None
    records: list[Record] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if number == len(lines) and not _is_json(line):
            break  # no newline: an unfinished line (files written before writes were atomic)
        records.append(_record(line, f"{path} line {number}"))
    if not records:
        raise UsageError(f"{path}: no log points yet; plot again once toolkit train has logged one")
    return records


def curves(records: Sequence[Record]) -> dict[str, Curve]:
    """Each metric that some record has (loss, test_loss, ...), over the records that have it."""
    found: dict[str, Curve] = {}
    for metric in (name for names in PANELS.values() for name in names):
        points = [(record["iteration"], record[metric]) for record in records if metric in record]
        if points:
            found[metric] = Curve([x for x, _ in points], [y for _, y in points])
    return found


def draw(figure: Figure, records: Sequence[Record], title: str = "") -> None:
    """Add the loss panel and the accuracy panel, side by side, to an empty ``figure``.

    The train curves are on each log point's batch, so they are noisy: from
    ``SMOOTH_FROM`` points on, each is drawn faint with its moving mean (``smoothed``)
    over it. Lines of more than ``MARKERS_UP_TO`` points have no markers. Accuracy is
    drawn on a fixed 0 to 1 axis, so a small dip looks small.
    """
    found = curves(records)
    axes = figure.subplots(1, len(PANELS), squeeze=False)[0]
    for ax, (panel, (train, test)) in zip(axes, PANELS.items(), strict=True):
        ax.set_title(panel)
        ax.set_xlabel("iteration")
        ax.set_ylabel(panel)
        for metric, label, color in ((train, "train (batch)", "C0"), (test, "test", "C1")):
            if metric in found:
                _draw_curve(ax, found[metric], label, color, noisy=metric == train)
        if panel == "accuracy":
            ax.set_ylim(0.0, 1.0)
            for line in ax.get_lines():
                line.set_clip_on(False)  # an accuracy of 1 drawn whole on the frame
        if ax.get_lines():
            ax.grid(alpha=0.3)
            ax.legend()
        else:
            ax.text(
                0.5, 0.5, f"no {panel} recorded", ha="center", va="center", transform=ax.transAxes
            )
    if title:
        figure.suptitle(title)
    figure.subplots_adjust(**MARGINS, top=0.84 if title else 0.9)  # fixed: no layout pass


def _draw_curve(ax: Axes, curve: Curve, label: str, color: str, *, noisy: bool) -> None:
    """One metric's line; a noisy one with many points faint, its moving mean over it."""
    skipped = f" ({curve.non_finite} non-finite not drawn)" if curve.non_finite else ""
    marker = "." if len(curve.values) <= MARKERS_UP_TO else ""
    if not (noisy and len(curve.values) >= SMOOTH_FROM):
        ax.plot(curve.iterations, curve.values, color=color, marker=marker, label=label + skipped)
        return
    ax.plot(
        curve.iterations,
        curve.values,
        color=color,
        alpha=FAINT,
        linewidth=1.0,
        marker=marker,
        label=label + skipped,
    )
    ax.plot(curve.iterations, smoothed(curve.values), color=color, label=f"{label}, smoothed")


def smoothed(values: Sequence[float]) -> list[float]:
    """The centred moving mean of ``values`` over an odd window of about a tenth of them
    (at least 3; cut short at the ends, as pandas' ``rolling(center=True, min_periods=1)``);
    NaN values are left out of the means and stay NaN."""
    v = np.asarray(values, dtype=np.float64)
    half = max(3, len(v) // 10) // 2
    present = ~np.isnan(v)
    sums = np.concatenate(([0.0], np.cumsum(np.where(present, v, 0.0))))
    counts = np.concatenate(([0], np.cumsum(present)))
    index = np.arange(len(v))
    low, high = np.maximum(index - half, 0), np.minimum(index + half + 1, len(v))
    number = counts[high] - counts[low]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums[high] - sums[low]) / number
    return [
        float(m) if p and n else math.nan for m, p, n in zip(means, present, number, strict=True)
    ]


def _figure_class() -> type[Figure]:
    try:
        import matplotlib  # noqa: F401  (first, so a cached submodule cannot hide its absence)
        from matplotlib.figure import Figure
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] != "matplotlib":
            raise UsageError(
                f"toolkit plot cannot import matplotlib ({error}); reinstall: {INSTALL_HINT}"
            ) from None
        raise UsageError(
            f"toolkit plot needs matplotlib, which is not installed; {INSTALL_HINT}"
        ) from None
    except ImportError as error:
        raise UsageError(
            f"toolkit plot cannot import matplotlib ({error}); reinstall: {INSTALL_HINT}"
        ) from None
    return Figure


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _record(line: str, where: str) -> Record:
    """One log point: a JSON object with a number for iteration and loss."""
    try:
        data: Any = json.loads(line)
    except ValueError as error:
        raise UsageError(
            f"{where}: not valid JSON ({error}); each line must be one JSON object, "
            "as toolkit train --out writes"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{where}: a {type(data).__name__}, not a JSON object; each line must be one "
            'object such as {"iteration": 100, "loss": 2.3}'
        )
    for key in REQUIRED:
        if key not in data:
            raise UsageError(f"{where}: no {key!r}; every log point needs 'iteration' and 'loss'")
    record = {key: _number(data[key], key, where) for key in data if key in _PLOTTED}
    if math.isnan(record["iteration"]):
        raise UsageError(f"{where}: 'iteration' is {data['iteration']!r}; it must be finite")
    return record


def _number(value: object, key: str, where: str) -> float:
    """A value as a float; null, NaN and infinities become NaN (a gap in the curve)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(
            f"{where}: {key!r} is {json.dumps(value)}, not a number; fix or delete that line"
        )
    number = float(value)
    return number if math.isfinite(number) else math.nan


def plot_target(
    folder: Path, out: str | os.PathLike[str] | None = None, *, force: bool = False
) -> Path:
    """Where ``plot_run`` draws: the run's own curves.png (``out`` None, or naming that
    file), or ``out``. Refused: ``out`` where it is a run's own file, or exists (unless
    ``force``); a curves.png that exists in a folder toolkit train did not write (unless
    ``force``): it is not the run's to replace."""
    own = folder / RunDirectory.CURVES
    if out is not None and str(out) == "":
        raise UsageError("--out: an empty file name; give a file name ending in .png")
    if out is not None and not draws_into_run(folder, _output_path(Path(out))):
        target = _output_path(Path(out))
        check_output(target, force=force, runs=[folder])
        return target
    if not force and not _written_by_train(folder) and os.path.lexists(own):
        raise UsageError(
            f"{own} exists and {folder} holds no run (no {RunDirectory.SPEC}): it is not "
            "toolkit's to replace; give --out FILE.png, or add --force to replace it"
        )
    return _output_path(own)


def draws_into_run(folder: Path, out: str | os.PathLike[str] | None) -> bool:
    """Whether ``plot_run(folder, out)`` draws the run's own ``folder/curves.png``."""
    if out is None:
        return True
    try:
        return Path(out).resolve() == (folder / RunDirectory.CURVES).resolve()
    except (OSError, RuntimeError):  # a loop of links, a name too long: not the run's file
        return False


def _written_by_train(folder: Path) -> bool:
    return folder.is_dir() and RunDirectory(folder).written_by_train


def _output_path(path: Path) -> Path:
    if path.suffix.lower() != ".png":
        raise UsageError(f"{path}: toolkit plot writes PNG images; give a name ending in .png")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name such as {path / 'curves.png'}")
    if not path.parent.is_dir():
        raise UsageError(
            f"{path}: the folder {path.parent} does not exist; create it or choose another path"
        )
    return path


def _spec_name(folder: Path) -> str:
    """The ``name:`` in the run's spec.yaml (read as data only, as a spec is read: a
    regular file within the size cap), else the folder's name."""
    path = folder / RunDirectory.SPEC
    try:
        spec, _, _ = parse_yaml(read_spec_text(path), str(path))
    except SpecError:
        spec = None
    name = spec.get("name") if isinstance(spec, dict) else None
    return one_line(name) if isinstance(name, str) and name else folder.resolve().name
