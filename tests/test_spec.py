"""Spec loading: the two forms of a part, defaults, overrides, and the resolved spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import toolkit
from conftest import SPECS, write
from toolkit.spec import DEFAULTS

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
        "checkpoint_every": 10,  # log_every's value: a checkpoint at each log point
        "weight_decay": 0.0,
    }
    assert config["model"]["layers"][0] == {
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
