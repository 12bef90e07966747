"""Sweep files: read with the spec's safe reader, every problem located at its line, and
written back in a form that reads as the same sweep."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.helpers import SPECS, write
from toolkit import SpecError, UsageError
from toolkit.sweeps.plan import expand, plan_from_options, plan_from_python
from toolkit.sweeps.sweepfile import is_sweep_file, load_sweep, write_sweep

SPEC = SPECS / "two_layer_teacher.yaml"
LR = "optimizer.learning_rate"

FULL = f"""\
spec: {SPEC}
set: {{train.iterations: 30, optimizer: adam}}
grid:
  {LR}: [0.1, 0.01]
  model.layers.0.activation: [sigmoid, relu]
random:
  trials: 3
  seed: 5
  params:
    train.weight_decay: loguniform:1e-8,1e-4
seeds: [0, 3]
plugins: [my_parts]
"""


def test_a_sweep_file_is_the_same_sweep_as_its_options(tmp_path: Path) -> None:
    plan = load_sweep(write(tmp_path / "sweep.yaml", FULL))
    assert plan == plan_from_options(
        SPEC,
        overrides=["train.iterations=30", "optimizer=adam"],
        grid=[f"{LR}=0.1,0.01", "model.layers.0.activation=sigmoid,relu"],
        random=["train.weight_decay=loguniform:1e-8,1e-4"],
        trials=3,
        random_seed=5,
        seed_list="0,3",
        plugins=["my_parts"],
    )
    assert plan.count == 2 * 2 * 3 * 2


def test_the_spec_is_relative_to_the_sweep_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "sweeps"
    folder.mkdir()
    write(tmp_path / "base.yaml", SPEC.read_text())
    path = write(folder / "sweep.yaml", "spec: ../base.yaml\nseeds: 2\n")
    monkeypatch.chdir(SPECS)  # not the file's folder
    plan = load_sweep(path)
    assert plan.spec == tmp_path / "base.yaml"
    assert plan.seeds == (0, 1)


def test_only_spec_is_needed(tmp_path: Path) -> None:
    plan = load_sweep(write(tmp_path / "sweep.yaml", f"spec: {SPEC}\n"))
    assert plan.count == 1 and plan.grid == () and plan.random is None and plan.seeds is None


def problem_lines(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path / "sweep.yaml", text)
    with pytest.raises(SpecError) as raised:
        load_sweep(path)
    lines = str(raised.value).splitlines()
    assert len(lines) == len(raised.value.problems)
    for problem in raised.value.problems:
        assert problem.location is not None and problem.location.source == str(path)
        assert problem.location.line is not None
    return lines


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (f"spec: {SPEC}\nseed: 3\n", 2, ["seed: unknown key", "did you mean 'seeds'?"]),
        (f"spec: {SPEC}\ngird: {{a: [1]}}\n", 2, ["did you mean 'grid'?"]),
        ("grid: {a: [1]}\n", 1, ["spec: missing", "write spec: my_spec.yaml"]),
        ("spec: nowhere.yaml\n", 1, ["no such spec file", "nowhere.yaml", "relative to the sweep"]),
        ("spec: [a]\n", 1, ["spec: expected a path, got a list"]),
        (f"spec: {SPEC}\ngrid:\n  {LR}: 0.1\n", 3, [f"{LR}: expected a list of values, got 0.1"]),
        (f"spec: {SPEC}\ngrid:\n  {LR}: []\n", 3, ["no values for this key"]),
        (f"spec: {SPEC}\ngrid:\n  {LR}: [0.1, [2]]\n", 3, ["expected a YAML scalar, got a list"]),
        (f"spec: {SPEC}\ngrid:\n  {LR}: [0.1, 0.1]\n", 3, ["0.1 is given twice"]),
        (f"spec: {SPEC}\ngrid:\n  seed: [1, 2]\n", 3, ["the seed cannot be swept", "seeds:"]),
        (f"spec: {SPEC}\ngrid: [1]\n", 2, ["grid: expected a mapping, got a list"]),
        (
            f"spec: {SPEC}\nrandom:\n  trials: 2\n  params:\n    {LR}: uniform:1,0\n",
            5,
            ["'uniform:1,0': the first bound must be below", "write uniform:0,1"],
        ),
        (
            f"spec: {SPEC}\nrandom:\n  trails: 2\n  params: {{x: 'uniform:0,1'}}\n",
            3,
            ["random.trails: unknown key", "did you mean 'trials'?"],
        ),
        (f"spec: {SPEC}\nrandom:\n  trials: 2\n", 2, ["random.params: missing"]),
        (f"spec: {SPEC}\nrandom:\n  trials: 0\n  params: {{x: 'uniform:0,1'}}\n", 3, ["from 1"]),
        (
            f"spec: {SPEC}\nrandom:\n  trials: 2\n  seed: -1\n  params: {{x: 'uniform:0,1'}}\n",
            4,
            ["random.seed: expected a whole number from 0, got -1"],
        ),
        (f"spec: {SPEC}\nseeds: 0\n", 2, ["at least 1 seed"]),
        (f"spec: {SPEC}\nseeds: [1, 1]\n", 2, ["seed 1 is given twice"]),
        (f"spec: {SPEC}\nseeds: two\n", 2, ["expected seeds, got text 'two'"]),
        (f"spec: {SPEC}\nplugins: mine\n", 2, ["expected a list of module names"]),
        (f"spec: {SPEC}\nset: {{seed: 3}}\nseeds: 2\n", 2, ["replaced by each trial's seed"]),
        (f"spec: {SPEC}\nset: {{'a..b': 3}}\n", 2, ["bad override key 'a..b'"]),
        (f"spec: {SPEC}\nseeds: !!python/object:os.system x\n", 2, ["is not allowed"]),
        ("- a\n- b\n", 1, ["a sweep file is a mapping", "not a list"]),
    ],
)
def test_each_problem_is_one_line_at_its_place(
    tmp_path: Path, text: str, line: int, says: list[str]
) -> None:
    lines = problem_lines(tmp_path, text)
    located = [entry for entry in lines if f"line {line}, column" in entry]
    assert any(all(piece in entry for piece in says) for entry in located), lines


def test_an_empty_random_search_is_one_problem(tmp_path: Path) -> None:
    lines = problem_lines(tmp_path, f"spec: {SPEC}\nrandom: {{trials: 2, params: {{}}}}\n")
    assert len(lines) == 1 and "random.params: no keys to draw" in lines[0]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = "spec: none.yaml\nsets: {}\ngrid: {a: []}\nseeds: 0\n"
    assert len(problem_lines(tmp_path, text)) == 4


def roundtrip(plan_path: Path, tmp_path: Path) -> None:
    plan = load_sweep(plan_path)
    written = write_sweep(plan, tmp_path / "resolved.yaml")
    again = load_sweep(written)
    assert again == plan
    assert [(t.id, t.name, t.overrides) for t in expand(again)] == [
        (t.id, t.name, t.overrides) for t in expand(plan)
    ]


def test_the_written_sweep_reads_back_as_the_same_sweep(tmp_path: Path) -> None:
    roundtrip(write(tmp_path / "sweep.yaml", FULL), tmp_path)


@pytest.mark.parametrize(
    "plan",
    [
        plan_from_options(SPEC),
        plan_from_options(SPEC, seeds=4),
        plan_from_options(SPEC, seed_list="7,2"),
        plan_from_python(
            SPEC,
            grid={
                "data.name": ["0.1", "a,b", "x: y", "é", "#c", "", "yes", "null", "a\nb"],
                "train.log_every": [1, 1.0, True, None, 10**25, 1e-05, np.float64(0.5)],
            },
            random={"model.layers.0.activation": "choice:'a,b',\"c]\",'1e5'"},
            trials=2,
            random_seed=9,
            overrides={"model.layers": [{"units": 3, "activation": "x y"}], "name": "1e-3"},
            plugins=["p1", "p2"],
        ),
    ],
)
def test_any_plan_is_written_as_a_sweep_that_reads_back_the_same(plan, tmp_path: Path) -> None:
    path = write_sweep(plan, tmp_path / "sweep.yaml")
    again = load_sweep(path)
    assert again == plan
    assert [t.overrides for t in expand(again)] == [t.overrides for t in expand(plan)]


def test_the_written_sweep_records_the_random_seed_and_an_absolute_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(SPECS)
    plan = plan_from_options("two_layer_teacher.yaml", random=[f"{LR}=uniform:0,1"], trials=2)
    data = yaml.safe_load(write_sweep(plan, tmp_path / "sweep.yaml").read_text())
    assert data["random"]["seed"] == 0
    assert data["spec"] == str(SPEC)


def test_writing_never_replaces_a_file(tmp_path: Path) -> None:
    target = write(tmp_path / "sweep.yaml", "mine\n")
    with pytest.raises(UsageError, match="already exists"):
        write_sweep(plan_from_options(SPEC), target)
    assert target.read_text() == "mine\n"


def test_a_sweep_file_is_told_from_a_spec(tmp_path: Path) -> None:
    assert is_sweep_file(write(tmp_path / "sweep.yaml", FULL))
    assert is_sweep_file(write(tmp_path / "s.yaml", "spec: x.yaml\n"))
    for spec in SPECS.glob("*.yaml"):
        assert not is_sweep_file(spec), spec
    assert not is_sweep_file(write(tmp_path / "both.yaml", "spec: x\nmodel: {}\n"))
    assert not is_sweep_file(write(tmp_path / "list.yaml", "- spec\n"))
    assert not is_sweep_file(write(tmp_path / "bad.yaml", "spec: [\n"))
    assert not is_sweep_file(tmp_path / "missing.yaml")
    assert not is_sweep_file(tmp_path)


def test_the_written_file_says_what_it_is(tmp_path: Path) -> None:
    text = write_sweep(plan_from_options(SPEC, seeds=2), tmp_path / "s.yaml").read_text()
    assert re.match(r"# .*toolkit sweep", text)
    assert "seeds: 2\n" in text
