"""The sweep's picture: a PNG of a sane size, one panel per swept key with the right
axis (log for a log-uniform key or a wide grid, categories for text), and the curves."""

from __future__ import annotations

import statistics
import struct
from pathlib import Path

import pytest

from tests.sweeps.sweep_folders import FakeTrial, curve, write_sweep
from toolkit.sweeps.results import read_results
from toolkit.sweeps.summary import best, summarize, write_summary

pytest.importorskip("matplotlib")

from toolkit.sweeps.figure import is_log_axis, summary_figure

LR, ACT, UNITS = "optimizer.learning_rate", "model.layers.0.activation", "model.layers.0.units"


def _sweep(tmp_path: Path, random_params: dict[str, str] | None = None) -> Path:
    trials = []
    for lr in (0.002, 0.03, 0.2):
        for act in ("sigmoid", "relu"):
            for units in (4, 8):
                for seed in range(2):
                    acc = [0.3, 0.5 + lr, 0.6 + lr + units / 100 + seed / 50]
                    records = curve([0, 50, 100], loss=[1.0, 0.5, 0.4], test_accuracy=acc)
                    trials.append(
                        FakeTrial({LR: lr, ACT: act, UNITS: units}, seed, "done", records)
                    )
    trials.append(FakeTrial({LR: 0.5, ACT: "tanh", UNITS: 4}, 0, "failed"))
    return write_sweep(tmp_path / "sweep", trials, random_params=random_params)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def test_write_summary_draws_a_png_of_a_sane_size(tmp_path) -> None:
    folder = _sweep(tmp_path)
    written = write_summary(folder)
    assert written == [folder / "summary.csv", folder / "summary.png"]
    width, height = _png_size(folder / "summary.png")
    assert 800 <= width <= 2500 and 300 <= height <= 1500  # 4 panels: two rows of at most 3
    assert height < width


def test_a_log_uniform_key_has_a_log_axis_and_text_is_categories(tmp_path) -> None:
    """The sweep file draws the learning rate log-uniformly: its panel's x axis is log;
    the activation's is the names in sweep order; the units' (4, 8) are linear."""
    folder = _sweep(tmp_path, {LR: "loguniform:0.001,0.3"})
    summary = summarize(folder)
    figure = summary_figure(summary.results, summary.metric, best(summary))
    axes = {ax.get_title(): ax for ax in figure.get_axes() if ax.get_visible()}
    assert axes[LR].get_xscale() == "log"
    assert axes[UNITS].get_xscale() == "linear"
    assert [t.get_text() for t in axes[UNITS].get_xticklabels()] == ["4", "8"]
    assert [t.get_text() for t in axes[ACT].get_xticklabels()] == ["sigmoid", "relu"]
    assert axes[LR].get_ylabel() == "test_accuracy (final)"


def test_the_curves_panel_draws_the_best_configurations_mean_curves(tmp_path) -> None:
    """The best configuration (largest lr, relu or sigmoid alike, 8 units) is drawn first:
    its line is the mean over its two seeds of test_accuracy at each iteration."""
    folder = _sweep(tmp_path)
    summary = summarize(folder)
    figure = summary_figure(summary.results, summary.metric, best(summary))
    (curves,) = [ax for ax in figure.get_axes() if ax.get_xlabel() == "iteration"]
    first = curves.get_lines()[0]
    assert list(first.get_xdata()) == [0, 50, 100]
    seeds = [0.6 + 0.2 + 8 / 100 + 0 / 50, 0.6 + 0.2 + 8 / 100 + 1 / 50]
    assert first.get_ydata()[-1] == pytest.approx(sum(seeds) / 2)
    # The three best all have learning rate 0.2: the legend says it once.
    assert first.get_label() == "activation=sigmoid, units=8 (2 seeds)"
    assert curves.get_legend().get_title().get_text() == "all: learning_rate=0.2"
    assert len(curves.get_lines()) == 3


@pytest.mark.parametrize(
    ("values", "log"),
    [
        ([0.001, 0.01, 0.1], True),  # a grid of learning rates
        ([0.05, 0.2, 1.0], True),
        ([0.2, 0.5, 1.0], False),
        ([1, 2, 3], False),
        ([0.01, 0.1], False),  # two values: nothing to gain
        ([-1.0, 1.0, 100.0], False),
        (["a", "b", "c"], False),
    ],
)
def test_a_wide_grid_of_positive_numbers_gets_a_log_axis(values: list[object], log: bool) -> None:
    assert is_log_axis("k", values, frozenset()) is log


def test_a_sweep_with_nothing_done_still_draws(tmp_path) -> None:
    folder = write_sweep(tmp_path / "s", [FakeTrial({LR: 0.1}, 0, None)])
    results = read_results(folder)
    figure = summary_figure(results, None, [])
    texts = [t.get_text() for ax in figure.get_axes() for t in ax.texts]
    assert texts == ["no trial done yet", "no trial done yet"]
    write_summary(folder)
    assert _png_size(folder / "summary.png")[0] > 0


def test_means_are_joined_only_where_configurations_share_a_value(tmp_path) -> None:
    """A grid's means are a line; the means of random values (one configuration each)
    are marks only, as a line through them would zigzag with the other keys."""
    trials = [
        FakeTrial({"a": a, "b": b}, seed, "done", curve([0, 1], loss=[1.0, a + b + seed]))
        for a, b in [(1, 0.13), (1, 0.71), (2, 0.42), (2, 0.05)]
        for seed in range(2)
    ]
    folder = write_sweep(tmp_path / "s", trials)
    summary = summarize(folder)
    figure = summary_figure(summary.results, summary.metric, best(summary))
    axes = {ax.get_title(): ax for ax in figure.get_axes()}
    grid_mean, random_mean = (axes[key].get_lines()[1] for key in ("a", "b"))
    assert grid_mean.get_linestyle() == "-" and random_mean.get_linestyle() == "None"
    finals = {
        a: [a + b + seed for b in bs for seed in (0, 1)]
        for a, bs in [(1, (0.13, 0.71)), (2, (0.42, 0.05))]
    }
    assert list(grid_mean.get_xdata()) == [1, 2]
    assert list(grid_mean.get_ydata()) == pytest.approx(
        [statistics.fmean(finals[a]) for a in (1, 2)]
    )
