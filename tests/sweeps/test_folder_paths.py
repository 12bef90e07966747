"""A sweep folder path that cannot be one: bad input, one line, exit 2, saying what it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sweeps.fakes import make_trials
from toolkit.base.errors import UsageError
from toolkit.sweeps.folder import SweepFolder


def test_an_out_folder_under_a_file_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    """``--out FILE/sub``: the file is named and nothing is created (it was a RunError,
    exit 1, 'cannot create (Not a directory)'), as ``toolkit train --out`` says it."""
    (tmp_path / "afile").write_text("mine")
    folder = SweepFolder(tmp_path / "afile" / "sub" / "deeper")
    with pytest.raises(UsageError) as raised:
        folder.start(make_trials(0.1), spec_text="", write_sweep=lambda p: p.touch())
    assert raised.value.exit_code == 2
    assert f"{tmp_path / 'afile'} is a file, not a folder" in str(raised.value)
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_resume_of_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    """``--resume FILE``: it was told 'it does not exist'."""
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(UsageError) as raised:
        SweepFolder(tmp_path / "afile").reopen()
    assert "is a file, not a sweep folder" in str(raised.value)
    assert "does not exist" not in str(raised.value)
