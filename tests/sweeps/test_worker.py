"""A sweep's worker: run_trial turns plain data into a trained run folder and plain data,
with the numbers of ``toolkit train``, every failure a one-line outcome, a stop request a
checkpoint that the next attempt continues exactly, and each folder state handled."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SPECS, _toolkit_command, call_toolkit, write
from toolkit.base.errors import ToolkitNotice
from toolkit.base.lock import FolderLock
from toolkit.runs.checkpoint import load_checkpoint
from toolkit.runs.folder_run import trial_state
from toolkit.sweeps.trial import Task
from toolkit.sweeps.worker import StopFile, run_trial

SIGMOID = SPECS / "two_layer_sigmoid.yaml"
SHORT = ["train.iterations=12", "train.log_every=4", "train.checkpoint_every=4"]


def _task(folder: Path, overrides: list[str], spec: Path = SIGMOID, **given: object) -> Task:
    task = Task(
        id="t0",
        spec_text=spec.read_text(),
        spec_source=str(spec),
        overrides=overrides,
        plugins=[],
        folder=str(folder),
        stop_file=str(folder.parent / "stop"),
    )
    task.update(given)  # type: ignore[typeddict-item]
    return task


def _params(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "params.npz") as saved:
        return {name: saved[name] for name in saved.files}


def _metrics(folder: Path) -> list[dict[str, object]]:
    """metrics.jsonl's records, less their wall-clock seconds."""
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def _assert_same_run(folder: Path, reference: Path) -> None:
    ours, theirs = _params(folder), _params(reference)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].tobytes() == theirs[name].tobytes(), name
    assert _metrics(folder) == _metrics(reference)


