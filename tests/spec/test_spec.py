"""Spec loading: the two forms of a part, defaults, overrides, and the resolved spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import toolkit
from tests.helpers import SPECS, write
from toolkit.spec.load import DEFAULTS

MINIMAL = {
    "data": {"name": "random", "samples": 20, "features": 5, "classes": 3},
    "model": {"layers": [{"units": 3}]},
}


def test_string_and_mapping_part_forms_normalize_alike() -> None:
    """`loss: cross_entropy` and `loss: {name: cross_entropy}` give the same spec."""
    short = toolkit.load_spec({**MINIMAL, "loss": "cross_entropy", "optimizer": "sgd"})
    long = toolkit.load_spec(
        {
            **MINIMAL,
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "sgd", "learning_rate": 0.01},
        }
    )
    assert short.config == long.config


def test_only_data_and_layers_are_required() -> None:
    """Everything but data and model.layers gets its documented default."""
    config = toolkit.load_spec(MINIMAL).config
    assert config["seed"] == DEFAULTS["seed"] == 0
    assert config["rng"] == "default"
    assert config["loss"] == {"name": "cross_entropy"}
    assert config["gradient"] == {"name": "central_difference", "h": 1e-4}
    assert config["optimizer"] == {"name": "sgd", "learning_rate": 0.01}
    assert config["train"] == {
        "iterations": 100,
        "batch_size": 100,
        "log_every": 10,
        "weight_decay": 0.0,  # no checkpoint_every: checkpoints follow the clock
    }
    assert config["model"]["layers"][0] == {
        "type": "dense",
        "units": 3,
        "activation": {"name": "identity"},
        "init": {"name": "normal", "scale": 0.01},
        "bias_init": {"name": "zeros"},
    }


def test_override_reaches_a_part_written_as_a_bare_name() -> None:
    """`optimizer.learning_rate` can be set where the file wrote `optimizer: sgd`."""
    spec = toolkit.load_spec({**MINIMAL, "optimizer": "sgd"}, ["optimizer.learning_rate=0.5"])
    assert spec.config["optimizer"] == {"name": "sgd", "learning_rate": 0.5}


def test_override_forms_agree() -> None:
    """Dotted indices, bracket indices and the Python mapping form set the same value."""
    dotted = toolkit.load_spec(MINIMAL, ["model.layers.0.activation=relu"])
    bracket = toolkit.load_spec(MINIMAL, ["model.layers[0].activation=relu"])
    mapping = toolkit.load_spec(MINIMAL, {"model.layers.0.activation": "relu"})
    assert dotted.config == bracket.config == mapping.config
    assert dotted.config["model"]["layers"][0]["activation"] == {"name": "relu"}


def test_override_values_are_yaml_scalars() -> None:
    """Values parse as YAML: numbers, exponent floats such as 1e-3, and text."""
    spec = toolkit.load_spec(MINIMAL, ["seed=5", "gradient.h=1e-3", "name=run 1"])
    assert (spec.config["seed"], spec.config["gradient"]["h"], spec.name) == (5, 0.001, "run 1")


def test_override_replacing_a_part_drops_its_old_settings() -> None:
    """Setting a part to a new name replaces the whole part, settings included."""
    base = {
        **MINIMAL,
        "model": {"layers": [{"units": 3, "activation": {"name": "leaky_relu", "slope": 0.2}}]},
    }
    spec = toolkit.load_spec(base, ["model.layers.0.activation=tanh"])
    assert spec.config["model"]["layers"][0]["activation"] == {"name": "tanh"}


def test_override_does_not_change_the_callers_mapping() -> None:
    """load_spec leaves the mapping it was given untouched."""
    given = {**MINIMAL, "model": {"layers": [{"units": 3}]}}
    toolkit.load_spec(given, ["model.layers.0.units=7", "data.classes=7", "loss=sum_squared_error"])
    assert given["model"] == {"layers": [{"units": 3}]}
    assert given["data"] == MINIMAL["data"] and "loss" not in given


def test_part_settings_get_defaults_and_ints_widen_to_floats() -> None:
    """A part's unset parameters get its defaults; an integer given for a float is a float."""
    spec = toolkit.load_spec(
        {
            **MINIMAL,
            "optimizer": {"name": "sgd", "learning_rate": 1},
            "model": {"layers": [{"units": 3, "activation": "leaky_relu"}]},
        }
    )
    assert spec.config["optimizer"]["learning_rate"] == 1.0
    assert isinstance(spec.config["optimizer"]["learning_rate"], float)
    assert spec.config["model"]["layers"][0]["activation"] == {"name": "leaky_relu", "slope": 0.01}


