"""The sweep summary's rows: its numbers against statistics computed here from the raw
log points, grouping, sorting, failed and pending trials, and its reading of the folder."""

from __future__ import annotations

import csv
import statistics
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.sweeps.sweep_folders import FakeTrial, curve, write_sweep
from toolkit.base.errors import UsageError
from toolkit.sweeps.summary import summarize, write_summary

ITERATIONS = [0, 10, 20, 30]
LR = "optimizer.learning_rate"
ACT = "model.layers.0.activation"


def _raw(seed: int) -> dict[str, list[float]]:
    """Four log points of each metric, from a generator: numbers nobody chose."""
    rng = np.random.default_rng(seed)
    return {
        "loss": [float(v) for v in rng.uniform(0.1, 2.0, 4)],
        "accuracy": [float(v) for v in rng.uniform(0.2, 1.0, 4)],
        "test_loss": [float(v) for v in rng.uniform(0.1, 2.0, 4)],
        "test_accuracy": [float(v) for v in rng.uniform(0.2, 1.0, 4)],
    }


def _trial(values: dict[str, object], seed: int, status: str | None = "done") -> FakeTrial:
    raw = _raw(1000 * seed + zlib.crc32(repr(sorted(values.items())).encode()) % 997)
    return FakeTrial(values, seed, status, curve(ITERATIONS, **raw) if status else [])


def _grid(tmp_path: Path, seeds: int = 3) -> tuple[Path, list[FakeTrial]]:
    trials = [
        _trial({LR: lr, ACT: act}, seed)
        for lr in (0.01, 0.1)
        for act in ("sigmoid", "relu")
        for seed in range(seeds)
    ]
    return write_sweep(tmp_path / "sweep", trials), trials


def _values(trial: FakeTrial, metric: str) -> list[float]:
    return [record[metric] for record in trial.records]


def test_each_metric_final_and_best_mean_and_sample_std_match_statistics(tmp_path) -> None:
    """Per configuration: mean and stdev (n - 1) over its seeds of the last value and of
    the best one (min for a loss, max for an accuracy), as the statistics module gives."""
    folder, trials = _grid(tmp_path)
    rows = {(r.values[LR], r.values[ACT]): r for r in summarize(folder).rows}
    assert len(rows) == 4
    for (lr, act), row in rows.items():
        mine = [t for t in trials if t.values == {LR: lr, ACT: act}]
        assert row.done == 3 and row.failed == 0 and row.pending == 0
        for metric in ("loss", "accuracy", "test_loss", "test_accuracy"):
            finals = [_values(t, metric)[-1] for t in mine]
            pick = min if metric.endswith("loss") else max
            bests = [pick(_values(t, metric)) for t in mine]
            stat = row.stats[metric]
            assert stat.final_mean == pytest.approx(statistics.fmean(finals), rel=1e-12)
            assert stat.final_std == pytest.approx(statistics.stdev(finals), rel=1e-12)
            assert stat.best_mean == pytest.approx(statistics.fmean(bests), rel=1e-12)
            assert stat.best_std == pytest.approx(statistics.stdev(bests), rel=1e-12)
            assert stat.final_std != pytest.approx(statistics.pstdev(finals), rel=1e-6)


def test_best_of_a_loss_is_its_least_and_of_an_accuracy_its_greatest(tmp_path) -> None:
    """A loss that dips and rises again: its best is the dip, not where it ends; for an
    accuracy (any other name too) the best is the peak."""
    records = curve(
        ITERATIONS,
        loss=[2.0, 0.5, 0.9, 1.2],
        accuracy=[0.3, 0.8, 0.6, 0.7],
        margin=[1.0, 3.0, 2.0, 2.5],
    )
    folder = write_sweep(tmp_path / "s", [FakeTrial({LR: 0.1}, 0, "done", records)])
    stats = summarize(folder).rows[0].stats
    assert (stats["loss"].best_mean, stats["loss"].final_mean) == (0.5, 1.2)
    assert (stats["accuracy"].best_mean, stats["accuracy"].final_mean) == (0.8, 0.7)
    assert (stats["margin"].best_mean, stats["margin"].final_mean) == (3.0, 2.5)


def test_one_done_seed_has_no_std_and_an_empty_csv_cell(tmp_path) -> None:
    folder, _ = _grid(tmp_path, seeds=1)
    row = summarize(folder).rows[0]
    assert row.stats["loss"].final_std is None and row.stats["loss"].best_std is None
    write_summary(folder)
    with open(folder / "summary.csv", newline="") as file:
        line = next(csv.DictReader(file))
    assert line["loss_final_std"] == "" and line["loss_final_mean"] != ""


