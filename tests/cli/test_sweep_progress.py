"""The sweep's bar on a resume: it counts each trial once, however many sessions ran it."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.sweeps.fakes import FakeWorker, SyncExecutor, make_trials
from toolkit.cli import sweep as command
from toolkit.sweeps.coordinator import Coordinator
from toolkit.sweeps.folder import SweepFolder


class CountingBar:
    """A bar that keeps its position as tqdm does: ``initial`` plus every update."""

    made: ClassVar[list[CountingBar]] = []

    def __init__(self, *, total: int, initial: int = 0, **given: Any) -> None:
        self.total, self.n, self.postfix = total, initial, ""
        CountingBar.made.append(self)

    def update(self, n: int) -> None:
        self.n += n

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def refresh(self) -> None:
        pass

    def write(self, text: str, file: Any = None) -> None:
        pass

    def close(self) -> None:
        pass


def session(folder: SweepFolder, trials: Any, worker: FakeWorker, **options: Any) -> None:
    def task(trial: Any) -> Any:
        return {
            "id": trial.id,
            "overrides": list(trial.overrides),
            "folder": str(folder.run_folder(trial)),
            "stop_file": str(folder.stop_file),
        }

    with folder.held():
        Coordinator(folder, trials, task, SyncExecutor, worker, 2, **options).run()


def test_a_resume_that_retries_failed_trials_ends_its_bar_at_the_total(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """3 trials, one failed in the first session; ``--retry-failed`` runs it again and it
    is done: the bar ends at 3 of 3 (it counted the failed trial as finished before, then
    once more when it finished again: 4 of 3)."""
    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=CountingBar))
    monkeypatch.setattr(command, "bar_available", lambda: True)
    CountingBar.made.clear()
    trials = make_trials(0.1, 0.2, 0.3)
    folder = SweepFolder(tmp_path)
    folder.start(trials, spec_text="", write_sweep=lambda p: p.touch())
    session(folder, trials, FakeWorker(fail={0.2}))
    watcher = command._Watcher(len(trials), quiet=False)
    resumed = SweepFolder(tmp_path)
    resumed.reopen()
    session(resumed, trials, FakeWorker(), retry_failed=True, on_event=watcher)
    watcher.close()
    (bar,) = CountingBar.made
    assert bar.postfix == "done 3, failed 0, running 0"
    assert bar.n == bar.total == 3