def test_resolved_spec_round_trips_through_yaml(tmp_path: Path) -> None:
    """The resolved spec, written as YAML and loaded again, resolves to itself."""
    spec = toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", ["optimizer.learning_rate=0.3"])
    again = toolkit.load_spec(write(tmp_path / "resolved.yaml", spec.to_yaml()))
    assert again.config == spec.config
    assert yaml.safe_load(spec.to_yaml())["optimizer"]["learning_rate"] == 0.3


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    """A spec file without `name:` is named after the file."""
    path = write(tmp_path / "my_net.yaml", yaml.safe_dump(MINIMAL))
    assert toolkit.load_spec(path).name == "my_net"


def test_every_problem_is_reported_at_once() -> None:
    """A spec with several mistakes lists all of them, each with its key path."""
    bad = {
        "data": {"name": "random", "samples": 0},
        "model": {"layers": [{"units": -1}]},
        "optimizer": {"name": "sgd", "learning_rat": 0.1},
        "trian": {},
    }
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(bad)
    paths = [problem.path for problem in caught.value.problems]
    assert sorted(paths) == sorted(
        ["trian", "model.layers[0].units", "optimizer.learning_rat", "data.samples"]
    )


def test_qualified_part_names_resolve() -> None:
    """`plugin:name` picks a part from one plugin."""
    spec = toolkit.load_spec({**MINIMAL, "loss": "toolkit_plugins.losses:cross_entropy"})
    assert spec.entry(("loss",), "loss").plugin == "toolkit_plugins.losses"


def test_yaml_floats_with_exponent_and_no_dot_are_numbers(tmp_path: Path) -> None:
    """`h: 1e-4` is a number, as YAML 1.2 reads it, not the text '1e-4'."""
    text = (SPECS / "two_layer_sigmoid.yaml").read_text().replace("h: 1.0e-4", "h: 1e-4")
    spec = toolkit.load_spec(write(tmp_path / "spec.yaml", text))
    assert spec.config["gradient"]["h"] == 1e-4


def test_setting_a_part_name_replaces_the_part() -> None:
    """`gradient.name=backprop` drops the old estimator's h; later settings apply to the new."""
    spec = toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", ["gradient.name=backprop"])
    assert spec.config["gradient"] == {"name": "backprop"}
    spec = toolkit.load_spec(
        SPECS / "two_layer_sigmoid.yaml", ["gradient.name=spsa", "gradient.samples=4"]
    )
    assert spec.config["gradient"] == {"name": "spsa", "samples": 4, "c": 1e-4}
    layer = toolkit.load_spec(
        SPECS / "two_layer_sigmoid.yaml", ["model.layers.0.init.name=xavier"]
    ).config["model"]["layers"][0]
    assert layer["init"] == {"name": "xavier"}


# -- Inputs that once escaped as something other than a SpecError ------------------------------

BASE = "data: {name: random, samples: 20, features: 5, classes: 3}\nmodel: {layers: [{units: 3}]}\n"


