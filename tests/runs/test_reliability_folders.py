"""Run folders: one writer at a time (a lock a killed process does not leave held), a run's
own files never written over by predict or plot, no output file replaced without --force,
only the toolkit's own temporary files cleaned up, and no empty --out taken as none."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import toolkit
import toolkit.cli.train
from tests.helpers import SPECS, _toolkit_command, memory_cap
from toolkit.base.errors import UsageError
from toolkit.base.lock import LOCK_NAME, FolderLock
from toolkit.cli import main
from toolkit.runs.checkpoint import load_checkpoint
from toolkit.runs.rundir import write_atomically

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN_FILES = {
    "spec.yaml",
    "inputs.json",
    "metrics.jsonl",
    "checkpoint.npz",
    "params.npz",
    "curves.png",
}
SHORT = ("train.iterations=20", "train.log_every=5", "train.checkpoint_every=5")
SLOW = (  # about 45 ms an iteration: a run that stays alive while others try its folder
    "gradient.name=central_difference_loop",
    "train.iterations=100",
    "train.log_every=5",
    "train.checkpoint_every=5",
)
MEMORY_CAP = 2 * 1024**3


def _sets(overrides: tuple[str, ...]) -> list[str]:
    return [word for override in overrides for word in ("--set", override)]


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """The installed ``toolkit`` command, started (not waited for), memory capped."""
    environment = {key: value for key, value in os.environ.items() if key != "TOOLKIT_DEBUG"}
    return subprocess.Popen(
        [_toolkit_command(), *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=memory_cap(MEMORY_CAP),
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as file:
        return {key: file[key] for key in file.files}


def _reference_params(overrides: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The parameters of the same spec trained in this process, without a folder."""
    result = toolkit.train(toolkit.load_spec(SIGMOID, list(overrides)))
    return {name: np.asarray(value) for name, value in result.network.params.items()}


