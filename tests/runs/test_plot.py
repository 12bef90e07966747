"""toolkit.runs.plot: a run's metrics.jsonl drawn as loss and accuracy curves to a PNG."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

import toolkit.runs.plot
from tests.helpers import SPECS, write
from toolkit.base.errors import RunError, UsageError
from toolkit.runs.plot import DPI, FIGURE_SIZE, draw, matplotlib_available, plot_run, read_metrics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSTALL_HINT = "pip install 'layer-toolkit[plot]'"
RECORDS: list[dict[str, Any]] = [
    {"iteration": 100, "loss": 2.38, "accuracy": 0.2, "test_loss": 2.1, "test_accuracy": 0.31},
    {"iteration": 200, "loss": 1.9, "accuracy": 0.35, "seconds": 0.2},
    {"iteration": 300, "loss": 1.25, "accuracy": 0.5, "test_loss": 1.4, "test_accuracy": 0.45},
]


def make_run(folder: Path, records: list[dict[str, Any]], name: str | None = "demo") -> Path:
    """A run folder with ``records`` as metrics.jsonl and, if named, a spec.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"seconds": 0.1, **record}) for record in records]
    write(folder / "metrics.jsonl", "".join(line + "\n" for line in lines))
    if name is not None:
        write(folder / "spec.yaml", f"name: {name}\nseed: 42\n")
    return folder


def drawn(records: list[dict[str, Any]]) -> Figure:
    """A figure drawn from records that went through a metrics file."""
    figure = Figure()
    draw(figure, records)
    return figure


def lines_of(figure: Figure, panel: int) -> dict[str, tuple[list[float], list[float]]]:
    """Each line of a panel, by legend label: its x and y data."""
    return {
        str(line.get_label()): (list(line.get_xdata()), list(line.get_ydata()))  # type: ignore[arg-type]
        for line in figure.axes[panel].get_lines()
    }


def test_writes_a_png_of_the_chosen_size_to_the_default_path(tmp_path: Path) -> None:
    """curves.png in the run folder, a PNG of FIGURE_SIZE x DPI pixels, no temporary left."""
    run = make_run(tmp_path / "run", RECORDS)
    path = plot_run(run)
    assert path == run / "curves.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    width, height = (round(inches * DPI) for inches in FIGURE_SIZE)
    assert matplotlib.image.imread(path).shape[:2] == (height, width) == (400, 1000)
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "metrics.jsonl", "spec.yaml"]


def test_writes_to_a_given_path(tmp_path: Path) -> None:
    """``out`` names the file (a str works too); nothing is written into the run folder."""
    run = make_run(tmp_path / "run", RECORDS)
    (tmp_path / "figures").mkdir()
    path = plot_run(str(run), str(tmp_path / "figures" / "a.png"))
    assert path == tmp_path / "figures" / "a.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert not (run / "curves.png").exists()
    assert [p.name for p in (tmp_path / "figures").iterdir()] == ["a.png"]


