"""Property-based fuzzing of sweeps: whatever the options or the sweep file, a plan or a
located error comes out.

A random set of ``--grid``, ``--random``, ``--trials``, ``--seeds``/``--seed-list``, ``--set``
and ``-p`` options, or a random sweep file, has exactly two allowed outcomes:

- a plan whose expansion has as many trials as the values given (counted from the text
  generated here: values per ``--grid``, random trials, seeds), every trial with its own
  id and its own safe folder name, every override reading back as its value; a sweep file's
  plan is written and read back as the same plan;
- or a SpecError (a UsageError) with one line per problem, each with its place (the
  option, or the sweep file's line).

No other exception may escape. The properties run at CI size with a fixed derandomized
search, and again with many random examples under ``pytest -m slow``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from tests.helpers import SPECS, fuzz_settings
from toolkit import SpecError, UsageError
from toolkit.spec.overrides import parse_override
from toolkit.sweeps.plan import NAME_LENGTH, SweepPlan, expand, plan_from_options
from toolkit.sweeps.sweepfile import load_sweep, write_sweep
from toolkit.sweeps.values import same_value

CI, SLOW = fuzz_settings(ci=150, slow=2000)
SPEC = SPECS / "two_layer_teacher.yaml"

KEYS = st.sampled_from(
    [
        "optimizer.learning_rate",
        "train.batch_size",
        "model.layers.0.units",
        "model.layers.1.units",
        "model.layers[0].units",
        "optimizer",
        "seed",
        "data.name",
        "a..b",
        "",
        "x=y",
        "k",
    ]
)
GOOD_TOKENS = ["0.1", "1e-3", "abc", "'a,b'", "true", "null", "7", "-2", '"y z"', "1.0", "0.10"]
BAD_TOKENS = ["", "[1]", "{a: 1}", "a: b", "#", "'", "]", "!!python/none x"]
TOKENS = st.sampled_from(GOOD_TOKENS + BAD_TOKENS)
DISTRIBUTIONS = st.one_of(
    st.builds(
        lambda kind, args: f"{kind}:{','.join(args)}",
        st.sampled_from(["uniform", "loguniform", "int", "choice", "unifrom", ""]),
        st.lists(
            st.sampled_from(["0", "1", "2.5", "1e-6", "-1", "a", "'b,c'", ".inf", "[1]"]),
            max_size=3,
        ),
    ),
    st.text(max_size=8),
)
SEED_LISTS = st.one_of(
    st.lists(st.integers(-2, 6), max_size=4).map(lambda seeds: ",".join(map(str, seeds))),
    st.text(max_size=6),
)
SETS = st.lists(
    st.sampled_from(
        [
            "train.iterations=3",
            "seed=2",
            "optimizer=adam",
            "x",
            "a..b=1",
            "optimizer.learning_rate=0.1",
        ]
    ),
    max_size=3,
)


CLEAN_KEYS = ["optimizer.learning_rate", "train.batch_size", "model.layers.0.units", "data.name"]
CLEAN_KEYS += ["model.layers.1.units", "train.log_every", "model.layers.0.activation"]
CLEAN_TOKENS = ["0.1", "1e-3", "abc", "'a,b'", "true", "null", "7", "-2", '"y z"', "1.0"]
CLEAN_DISTRIBUTIONS = ["uniform:0,1", "loguniform:1e-6,1e-2", "int:1,8", "choice:a,'b,c',3"]


@st.composite
def clean_option_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Options that make a sweep, with the number of trials they ask for."""
    keys = draw(st.lists(st.sampled_from(CLEAN_KEYS), unique=True, max_size=4))
    split = draw(st.integers(0, len(keys)))
    values = [
        draw(st.lists(st.sampled_from(CLEAN_TOKENS), unique=True, min_size=1, max_size=3))
        for _ in keys[:split]
    ]
    drawn = [draw(st.sampled_from(CLEAN_DISTRIBUTIONS)) for _ in keys[split:]]
    trials = draw(st.integers(1, 4)) if drawn else None
    seed_list = draw(st.none() | st.lists(st.integers(0, 9), unique=True, min_size=1, max_size=3))
    seeds = None if seed_list else draw(st.none() | st.integers(1, 3))
    options = {
        "grid": [f"{key}={','.join(tokens)}" for key, tokens in zip(keys, values, strict=False)],
        "random": [f"{key}={dist}" for key, dist in zip(keys[split:], drawn, strict=True)],
        "trials": trials,
        "seeds": seeds,
        "seed_list": None if seed_list is None else ",".join(map(str, seed_list)),
        "overrides": draw(st.lists(st.sampled_from(["train.iterations=3", "name=x"]), max_size=2)),
        "plugins": [],
    }
    count = math.prod(map(len, values)) * (trials or 1) * (seeds or len(seed_list or [0]))
    return {"options": options, "counts": [count], "clean": True}


