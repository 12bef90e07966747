"""Runs are pinned to the files they read: inputs.json records each file's path, size and
SHA-256; resume, evaluate, predict and ``toolkit.load_run`` refuse a file gone or changed."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import toolkit
import toolkit.cli
from tests.helpers import call_toolkit

SPEC = """\
seed: 3
data: {name: npz, path: data.npz}
model:
  layers:
    - {units: 5, activation: sigmoid}
    - {units: 3, activation: softmax}
optimizer: {name: sgd, learning_rate: 0.5}
train: {iterations: 20, batch_size: 10, checkpoint_every: 10}
"""


def _save_data(path: Path, shift: float = 0.0) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)) + shift
    np.savez(path, x=x, t=np.eye(3)[rng.integers(0, 3, 40)])


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A finished 10-iteration run of SPEC on tmp_path/data.npz, in tmp_path/run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(SPEC)
    _save_data(tmp_path / "data.npz")
    _save_data(tmp_path / "other.npz", shift=1.0)
    argv = ["train", "spec.yaml", "--out", "run", "-q", "--set", "train.iterations=10"]
    assert toolkit.cli.main(argv) == 0
    capsys.readouterr()
    return tmp_path / "run"


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = toolkit.cli.main(list(argv))
    return code, capsys.readouterr().err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_the_run_records_every_file_it_read_with_its_digest(run: Path) -> None:
    data = run.parent / "data.npz"
    recorded = json.loads((run / "inputs.json").read_text())
    assert recorded == {
        "data.path": {
            "path": str(data),
            "bytes": len(data.read_bytes()),
            "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        }
    }


def test_a_run_on_drawn_data_records_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "two_layer_sigmoid", "--out", str(tmp_path / "r"), "-q"]
    assert toolkit.cli.main([*argv, "--set", "train.iterations=2"]) == 0
    assert json.loads((tmp_path / "r" / "inputs.json").read_text()) == {}


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--resume", "run", "--set", "train.iterations=20"],
        ["evaluate", "run"],
        ["predict", "run", "--input", "other.npz"],
    ],
    ids=["resume", "evaluate", "predict"],
)
def test_a_changed_data_file_is_refused_naming_it(
    run: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    before = _snapshot(run)
    _save_data(run.parent / "data.npz", shift=2.0)  # same size, other numbers
    code, err = _main(capsys, *command)
    assert code == 2
    assert err.count("\n") == 1, err
    assert f"{run.parent / 'data.npz'}" in err and "has changed" in err and "data.path" in err
    assert _snapshot(run) == before  # nothing of the run was written


@pytest.mark.parametrize("command", [["train", "--resume", "run"], ["evaluate", "run"]])
def test_a_data_file_that_is_gone_is_refused_naming_it(
    run: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    (run.parent / "data.npz").unlink()
    code, err = _main(capsys, *command)
    assert (code, err.count("\n")) == (2, 1), err
    assert f"{run.parent / 'data.npz'}, is gone" in err


def test_a_folder_in_place_of_the_data_file_is_refused(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run.parent / "data.npz").unlink()
    (run.parent / "data.npz").mkdir()
    code, err = _main(capsys, "evaluate", "run")
    assert (code, err.count("\n")) == (2, 1), err
    assert "not a regular file" in err


def test_a_spec_yaml_edited_to_name_other_data_is_refused(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = run / "spec.yaml"
    spec.write_text(spec.read_text().replace("data.npz", "other.npz"))
    code, err = _main(capsys, "evaluate", "run")
    assert (code, err.count("\n")) == (2, 1), err
    assert "names" in err and "other.npz" in err and "data.npz" in err


def test_unchanged_data_is_used(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _main(capsys, "train", "--resume", "run", "--set", "train.iterations=20", "-q")
    assert (code, err) == (0, "")
    assert _main(capsys, "evaluate", "run") == (0, "")


def test_evaluate_data_may_name_another_file(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = toolkit.cli.main(["evaluate", "run", "--data", "other.npz"])
    assert code == 0
    assert "data: loss" in capsys.readouterr().out


def test_load_run_refuses_changed_data(run: Path) -> None:
    _save_data(run.parent / "data.npz", shift=2.0)
    with pytest.raises(toolkit.UsageError, match="has changed"):
        toolkit.load_run(run)


def test_a_damaged_record_is_refused(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run / "inputs.json").write_text('{"data.path": {"path": 3}}')
    code, err = _main(capsys, "evaluate", "run")
    assert (code, err.count("\n")) == (2, 1), err
    assert "inputs.json: damaged" in err


def test_a_run_from_before_the_record_gets_a_notice(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run / "inputs.json").unlink()
    with warnings.catch_warnings():  # as the command shows it: a note: line
        warnings.simplefilter("always", toolkit.ToolkitNotice)
        code, err = _main(capsys, "evaluate", "run")
    assert code == 0
    assert err.startswith("note: ") and "cannot check" in err and "data.npz" in err


def test_resuming_from_another_folder_reads_the_run_s_own_data(tmp_path: Path) -> None:
    """The issue's reproduction: a different data.npz in the current folder of the resume
    changes nothing; the resumed run ends with the uninterrupted run's parameters."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / "spec.yaml").write_text(SPEC)
    _save_data(home / "data.npz")
    _save_data(elsewhere / "data.npz", shift=1.0)

    def toolkit_in(folder: Path, *argv: str) -> None:
        done = call_toolkit(*argv, "-q", cwd=folder)
        assert done.returncode == 0, done.stderr

    toolkit_in(home, "train", "spec.yaml", "--out", "whole")
    toolkit_in(home, "train", "spec.yaml", "--out", "parted", "--set", "train.iterations=10")
    toolkit_in(elsewhere, "train", "--resume", str(home / "parted"), "--set", "train.iterations=20")
    with (
        np.load(home / "whole" / "params.npz") as whole,
        np.load(home / "parted" / "params.npz") as parted,
    ):
        assert sorted(whole.files) == sorted(parted.files)
        for name in whole.files:
            np.testing.assert_array_equal(whole[name], parted[name])
