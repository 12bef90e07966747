"""``toolkit sweep`` as a user runs it: a real local pool of 2 workers, a kill -9 of the
coordinator and its workers then ``--resume``, Ctrl-C, and the exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tests.helpers import SPECS, _toolkit_command
from tests.sweeps.fakes import FakeWorker, SyncExecutor, make_trials
from toolkit.cli import sweep as command
from toolkit.sweeps.coordinator import Coordinator
from toolkit.sweeps.folder import SweepFolder

TEACHER = SPECS / "two_layer_teacher.yaml"
LONG = [
    "--grid",
    "optimizer.learning_rate=0.1,0.2,0.3",
    "--seeds",
    "2",
    "--set",
    "train.iterations=3000",
    "--set",
    "train.checkpoint_every=250",
    "--set",
    "train.log_every=250",
    "--workers",
    "2",
]
"""Six trials of about a second each: long enough to be stopped while they run."""


def sweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``toolkit sweep ...`` as a real process."""
    return toolkit("sweep", *args, cwd=cwd)


def toolkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``toolkit ...`` as a real process."""
    return subprocess.run(
        [_toolkit_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "TOOLKIT_DEBUG"},
    )


def started(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``toolkit sweep ...`` started in a process group of its own (its workers in it)."""
    return subprocess.Popen(
        [_toolkit_command(), "sweep", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "TOOLKIT_DEBUG"},
    )