@st.composite
def option_sets(draw: st.DrawFn) -> dict[str, Any]:
    """Options with, beside each ``--grid``, the number of values its text holds; half of
    them clean (they make a sweep), half anything."""
    if draw(st.booleans()):
        return draw(clean_option_sets())
    grids = draw(st.lists(st.tuples(KEYS, st.lists(TOKENS, max_size=4)), max_size=3))
    options: dict[str, Any] = {
        "grid": [f"{key}={','.join(tokens)}" for key, tokens in grids],
        "random": [
            f"{k}={d}" for k, d in draw(st.lists(st.tuples(KEYS, DISTRIBUTIONS), max_size=2))
        ],
        "trials": draw(st.none() | st.integers(-1, 4)),
        "seeds": draw(st.none() | st.integers(-1, 4)),
        "seed_list": draw(st.none() | SEED_LISTS),
        "overrides": draw(SETS),
        "plugins": draw(st.lists(st.sampled_from(["p1", "p2", ""]), max_size=2)),
    }
    if draw(st.booleans()):
        options["grid"].append(draw(st.text(max_size=10)))  # anything at all: not counted
    counts: list[int | None] = [  # bad tokens may join up (' and ' quote a comma), as may
        None if set(tokens) & set(BAD_TOKENS) or "=" in key else len(tokens)  # x=y and 1
        for key, tokens in grids
    ]
    return {"options": options, "counts": counts + [None] * (len(options["grid"]) - len(grids))}


def check_error(error: SpecError | UsageError, source: str | None = None) -> None:
    """One line per problem, each with its place (in the file ``source``, at a line)."""
    lines = str(error).splitlines()
    assert lines and all(line.strip() for line in lines)
    if isinstance(error, UsageError):
        assert len(lines) == 1
        return
    assert len(lines) == len(error.problems)
    for problem in error.problems:
        assert problem.location is not None, problem
        if source is not None:
            assert problem.location.source == source and problem.location.line is not None


def check_plan(plan: SweepPlan, count: int | None) -> None:
    """The expansion has ``count`` trials (None: as many as the plan says), each with its
    own id and safe name, and overrides that read back as its values."""
    trials = expand(plan)
    count = plan.count if count is None else count
    assert len(trials) == plan.count == count
    assert len({trial.id for trial in trials}) == count
    assert len({trial.name for trial in trials}) == count
    for trial in trials:
        assert re.fullmatch(r"[A-Za-z0-9._=+-]+", trial.name) and len(trial.name) <= NAME_LENGTH
        for (key, value), override in zip(trial.values, trial.overrides, strict=False):
            path, read = parse_override(override)
            assert ".".join(map(str, path)) == key and same_value(read, value)


def check_options(case: dict[str, Any]) -> None:
    options = case["options"]
    try:
        plan = plan_from_options(SPEC, **options)
    except (SpecError, UsageError) as error:
        event("refused")
        assert not case.get("clean"), error
        check_error(error)
        return
    event("a plan")
    if options["seeds"] is not None:
        seeds = options["seeds"]
    elif options["seed_list"] is not None:
        seeds = len(options["seed_list"].split(","))
    else:
        seeds = 1
    trials = options["trials"] if options["random"] else 1
    counts = case["counts"]
    expected = None if None in counts else math.prod(counts) * trials * seeds
    if case.get("clean"):
        expected = counts[0]
    check_plan(plan, expected)


@CI
@given(case=option_sets())
def test_options_give_a_plan_or_located_problems(case: dict[str, Any]) -> None:
    check_options(case)