def test_replaces_an_existing_plot(tmp_path: Path) -> None:
    """Plotting again overwrites curves.png."""
    run = make_run(tmp_path, RECORDS)
    write(run / "curves.png", "old")
    assert plot_run(run).read_bytes().startswith(PNG_SIGNATURE)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If saving fails halfway, curves.png is untouched and the temporary file is removed."""
    run = make_run(tmp_path, RECORDS)
    write(run / "curves.png", "old")

    def failing_savefig(self: Figure, file: Any, **_: Any) -> None:
        file.write(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", failing_savefig)
    with pytest.raises(RunError, match=r"curves\.png: cannot write"):
        plot_run(run)
    assert (run / "curves.png").read_text() == "old"
    assert sorted(p.name for p in run.iterdir()) == ["curves.png", "metrics.jsonl", "spec.yaml"]


def test_lines_hold_the_files_data(tmp_path: Path) -> None:
    """Train curves over every log point, test curves over the points that have them."""
    figure = drawn(read_metrics(make_run(tmp_path, RECORDS)))
    loss, accuracy = figure.axes
    assert (loss.get_xlabel(), loss.get_ylabel()) == ("iteration", "loss")
    assert (accuracy.get_xlabel(), accuracy.get_ylabel()) == ("iteration", "accuracy")
    assert lines_of(figure, 0) == {
        "train (batch)": ([100, 200, 300], [2.38, 1.9, 1.25]),
        "test": ([100, 300], [2.1, 1.4]),
    }
    assert lines_of(figure, 1) == {
        "train (batch)": ([100, 200, 300], [0.2, 0.35, 0.5]),
        "test": ([100, 300], [0.31, 0.45]),
    }
    for ax in figure.axes:
        legend = ax.get_legend()
        assert legend is not None
        assert [text.get_text() for text in legend.get_texts()] == ["train (batch)", "test"]


def test_no_test_curves_without_a_held_out_split(tmp_path: Path) -> None:
    """A file without test_loss/test_accuracy draws only the train curves."""
    records = [{"iteration": 10 * i, "loss": 1.0 / i, "accuracy": 0.1 * i} for i in (1, 2, 3)]
    figure = drawn(read_metrics(make_run(tmp_path, records)))
    assert lines_of(figure, 0) == {"train (batch)": ([10, 20, 30], [1.0, 0.5, 1.0 / 3])}
    assert list(lines_of(figure, 1)) == ["train (batch)"]


def test_old_files_without_accuracy_get_an_empty_accuracy_panel(tmp_path: Path) -> None:
    """No accuracy key: the loss panel as usual, the accuracy panel says so; plot_run works."""
    run = make_run(tmp_path, [{"iteration": 1, "loss": 2.0}, {"iteration": 2, "loss": 1.0}])
    figure = drawn(read_metrics(run))
    assert lines_of(figure, 0) == {"train (batch)": ([1, 2], [2.0, 1.0])}
    accuracy = figure.axes[1]
    assert accuracy.get_lines() == []
    assert accuracy.get_legend() is None
    assert [text.get_text() for text in accuracy.texts] == ["no accuracy recorded"]
    assert plot_run(run).read_bytes().startswith(PNG_SIGNATURE)


def test_non_finite_values_are_gaps_and_counted_in_the_legend(tmp_path: Path) -> None:
    """NaN, Infinity and null are drawn as NaN (a gap), and the legend says how many."""
    run = tmp_path
    write(
        run / "metrics.jsonl",
        '{"iteration": 1, "loss": 2.0, "accuracy": 0.1}\n'
        '{"iteration": 2, "loss": NaN, "accuracy": null}\n'
        '{"iteration": 3, "loss": Infinity, "accuracy": 0.3}\n'
        '{"iteration": 4, "loss": 0.5, "accuracy": 0.4}\n',
    )
    [(label, (x, y))] = lines_of(drawn(read_metrics(run)), 0).items()
    assert label == "train (batch) (2 non-finite not drawn)"
    assert x == [1, 2, 3, 4]
    assert [v for v in y if not math.isnan(v)] == [2.0, 0.5]
    assert math.isnan(y[1]) and math.isnan(y[2])
    [accuracy_label] = lines_of(drawn(read_metrics(run)), 1)
    assert accuracy_label == "train (batch) (1 non-finite not drawn)"
    assert plot_run(run).exists()


@pytest.fixture
def titles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The titles plot_run draws with, in order, and each figure's suptitle matches."""
    seen: list[str] = []

    def spy(figure: Figure, records: Any, title: str = "") -> None:
        draw(figure, records, title)
        suptitle = figure.get_suptitle()
        assert suptitle == title
        seen.append(suptitle)

    monkeypatch.setattr(toolkit.runs.plot, "draw", spy)
    return seen


def test_title_is_the_spec_name_or_else_the_folder_name(tmp_path: Path, titles: list[str]) -> None:
    """The title is spec.yaml's name; without a spec.yaml, the run folder's name."""
    plot_run(make_run(tmp_path / "a", RECORDS, name="two_layer_relu"))
    plot_run(make_run(tmp_path / "b", RECORDS, name=None))
    assert titles == ["two_layer_relu", "b"]