def finished_records(folder: Path) -> list[dict[str, Any]]:
    try:
        lines = (folder / "trials.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # being written
            continue
    return [r for r in records if r.get("event") == "finished"]


def wait_for_a_finished_trial(folder: Path, process: subprocess.Popen[str]) -> None:
    """Until the first trial is logged finished (the sweep still running)."""
    deadline = time.monotonic() + 120
    while not finished_records(folder):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no trial finished in 2 minutes"
        time.sleep(0.05)


def runs(folder: Path) -> dict[str, tuple[dict[str, bytes], list[dict[str, Any]]]]:
    """Each trial's parameters (as bytes) and metrics (less wall-clock seconds)."""
    found = {}
    for run in sorted((folder / "runs").iterdir()):
        with np.load(run / "params.npz") as saved:
            params = {name: saved[name].tobytes() for name in saved.files}
        lines = (run / "metrics.jsonl").read_text().splitlines()
        metrics = [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in lines]
        found[run.name] = (params, metrics)
    return found


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The long sweep, run to its end without interruption."""
    cwd = tmp_path_factory.mktemp("uninterrupted")
    done = sweep(str(TEACHER), *LONG, "-q", "--out", "sweep", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return cwd / "sweep"


@pytest.mark.process
@pytest.mark.long
def test_a_local_pool_runs_every_trial(tmp_path: Path) -> None:
    """Four short trials on 2 workers: a line for each, a final line, exit 0; each trial
    is a run folder with the numbers ``toolkit train`` gives it."""
    done = sweep(
        str(TEACHER),
        "--grid",
        "optimizer.learning_rate=0.1,0.2",
        "--seed-list",
        "0,5",
        "--set",
        "train.iterations=30",
        "--workers",
        "2",
        "--out",
        "sweep",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(": done in " in line for line in lines) == 4
    assert lines[-1].startswith("4 trials: 4 done, 0 failed in ")
    folders = sorted((tmp_path / "sweep" / "runs").iterdir())
    assert len(folders) == 4 and all((f / "params.npz").exists() for f in folders)
    assert not any((f / "curves.png").exists() for f in folders)
    sets = ["train.iterations=30", "optimizer.learning_rate=0.2", "seed=5"]
    trained = toolkit(
        "train", str(TEACHER), "-q", "--out", "alone", *(f"--set={o}" for o in sets), cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    (trial,) = [f for f in folders if "learning_rate=0.2" in f.name and "seed=5" in f.name]
    with np.load(trial / "params.npz") as ours, np.load(tmp_path / "alone" / "params.npz") as ref:
        assert all(ours[n].tobytes() == ref[n].tobytes() for n in ref.files)


@pytest.mark.process
@pytest.mark.long
def test_a_kill_9_then_resume_gives_the_uninterrupted_numbers(
    tmp_path: Path, uninterrupted: Path
) -> None:
    """The coordinator and its workers killed (-9) once a trial is done: ``--resume``
    finishes the sweep, every trial bit for bit as in the uninterrupted sweep."""
    process = started(str(TEACHER), *LONG, "-q", "--out", "sweep", cwd=tmp_path)
    try:
        wait_for_a_finished_trial(tmp_path / "sweep", process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert len(finished_records(tmp_path / "sweep")) < 6
    resumed = sweep("--resume", "sweep", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[-1].startswith("6 trials: 6 done, 0 failed in ")
    assert runs(tmp_path / "sweep") == runs(uninterrupted)


@pytest.mark.process
@pytest.mark.long
def test_ctrl_c_prints_the_resume_command_and_the_resume_finishes_the_same(
    tmp_path: Path, uninterrupted: Path
) -> None:
    """SIGINT to the coordinator once a trial is done: the running trials stop with a
    checkpoint, the resume command is printed, exit 130; the resume finishes the sweep
    with the uninterrupted numbers."""
    process = started(str(TEACHER), *LONG, "-q", "--out", "sweep", cwd=tmp_path)
    wait_for_a_finished_trial(tmp_path / "sweep", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.splitlines()[-1] == "interrupted; continue with: toolkit sweep --resume sweep"
    assert (tmp_path / "sweep" / "stop").exists()
    statuses = {r["status"] for r in finished_records(tmp_path / "sweep")}
    assert statuses <= {"done", "stopped"}
    resumed = sweep("--resume", "sweep", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert not (tmp_path / "sweep" / "stop").exists()
    assert runs(tmp_path / "sweep") == runs(uninterrupted)


def test_a_bad_grid_value_is_exit_2_and_nothing_is_created(run_cli: Any, tmp_path: Path) -> None:
    done = run_cli(
        "sweep",
        str(TEACHER),
        "--grid",
        "optimizer.learning_rate=0.1,fast",
        "--out",
        "sweep",
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and "--grid optimizer.learning_rate=0.1,fast" in line
    assert "learning_rate" in line and "'fast'" in line
    assert not (tmp_path / "sweep").exists()


@pytest.mark.process
def test_a_failed_trial_is_exit_1_and_the_others_are_done(tmp_path: Path) -> None:
    """A learning rate that makes the parameters infinite fails its trial (exit 1, one
    line); the other trial is done; the sweep exits 1."""
    done = sweep(
        str(SPECS / "two_layer_sigmoid.yaml"),
        "--grid",
        "optimizer.learning_rate=0.1,1.0e+308",
        "--set",
        "train.iterations=12",
        "--workers",
        "2",
        "--out",
        "sweep",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    (failed,) = [line for line in done.stdout.splitlines() if ": failed" in line]
    assert "(exit 1)" in failed and "nan or infinite" in failed
    assert done.stdout.splitlines()[-1].startswith("2 trials: 1 done, 1 failed in ")


class FakeBar:
    """Records what the sweep's bar is asked to show."""

    made: ClassVar[list[FakeBar]] = []

    def __init__(self, **given: Any) -> None:
        self.given, self.updates, self.postfix, self.written = given, 0, "", []
        FakeBar.made.append(self)

    def update(self, n: int) -> None:
        self.updates += n

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def refresh(self) -> None:
        pass

    def write(self, text: str, file: Any = None) -> None:
        self.written.append(text)

    def close(self) -> None:
        pass


def test_the_bar_counts_trials_done_failed_and_running(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a terminal: a bar over the trials, done/failed/running beside it, a line above
    it for a failed trial only."""
    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeBar))
    monkeypatch.setattr(command, "bar_available", lambda: True)
    FakeBar.made.clear()
    trials = make_trials(0.1, 0.2, 0.3)
    folder = SweepFolder(tmp_path)
    folder.start(trials, spec_text="", write_sweep=lambda p: p.touch())
    watcher = command._Watcher(len(trials), quiet=False)
    seen: list[str] = []

    def watch(event: Any) -> None:
        watcher(event)
        seen.append(FakeBar.made[0].postfix)

    def task(trial: Any) -> Any:
        return {
            "id": trial.id,
            "overrides": list(trial.overrides),
            "folder": str(folder.run_folder(trial)),
            "stop_file": str(folder.stop_file),
        }

    with folder.held():
        Coordinator(
            folder, trials, task, SyncExecutor, FakeWorker(fail={0.2}), 2, on_event=watch
        ).run()
    (bar,) = FakeBar.made
    assert bar.given["total"] == 3 and bar.updates == 3
    assert "done 0, failed 0, running 2" in seen
    assert seen[-1] == "done 2, failed 1, running 0"
    assert len(bar.written) == 1 and "failed" in bar.written[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--resume", "sweep", "--grid", "a=1"], "sweep --resume DIR continues the sweep"),
        (["--resume", "sweep", str(TEACHER)], "drop "),
        ([str(TEACHER), "--retry-failed", "--out", "sweep"], "--retry-failed goes with --resume"),
        ([str(TEACHER), "--grid", "optimizer.learning_rate=0.1"], "give the sweep folder"),
        ([str(TEACHER), "--workers", "0", "--out", "sweep"], "not a whole number of 1 or more"),
        (["--resume", "sweep"], "not a sweep folder"),
    ],
)
def test_usage_mistakes_are_one_line_exit_2(
    run_cli: Any, tmp_path: Path, args: list[str], words: str
) -> None:
    done = run_cli("sweep", *args)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and words in line
    assert not (tmp_path / "sweep").exists()


def test_a_dry_run_lists_the_trials_and_creates_nothing(run_cli: Any, tmp_path: Path) -> None:
    done = run_cli(
        "sweep",
        str(TEACHER),
        "--grid",
        "optimizer.learning_rate=0.1,0.2",
        "--seeds",
        "2",
        "--dry-run",
        "--out",
        "sweep",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("4 trials of ") and len(lines) == 5
    assert lines[4].split()[-2:] == ["optimizer.learning_rate=0.2", "seed=1"]
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_file_with_sweep_options_is_refused(run_cli: Any, tmp_path: Path) -> None:
    (tmp_path / "lr.yaml").write_text(
        f"spec: {TEACHER}\ngrid:\n  optimizer.learning_rate: [0.1, 0.2]\n"
    )
    done = run_cli("sweep", "lr.yaml", "--seeds", "2", "--out", "sweep")
    assert done.returncode == 2
    assert "lr.yaml is a sweep file" in done.stderr and "drop --seeds" in done.stderr
    listed = run_cli("sweep", "lr.yaml", "--dry-run")
    assert listed.returncode == 0 and listed.stdout.startswith("2 trials of ")


def test_a_shipped_spec_is_named_as_for_train(run_cli: Any, tmp_path: Path) -> None:
    """``toolkit sweep two_layer_teacher`` sweeps the shipped spec, as train would run it."""
    done = run_cli("sweep", "two_layer_teacher", "--seeds", "2", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("2 trials of ")
    assert str(SPECS / "two_layer_teacher.yaml") in done.stdout.splitlines()[0]
