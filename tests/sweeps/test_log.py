"""The trial log: whole JSON lines, non-finite numbers as null, a cut-off last line skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.base.errors import UsageError
from toolkit.sweeps.log import TrialLog, last_finished, read_log


def test_records_read_back_with_non_finite_numbers_as_null(tmp_path: Path) -> None:
    log = TrialLog(tmp_path)
    log.append(
        {"event": "finished", "id": "a", "status": "failed", "metrics": {"loss": float("nan")}}
    )
    log.append(
        {"event": "finished", "id": "a", "status": "done", "metrics": {"loss": float("inf")}}
    )
    log.close()
    assert (tmp_path / "trials.jsonl").read_text().count("null") == 2
    records = read_log(tmp_path)
    assert [r["metrics"]["loss"] for r in records] == [None, None]
    assert last_finished(records)["a"]["status"] == "done"


def test_a_cut_off_last_line_is_skipped_then_replaced(tmp_path: Path) -> None:
    (tmp_path / "trials.jsonl").write_text('{"event": "session"}\n{"event": "fini')
    assert read_log(tmp_path) == [{"event": "session"}]
    log = TrialLog(tmp_path)
    log.append({"event": "planned"})
    log.close()
    assert (tmp_path / "trials.jsonl").read_text() == '{"event": "session"}\n{"event": "planned"}\n'


def test_a_damaged_line_before_the_last_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "trials.jsonl").write_text('{"event": "session"}\n{oops\n{"event": "session"}\n')
    with pytest.raises(UsageError, match=r"trials.jsonl, line 2: not a JSON record"):
        read_log(tmp_path)
