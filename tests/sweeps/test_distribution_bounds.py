"""Bounds of a random search's ranges at the edges of what a float can hold: a whole
number too large for a float is one located problem, not an exception from deep inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit import SpecError
from toolkit.sweeps.distributions import parse_distribution
from toolkit.sweeps.plan import plan_from_options
from toolkit.sweeps.sweepfile import load_sweep

HUGE = "1" + "0" * 400  # a YAML int of 401 digits: no float holds it (floats end near 1.8e308)


@pytest.mark.parametrize(
    "text", [f"uniform:0,{HUGE}", f"uniform:-{HUGE},0", f"loguniform:1,{HUGE}"]
)
def test_a_bound_too_large_for_a_float_is_one_line_naming_it(text: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_distribution(text, path="optimizer.learning_rate")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("optimizer.learning_rate: ")
    assert "whole number of 401 digits" in message and "too large" in message


def test_a_huge_bound_on_the_command_line_is_placed_at_its_option(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("model: {}\n")
    with pytest.raises(SpecError) as raised:
        plan_from_options(spec, random=[f"optimizer.learning_rate=uniform:0,{HUGE}"], trials=2)
    assert "--random optimizer.learning_rate=uniform:0," in str(raised.value)


def test_a_huge_bound_in_a_sweep_file_is_placed_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text("model: {}\n")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "spec: spec.yaml\n"
        f"random: {{trials: 2, params: {{optimizer.learning_rate: 'uniform:0,{HUGE}'}}}}\n"
    )
    with pytest.raises(SpecError) as raised:
        load_sweep(sweep)
    assert "sweep.yaml line 2" in str(raised.value)
