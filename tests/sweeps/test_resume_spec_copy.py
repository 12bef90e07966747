"""A resume uses the sweep folder's copy of the spec: the original file may be gone."""

from __future__ import annotations

import shutil
from pathlib import Path

import toolkit
from tests.helpers import SPECS

SHORT = {"train.iterations": 20, "train.log_every": 10}


def test_a_resume_after_the_spec_file_was_removed_runs_from_the_copy(tmp_path: Path) -> None:
    """The first session is stopped before any trial; the spec it was started from is then
    removed; the resume runs both trials to their end from DIR/spec.yaml (it was refused:
    'no such spec file', exit 2, for a sweep that needs nothing from that file)."""
    spec = tmp_path / "mine.yaml"
    shutil.copy(SPECS / "two_layer_teacher.yaml", spec)
    out = tmp_path / "sweep"
    first = toolkit.sweep(
        spec,
        grid={"optimizer.learning_rate": [0.1, 0.3]},
        overrides=SHORT,
        workers=1,
        out=out,
        stop=lambda: True,
    )
    assert [r.status for r in first] == ["pending", "pending"]
    spec.unlink()
    records = toolkit.sweep(out=out, resume=True, workers=1)
    assert [(r.status, r.exit) for r in records] == [("done", 0), ("done", 0)]
    for record in records:
        assert (record.folder / "params.npz").is_file()
        assert (record.folder / "spec.yaml").is_file()
