"""Every trial's spec checked before anything runs: one error, each problem at the place
the sweep got the value from, each configuration resolved once."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolkit.sweeps.validate as validate
from tests.helpers import SPECS, write
from toolkit import SpecError, get_plugin_manager
from toolkit.sweeps.plan import SweepPlan, expand, plan_from_options
from toolkit.sweeps.sweepfile import load_sweep
from toolkit.sweeps.validate import check_trials, format_trials

SPEC = SPECS / "two_layer_teacher.yaml"
TEXT = SPEC.read_text()
LR = "optimizer.learning_rate"


def check(plan: SweepPlan, text: str = TEXT) -> list[str]:
    """The lines of the error checking ``plan`` raises (none if it passes)."""
    try:
        check_trials(plan, expand(plan), text)
    except SpecError as error:
        lines = str(error).splitlines()
        assert len(lines) == len(error.problems)
        return lines
    return []


def test_a_good_sweep_passes() -> None:
    plan = plan_from_options(SPEC, grid=[f"{LR}=0.1,0.01", "model.layers.0.units=4,8"], seeds=3)
    assert check(plan) == []


def test_a_bad_grid_value_is_one_line_at_its_grid_option() -> None:
    lines = check(plan_from_options(SPEC, grid=[f"{LR}=0.1,abc"], seeds=3))
    assert len(lines) == 1
    (line,) = lines
    assert line.startswith(f"{LR}:")
    assert f"--grid {LR}=0.1,abc" in line
    assert "'abc'" in line and "--set" not in line


def test_a_bad_value_in_a_sweep_file_is_at_its_line(tmp_path: Path) -> None:
    text = f"spec: {SPEC}\ngrid:\n  {LR}:\n    - 0.1\n    - abc\n  train.batch_size: [4, 8]\n"
    (line,) = check(load_sweep(write(tmp_path / "sweep.yaml", text)))
    assert "sweep.yaml line 5, column 7" in line and "'abc'" in line and LR in line


def test_a_misspelt_swept_key_is_at_its_option_with_the_right_name() -> None:
    (line,) = check(plan_from_options(SPEC, grid=["optimizer.learnin_rate=0.1,0.2"]))
    assert "--grid optimizer.learnin_rate=0.1,0.2" in line
    assert "did you mean 'learning_rate'?" in line


def test_a_drawn_value_is_at_its_random_option() -> None:
    lines = check(plan_from_options(SPEC, random=["model.layers.0.units=int:-3,0"], trials=6))
    assert lines
    assert all("--random model.layers.0.units=int:-3,0" in line for line in lines)


def test_a_seed_out_of_range_is_at_the_seed_list() -> None:
    (line,) = check(plan_from_options(SPEC, grid=[f"{LR}=0.1,0.2"], seed_list="1,99999999999"))
    assert line.startswith("seed:") and "--seed-list 1,99999999999" in line


def test_a_bad_set_is_at_the_set_as_written() -> None:
    (line,) = check(plan_from_options(SPEC, overrides=["model.layers[0].units=0"], seeds=4))
    assert "--set model.layers[0].units=0" in line


def test_a_problem_of_the_spec_itself_is_said_once() -> None:
    bad = TEXT.replace("batch_size: 32", "batch_size: many")
    lines = check(plan_from_options(SPEC, grid=[f"{LR}=0.1,0.2,0.3"], seeds=2), bad)
    assert len(lines) == 1 and "two_layer_teacher.yaml line" in lines[0]


def test_the_text_given_is_checked_not_the_file() -> None:
    assert check(plan_from_options(SPEC)) == []
    assert check(plan_from_options(SPEC), TEXT.replace("units: 16", "units: -1"))


def test_every_bad_value_is_reported_at_once() -> None:
    plan = plan_from_options(
        SPEC, grid=[f"{LR}=abc,0.1", "train.batch_size=0,8"], overrides=["train.iterations=-1"]
    )
    assert len(check(plan)) == 3


def test_a_part_named_then_swept_resolves_for_each_part() -> None:
    plan = plan_from_options(SPEC, grid=["optimizer=sgd,adam", f"{LR}=0.1,0.001"])
    assert check(plan) == []
    plan = plan_from_options(SPEC, grid=["optimizer=sgd,adam"], overrides=["optimizer.beta1=0.8"])
    (line,) = check(plan)  # sgd has no beta1
    assert "--set optimizer.beta1=0.8" in line


def test_a_plugin_module_that_does_not_load_is_a_located_problem() -> None:
    plan = plan_from_options(SPEC, plugins=["no_such_module_here"])
    (line,) = check(plan)
    assert "no_such_module_here" in line and "(-p)" in line


def test_each_configuration_and_each_seed_is_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    managers: list[object] = []
    real_load, real_manager = validate.load_spec, validate.get_plugin_manager

    def counting_load(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(list(args[1]))  # type: ignore[call-overload]
        managers.append(kwargs["manager"])
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    made: list[object] = []

    def counting_manager(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        made.append(real_manager(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(validate, "load_spec", counting_load)
    monkeypatch.setattr(validate, "get_plugin_manager", counting_manager)
    plan = plan_from_options(SPEC, grid=[f"{LR}=0.1,0.01", "train.batch_size=8,16"], seeds=4)
    check(plan)
    assert len(expand(plan)) == 16
    assert len(calls) == 4 + 4 - 1  # each of 4 configurations, and the 3 other seeds
    assert {tuple(c[:-1]) for c in calls} == {tuple(t.overrides[:-1]) for t in expand(plan)}
    assert {c[-1] for c in calls} == {"seed=0", "seed=1", "seed=2", "seed=3"}
    assert len(made) == 1 and set(map(id, managers)) == {id(made[0])}
    manager = get_plugin_manager()
    made.clear()
    check_trials(plan, expand(plan), TEXT, manager=manager)
    assert made == []


def test_the_dry_run_lists_each_trial_on_one_line() -> None:
    plan = plan_from_options(SPEC, grid=[f"{LR}=0.1,0.01"], seeds=6)
    trials = expand(plan)
    lines = format_trials(trials)
    assert len(lines) == 12
    for line, trial in zip(lines, trials, strict=True):
        assert line.split()[:3] == [str(trial.index), trial.id, trial.name]
        assert line.endswith(" ".join(trial.overrides))
    assert len({line.index(trial.id) for line, trial in zip(lines, trials, strict=True)}) == 1


def test_a_bad_set_in_a_sweep_file_is_at_its_line(tmp_path: Path) -> None:
    text = f"spec: {SPEC}\nset:\n  train.iterations: 10\n  model.layers.0.units: 0\nseeds: 2\n"
    (line,) = check(load_sweep(write(tmp_path / "sweep.yaml", text)))
    assert "sweep.yaml line 4, column 3" in line and "--set" not in line
