"""``toolkit.sweep(resume=True)`` takes the plan from the folder: a plan argument given with
it is refused, the random generator's seed too (it was silently ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolkit
from toolkit.base.errors import UsageError


def test_a_random_seed_with_resume_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as raised:
        toolkit.sweep(out=tmp_path / "sweep", resume=True, random_seed=5)
    assert "drop random_seed" in str(raised.value)
    assert not (tmp_path / "sweep").exists()
