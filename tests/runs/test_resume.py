"""Run folders from Python: resuming (what a folder continues from, refused before anything
is written), a run already at its end, a new run's folder, and drawing into a run's folder
under its lock. ``toolkit train`` and ``toolkit plot`` are these calls plus their printing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SPECS
from toolkit import load_spec
from toolkit.base.errors import UsageError
from toolkit.base.lock import FolderLock
from toolkit.cli import main
from toolkit.runs.checkpoint import load_checkpoint
from toolkit.runs.plot import plot_folder
from toolkit.runs.resume import Resumption, finish, prepare_resume, resumable
from toolkit.runs.rundir import RunDirectory
from toolkit.spec.load import Spec

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
SETTINGS = (
    "train.iterations=6",
    "train.checkpoint_every=3",
    "train.log_every=3",
    "gradient=backprop",
)


def _load(path: Path, overrides: Sequence[str]) -> Spec:
    return load_spec(path, overrides)


def _prepared(run: Path, overrides: Sequence[str] = ()) -> Resumption:
    """prepare_resume as toolkit train --resume calls it: holding the folder's lock."""
    out = resumable(run)
    with out.locked():
        return prepare_resume(out, _load, overrides)


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A finished six-iteration run, checkpointed at 3 and 6, written by toolkit train."""
    folder = tmp_path / "run"
    sets = [word for setting in SETTINGS for word in ("--set", setting)]
    assert main(["train", str(SIGMOID), *sets, "--out", str(folder), "-q"]) == 0
    capsys.readouterr()
    return folder


def test_a_longer_run_resumes_from_the_last_checkpoint(run: Path) -> None:
    """--set train.iterations=9 on a run checkpointed at 6: on from 6 to 9, a longer spec."""
    resumption = _prepared(run, ["train.iterations=9"])
    assert (resumption.checkpoint.iteration, resumption.total) == (6, 9)
    assert resumption.extended and not resumption.finished
    assert resumption.spec.config["train"]["iterations"] == 9
    assert load_spec(run / "spec.yaml").config["train"]["iterations"] == 6  # nothing written


def test_a_run_at_its_end_is_finished(run: Path) -> None:
    resumption = _prepared(run)
    assert (resumption.checkpoint.iteration, resumption.total) == (6, 6)
    assert resumption.finished and not resumption.extended


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        (["optimizer.learning_rate=0.5"], "may change only train.iterations"),
        (["train.iterations=5"], "is already at iteration 6; give at least that many"),
    ],
)
def test_other_settings_or_a_shorter_run_are_refused(
    run: Path, overrides: list[str], refusal: str
) -> None:
    before = {path.name: path.read_bytes() for path in run.iterdir()}
    with pytest.raises(UsageError, match=refusal):
        prepare_resume(resumable(run), _load, overrides)
    assert {path.name: path.read_bytes() for path in run.iterdir()} == before


def test_a_path_that_is_no_folder_is_not_resumable(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        resumable(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_finishing_writes_the_last_checkpoints_params_once(run: Path) -> None:
    """A kill after the last checkpoint leaves no params.npz: finishing writes the
    checkpoint's parameters there, and a second call leaves the file alone."""
    expected = load_checkpoint(run / "checkpoint.npz").params
    (run / "params.npz").unlink()
    out = resumable(run)
    with out.locked():  # as toolkit train --resume holds it
        assert finish(out, prepare_resume(out, _load)) is True
    with np.load(run / "params.npz") as written:
        assert sorted(written.files) == sorted(expected)
        for name, value in expected.items():
            assert np.array_equal(written[name], value)
    written_at = (run / "params.npz").stat().st_mtime_ns
    with out.locked():
        assert finish(out, prepare_resume(out, _load)) is False
    assert (run / "params.npz").stat().st_mtime_ns == written_at


def test_a_folder_holding_a_run_is_not_claimed_for_another(run: Path) -> None:
    before = {path.name: path.read_bytes() for path in run.iterdir()}
    with (
        pytest.raises(UsageError, match="already holds a run"),
        RunDirectory(run).claimed(load_spec(SIGMOID)),
    ):
        pytest.fail("the block ran for a folder that holds a run")
    assert {path.name: path.read_bytes() for path in run.iterdir()} == before


def test_a_claimed_folder_that_got_nothing_goes_again(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError), RunDirectory(folder).claimed(load_spec(SIGMOID)):
        assert folder.is_dir()
        raise RuntimeError("refused before anything was written")
    assert list(tmp_path.iterdir()) == []


def test_drawing_into_a_run_waits_for_no_writer(run: Path, tmp_path: Path) -> None:
    """While another holds the run's lock, its own curves.png is refused; a picture
    elsewhere is drawn."""
    holder = FolderLock(run)
    holder.acquire()
    try:
        with pytest.raises(UsageError, match="is in use by process"):
            plot_folder(run)
        elsewhere = tmp_path / "curves.png"
        assert plot_folder(run, elsewhere) == elsewhere
        assert elsewhere.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    finally:
        holder.release()
    assert plot_folder(run) == run / "curves.png"