def problem_lines(source: Any, overrides: Any = None) -> list[str]:
    """The lines of the SpecError that loading ``source`` with ``overrides`` raises."""
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(source, overrides)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems), lines
    return lines


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("!!int abc", "cannot read !!int 'abc' as a whole number", "remove the tag"),
        ("!!int ''", "cannot read !!int '' as a whole number", "remove the tag"),
        ("!!float abc", "cannot read !!float 'abc' as a number", "remove the tag"),
        ("!!bool maybe", "cannot read !!bool 'maybe' as true or false", "remove the tag"),
        (
            "017",
            "'017' has a leading zero, so it is ambiguous (17 in YAML 1.2, octal 15 in YAML 1.1)",
            "put it in quotes",
        ),
        ("9" * 4301, "cannot read a whole number of 4301 digits", "at most 4300 digits"),
    ],
)
def test_unreadable_scalar_is_a_problem_at_its_place(
    tmp_path: Path, value: str, message: str, hint: str
) -> None:
    """A scalar PyYAML cannot read as its tag says is a problem at its line and column."""
    path = write(tmp_path / "spec.yaml", BASE + f"seed: {value}\n")
    (line,) = problem_lines(path)
    assert line.startswith(f"seed: {message} ({path} line 3, column 7); ")
    assert hint in line
    (line,) = problem_lines(MINIMAL, [f"seed={value}"])
    assert line.startswith(f"seed: {message} (--set seed={value}); ")


def test_unreadable_key_is_a_problem_at_the_key(tmp_path: Path) -> None:
    """`!!int abc: 1` is reported at the key, not raised."""
    path = write(tmp_path / "spec.yaml", BASE + "!!int abc : 1\n")
    (line,) = problem_lines(path)
    assert line.startswith(f"cannot read !!int 'abc' as a whole number ({path} line 3, column 1)")


def test_huge_whole_numbers_are_described_not_written_out() -> None:
    """A whole number too long to write is named by its length, in a mapping or an override."""
    expected = "seed: a whole number of 4301 digits is too long"
    assert problem_lines({**MINIMAL, "seed": 10**4300})[0].startswith(expected)
    assert problem_lines({**MINIMAL, "name": 10**4300})[0].startswith("name: a whole number")
    (line,) = problem_lines(MINIMAL, {"seed": 10**4300})
    assert line.startswith(f"{expected} (overrides seed=a whole number of 4301 digits)")
    (line,) = problem_lines({**MINIMAL, "seed": 10**400})
    assert line == "seed: must be from 0 to 4294967295, got a whole number of 401 digits"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x1f", "\x7f"])
def test_unprintable_character_is_a_problem_at_its_place(tmp_path: Path, char: str) -> None:
    """A control character PyYAML refuses is one line with its line and column."""
    path = write(tmp_path / "spec.yaml", BASE + f"name: a{char}b\n")
    escaped = repr(char)
    (line,) = problem_lines(path)
    assert line.startswith(f"the unprintable character {escaped} is not allowed in YAML ")
    assert f"({path} line 3, column 8)" in line
    (line,) = problem_lines(MINIMAL, [f"name={char}"])
    assert line.startswith(f"name: the unprintable character {escaped}")
    assert f"(--set name={escaped[1:-1]})" in line


@pytest.mark.parametrize("value", [5, True])
def test_plugins_that_is_not_a_list_is_one_problem(tmp_path: Path, value: object) -> None:
    """`plugins: 5` is reported once, in a file, a mapping or an override."""
    path = write(tmp_path / "spec.yaml", BASE + f"plugins: {str(value).lower()}\n")
    for lines in (
        problem_lines(path),
        problem_lines({**MINIMAL, "plugins": value}),
        problem_lines(MINIMAL, [f"plugins={str(value).lower()}"]),
    ):
        assert len(lines) == 1 and lines[0].startswith("plugins: expected a list of module names")


@pytest.mark.parametrize(
    ("source", "overrides", "path"),
    [
        ({**MINIMAL, "optimizer": {"name": "sgd", "learning_rate": 10**400}}, None, "optimizer"),
        (MINIMAL, ["gradient.h=1" + "0" * 400], "gradient.h"),
        ({**MINIMAL, "train": {"weight_decay": 10**400}}, None, "train.weight_decay"),
    ],
)
def test_whole_number_beyond_a_float_is_not_finite(
    source: dict[str, object], overrides: list[str] | None, path: str
) -> None:
    """A float setting given a whole number too large for a float is not a finite number."""
    (line,) = problem_lines(source, overrides)
    assert line.startswith(path) and "finite number" in line, line
    assert "a whole number of 401 digits" in line


