"""A sweep's plan from options or Python, and its expansion into trials.

Expected orders and names are written out by hand from the documented rule (the grid's
product with the last key fastest, then the random trials, seeds innermost); random values
are drawn again here from numpy's generator, trial by trial and key by key.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.helpers import SPECS
from toolkit import SpecError
from toolkit.sweeps.plan import (
    MAX_TRIALS,
    NAME_LENGTH,
    SweepPlan,
    expand,
    plan_from_options,
    plan_from_python,
)
from toolkit.sweeps.values import value_text

SPEC = str(SPECS / "two_layer_teacher.yaml")
LR = "optimizer.learning_rate"
ACT = "model.layers.0.activation"


def values_of(plan: SweepPlan) -> list[tuple[object, ...]]:
    return [tuple(value for _, value in trial.values) for trial in expand(plan)]


def test_the_grid_runs_in_the_order_given_with_the_last_key_fastest() -> None:
    plan = plan_from_options(SPEC, grid=[f"{LR}=0.1,0.01", f"{ACT}=sigmoid,relu,tanh"])
    assert values_of(plan) == [
        (0.1, "sigmoid"),
        (0.1, "relu"),
        (0.1, "tanh"),
        (0.01, "sigmoid"),
        (0.01, "relu"),
        (0.01, "tanh"),
    ]
    assert [trial.index for trial in expand(plan)] == list(range(6))
    assert plan.count == 6


def test_every_configuration_runs_once_for_each_seed_seeds_innermost() -> None:
    plan = plan_from_options(SPEC, grid=[f"{LR}=0.1,0.01"], seeds=3)
    trials = expand(plan)
    assert [trial.seed for trial in trials] == [0, 1, 2, 0, 1, 2]
    assert [trial.config for trial in trials] == [0, 0, 0, 1, 1, 1]
    assert trials[4].overrides == (f"{LR}=0.01", "seed=1")


def test_a_seed_list_sets_those_seeds() -> None:
    trials = expand(plan_from_options(SPEC, seed_list="0,3,7"))
    assert [trial.seed for trial in trials] == [0, 3, 7]
    assert [trial.overrides for trial in trials] == [("seed=0",), ("seed=3",), ("seed=7",)]


def test_without_a_sweep_there_is_one_trial_of_the_spec_as_it_is() -> None:
    (trial,) = expand(plan_from_options(SPEC))
    assert trial.values == () and trial.seed is None and trial.overrides == ()


def test_random_trials_are_drawn_trial_by_trial_and_key_by_key() -> None:
    plan = plan_from_options(
        SPEC,
        random=[f"{LR}=loguniform:1e-4,1e-1", "train.batch_size=int:8,64"],
        trials=5,
        random_seed=42,
    )
    rng = np.random.default_rng(42)
    expected = [
        (10 ** rng.uniform(-4, -1), int(rng.integers(8, 65))) for _ in range(5)
    ]  # integers' high is exclusive: 65 draws up to 64
    assert values_of(plan) == expected


def test_the_random_seed_defaults_to_0() -> None:
    plan = plan_from_options(SPEC, random=[f"{LR}=uniform:0,1"], trials=3)
    rng = np.random.default_rng(0)
    assert values_of(plan) == [(rng.uniform(0, 1),) for _ in range(3)]
    assert plan.random is not None and plan.random.seed == 0


def test_a_grid_with_random_trials_runs_each_draw_with_every_grid_point() -> None:
    plan = plan_from_options(
        SPEC, grid=[f"{ACT}=sigmoid,relu"], random=[f"{LR}=uniform:0,1"], trials=3, seeds=2
    )
    rng = np.random.default_rng(0)
    drawn = [rng.uniform(0, 1) for _ in range(3)]
    expected = [(act, lr) for act in ("sigmoid", "relu") for lr in drawn for _ in range(2)]
    assert values_of(plan) == expected
    assert plan.count == len(expand(plan)) == 2 * 3 * 2
    assert [trial.config for trial in expand(plan)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_ids_are_stable_and_each_trial_has_its_own() -> None:
    options = {"grid": [f"{LR}=0.1,0.01", f"{ACT}=sigmoid,relu"], "seeds": 2}
    first = [trial.id for trial in expand(plan_from_options(SPEC, **options))]
    again = [trial.id for trial in expand(plan_from_options(SPEC, **options))]
    assert first == again
    assert len(set(first)) == len(first) == 8
    assert all(re.fullmatch(r"[0-9a-f]{10}", id) for id in first)


def test_an_id_follows_the_values_not_the_place_in_the_sweep() -> None:
    """Another value gives another id; the trials already there keep theirs."""
    small = {t.values: t.id for t in expand(plan_from_options(SPEC, grid=[f"{LR}=0.1,0.01"]))}
    larger = {t.values: t.id for t in expand(plan_from_options(SPEC, grid=[f"{LR}=0.5,0.1,0.01"]))}
    assert larger[((LR, 0.1),)] == small[((LR, 0.1),)]
    assert larger[((LR, 0.5),)] not in small.values()


def test_values_of_different_types_are_different_trials() -> None:
    plan = plan_from_options(SPEC, grid=["train.log_every=1,1.0,true,'1'"])
    trials = expand(plan)
    assert len({trial.id for trial in trials}) == 4
    assert [trial.overrides[0] for trial in trials] == [
        "train.log_every=1",
        "train.log_every=1.0",
        "train.log_every=true",
        "train.log_every='1'",
    ]


def test_random_trials_that_draw_the_same_values_are_still_distinct_trials() -> None:
    plan = plan_from_options(SPEC, random=[f"{ACT}=choice:sigmoid,relu"], trials=10)
    trials = expand(plan)
    assert len({trial.values for trial in trials}) == 2
    assert len({trial.id for trial in trials}) == len({trial.name for trial in trials}) == 10


def test_names_show_the_last_part_of_each_key_and_a_padded_index() -> None:
    plan = plan_from_options(
        SPEC, grid=[f"{LR}=0.1,0.01", f"{ACT}=sigmoid,relu,tanh"], seeds=20
    )  # 120 trials: three digits
    trials = expand(plan)
    assert trials[7].name == "007-learning_rate=0.1-activation=sigmoid-seed=7"
    assert trials[27].name == "027-learning_rate=0.1-activation=relu-seed=7"
    assert trials[119].name == "119-learning_rate=0.01-activation=tanh-seed=19"


def test_keys_that_end_alike_are_named_in_full() -> None:
    plan = plan_from_options(SPEC, grid=["model.layers.0.units=8", "model.layers.1.units=3"])
    assert expand(plan)[0].name == "0-model.layers.0.units=8-model.layers.1.units=3"


def test_a_trial_without_values_or_seed_has_a_name_too() -> None:
    assert expand(plan_from_options(SPEC))[0].name == "0-run"


def test_names_are_safe_short_and_unique() -> None:
    odd = "'a/b c','..','x:y','" + "w" * 200 + "'"
    plan = plan_from_options(SPEC, grid=[f"data.name={odd}", "train.iterations=1,2"], seeds=2)
    names = [trial.name for trial in expand(plan)]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9._=+-]+", name), name
        assert len(name) <= NAME_LENGTH
        assert name.endswith(("seed=0", "seed=1"))


def test_random_numbers_are_shown_short_in_names_and_whole_in_overrides() -> None:
    plan = plan_from_options(SPEC, random=[f"{LR}=loguniform:1e-6,1e-2"], trials=1)
    (trial,) = expand(plan)
    value = trial.values[0][1]
    assert trial.name == f"0-learning_rate={value:.4g}"
    assert yaml.safe_load(trial.overrides[0].partition("=")[2]) == value  # PyYAML's own reader


@pytest.mark.parametrize("value", [1e-05, 0.1, 1.5e300, 3, -0.0, "1e-05", "0.1", "yes", "", "a\nb"])
def test_override_text_reads_back_as_the_same_value_in_pyyaml(value: object) -> None:
    """The text a trial writes for a value is read by plain PyYAML (YAML 1.1) as the same
    value of the same type: ``1e-05`` would be text there, so it is written 1.0e-05."""
    text = value_text(value)
    assert "\n" not in text
    read = yaml.safe_load(text)
    assert type(read) is type(value) and read == value


def test_options_and_python_give_the_same_plan() -> None:
    from_options = plan_from_options(
        SPEC,
        grid=[f"{LR}=0.1,0.01"],
        random=["train.weight_decay=loguniform:1e-8,1e-4"],
        trials=4,
        seed_list="0,3",
        overrides=["train.iterations=30"],
    )
    from_python = plan_from_python(
        SPEC,
        grid={LR: [0.1, np.float64(0.01)]},
        random={"train.weight_decay": "loguniform:1e-8,1e-4"},
        trials=4,
        seeds=[0, 3],
        overrides={"train.iterations": 30},
    )
    assert from_python == from_options
    assert [t.id for t in expand(from_python)] == [t.id for t in expand(from_options)]


def test_the_spec_path_is_kept_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SPECS)
    assert plan_from_options("two_layer_teacher.yaml").spec == Path(SPEC)


def test_overrides_are_kept_as_text_that_reads_back() -> None:
    plan = plan_from_options(
        SPEC, overrides=["model.layers[0].units=20", "optimizer=adam", "train.iterations=10"]
    )
    assert plan.overrides == ("model.layers.0.units=20", "optimizer=adam", "train.iterations=10")
    again = plan_from_options(SPEC, overrides=["model.layers.0.units=20", *plan.overrides[1:]])
    assert again == plan


def test_a_part_named_by_set_can_have_its_settings_swept() -> None:
    plan = plan_from_options(SPEC, overrides=["optimizer=adam"], grid=[f"{LR}=0.001,0.01"])
    assert [t.overrides for t in expand(plan)] == [(f"{LR}=0.001",), (f"{LR}=0.01",)]


def problems(**options: object) -> list[str]:
    with pytest.raises(SpecError) as raised:
        plan_from_options(SPEC, **options)  # type: ignore[arg-type]
    lines = str(raised.value).splitlines()
    assert len(lines) == len(raised.value.problems)
    assert all(problem.location is not None for problem in raised.value.problems)
    return lines


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (
            {"grid": [f"{LR}=0.1,0.1"]},
            ["--grid optimizer.learning_rate=0.1,0.1", "0.1 is given twice"],
        ),
        ({"grid": [f"{LR}="]}, ["no values", f"--grid {LR}="]),
        ({"grid": [LR]}, ["expected KEY=V1,V2", "for example --grid"]),
        (
            {"grid": ["seed=1,2"]},
            ["seed: the seed cannot be swept by grid", "--seeds N or --seed-list"],
        ),
        ({"random": ["seed=int:0,9"], "trials": 2}, ["cannot be swept by random", "--seeds N"]),
        (
            {"grid": [f"{LR}=0.1", f"{LR}=0.2"]},
            ["swept twice", f"--grid {LR}=0.2", "give all of its values once"],
        ),
        (
            {"grid": [f"{LR}=0.1"], "random": [f"{LR}=uniform:0,1"], "trials": 2},
            ["swept twice (first by grid", f"--random {LR}"],
        ),
        ({"grid": ["model.layers[0].units=1", "model.layers.0.units=2"]}, ["swept twice"]),
        (
            {"random": [f"{LR}=uniform:1,0"], "trials": 2},
            [f"--random {LR}=uniform:1,0", "write uniform:0,1"],
        ),
        (
            {"random": [f"{LR}=gauss:0,1"], "trials": 2},
            ["unknown distribution 'gauss'", "the kinds are"],
        ),
        ({"random": [f"{LR}=uniform:0,1"]}, ["needs its number of trials", "add --trials N"]),
        ({"trials": 4}, ["no key to draw", "--trials 4", "--random KEY=DIST"]),
        ({"random": [f"{LR}=uniform:0,1"], "trials": 0}, ["--trials 0", "from 1"]),
        ({"seeds": 2, "seed_list": "0,1"}, ["both --seeds and --seed-list"]),
        ({"seeds": 0}, ["at least 1 seed", "--seeds 0"]),
        ({"seed_list": "0,0"}, ["seed 0 is given twice", "--seed-list 0,0"]),
        ({"seed_list": "0,a"}, ["whole number, not text 'a'"]),
        ({"seeds": 2, "overrides": ["seed=5"]}, ["replaced by each trial's seed", "--set seed=5"]),
        (
            {"grid": [f"{LR}=0.1,0.2"], "overrides": [f"{LR}=0.3"]},
            ["the set value would never be used", f"--set {LR}=0.3"],
        ),
        ({"grid": ["a..b=1"]}, ["bad override key 'a..b'", "--grid a..b=1"]),
        ({"grid": ["x=[1,2]"]}, ["YAML scalar, not a list", "--grid x=[1,2]"]),
        ({"overrides": ["nokey"]}, ["expected KEY=VALUE"]),
        ({"grid": [f"{LR}=0.1,"]}, ["has an empty value", "remove the extra comma"]),
        ({"grid": [f"{LR}=,0.1"]}, ["has an empty value"]),
        (
            {"grid": [f"k{i}=" + ",".join(map(str, range(10))) for i in range(6)]},
            [f"more than {MAX_TRIALS}"],
        ),
    ],
)
def test_a_bad_sweep_is_one_located_line_per_problem(
    options: dict[str, object], says: list[str]
) -> None:
    lines = problems(**options)
    assert any(all(text in line for text in says) for line in lines), lines


def test_every_problem_is_reported_at_once() -> None:
    lines = problems(
        grid=[f"{LR}=0.1,0.1", "seed=1"], random=["x=nope:1"], trials=2, seed_list="1,1"
    )
    assert len(lines) == 4


def test_python_arguments_are_named_in_problems() -> None:
    with pytest.raises(SpecError) as raised:
        plan_from_python(SPEC, grid={LR: "0.1", ACT: [[1]]}, random={"x": "uniform:2,1"}, trials=1)
    text = str(raised.value)
    assert "grid['optimizer.learning_rate']" in text and "expected a list of values" in text
    assert "grid['model.layers.0.activation'][0]" in text
    assert "random['x']" in text
    assert len(text.splitlines()) == 3


def test_numpy_numbers_are_set_as_the_numbers_they_hold() -> None:
    plan = plan_from_python(
        SPEC, overrides={"train.weight_decay": np.float32(0.5)}, seeds=np.int64(2)
    )
    assert plan.overrides == ("train.weight_decay=0.5",) and plan.seeds == (0, 1)


def test_a_seed_count_in_python_is_the_seeds_from_0() -> None:
    assert plan_from_python(SPEC, seeds=3).seeds == (0, 1, 2)
    assert plan_from_python(SPEC, seeds=[5, 1]).seeds == (5, 1)
    assert math.prod([1]) == plan_from_python(SPEC).count