def test_spec_yaml_is_read_as_data_only(tmp_path: Path, titles: list[str]) -> None:
    """A spec.yaml with a Python tag is not executed; the title falls back to the folder."""
    run = make_run(tmp_path / "run", RECORDS, name=None)
    marker = tmp_path / "executed"
    write(run / "spec.yaml", f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    assert plot_run(run).exists()
    assert not marker.exists()
    assert titles == ["run"]


def test_a_last_line_still_being_written_is_left_out(tmp_path: Path) -> None:
    """An unfinished last line (no newline, not JSON yet) is skipped; a finished bad one is not."""
    run = make_run(tmp_path, RECORDS[:2])
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as file:
        file.write('{"iteration": 300, "lo')
    assert [record["iteration"] for record in read_metrics(run)] == [100, 200]
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as file:
        file.write("\n")
    with pytest.raises(UsageError, match=r"metrics\.jsonl line 3: not valid JSON"):
        read_metrics(run)


BAD_METRICS = {
    "invalid JSON": (
        '{"iteration": 1, "loss": 2.0}\n{"iteration": 2, loss}\n',
        "line 2: not valid",
    ),
    "not an object": ('{"iteration": 1, "loss": 2.0}\n[2, 1.5]\n', "line 2: a list, not a JSON"),
    "no loss": ('{"iteration": 1, "loss": 2}\n\n{"iteration": 3}\n', "line 3: no 'loss'"),
    "no iteration": ('{"loss": 2.0}\n', "line 1: no 'iteration'"),
    "loss a string": ('{"iteration": 1, "loss": "2.0"}\n', "line 1: 'loss' is \"2.0\", not a"),
    "accuracy a bool": ('{"iteration": 1, "loss": 2, "accuracy": true}\n', "'accuracy' is true"),
    "iteration NaN": ('{"iteration": NaN, "loss": 2.0}\n', "line 1: 'iteration' is nan"),
    "empty": ("", ": no log points yet; plot again once toolkit train"),
    "only blank lines": ("\n  \n", ": no log points yet"),
}


@pytest.mark.parametrize("text, message", BAD_METRICS.values(), ids=BAD_METRICS)
def test_bad_metrics_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    """Each bad metrics file is a one-line UsageError naming the file, the line, the problem."""
    write(tmp_path / "metrics.jsonl", text)
    with pytest.raises(UsageError) as caught:
        plot_run(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'metrics.jsonl'}")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2
    assert not (tmp_path / "curves.png").exists()


def test_bad_run_folders(tmp_path: Path) -> None:
    """A missing folder, a file, a folder without metrics.jsonl: each names the fix."""
    cases = {
        tmp_path / "missing": "run folder {}: no such folder; give the folder that toolkit train",
        write(tmp_path / "file", "x"): "run folder {}: is a file, not a folder; give the folder",
        tmp_path: "{}: no such file; run toolkit train --out",
    }
    for path, message in cases.items():
        with pytest.raises(UsageError) as caught:
            plot_run(path)
        expected = message.format(path / "metrics.jsonl" if path == tmp_path else path)
        assert str(caught.value).startswith(expected)


def test_bad_output_paths(tmp_path: Path) -> None:
    """Not .png, a folder, or a file in a missing folder: UsageError before anything is drawn."""
    run = make_run(tmp_path / "run", RECORDS)
    (tmp_path / "taken.png").mkdir()
    cases = {
        "curves.pdf": "curves.pdf: toolkit plot writes PNG images; give a name ending in .png",
        "taken.png": "taken.png: is a folder; give a file name such as",
        "nowhere/a.png": "a.png: the folder",
    }
    for out, message in cases.items():
        with pytest.raises(UsageError, match=re.escape(message)):
            plot_run(run, tmp_path / out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "taken.png"]


@pytest.mark.parametrize("hidden", [["matplotlib"], ["matplotlib", "matplotlib.figure"]])
def test_missing_matplotlib_is_a_usage_error_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden: list[str]
) -> None:
    """Without matplotlib (even with a submodule still cached): exit 2, one line, the pip hint."""
    assert matplotlib_available()
    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)
    assert not matplotlib_available()
    with pytest.raises(UsageError) as caught:
        plot_run(make_run(tmp_path, RECORDS))
    assert str(caught.value) == (
        f"toolkit plot needs matplotlib, which is not installed; {INSTALL_HINT}"
    )
    assert caught.value.exit_code == 2