def _assert_whole_run(folder: Path, overrides: tuple[str, ...], params: dict[str, Any]) -> None:
    """Every file of a finished run is there and whole, and nothing else is left."""
    assert {path.name for path in folder.iterdir()} == RUN_FILES
    config = toolkit.load_spec(SIGMOID, list(overrides)).config
    assert yaml.safe_load((folder / "spec.yaml").read_text()) == config
    total, every = config["train"]["iterations"], config["train"]["log_every"]
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [0, *range(every, total + 1, every)]
    assert load_checkpoint(folder / "checkpoint.npz").iteration == total
    saved = _npz(folder / "params.npz")
    assert sorted(saved) == sorted(params)
    for name in params:
        assert np.array_equal(saved[name], params[name]), name
    assert (folder / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


def _one_error(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def _in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(args)`` in this process: its exit code, standard output and error."""
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _wait_for(condition: Any, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short finished run folder, to copy."""
    folder = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", str(SIGMOID), *_sets(SHORT), "--out", str(folder), "-q"]) == 0
    return folder


@pytest.fixture
def run(finished_run: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(finished_run, folder)
    return folder


# ------------------------------------------------------------------------------ the lock


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    """The lock file holds the holder's process id; a second lock (even in the same process)
    is refused in one line naming it; releasing removes the file and frees the folder."""
    first, second = FolderLock(tmp_path), FolderLock(tmp_path)
    first.acquire()
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    with pytest.raises(UsageError) as refused:
        second.acquire()
    assert str(refused.value) == (
        f"{tmp_path} is in use by process {os.getpid()}; wait for it to finish or stop it, "
        "then try again"
    )
    first.release()
    assert not (tmp_path / LOCK_NAME).exists()
    second.acquire()
    second.release()


def test_a_killed_holder_leaves_the_lock_free(tmp_path: Path) -> None:
    """kill -9 of the holder: its lock file stays, naming it, but the next command takes it."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from toolkit.base.lock import FolderLock; "
            "FolderLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(120)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=memory_cap(MEMORY_CAP),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(UsageError, match=f"in use by process {holder.pid};"):
            FolderLock(tmp_path).acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert (tmp_path / LOCK_NAME).read_text() == f"{holder.pid}\n"  # left, but not held
    lock = FolderLock(tmp_path)
    lock.acquire()
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    lock.release()


ROUNDS = 8


@pytest.mark.long
def test_two_trains_on_a_new_folder_exactly_one_proceeds(tmp_path: Path) -> None:
    """Two ``train --out D`` started together on a new D, many times: each time exactly one
    proceeds and ends with every file of its run whole (its parameters those of the same
    spec trained without a folder); the other is refused in one line, writing nothing."""
    expected = _reference_params(SHORT)
    command = ["train", str(SIGMOID), *_sets(SHORT), "-q", "--out"]
    overlapped = 0
    for round_ in range(ROUNDS):
        folder = tmp_path / f"race{round_}"
        both = [_start([*command, folder.name], tmp_path) for _ in range(2)]
        results = [_finish(process) for process in both]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 2], results
        winner, loser = (0, 1) if results[0][0] == 0 else (1, 0)
        error = _one_error(results[loser][2])
        in_use = f"error: {folder.name} is in use by process {both[winner].pid}; wait for it"
        after = f"error: output folder {folder.name} already holds a run"  # it came too late
        assert error.startswith((in_use, after)), error
        overlapped += error.startswith(in_use)
        assert results[loser][1] == ""
        assert results[winner][2] == "", results[winner][2]
        _assert_whole_run(folder, SHORT, expected)
    assert overlapped, "the two commands never ran at the same time: nothing was raced"


@pytest.mark.long
def test_commands_on_a_live_run_are_refused_and_it_finishes_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While a run writes its folder, --resume, train --out and plot on it are refused in
    one line naming the run's process id and touch nothing (not even a temporary file named
    as the run names them); the run then finishes with every file whole."""
    folder = tmp_path / "live"
    live = _start(["train", str(SIGMOID), *_sets(SLOW), "-q", "--out", str(folder)], tmp_path)
    try:
        _wait_for((folder / "checkpoint.npz").exists, live, "a first checkpoint")
        planted = folder / ".params.npz.a1b2c3d4.tmp"  # as if the live run were writing it
        planted.write_bytes(b"half")
        in_use = f"error: {folder} is in use by process {live.pid}; wait for it to finish"

        resume = _finish(_start(["train", "--resume", str(folder)], tmp_path))
        assert resume[0] == 2 and resume[1] == "", resume
        assert _one_error(resume[2]).startswith(in_use)
        assert planted.read_bytes() == b"half"
        for args in (
            ["train", str(SIGMOID), *_sets(SLOW), "--out", str(folder)],
            ["plot", str(folder)],
        ):
            code, stdout, stderr = _in_process(args, capsys)
            assert code == 2 and stdout == "", args
            assert _one_error(stderr).startswith(in_use), stderr
        assert live.poll() is None, "the run ended before the others were refused: make it longer"
        planted.unlink()
    finally:
        code, _, stderr = _finish(live)
    assert code == 0, stderr
    _assert_whole_run(folder, SLOW, _reference_params(SLOW))


# ------------------------------------------------------------------- temporary files


def test_a_resume_removes_only_the_toolkits_temporary_files(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Temporary files named as the run writes them (``.params.npz.<random>.tmp``) go on
    resume; a user's ``.notes.tmp`` (or any other name) stays, byte for byte."""
    ours = [run / ".params.npz.k3j4h5g6.tmp", run / ".metrics.jsonl.x_9y8z7w6.tmp"]
    users = [run / ".notes.tmp", run / ".params.tmp", run / ".draft.npz.k3j4h5g6.tmp"]
    for path in [*ours, *users]:
        path.write_text(f"kept? {path.name}")
    code, _, stderr = _in_process(
        ["train", "--resume", str(run), "--set", "train.iterations=25", "-q"], capsys
    )
    assert code == 0, stderr
    assert not any(path.exists() for path in ours)
    assert [path.read_text() for path in users] == [f"kept? {path.name}" for path in users]
    assert not (run / LOCK_NAME).exists()


def test_a_train_refused_after_taking_the_lock_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The new folder (and parents) created to be locked go again if the run wrote nothing."""

    def refused(*_: object, **__: object) -> None:
        raise UsageError("refused before the run started")

    monkeypatch.setattr(toolkit.cli.train, "train_in_folder", refused)
    code, stdout, stderr = _in_process(["train", "--out", str(tmp_path / "new" / "run")], capsys)
    assert (code, stdout, stderr) == (2, "", "error: refused before the run started\n")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ predict


def _inputs(run: Path, folder: Path) -> Path:
    features = _npz(run / "params.npz")["W1"].shape[0]
    path = folder / "inputs.npz"
    np.savez(path, x=np.random.default_rng(3).standard_normal((3, features)))
    return path


def test_predict_never_writes_over_a_runs_files(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out naming a run's file, however it is spelled (``RUN/./spec.yaml``, a symbolic
    link, a hard link) or into another run's folder: refused in one line, even with --force,
    and every file of both runs is as it was."""
    inputs = _inputs(run, tmp_path)
    other = tmp_path / "other"
    shutil.copytree(run, other)
    (tmp_path / "symlink.npz").symlink_to(run / "metrics.jsonl")
    os.link(run / "checkpoint.npz", tmp_path / "hardlink.npz")
    before = _snapshot(run), _snapshot(other)
    outs = [
        run / "params.npz",
        f"{run}/./spec.yaml",
        run / "curves.png",
        tmp_path / "symlink.npz",
        tmp_path / "hardlink.npz",
        other / "params.npz",
    ]
    for out in outs:
        for force in ([], ["--force"]):
            args = ["predict", str(run), "--input", str(inputs), "--out", str(out), *force]
            code, stdout, stderr = _in_process(args, capsys)
            assert (code, stdout) == (2, ""), args
            assert "that is the run's own" in _one_error(stderr), stderr
    assert (_snapshot(run), _snapshot(other)) == before


def test_predict_replaces_an_existing_file_only_with_force(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _inputs(run, tmp_path)
    taken = tmp_path / "taken.npz"
    taken.write_bytes(b"mine")
    args = ["predict", str(run), "--input", str(inputs), "--out", str(taken)]
    code, stdout, stderr = _in_process(args, capsys)
    assert (code, stdout) == (2, "")
    assert _one_error(stderr) == (
        f"error: {taken} already exists; give another file name, or add --force to replace it"
    )
    assert taken.read_bytes() == b"mine"

    code, stdout, stderr = _in_process([*args, "--force"], capsys)
    assert code == 0, stderr
    written = _npz(taken)
    assert sorted(written) == ["classes", "y"] and written["classes"].shape == (3,)


def test_predict_writes_atomically(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A disk that fills up while --force replaces a file: exit 1 in one line naming it; the
    old file is whole under its name and no temporary file is left."""
    inputs = _inputs(run, tmp_path)
    taken = tmp_path / "taken.npz"
    taken.write_bytes(b"mine")

    def full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    args = ["predict", str(run), "--input", str(inputs), "--out", str(taken), "--force"]
    code, _, stderr = _in_process(args, capsys)
    assert code == 1
    assert _one_error(stderr).startswith(f"error: {taken}: cannot write (No space left")
    assert taken.read_bytes() == b"mine"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "inputs.npz",
        "run",
        "taken.npz",
    ]


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    """Without replacing, the last step fails if the name was taken after it was checked."""
    target = tmp_path / "out.npz"
    target.write_bytes(b"theirs")
    with pytest.raises(UsageError, match=r"out\.npz already exists; .* add --force"):
        write_atomically(target, lambda file: file.write(b"ours"), replace=False)
    assert target.read_bytes() == b"theirs"
    assert [path.name for path in tmp_path.iterdir()] == ["out.npz"]
    write_atomically(tmp_path / "new.npz", lambda file: file.write(b"ours"), replace=False)
    assert (tmp_path / "new.npz").read_bytes() == b"ours"


# ------------------------------------------------------------------------------- plot


def test_plot_does_not_replace_a_curves_png_in_a_folder_that_holds_no_run(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder with a metrics.jsonl but no run (no spec.yaml): its curves.png is the user's;
    refused in one line unless --force. Where there is none yet, plot may draw one."""
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(run / "metrics.jsonl", folder / "metrics.jsonl")
    (folder / "curves.png").write_bytes(b"my drawing")
    code, stdout, stderr = _in_process(["plot", str(folder)], capsys)
    assert (code, stdout) == (2, "")
    assert "holds no run" in _one_error(stderr) and "--force" in stderr
    assert (folder / "curves.png").read_bytes() == b"my drawing"

    assert _in_process(["plot", str(folder), "--force"], capsys)[0] == 0
    assert (folder / "curves.png").read_bytes().startswith(PNG_SIGNATURE)
    (folder / "curves.png").unlink()
    assert _in_process(["plot", str(folder)], capsys)[0] == 0
    assert (folder / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


def test_plot_out_replaces_only_with_force_and_never_a_runs_file(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    shutil.copytree(run, other)
    before = _snapshot(other)
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"mine")
    code, stdout, stderr = _in_process(["plot", str(run), "--out", str(taken)], capsys)
    assert (code, stdout) == (2, "")
    assert "already exists" in _one_error(stderr)
    assert taken.read_bytes() == b"mine"
    assert _in_process(["plot", str(run), "--out", str(taken), "--force"], capsys)[0] == 0
    assert taken.read_bytes().startswith(PNG_SIGNATURE)

    for force in ([], ["--force"]):
        args = ["plot", str(run), "--out", str(other / "curves.png"), *force]
        code, stdout, stderr = _in_process(args, capsys)
        assert (code, stdout) == (2, "")
        assert "that is the run's own curves.png" in _one_error(stderr)
    assert _snapshot(other) == before
    # The run's own curves.png, however it is spelled, is the run's to redraw.
    (run / "curves.png").unlink()
    assert _in_process(["plot", str(run), "--out", f"{run}/./curves.png"], capsys)[0] == 0
    assert (run / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


# ------------------------------------------------------------------------ --out ''


def test_an_empty_out_is_refused_not_taken_as_none(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out ''`` names nothing: one line, exit 2, nothing trained, printed or written."""
    inputs = _inputs(run, tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir()), _snapshot(run)
    for args in (
        ["train", *_sets(SHORT), "--out", ""],
        ["train", "--resume", ""],
        ["train", "--resume", str(run), "--out", ""],
        ["predict", str(run), "--input", str(inputs), "--out", ""],
        ["plot", str(run), "--out", ""],
    ):
        code, stdout, stderr = _in_process(args, capsys)
        assert (code, stdout) == (2, ""), args
        assert "''" in _one_error(stderr) or "drop the spec and --out" in stderr, stderr
    assert (sorted(tmp_path.iterdir()), _snapshot(run)) == before
