"""The sweep folder: what a first start and a resume refuse, and the lock between two
coordinators."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.sweeps.fakes import make_trials
from toolkit.base.errors import UsageError
from toolkit.sweeps.folder import SweepFolder
from toolkit.sweeps.log import planned_trials, read_log


def started(path: Path, rates: tuple[float, ...] = (0.1, 0.2)) -> SweepFolder:
    folder = SweepFolder(path)
    folder.start(
        make_trials(*rates),
        spec_text="name: base\n",
        write_sweep=lambda p: p.write_text("spec: base.yaml\n"),
    )
    return folder


def test_a_first_start_writes_the_sweep_the_spec_and_the_plan(tmp_path: Path) -> None:
    folder = started(tmp_path / "new" / "sweep")
    folder.close()
    path = tmp_path / "new" / "sweep"
    assert (path / "spec.yaml").read_text() == "name: base\n"
    assert (path / "sweep.yaml").read_text() == "spec: base.yaml\n"
    assert planned_trials(read_log(path)) == make_trials(0.1, 0.2)
    assert (path / "runs").is_dir() and not (path / ".toolkit.lock").exists()


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds other files, not a sweep"):
        started(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_out_on_an_existing_sweep_is_refused_with_the_resume_command(tmp_path: Path) -> None:
    started(tmp_path / "sweep").close()
    before = (tmp_path / "sweep" / "trials.jsonl").read_bytes()
    with pytest.raises(UsageError, match=r"toolkit sweep --resume .*sweep'"):
        started(tmp_path / "sweep", (0.5,))
    assert (tmp_path / "sweep" / "trials.jsonl").read_bytes() == before


def test_resume_of_a_folder_that_is_no_sweep_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a sweep folder"):
        SweepFolder(tmp_path).reopen()
    with pytest.raises(UsageError, match="does not exist"):
        SweepFolder(tmp_path / "missing").reopen()
    assert not (tmp_path / "missing").exists()


HOLD = textwrap.dedent(
    """
    import sys, time
    from toolkit.sweeps.folder import SweepFolder
    folder = SweepFolder(sys.argv[1])
    folder.reopen()
    print("held", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.long
def test_a_second_coordinator_is_refused_and_a_killed_one_leaves_no_lock(tmp_path: Path) -> None:
    """Another process holds the sweep: refused in one line naming its process id; once
    it is killed (-9), the sweep opens."""
    started(tmp_path / "sweep").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "sweep")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(UsageError, match=rf"in use by process {holder.pid}\b") as refused:
            SweepFolder(tmp_path / "sweep").reopen()
        assert "\n" not in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
    folder = SweepFolder(tmp_path / "sweep")
    assert folder.reopen() == make_trials(0.1, 0.2)
    folder.close()


def test_a_changed_value_is_refused_naming_the_trial_and_the_key(tmp_path: Path) -> None:
    folder = started(tmp_path / "sweep", (0.1, 0.2))
    with folder.held(), pytest.raises(UsageError) as refused:
        folder.check_unchanged(make_trials(0.1, 0.2), make_trials(0.1, 0.25))
    message = str(refused.value)
    assert "sweep.yaml changed since the sweep started" in message
    assert "trial 1's optimizer.learning_rate was 0.2, is now 0.25" in message
    assert message.endswith("start a new sweep with --out NEWDIR")


def test_a_changed_trial_count_or_seed_is_refused(tmp_path: Path) -> None:
    folder = SweepFolder(tmp_path)
    with pytest.raises(UsageError, match="it made 2 trials, it now makes 3"):
        folder.check_unchanged(make_trials(0.1, 0.2), make_trials(0.1, 0.2, 0.3))
    with pytest.raises(UsageError, match="trial 1's seed was 1, is now 2"):
        folder.check_unchanged(make_trials(0.1, seeds=(0, 1)), make_trials(0.1, seeds=(0, 2)))
    folder.check_unchanged(make_trials(0.1, 0.2), make_trials(0.1, 0.2))  # the same: accepted


def test_a_value_of_another_kind_is_a_change(tmp_path: Path) -> None:
    """``1`` read back as ``1.0`` sets another value (an int setting refuses a float)."""
    folder = SweepFolder(tmp_path)
    with pytest.raises(UsageError, match=r"was 1, is now 1\.0"):
        folder.check_unchanged(make_trials(1), make_trials(1.0))


def test_the_stop_file_is_made_and_cleared(tmp_path: Path) -> None:
    folder = SweepFolder(tmp_path)
    folder.request_stop()
    folder.request_stop()
    assert folder.stop_file.exists()
    folder.clear_stop()
    assert not folder.stop_file.exists()


def test_a_changed_set_or_plugin_list_is_refused(tmp_path: Path) -> None:
    """The sweep's own ``set`` changes every trial: refused, naming it."""
    folder = SweepFolder(tmp_path / "sweep")
    trials = make_trials(0.1)
    folder.start(
        trials, spec_text="", write_sweep=lambda p: p.touch(), shared=["train.iterations=30"]
    )
    folder.close()
    with SweepFolder(tmp_path / "sweep").held() as again:
        assert again.reopen() == trials
        with pytest.raises(
            UsageError, match=r"its set was train\.iterations=30, is now train\.iterations=300;"
        ):
            again.check_unchanged(trials, trials, ["train.iterations=300"])
        with pytest.raises(UsageError, match="its plugins was empty, is now mine"):
            again.check_unchanged(trials, trials, ["train.iterations=30"], ["mine"])
        again.check_unchanged(trials, trials, ["train.iterations=30"])
