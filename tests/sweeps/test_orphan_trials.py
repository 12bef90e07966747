"""A trial whose run folder another process still holds (a worker of a coordinator killed
with kill -9 runs on) waits for it instead of failing, and is logged as it ended."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tests.sweeps.fakes import FakeWorker, SyncExecutor, make_trials, outcome
from toolkit.base.errors import UsageError
from toolkit.base.lock import FolderLock, locked
from toolkit.sweeps.coordinator import Coordinator
from toolkit.sweeps.folder import SweepFolder
from toolkit.sweeps.trial import Outcome, Task, Trial


def locking_worker(inner: FakeWorker) -> FakeWorker:
    """As the real worker: the run folder is locked while the trial runs, and a folder
    another process holds is a failed trial, exit 2 (the lock's UsageError)."""

    class Locking(FakeWorker):
        def __call__(self, task: Task) -> Outcome:
            Path(task["folder"]).mkdir(parents=True, exist_ok=True)
            try:
                with locked(task["folder"]):
                    return inner(task)
            except UsageError as error:
                return outcome(task, "failed", 2, error=str(error))

    return Locking()


def test_a_trial_held_by_a_killed_coordinators_worker_waits_and_is_done(
    tmp_path: Path,
) -> None:
    """Trial 0's folder is held (an orphaned worker) and written to its end 0.6 s later:
    the coordinator runs the others, then trial 0, found done; nothing is logged failed."""
    trials = make_trials(0.1, 0.2, 0.3)
    folder = SweepFolder(tmp_path / "sweep")
    folder.start(trials, spec_text="", write_sweep=lambda p: p.touch())
    held = folder.run_folder(trials[0])
    held.mkdir(parents=True)
    orphan = FolderLock(held)
    orphan.acquire()

    def finish_then_let_go() -> None:
        time.sleep(0.6)
        (held / "metrics.jsonl").write_text(json.dumps({"iteration": 5, "loss": 0.1}) + "\n")
        (held / "params.npz").write_bytes(b"x")
        orphan.release()

    def task(trial: Trial) -> Task:
        return Task(
            id=trial.id,
            spec_text="",
            spec_source="",
            overrides=list(trial.overrides),
            plugins=[],
            folder=str(folder.run_folder(trial)),
            stop_file=str(folder.stop_file),
        )

    worker = FakeWorker()
    thread = threading.Thread(target=finish_then_let_go)
    thread.start()
    try:
        with folder.held():
            result = Coordinator(
                folder, trials, task, SyncExecutor, locking_worker(worker), 2
            ).run()
    finally:
        thread.join()
    assert [record.status for record in result.records] == ["done", "done", "done"]
    assert result.exit_code == 0
    logged = [json.loads(x) for x in (folder.path / "trials.jsonl").read_text().splitlines()]
    assert not [r for r in logged if r.get("status") == "failed"]
    assert worker.calls[:2] == [trials[1].id, trials[2].id]