def test_failed_and_crashed_trials_are_counted_not_averaged(tmp_path) -> None:
    """A failed and a crashed trial (each with a metrics.jsonl from before they stopped)
    are counted as failed; the means are over the done trials only. Stopped and not run
    are pending."""
    values = {LR: 0.1}
    done = [_trial(values, seed) for seed in range(3)]
    failed, crashed = _trial(values, 3, "failed"), _trial(values, 4, "crashed")
    stopped, not_run = _trial(values, 5, "stopped"), _trial(values, 6, None)
    folder = write_sweep(tmp_path / "s", [*done, failed, crashed, stopped, not_run])
    row = summarize(folder).rows[0]
    assert (row.done, row.failed, row.pending) == (3, 2, 2)
    finals = [_values(t, "test_accuracy")[-1] for t in done]
    assert row.stats["test_accuracy"].final_mean == pytest.approx(statistics.fmean(finals))
    assert row.stats["test_accuracy"].final_std == pytest.approx(statistics.stdev(finals))


def test_a_trial_is_its_last_finished_record(tmp_path) -> None:
    """Crashed and then done (a retry): done. Done in its folder (params.npz) but never
    logged (the coordinator was killed in between): done."""
    trials = [_trial({LR: 0.1}, 0, "crashed"), _trial({LR: 0.1}, 1, None)]
    trials[1].records = curve(ITERATIONS, **_raw(7))
    retry = '{"event": "finished", "id": "id0", "status": "done", "exit": 0, "attempt": 2}'
    folder = write_sweep(tmp_path / "s", trials, extra_lines=[retry])
    assert summarize(folder).rows[0].done == 1  # the unlogged one has no params.npz yet
    (folder / "runs" / "001-trial" / "params.npz").write_bytes(b"")
    row = summarize(folder).rows[0]
    assert (row.done, row.failed, row.pending) == (2, 0, 0)


def test_rows_are_sorted_best_first_by_the_metric(tmp_path) -> None:
    """Default test_accuracy, higher first; --metric loss: lower first; a configuration
    with nothing done comes last."""
    folder, trials = _grid(tmp_path)
    write_sweep(folder, [*trials, _trial({LR: 1.0, ACT: "tanh"}, 0, None)])

    def means(metric: str) -> list[tuple[object, float]]:
        by_config: dict[tuple[object, ...], list[float]] = {}
        for t in trials:
            by_config.setdefault(tuple(t.values.values()), []).append(_values(t, metric)[-1])
        return [(k, statistics.fmean(v)) for k, v in by_config.items()]

    summary = summarize(folder)
    assert summary.metric == "test_accuracy"
    order = [tuple(r.values.values()) for r in summary.rows]
    expected = sorted(means("test_accuracy"), key=lambda kv: -kv[1])
    assert order == [k for k, _ in expected] + [(1.0, "tanh")]
    order = [tuple(r.values.values()) for r in summarize(folder, "loss").rows]
    assert order == [k for k, _ in sorted(means("loss"), key=lambda kv: kv[1])] + [(1.0, "tanh")]


@pytest.mark.parametrize(
    ("logged", "default"),
    [(("loss", "accuracy", "test_accuracy"), "test_accuracy"), (("loss", "accuracy"), "accuracy")],
)
def test_the_default_metric(tmp_path, logged: tuple[str, ...], default: str) -> None:
    raw = {name: [1.0, 0.5] for name in logged}
    folder = write_sweep(tmp_path / "s", [FakeTrial({LR: 0.1}, 0, "done", curve([0, 1], **raw))])
    assert summarize(folder).metric == default


def test_by_groups_every_trial_with_that_value(tmp_path) -> None:
    """--by activation: one row per activation, over both learning rates and all seeds."""
    folder, trials = _grid(tmp_path)
    summary = summarize(folder, by=ACT)
    assert summary.keys == (ACT,)
    assert sorted(r.values[ACT] for r in summary.rows) == ["relu", "sigmoid"]
    for row in summary.rows:
        mine = [t for t in trials if t.values[ACT] == row.values[ACT]]
        finals = [_values(t, "loss")[-1] for t in mine]
        assert row.done == 6
        assert row.stats["loss"].final_mean == pytest.approx(statistics.fmean(finals))
        assert row.stats["loss"].final_std == pytest.approx(statistics.stdev(finals))


def test_values_that_yaml_tells_apart_are_apart(tmp_path) -> None:
    """--by groups 1 and 1.0 and true as three values, as the spec would read them."""
    trials = [_trial({"model.x": v}, 0) for v in (1, 1.0, True, 1)]
    for index, trial in enumerate(trials):
        trial.config = index
    folder = write_sweep(tmp_path / "s", trials)
    assert sorted(r.done for r in summarize(folder, by="model.x").rows) == [1, 1, 2]


