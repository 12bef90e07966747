"""``toolkit summary``: the table for people, --json and --csv for machines, --plot, and
bad input as one line with exit 2."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from tests.sweeps.sweep_folders import FakeTrial, curve, write_sweep
from toolkit.sweeps.summary import write_summary

LR, ACT = "optimizer.learning_rate", "model.layers.0.activation"
FINALS = {  # test_accuracy's last value per (learning rate, activation), one per seed
    (0.1, "relu"): [0.91, 0.87, 0.89],
    (0.1, "sigmoid"): [0.62, 0.71, 0.66],
    (0.01, "relu"): [0.81, 0.8, 0.83],
    (0.01, "sigmoid"): [0.45, 0.52, 0.4],
}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    trials = []
    for (lr, act), finals in FINALS.items():
        for seed, final in enumerate(finals):
            records = curve(
                [0, 10, 20],
                loss=[2.0, 1.0 - final / 2, 1.1 - final / 2],
                test_accuracy=[0.3, final - 0.05, final],
            )
            trials.append(FakeTrial({LR: lr, ACT: act}, seed, "done", records))
    trials.append(FakeTrial({LR: 1.0, ACT: "relu"}, 0, "failed"))
    trials.append(FakeTrial({LR: 1.0, ACT: "relu"}, 1, None))
    return write_sweep(tmp_path / "sweep", trials)


def _table(out: str) -> list[list[str]]:
    """The table's lines split at runs of two or more spaces (the heading and the line
    naming the keys left out)."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[2:]]


def _close(cell: str, mean: float, std: float) -> None:
    """``cell`` is ``mean ± std``, each right to the digits it shows."""
    shown_mean, shown_std = cell.split(" ± ")
    decimals = len(shown_mean.partition(".")[2])
    assert abs(float(shown_mean) - mean) <= 0.5 * 10**-decimals + 1e-12
    assert abs(float(shown_std) - std) <= 0.5 * 10**-decimals + 1e-12
    assert 1 <= len(shown_std.replace("0.", "").lstrip("0")) <= 2  # two significant digits


def test_the_table_is_best_first_with_mean_and_sample_std(run_cli, sweep) -> None:
    result = run_cli("summary", str(sweep), env={"COLUMNS": "1000"})
    assert result.returncode == 0, result.stderr
    heading = result.stdout.splitlines()[0]
    assert "12 of 14 trials done, 1 failed" in heading and "best first by test_accuracy" in heading
    header, *rows = _table(result.stdout)
    assert header[:5] == ["learning_rate", "activation", "done", "failed", "pending"]
    assert result.stdout.splitlines()[1] == f"(learning_rate is {LR}, activation is {ACT})"
    assert header[5:7] == ["test_accuracy (final)", "test_accuracy (best)"]
    expected = sorted(FINALS, key=lambda key: -statistics.fmean(FINALS[key]))
    assert [(float(r[0]), r[1]) for r in rows[:4]] == expected
    for row in rows[:4]:
        finals = FINALS[(float(row[0]), row[1])]
        assert row[2:5] == ["3", "0", "0"]
        _close(row[5], statistics.fmean(finals), statistics.stdev(finals))
    assert rows[4][:5] == ["1.0", "relu", "0", "1", "1"] and rows[4][5] == "-"


def test_json_is_every_row_in_full_precision(run_cli, sweep) -> None:
    result = run_cli("summary", str(sweep), "--json", "--metric", "loss")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 5
    for row in rows[:4]:
        finals = FINALS[(row["values"][LR], row["values"][ACT])]
        losses = [1.1 - f / 2 for f in finals]
        stat = row["metrics"]["loss"]
        assert stat["final_mean"] == pytest.approx(statistics.fmean(losses), rel=1e-12)
        assert stat["final_std"] == pytest.approx(statistics.stdev(losses), rel=1e-12)
        assert stat["best_mean"] == pytest.approx(statistics.fmean(1.0 - f / 2 for f in finals))
    assert [r["metrics"]["loss"]["final_mean"] for r in rows[:4]] == sorted(
        r["metrics"]["loss"]["final_mean"] for r in rows[:4]
    )  # a loss: lower first
    assert rows[4]["metrics"]["loss"] == dict.fromkeys(
        ("final_mean", "final_std", "best_mean", "best_std")
    )


def test_csv_is_what_summary_csv_holds(run_cli, sweep) -> None:
    result = run_cli("summary", str(sweep), "--csv")
    assert result.returncode == 0, result.stderr
    write_summary(sweep)
    assert result.stdout == (sweep / "summary.csv").read_text()


def test_by_a_key(run_cli, sweep) -> None:
    result = run_cli("summary", str(sweep), "--by", ACT, "--json")
    rows = {row["values"][ACT]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"relu", "sigmoid"}
    relu = FINALS[(0.1, "relu")] + FINALS[(0.01, "relu")]
    assert rows["relu"]["done"] == 6 and rows["relu"]["failed"] == 1
    stat = rows["relu"]["metrics"]["test_accuracy"]
    assert stat["final_mean"] == pytest.approx(statistics.fmean(relu))
    assert stat["final_std"] == pytest.approx(statistics.stdev(relu))


def test_a_narrow_terminal_leaves_out_the_other_metrics_and_says_so(run_cli, sweep) -> None:
    result = run_cli("summary", str(sweep), env={"COLUMNS": "100"})
    lines = result.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)
    header = next(line for line in lines if line.startswith("learning_rate  "))
    assert "test_accuracy (final)" in header and "loss (best)" not in header
    assert lines[-1].startswith("(left out to fit the width: loss (final), loss (best);")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["missing"], "sweep folder missing: no such folder"),
        (["{sweep}", "--metric", "acc"], "--metric acc: the done trials of"),
        (["{sweep}", "--by", "seed"], f"the swept keys are: {LR}, {ACT}"),
        (["{sweep}", "--plot", "picture.jpg"], "give a name ending in .png"),
        (["{sweep}", "--plot", "no/such/picture.png"], "the folder no/such does not exist"),
        (["{sweep}", "--json", "--csv"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_cli, sweep, args: list[str], says: str) -> None:
    result = run_cli("summary", *(arg.format(sweep=sweep) for arg in args))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line


def test_plot_writes_a_png_and_never_replaces_a_file_it_did_not_create(
    run_cli, sweep, tmp_path
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "picture.png"
    result = run_cli("summary", str(sweep), "--csv", "--plot", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.stderr == f"wrote {target}\n" and result.stdout.startswith(LR)
    target.write_bytes(b"a user's file")
    result = run_cli("summary", str(sweep), "--plot", str(target))
    assert result.returncode == 2 and "already exists" in result.stderr
    assert "--force" in result.stderr and result.stdout == ""
    assert target.read_bytes() == b"a user's file"
    assert run_cli("summary", str(sweep), "--plot", str(target), "--force").returncode == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_lists_summary(run_cli) -> None:
    result = run_cli("--help")
    assert re.search(r"^\s+summary\s+a sweep's results", result.stdout, re.MULTILINE)
