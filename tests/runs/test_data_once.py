"""The data is built once: one dataset call per run, none while a spec loads."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import toolkit
from tests.helpers import write
from toolkit.cli import main

COUNTING = """\
import numpy as np

from toolkit import Dataset, Part

calls = 0


def counted(rng, samples=12, features=4, classes=3):
    global calls
    calls += 1
    x = rng.standard_normal((samples, features))
    return Dataset(x, np.eye(classes)[np.arange(samples) % classes])


def declared(classes, **settings):
    return classes


def toolkit_datasets():
    return {"counted": Part(counted), "counted_declared": Part(counted, classes=declared)}
"""

SPEC = """\
plugins: [counting]
seed: 3
data: {name: DATASET}
model:
  layers:
    - {units: 5, activation: tanh}
    - {units: UNITS, activation: softmax}
train: {iterations: 3, batch_size: 4, log_every: 1}
"""


def counting_spec(folder: Path, dataset: str = "counted", units: int = 3) -> Path:
    write(folder / "counting.py", COUNTING)
    text = SPEC.replace("DATASET", dataset).replace("UNITS", str(units))
    return write(folder / "spec.yaml", text)


def calls() -> int:
    return int(sys.modules["counting"].calls)


def run_main(*args: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        return main(list(args))


@pytest.mark.parametrize("dataset", ["counted", "counted_declared"])
def test_train_calls_the_dataset_once(
    plugin_folder: Path, dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`toolkit train` loads the spec and runs it: the dataset is called once (twice before)."""
    spec = counting_spec(plugin_folder, dataset)
    assert run_main("train", str(spec), "-q") == 0
    assert calls() == 1
    assert "done: 3 iterations" in capsys.readouterr().out


@pytest.mark.parametrize("dataset", ["counted", "counted_declared"])
def test_validate_calls_the_dataset_once_to_show_the_network(
    plugin_folder: Path, dataset: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`toolkit validate` builds the network it shows (its inputs are the data's features)."""
    spec = counting_spec(plugin_folder, dataset)
    assert run_main("validate", str(spec)) == 0
    assert calls() == 1
    out = capsys.readouterr().out
    assert "data: 12 samples, 4 features, 3 classes" in out and out.endswith("valid\n")


def test_loading_a_spec_calls_no_dataset_and_build_calls_it_once(plugin_folder: Path) -> None:
    """load_spec checks without building data; toolkit.build and toolkit.train build it once."""
    path = counting_spec(plugin_folder)
    spec = toolkit.load_spec(path)
    assert calls() == 0
    toolkit.build(spec)
    assert calls() == 1
    toolkit.build(path)  # a path: loaded, then built
    assert calls() == 2
    toolkit.train(spec)
    assert calls() == 3


def test_the_data_is_the_first_draw_from_the_seed(plugin_folder: Path) -> None:
    """Built once, at the start of the run: x is numpy's first draw from the spec's seed."""
    spec = toolkit.load_spec(counting_spec(plugin_folder))
    expected = np.random.default_rng(3).standard_normal((12, 4))
    np.testing.assert_array_equal(toolkit.load_data(spec).x, expected)
    assert calls() == 1


def test_a_declared_class_count_is_checked_with_the_other_problems(plugin_folder: Path) -> None:
    """With Part.classes, the output layer is checked as the spec loads, no data built, and
    reported alongside another problem."""
    path = counting_spec(plugin_folder, "counted_declared", units=7)
    with pytest.raises(toolkit.SpecError) as raised:
        toolkit.load_spec(path, ["seed=-1"])
    assert calls() == 0
    paths = [problem.path for problem in raised.value.problems]
    assert paths == ["model.layers[1].units", "seed"]  # the file's, then the override's


def test_an_undeclared_class_count_is_the_same_located_error_when_built(
    plugin_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without Part.classes the check comes when the data is built: the same one line,
    at the same place, exit 2, as the declared check gives while the spec loads."""
    lines = []
    for dataset in ("counted_declared", "counted"):
        spec = counting_spec(plugin_folder, dataset, units=7)
        assert run_main("validate", str(spec)) == 2
        lines.append(capsys.readouterr().err)
    assert lines[0] == lines[1]
    assert lines[0].count("\n") == 1
    assert lines[0].startswith("error: model.layers[1].units: ")
    assert "the output layer has 7 units but the data has 3 classes" in lines[0]
    assert "spec.yaml line 7, column 15)" in lines[0] and "set units: 3" in lines[0]


@pytest.mark.parametrize(
    ("name", "settings", "classes"),
    [
        ("random", {"samples": 30, "features": 2, "classes": 4}, 4),
        ("teacher", {"samples": 40, "features": 3, "classes": 5, "hidden": 4}, 5),
        ("digits", {"test_fraction": 0.2}, 10),
    ],
)
def test_the_standard_datasets_declare_the_classes_they_build(
    name: str, settings: dict[str, object], classes: int
) -> None:
    """Each standard dataset declares the class count the data it builds has."""
    if name == "digits":
        pytest.importorskip("sklearn")
    layers = [{"units": classes}]
    spec = toolkit.load_spec({"data": {"name": name, **settings}, "model": {"layers": layers}})
    declared = spec.entry(("data",)).part.classes
    assert declared is not None and declared(**spec.settings.data.settings) == classes
    assert toolkit.load_data(spec).classes == classes