def test_teacher_with_more_samples_than_numpy_can_index() -> None:
    """The teacher's split check does not overflow on a huge number of samples."""
    (line,) = problem_lines({**MINIMAL, "data": {"name": "teacher", "samples": 10**400}})
    assert line.startswith("data.samples: dataset 'teacher': must be at most 9223372036854775807")


@pytest.mark.parametrize("key", ["da\nta", "x\u2028y", "a\rb", "a\x85b"])
def test_user_text_with_line_breaks_stays_on_one_line(tmp_path: Path, key: str) -> None:
    """Keys, values and overrides with line breaks are escaped: one problem, one line."""
    escaped = repr(key)
    (line,) = problem_lines({**MINIMAL, key: 1})
    assert line.startswith(f"{escaped}: unknown key {escaped}")
    (line,) = problem_lines({**MINIMAL, "loss": key})
    assert line.startswith(f"loss: unknown loss {escaped}")
    (line,) = problem_lines(MINIMAL, [f"seed{key}x=1"])
    assert f"(--set seed{escaped[1:-1]}x=1)" in line


def test_unicode_digits_are_not_list_indices() -> None:
    """`model.layers.¹.units` names a key '¹', not the index 1."""
    (line,) = problem_lines(MINIMAL, ["model.layers.\u00b9.units=3"])
    assert "'\u00b9' is not a number" in line
    (line,) = problem_lines(MINIMAL, ["model.layers[\u0663].units=3"])
    assert line.startswith("bad override key 'model.layers[\u0663].units'")


@pytest.mark.parametrize(
    ("source", "overrides"),
    [
        ({**MINIMAL, "model": {1: 2}}, ["model.layers.0.units=3"]),
        (MINIMAL, {"model": {0: None}, "model.layers.0": None}),
    ],
)
def test_override_through_a_mapping_with_keys_that_are_not_text(
    source: dict[object, object], overrides: object
) -> None:
    """An override that passes a mapping with number keys says there is no list there."""
    lines = problem_lines(source, overrides)
    assert any("cannot set: there is no list model.layers" in line for line in lines), lines


def test_mapping_nested_too_deep_is_refused_where_it_is() -> None:
    """A mapping nested past YAML's limit (or holding itself) is refused, naming the place."""
    deep: dict[str, object] = {}
    for _ in range(1000):
        deep = {"a": deep}
    (line,) = problem_lines({**MINIMAL, "train": deep})
    assert line.startswith("train." + ".".join(["a"] * 50) + ": the spec is too large")
    looped = dict(MINIMAL)
    looped["train"] = looped
    (line,) = problem_lines(looped)
    assert line.startswith("train.train.") and "holds itself" in line


def test_empty_key_is_named(tmp_path: Path) -> None:
    """An empty key is named '' in a mapping, and at its place in a file."""
    (line,) = problem_lines({**MINIMAL, "": 1})
    assert line.startswith("'': unknown key '' (an empty key)")
    path = write(tmp_path / "spec.yaml", BASE + '"": 1\n')
    (line,) = problem_lines(path)
    assert line.startswith(f"'': unknown key '' (an empty key) ({path} line 3, column 1)")


def test_checkpoint_every_is_reported_only_when_set() -> None:
    """A bad log_every is not reported again as the checkpoint_every it defaults to."""
    assert problem_lines({**MINIMAL, "train": {"log_every": 0}}) == [
        "train.log_every: must be at least 1, got 0"
    ]
    lines = problem_lines({**MINIMAL, "train": {"log_every": 0, "checkpoint_every": 0}})
    assert lines[1] == "train.checkpoint_every: must be at least 1, got 0"