def test_importing_the_module_does_not_need_matplotlib() -> None:
    """``import toolkit.runs.plot`` works, and imports no matplotlib, when it is not installed."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import toolkit.runs.plot as plot\n"
        "assert not plot.matplotlib_available()\n"
        "assert [n for n in sys.modules if n.startswith('matplotlib.')] == []\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _noisy(count: int) -> list[dict[str, Any]]:
    """``count`` log points from 0 whose batch metrics zigzag around a smooth trend."""
    return [
        {
            "iteration": 10 * i,
            "loss": 1.0 / (1 + i) + 0.2 * (-1) ** i,
            "accuracy": 0.95 + 0.04 * (-1) ** i,
            "test_loss": 1.0 / (1 + i),
            "test_accuracy": 0.96,
        }
        for i in range(count)
    ]


def test_the_accuracy_axis_is_fixed_from_0_to_1(tmp_path: Path) -> None:
    """Accuracies between 0.91 and 0.99 are drawn on the whole 0-1 axis, not zoomed in."""
    for count in (3, 200):
        figure = drawn(read_metrics(make_run(tmp_path / str(count), _noisy(count))))
        assert figure.axes[1].get_ylim() == (0.0, 1.0)
        assert figure.axes[0].get_ylim() != (0.0, 1.0)  # the loss axis still fits its data


def test_many_noisy_points_are_faint_under_a_smoothed_line(tmp_path: Path) -> None:
    """200 batch points: the batch curve is faint, a smoothed line of the same colour is
    drawn over it with much less zigzag; the test curve stays solid; no markers."""
    figure = drawn(read_metrics(make_run(tmp_path, _noisy(200))))
    for panel in (0, 1):
        lines = {str(line.get_label()): line for line in figure.axes[panel].get_lines()}
        assert list(lines) == ["train (batch)", "train (batch), smoothed", "test"]
        raw, smooth, test = lines.values()
        assert raw.get_alpha() is not None and raw.get_alpha() < 0.5
        assert smooth.get_alpha() in (None, 1.0) and test.get_alpha() in (None, 1.0)
        assert raw.get_color() == smooth.get_color() != test.get_color()
        assert all(line.get_marker() in ("", "None", None) for line in lines.values())
        zigzag = np.abs(np.diff(np.asarray(raw.get_ydata())[100:]))
        settled = np.abs(np.diff(np.asarray(smooth.get_ydata())[100:]))
        assert max(settled) < 0.1 * min(zigzag)
        assert list(smooth.get_xdata()) == list(raw.get_xdata())


def test_few_points_keep_their_markers_and_are_not_smoothed(tmp_path: Path) -> None:
    figure = drawn(read_metrics(make_run(tmp_path, _noisy(5))))
    for line in figure.axes[0].get_lines():
        assert line.get_marker() == "."
        assert line.get_alpha() in (None, 1.0)


def test_smoothed_is_a_centred_moving_mean_that_skips_gaps() -> None:
    """Means over an odd window (3 for 7 values), cut short at the ends; NaN stays a gap."""
    values = [1.0, 2.0, 6.0, math.nan, 4.0, 0.0, 2.0]
    result = toolkit.runs.plot.smoothed(values)
    expected = [1.5, 3.0, 4.0, math.nan, 2.0, 2.0, 1.0]
    assert [round(v, 12) if not math.isnan(v) else "gap" for v in result] == [
        v if not math.isnan(v) else "gap" for v in expected
    ]


def test_a_trained_runs_curves_start_at_iteration_0(tmp_path: Path) -> None:
    """toolkit train --out records iteration 0 (before any update) and every line starts
    there."""
    from toolkit.cli import main

    spec = SPECS / "two_layer_teacher.yaml"
    run = tmp_path / "run"
    sets = ["--set", "train.iterations=30", "--set", "train.log_every=10"]
    assert main(["train", str(spec), *sets, "--out", str(run), "-q"]) == 0
    figure = drawn(read_metrics(run))
    lines = [line for ax in figure.axes for line in ax.get_lines()]
    assert len(lines) == 4
    for line in lines:
        assert list(line.get_xdata()) == [0, 10, 20, 30]