def _trained(tmp_path: Path, overrides: list[str], name: str = "reference") -> Path:
    """The same spec trained by ``toolkit train SPEC --set ... --out DIR``."""
    sets = [word for override in overrides for word in ("--set", override)]
    folder = tmp_path / name
    done = call_toolkit("train", str(SIGMOID), *sets, "-q", "--out", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return folder


def test_a_trial_gives_the_numbers_of_toolkit_train(tmp_path: Path) -> None:
    """Done, exit 0, its last record's metrics, and params.npz and metrics.jsonl the same bit
    for bit as those of ``toolkit train`` with the same overrides; no curves picture."""
    overrides = [*SHORT, "optimizer.learning_rate=0.5", "seed=3"]
    folder = tmp_path / "runs" / "trial"
    outcome = run_trial(_task(folder, overrides))
    assert (outcome["status"], outcome["exit"], outcome["error"]) == ("done", 0, None)
    assert outcome["id"] == "t0" and outcome["iteration"] == 12 and outcome["seconds"] > 0
    reference = _trained(tmp_path, overrides)
    _assert_same_run(folder, reference)
    last = json.loads((reference / "metrics.jsonl").read_text().splitlines()[-1])
    assert outcome["metrics"] == {"loss": last["loss"], "accuracy": last["accuracy"]}
    assert not (folder / "curves.png").exists()
    assert (reference / "curves.png").exists()  # train draws it; a trial does not
    assert trial_state(folder) == "done"


@pytest.mark.long
def test_a_stopped_trial_continues_to_the_numbers_of_an_uninterrupted_one(tmp_path: Path) -> None:
    """The stop file made once the trial has written a checkpoint: it stops after an
    iteration with a checkpoint there (exit 130); run again without it, it finishes
    bit-identical to an uninterrupted run."""
    folder = tmp_path / "runs" / "trial"
    longer = ["train.iterations=600", "train.log_every=4", "train.checkpoint_every=4"]
    task = _task(folder, longer, stop_file=str(tmp_path / "stop"))

    def stop_once_checkpointed() -> None:
        while not (folder / "checkpoint.npz").exists():
            time.sleep(0.005)
        Path(task["stop_file"]).touch()

    stopper = threading.Thread(target=stop_once_checkpointed, daemon=True)
    stopper.start()
    stopped = run_trial(task)
    stopper.join(timeout=60)
    assert (stopped["status"], stopped["exit"], stopped["error"]) == ("stopped", 130, None)
    assert 4 <= stopped["iteration"] < 600
    assert load_checkpoint(folder / "checkpoint.npz").iteration == stopped["iteration"]
    assert trial_state(folder) == "checkpointed"
    Path(task["stop_file"]).unlink()
    done = run_trial(task)
    assert (done["status"], done["exit"], done["iteration"]) == ("done", 0, 600)
    _assert_same_run(folder, _trained(tmp_path, longer))


def test_a_trial_asked_to_stop_before_it_begins_leaves_its_folder_alone(tmp_path: Path) -> None:
    task = _task(tmp_path / "runs" / "trial", SHORT, stop_file=str(tmp_path / "stop"))
    Path(task["stop_file"]).touch()
    outcome = run_trial(task)
    assert (outcome["status"], outcome["exit"], outcome["iteration"]) == ("stopped", 130, 0)
    assert not (tmp_path / "runs").exists()


def test_the_stop_file_is_looked_at_every_fifth_of_a_second_at_most(tmp_path: Path) -> None:
    stop = StopFile(tmp_path / "stop")
    assert not stop()
    (tmp_path / "stop").touch()
    assert not stop()  # looked at just now: not again so soon
    time.sleep(0.25)
    assert stop()


def test_a_part_that_raises_fails_the_trial_in_one_line_exit_1(tmp_path: Path) -> None:
    """A plugin module beside the spec (found from the spec's own folder) whose activation
    raises: failed, exit 1, one line naming what it raised."""
    (tmp_path / "spec").mkdir()
    write(
        tmp_path / "spec" / "broken_parts.py",
        "import toolkit\n\n"
        "def broken(x):\n"
        "    raise ValueError('no good\\nat all')\n\n"
        "@toolkit.hookimpl\n"
        "def toolkit_activations():\n"
        "    return {'broken': broken}\n",
    )
    text = SIGMOID.read_text().replace("activation: sigmoid", "activation: broken")
    spec = write(tmp_path / "spec" / "broken.yaml", "plugins: [broken_parts]\n" + text)
    outcome = run_trial(_task(tmp_path / "runs" / "trial", SHORT, spec))
    assert (outcome["status"], outcome["exit"]) == ("failed", 1)
    error = outcome["error"]
    assert error is not None and "\n" not in error
    assert "ValueError: no good\\nat all" in error


def test_a_diverging_trial_fails_in_one_line_exit_1(tmp_path: Path) -> None:
    task = _task(tmp_path / "trial", [*SHORT, "optimizer.learning_rate=1.0e+308"])
    with pytest.warns(ToolkitNotice, match="perturbation by perturbation"):
        outcome = run_trial(task)
    assert (outcome["status"], outcome["exit"]) == ("failed", 1)
    assert outcome["error"] is not None and "became nan or infinite" in outcome["error"]
    assert "\n" not in outcome["error"]


def test_a_bad_override_is_bad_input_exit_2_and_leaves_no_folder(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "trial"
    outcome = run_trial(_task(folder, [*SHORT, "optimizer.learning_rate=fast"]))
    assert (outcome["status"], outcome["exit"], outcome["iteration"]) == ("failed", 2, 0)
    error = outcome["error"]
    assert error is not None and error.startswith(
        "optimizer.learning_rate: optimizer 'sgd': expected a number, got text 'fast'"
    )
    assert "\n" not in error
    assert not folder.exists()


def test_a_plugin_module_that_is_missing_is_bad_input_exit_2(tmp_path: Path) -> None:
    outcome = run_trial(_task(tmp_path / "trial", SHORT, plugins=["no_such_parts_module"]))
    assert (outcome["status"], outcome["exit"]) == ("failed", 2)
    assert "no_such_parts_module" in (outcome["error"] or "")


def test_a_folder_another_process_writes_is_refused(tmp_path: Path) -> None:
    """The worker holds the folder's lock while it trains: a folder locked by another
    holder is refused (exit 2), and nothing is written into it."""
    folder = tmp_path / "trial"
    folder.mkdir()
    holder = FolderLock(folder)
    holder.acquire()
    try:
        outcome = run_trial(_task(folder, SHORT))
    finally:
        holder.release()
    assert (outcome["status"], outcome["exit"]) == ("failed", 2)
    assert f"is in use by process {os.getpid()}" in (outcome["error"] or "")
    assert list(folder.iterdir()) == []


def test_the_folder_states(tmp_path: Path) -> None:
    """No folder and an empty one are new; a spec.yaml alone is a started run; a checkpoint
    is checkpointed; params.npz is done."""
    folder = tmp_path / "trial"
    assert trial_state(folder) == "new"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert trial_state(folder) == "new"
    (folder / "spec.yaml").write_text("seed: 1\n")
    assert trial_state(folder) == "started"
    (folder / "checkpoint.npz").write_bytes(b"")
    assert trial_state(folder) == "checkpointed"
    (folder / "params.npz").write_bytes(b"")
    assert trial_state(folder) == "done"


def test_a_run_that_started_without_a_checkpoint_is_restarted(tmp_path: Path) -> None:
    """A folder left by a worker killed before its first checkpoint is trained again from
    the start (the same numbers as a fresh run); a file that is not a run's stays."""
    folder = tmp_path / "trial"
    folder.mkdir()
    (folder / "spec.yaml").write_text("half a spec")
    (folder / "metrics.jsonl").write_text('{"iteration": 0, "loss": 1.0}\n{"iter')
    (folder / ".params.npz.abc123.tmp").write_bytes(b"half")
    (folder / "notes.txt").write_text("mine")
    outcome = run_trial(_task(folder, SHORT))
    assert (outcome["status"], outcome["exit"]) == ("done", 0)
    _assert_same_run(folder, _trained(tmp_path, SHORT))
    assert (folder / "notes.txt").read_text() == "mine"
    assert not (folder / ".params.npz.abc123.tmp").exists()


def test_a_done_trial_is_not_trained_again(tmp_path: Path) -> None:
    folder = tmp_path / "trial"
    first = run_trial(_task(folder, SHORT))
    written = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
    again = run_trial(_task(folder, SHORT))
    assert (again["status"], again["exit"], again["iteration"]) == ("done", 0, 12)
    assert again["metrics"] == first["metrics"]
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == written


def test_a_trial_killed_after_its_last_checkpoint_gets_its_parameters(tmp_path: Path) -> None:
    """A checkpoint at the run's end and no params.npz: the parameters are written from the
    checkpoint, the numbers those of an uninterrupted run."""
    folder = tmp_path / "trial"
    run_trial(_task(folder, SHORT))
    (folder / "params.npz").unlink()
    assert trial_state(folder) == "checkpointed"
    outcome = run_trial(_task(folder, SHORT))
    assert (outcome["status"], outcome["iteration"]) == ("done", 12)
    _assert_same_run(folder, _trained(tmp_path, SHORT))


@pytest.mark.long
def test_a_second_train_resume_on_a_live_run_is_refused(tmp_path: Path) -> None:
    """While one ``toolkit train --resume DIR`` runs, a second on DIR is refused in one line
    naming the first's process id, exit 2, and the first is unaffected."""
    folder = _trained(tmp_path, SHORT, "run")
    first = subprocess.Popen(  # on to 4000: a run that stays alive for seconds
        [
            _toolkit_command(),
            "train",
            "--resume",
            str(folder),
            "--set",
            "train.iterations=4000",
            "-q",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = folder / ".toolkit.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first resume never took the lock"
            time.sleep(0.02)
        second = call_toolkit("train", "--resume", str(folder), cwd=tmp_path)
        assert second.returncode == 2
        assert second.stdout == ""
        assert second.stderr.splitlines() == [
            f"error: {folder} is in use by process {first.pid}; wait for it to finish or "
            "stop it, then try again"
        ]
    finally:
        first.kill()
        first.communicate()
