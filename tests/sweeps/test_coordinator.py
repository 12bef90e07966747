"""The coordinator against an executor that runs each trial at once in this process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import SPECS, call_toolkit
from tests.sweeps.fakes import DyingPool, FakeWorker, SyncExecutor, make_trials
from toolkit.sweeps.coordinator import Coordinator, Event, SessionResult
from toolkit.sweeps.folder import SweepFolder
from toolkit.sweeps.log import read_log
from toolkit.sweeps.trial import Task, Trial
from toolkit.sweeps.worker import run_trial


def task_for(folder: SweepFolder, trial: Trial) -> Task:
    return Task(
        id=trial.id,
        spec_text="",
        spec_source="spec.yaml",
        overrides=["train.iterations=5", *trial.overrides],
        plugins=[],
        folder=str(folder.run_folder(trial)),
        stop_file=str(folder.stop_file),
    )


def session(
    path: Path,
    trials: Sequence[Trial],
    worker: FakeWorker,
    *,
    resume: bool = False,
    executors: list[SyncExecutor] | None = None,
    **options: Any,
) -> SessionResult:
    """One coordinator session on the sweep folder ``path`` (started or resumed)."""
    folder = SweepFolder(path)
    if resume:
        folder.reopen()
    else:
        folder.start(trials, spec_text="name: s\n", write_sweep=lambda p: p.write_text("spec: s\n"))
    made = executors if executors is not None else []

    def new_executor() -> SyncExecutor:
        made.append(SyncExecutor())
        return made[-1]

    with folder.held():
        return Coordinator(
            folder,
            trials,
            make_task=lambda trial: task_for(folder, trial),
            make_executor=new_executor,
            run_trial=worker,
            workers=2,
            **options,
        ).run()


def finished(path: Path) -> list[dict[str, Any]]:
    return [r for r in read_log(path) if r["event"] == "finished"]


def test_runs_every_trial_and_logs_its_outcome(tmp_path: Path) -> None:
    """Three trials: each run once, each logged done with the loss its worker reported."""
    trials = make_trials(0.1, 0.2, 0.3)
    worker = FakeWorker()
    result = session(tmp_path / "sweep", trials, worker)
    assert result.exit_code == 0 and not result.interrupted
    assert worker.calls == ["id000", "id001", "id002"]
    logged = finished(tmp_path / "sweep")
    assert [(r["id"], r["status"], r["metrics"]["loss"]) for r in logged] == [
        ("id000", "done", 0.1),
        ("id001", "done", 0.2),
        ("id002", "done", 0.3),
    ]
    assert [r.status for r in result.records] == ["done"] * 3


def test_skips_trials_done_in_their_folder_and_logs_them(tmp_path: Path) -> None:
    """A trial whose folder holds params.npz is not run again; as the log lacks it (the
    coordinator was killed between), a done record is read from its metrics.jsonl."""
    path = tmp_path / "sweep"
    trials = make_trials(0.1, 0.2)
    first = SweepFolder(path)
    first.start(trials, spec_text="s", write_sweep=lambda p: p.write_text("s"))
    first.close()
    done = path / "runs" / trials[1].name
    done.mkdir(parents=True)
    (done / "params.npz").write_bytes(b"x")
    (done / "metrics.jsonl").write_text(
        '{"iteration": 0, "loss": 9.0}\n{"iteration": 7, "loss": 4.5}\n'
    )
    worker = FakeWorker()
    result = session(path, trials, worker, resume=True)
    assert worker.calls == ["id000"]
    (read,) = [r for r in finished(path) if r["id"] == "id001"]
    assert (read["status"], read["metrics"], read["iteration"], read["seconds"]) == (
        "done",
        {"loss": 4.5},
        7,
        None,
    )
    assert result.exit_code == 0


@pytest.mark.parametrize("files", [["checkpoint.npz", "metrics.jsonl"], ["metrics.jsonl"]])
def test_resubmits_a_started_trial_to_its_own_folder(tmp_path: Path, files: list[str]) -> None:
    """A folder with a checkpoint (to continue) or without one (to restart) is not done:
    the trial goes to a worker again, with that same folder."""
    path = tmp_path / "sweep"
    trials = make_trials(0.1)
    started = path / "runs" / trials[0].name
    first = SweepFolder(path)
    first.start(trials, spec_text="s", write_sweep=lambda p: p.write_text("s"))
    first.close()
    started.mkdir(parents=True)
    for name in files:
        (started / name).write_bytes(b"")
    worker = FakeWorker()
    seen: list[str] = []
    worker.on_call = lambda task: seen.append(task["folder"])
    session(path, trials, worker, resume=True)
    assert seen == [str(started.absolute())]


def test_a_failing_trial_does_not_stop_the_others(tmp_path: Path) -> None:
    trials = make_trials(0.1, 0.2, 0.3)
    worker = FakeWorker(fail={0.2})
    result = session(tmp_path / "sweep", trials, worker)
    assert worker.calls == ["id000", "id001", "id002"]
    assert [r.status for r in result.records] == ["done", "failed", "done"]
    assert result.records[1].error == "the loss diverged" and result.records[1].exit == 1
    assert result.exit_code == 1


def test_fail_fast_submits_nothing_after_a_failure(tmp_path: Path) -> None:
    """Two in flight at a time: the first pair runs, the failure stops the rest."""
    trials = make_trials(0.1, 0.2, 0.3, 0.4, 0.5)
    worker = FakeWorker(fail={0.1})
    result = session(tmp_path / "sweep", trials, worker, fail_fast=True)
    assert worker.calls == ["id000", "id001"]
    assert [r.status for r in result.records] == ["failed", "done", "pending", "pending", "pending"]
    assert result.exit_code == 1


def test_a_failed_trial_is_rerun_only_with_retry_failed(tmp_path: Path) -> None:
    path = tmp_path / "sweep"
    trials = make_trials(0.1, 0.2)
    session(path, trials, FakeWorker(fail={0.2}))
    again = FakeWorker()
    assert session(path, trials, again, resume=True).exit_code == 1
    assert again.calls == []
    retried = FakeWorker()
    result = session(path, trials, retried, resume=True, retry_failed=True)
    assert retried.calls == ["id001"]
    assert result.exit_code == 0
    assert [r["attempt"] for r in finished(path) if r["id"] == "id001"] == [1, 2]


@pytest.mark.parametrize(
    ("retries", "runs", "status", "made"), [(0, 1, "crashed", 1), (2, 3, "done", 3)]
)
def test_a_crash_is_retried_as_retries_allow(
    tmp_path: Path, retries: int, runs: int, status: str, made: int
) -> None:
    """The trial's worker dies twice: with no retries it stays crashed (exit 1); with two,
    its third attempt finishes. Each crash broke the executor: a new one is made."""
    trials = make_trials(0.1, 0.2)
    worker = FakeWorker(crash={0.2: 2})
    executors: list[SyncExecutor] = []
    result = session(tmp_path / "sweep", trials, worker, retries=retries, executors=executors)
    assert worker.calls.count("id001") == runs
    assert result.records[1].status == status
    assert result.exit_code == (0 if status == "done" else 1)
    crashes = [r for r in finished(tmp_path / "sweep") if r["status"] == "crashed"]
    assert len(crashes) == min(runs, 2) and all(r["exit"] is None for r in crashes)
    assert "terminated abruptly" in crashes[0]["error"]
    assert len(executors) == made


def test_a_stop_request_submits_nothing_more(tmp_path: Path) -> None:
    """A stop asked while the first pair runs: the stop file is created, those two see it
    and stop with a checkpoint, nothing more is submitted, the session says interrupted."""
    path = tmp_path / "sweep"
    trials = make_trials(0.1, 0.2, 0.3, 0.4)
    worker = FakeWorker()
    asked = {"stop": False}

    def on_call(task: Task) -> None:
        if task["id"] == "id000":  # Ctrl-C as the first trial runs
            asked["stop"] = True
        else:  # the second one is still running when the coordinator creates the stop file
            Path(task["stop_file"]).touch()

    worker.on_call = on_call
    result = session(path, trials, worker, stop_requested=lambda: asked["stop"])
    assert worker.calls == ["id000", "id001"]
    assert (path / "stop").exists()
    assert [r.status for r in result.records] == ["done", "stopped", "pending", "pending"]
    assert (result.exit_code, result.interrupted) == (130, True)
    resumed = FakeWorker()
    result = session(path, trials, resumed, resume=True)
    assert not (path / "stop").exists()
    assert resumed.calls == ["id001", "id002", "id003"]
    assert result.exit_code == 0


def test_resume_after_a_log_cut_off_mid_record(tmp_path: Path) -> None:
    """A kill -9 while a record was written leaves half a line: the resume reads the rest,
    reruns the trial whose record was lost, and the log is whole lines again."""
    path = tmp_path / "sweep"
    trials = make_trials(0.1, 0.2, 0.3)
    session(path, trials, FakeWorker(fail={0.1, 0.2, 0.3}))
    text = (path / "trials.jsonl").read_text()
    cut = text[: text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").rsplit("\n", 1)[1][:20]
    (path / "trials.jsonl").write_text(cut)
    worker = FakeWorker()
    result = session(path, trials, worker, resume=True)
    assert worker.calls == ["id002"]
    assert [r.status for r in result.records] == ["failed", "failed", "done"]
    lines = (path / "trials.jsonl").read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_events_count_done_failed_and_running(tmp_path: Path) -> None:
    trials = make_trials(0.1, 0.2, 0.3)
    events: list[Event] = []
    session(tmp_path / "sweep", trials, FakeWorker(fail={0.2}), on_event=events.append)
    last = events[-1]
    assert (last.kind, last.done, last.failed, last.running, last.total) == (
        "finished",
        2,
        1,
        0,
        3,
    )
    assert max(event.running for event in events) == 2


def test_the_end_hook_is_called_once_with_the_folder(tmp_path: Path) -> None:
    called: list[Path] = []
    session(tmp_path / "sweep", make_trials(0.1), FakeWorker(), on_end=called.append)
    assert called == [tmp_path / "sweep"]


def test_a_stop_asked_before_the_first_submission_runs_nothing(tmp_path: Path) -> None:
    worker = FakeWorker()
    result = session(tmp_path / "sweep", make_trials(0.1, 0.2), worker, stop_requested=lambda: True)
    assert worker.calls == []
    assert (tmp_path / "sweep" / "stop").exists()
    assert (result.exit_code, [r.status for r in result.records]) == (130, ["pending", "pending"])


SIGMOID = SPECS / "two_layer_sigmoid.yaml"
SHORT = ["train.iterations=600", "train.log_every=4", "train.checkpoint_every=4"]


def real_session(path: Path, trials: Sequence[Trial], run: Any, *, resume: bool) -> SessionResult:
    """A session running the real ``run_trial`` (through ``run``) on the sigmoid spec."""
    folder = SweepFolder(path)
    if resume:
        folder.reopen()
    else:
        folder.start(trials, spec_text=SIGMOID.read_text(), write_sweep=lambda p: p.touch())

    def task(trial: Trial) -> Task:
        made = task_for(folder, trial)
        made.update(spec_text=SIGMOID.read_text(), spec_source=str(SIGMOID))
        made["overrides"] = [*SHORT, *trial.overrides]
        return made

    with folder.held():
        return Coordinator(folder, trials, task, SyncExecutor, run, workers=1).run()


def trained(tmp_path: Path, trial: Trial) -> Path:
    """The trial's run as ``toolkit train SPEC --set ... --out DIR`` trains it."""
    sets = [word for o in [*SHORT, *trial.overrides] for word in ("--set", o)]
    folder = tmp_path / f"reference-{trial.index}"
    done = call_toolkit("train", str(SIGMOID), *sets, "-q", "--out", str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return folder


def same_run(folder: Path, reference: Path) -> None:
    with np.load(folder / "params.npz") as ours, np.load(reference / "params.npz") as theirs:
        assert ours.files == theirs.files
        for name in ours.files:
            assert ours[name].tobytes() == theirs[name].tobytes(), name

    def records(path: Path) -> list[dict[str, Any]]:
        lines = (path / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert records(folder) == records(reference)


@pytest.mark.long
@pytest.mark.parametrize("checkpoint", [True, False], ids=["continued", "restarted"])
def test_a_stopped_trial_is_finished_as_toolkit_train_trains_it(
    tmp_path: Path, checkpoint: bool
) -> None:
    """The real worker: the first trial is stopped by its stop file, made once it wrote a
    checkpoint; the second runs to its end; the session is not done (130). The next session
    continues the first from its checkpoint (or, with the checkpoint deleted, restarts its
    folder) and skips the second; both end bit for bit as ``toolkit train`` trains them."""
    path = tmp_path / "sweep"
    trials = make_trials(0.5, 0.2, seeds=(3,))

    def stop_the_first(task: Task) -> Any:
        if task["id"] != trials[0].id:
            return run_trial(task)
        folder = Path(task["folder"])

        def stop_once_checkpointed() -> None:  # Ctrl-C while it runs
            while not (folder / "checkpoint.npz").exists():
                time.sleep(0.005)
            Path(task["stop_file"]).touch()

        stopper = threading.Thread(target=stop_once_checkpointed, daemon=True)
        stopper.start()
        try:
            return run_trial(task)
        finally:
            stopper.join(timeout=60)
            Path(task["stop_file"]).unlink()

    first = real_session(path, trials, stop_the_first, resume=False)
    assert [r.status for r in first.records] == ["stopped", "done"] and first.exit_code == 130
    stopped = path / "runs" / trials[0].name
    assert (stopped / "checkpoint.npz").exists() and not (stopped / "params.npz").exists()
    if not checkpoint:
        (stopped / "checkpoint.npz").unlink()
    calls: list[str] = []

    def counted(task: Task) -> Any:
        calls.append(task["id"])
        return run_trial(task)

    second = real_session(path, trials, counted, resume=True)
    assert calls == [trials[0].id]
    assert [r.status for r in second.records] == ["done", "done"] and second.exit_code == 0
    for trial in trials:
        same_run(path / "runs" / trial.name, trained(tmp_path, trial))


def test_a_broken_pool_late_news_does_not_shut_down_its_successor(tmp_path: Path) -> None:
    """A worker of the first pool dies: its trial is resubmitted to a new pool at once;
    when the old pool's other trial learns of the death later, that new pool (running the
    first trial again) is kept, and both trials end done on it."""
    path = tmp_path / "sweep"
    trials = make_trials(0.1, 0.2)
    pools: list[DyingPool] = []

    def new_pool() -> DyingPool:
        pools.append(DyingPool(first=not pools, crash=trials[0].id))
        return pools[-1]

    folder = SweepFolder(path)
    folder.start(trials, spec_text="", write_sweep=lambda p: p.touch())
    with folder.held():
        result = Coordinator(
            folder,
            trials,
            lambda trial: task_for(folder, trial),
            new_pool,
            FakeWorker(),
            workers=2,
            retries=1,
        ).run()
    assert [r.status for r in result.records] == ["done", "done"]
    assert len(pools) == 2
    assert [(r["id"], r["status"]) for r in finished(path)] == [
        (trials[0].id, "crashed"),
        (trials[1].id, "crashed"),
        (trials[0].id, "done"),
        (trials[1].id, "done"),
    ]


def test_an_unhandled_ctrl_c_asks_the_running_trials_to_stop(tmp_path: Path) -> None:
    """Ctrl-C in Python (no signal handler turning it into a stop request): the stop file
    is made, so that trials still running on workers stop with a checkpoint."""
    worker = FakeWorker()

    def interrupt(task: Task) -> None:
        raise KeyboardInterrupt

    worker.on_call = interrupt
    with pytest.raises(KeyboardInterrupt):
        session(tmp_path / "sweep", make_trials(0.1), worker)
    assert (tmp_path / "sweep" / "stop").exists()


def test_a_done_trial_read_from_its_folder_has_the_metrics_a_worker_would_give(
    tmp_path: Path,
) -> None:
    """The record of a trial found done on resume holds the same metrics as a worker's
    outcome: the last record's numbers without its iteration and its wall-clock seconds."""
    path = tmp_path / "sweep"
    trials = make_trials(0.1)
    first = SweepFolder(path)
    first.start(trials, spec_text="s", write_sweep=lambda p: p.write_text("s"))
    first.close()
    done = path / "runs" / trials[0].name
    done.mkdir(parents=True)
    (done / "params.npz").write_bytes(b"x")
    (done / "metrics.jsonl").write_text(
        '{"iteration": 5, "loss": 0.25, "accuracy": 1, "seconds": 3.5}\n'
    )
    session(path, trials, FakeWorker(), resume=True)
    (read,) = finished(path)
    assert read["metrics"] == {"loss": 0.25, "accuracy": 1.0}
    assert read["iteration"] == 5