@pytest.mark.slow
@SLOW
@given(case=option_sets())
def test_options_give_a_plan_or_located_problems_long(case: dict[str, Any]) -> None:
    check_options(case)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**20),
    st.floats(allow_nan=False, width=64),
    st.text(max_size=6),
)
ANYTHING = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=2), max_leaves=4)
FILE_KEYS = st.sampled_from(
    ["optimizer.learning_rate", "train.batch_size", "seed", "a..b", "0", "data.name"]
)


CLEAN_VALUES = st.lists(
    st.integers(-5, 10**20) | st.text("abcxyz_ ", min_size=1, max_size=5) | st.booleans(),
    unique_by=lambda value: (type(value), value),
    min_size=1,
    max_size=3,
)


@st.composite
def clean_sweep_files(draw: st.DrawFn) -> dict[str, Any]:
    """A valid sweep file's data."""
    keys = draw(st.lists(st.sampled_from(CLEAN_KEYS), unique=True, max_size=4))
    split = draw(st.integers(0, len(keys)))
    data: dict[str, Any] = {"spec": str(SPEC), "set": {"train.iterations": 3}}
    data["grid"] = {key: draw(CLEAN_VALUES) for key in keys[:split]}
    if keys[split:]:
        params = {key: draw(st.sampled_from(CLEAN_DISTRIBUTIONS)) for key in keys[split:]}
        data["random"] = {"trials": draw(st.integers(1, 3)), "params": params}
    seeds = st.integers(1, 3) | st.lists(st.integers(0, 9), unique=True, min_size=1, max_size=3)
    if draw(st.booleans()):
        data["seeds"] = draw(seeds)
    return data


@st.composite
def sweep_files(draw: st.DrawFn) -> dict[str, Any]:
    """A sweep file's data: half of them valid, half anything."""
    if draw(st.booleans()):
        return {**draw(clean_sweep_files()), "clean": True}
    data: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        data["spec"] = draw(st.sampled_from([str(SPEC), "../nowhere.yaml", ""]) | ANYTHING)
    grid = draw(st.dictionaries(FILE_KEYS, st.lists(SCALARS, max_size=3) | ANYTHING, max_size=2))
    if grid or draw(st.booleans()):
        data["grid"] = grid
    random = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "trials": st.integers(-1, 3) | ANYTHING,
                "seed": st.integers(-1, 3) | ANYTHING,
                "params": st.dictionaries(FILE_KEYS, DISTRIBUTIONS | ANYTHING, max_size=2),
                "extra": ANYTHING,
            },
        )
    )
    if random or draw(st.booleans()):
        data["random"] = random
    for key, values in (
        ("set", st.dictionaries(FILE_KEYS, ANYTHING, max_size=2)),
        ("seeds", st.integers(-1, 4) | st.lists(st.integers(-1, 4), max_size=3) | ANYTHING),
        ("plugins", st.lists(st.sampled_from(["p1", ""]), max_size=2) | ANYTHING),
        ("seedz", ANYTHING),
    ):
        if draw(st.integers(0, 3)) == 0:
            data[key] = draw(values)
    return data


def expected_count(data: dict[str, Any]) -> int:
    """The trials a valid sweep file asks for, counted from its data."""
    grid = math.prod(len(values) for values in (data.get("grid") or {}).values())
    random = (data.get("random") or {}).get("trials", 1)
    seeds = data.get("seeds")
    return grid * random * (1 if seeds is None else seeds if isinstance(seeds, int) else len(seeds))


def check_file(folder: Path, data: dict[str, Any]) -> None:
    path = folder / "sweep.yaml"
    clean = data.pop("clean", False)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        plan = load_sweep(path)
    except (SpecError, UsageError) as error:
        event("refused")
        assert not clean, error
        check_error(error, str(path))
        return
    event("a plan")
    read = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)  # as written
    check_plan(plan, expected_count(read))
    written = folder / "resolved.yaml"
    written.unlink(missing_ok=True)
    assert load_sweep(write_sweep(plan, written)) == plan


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each example's sweep file is written (module-scoped: examples share it)."""
    return tmp_path_factory.mktemp("fuzz_sweeps")


@CI
@given(data=sweep_files())
def test_sweep_files_give_a_plan_or_located_problems(folder: Path, data: dict[str, Any]) -> None:
    check_file(folder, data)


@pytest.mark.slow
@SLOW
@given(data=sweep_files())
def test_sweep_files_give_a_plan_or_located_problems_long(
    folder: Path, data: dict[str, Any]
) -> None:
    check_file(folder, data)