def test_an_unknown_metric_names_the_logged_ones(tmp_path) -> None:
    folder, _ = _grid(tmp_path)
    with pytest.raises(UsageError, match=r"did you mean 'test_accuracy'.*loss, accuracy,"):
        summarize(folder, "test_acc")


def test_by_a_key_not_swept_names_the_swept_ones(tmp_path) -> None:
    folder, _ = _grid(tmp_path)
    with pytest.raises(UsageError, match=f"--by seed: .*the swept keys are: {LR}, {ACT}"):
        summarize(folder, by="seed")


def test_not_a_sweep_folder_is_one_line(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "trials.jsonl").write_text("")
    for name, says in [
        ("missing", "no such folder"),
        ("file", "not a folder"),
        ("empty", "no trials.jsonl"),
        ("blank", "no trial planned"),
    ]:
        with pytest.raises(UsageError, match=says) as caught:
            summarize(tmp_path / name)
        assert "\n" not in str(caught.value)


def test_a_cut_off_last_line_is_skipped_and_a_bad_one_is_located(tmp_path) -> None:
    folder, _ = _grid(tmp_path)
    log = folder / "trials.jsonl"
    whole = log.read_text()
    log.write_text(whole + '{"event": "finished", "id": "id0", "sta')
    assert summarize(folder).rows[0].done == 3
    lines = whole.splitlines()
    log.write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    with pytest.raises(UsageError, match=r"trials.jsonl, line 2: not a JSON record"):
        summarize(folder)


def test_a_running_sweep_counts_what_is_done(tmp_path) -> None:
    """Nothing done yet: rows with counts only, no metric; write_summary still writes."""
    folder = write_sweep(tmp_path / "s", [_trial({LR: lr}, 0, None) for lr in (0.1, 0.2)])
    summary = summarize(folder)
    assert summary.metric is None and summary.metrics == ()
    assert [(r.done, r.pending) for r in summary.rows] == [(0, 1), (0, 1)]
    write_summary(folder)
    header = (folder / "summary.csv").read_text().splitlines()[0]
    assert header == f"{LR},done,failed,pending"


def test_summary_csv_has_a_readable_header_and_full_precision(tmp_path) -> None:
    folder, trials = _grid(tmp_path)
    written = write_summary(folder)
    assert written[0] == folder / "summary.csv"
    with open(folder / "summary.csv", newline="") as file:
        lines = list(csv.DictReader(file))
    assert list(lines[0])[:9] == [
        LR,
        ACT,
        "done",
        "failed",
        "pending",
        "loss_final_mean",
        "loss_final_std",
        "loss_best_mean",
        "loss_best_std",
    ]
    first = lines[0]
    mine = [t for t in trials if t.values == {LR: float(first[LR]), ACT: first[ACT]}]
    finals = [_values(t, "test_accuracy")[-1] for t in mine]
    assert float(first["test_accuracy_final_mean"]) == pytest.approx(statistics.fmean(finals))
    assert float(first["test_accuracy_final_mean"]) == max(
        float(line["test_accuracy_final_mean"]) for line in lines
    )
    assert not list(folder.glob(".summary*.tmp"))


def test_real_runs_are_read_as_train_wrote_them(tmp_path, run_cli) -> None:
    """Two trials trained by toolkit train into a sweep's run folders: the summary's final
    loss is the last line of each metrics.jsonl as json reads it."""
    import json

    from tests.helpers import SPECS

    trials = [FakeTrial({"optimizer.learning_rate": lr}, 0, "done") for lr in (0.1, 0.5)]
    folder = write_sweep(tmp_path / "s", trials)
    for index, trial in enumerate(trials):
        result = run_cli(
            "train",
            str(SPECS / "two_layer_teacher.yaml"),
            "--set",
            f"optimizer.learning_rate={trial.values[LR]}",
            "--set",
            "train.iterations=6",
            "--set",
            "train.log_every=2",
            "--out",
            str(folder / "runs" / f"{index:03d}-trial"),
        )
        assert result.returncode == 0, result.stderr
    rows = summarize(folder, "loss").rows
    for row in rows:
        index = [t.values[LR] for t in trials].index(row.values[LR])
        text = (folder / "runs" / f"{index:03d}-trial" / "metrics.jsonl").read_text()
        last = json.loads(text.splitlines()[-1])
        assert row.stats["loss"].final_mean == last["loss"]
        assert row.stats["test_accuracy"].final_mean == last["test_accuracy"]
