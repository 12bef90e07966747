"""Overrides that replace a part and set its settings, in both forms and in any order."""

from __future__ import annotations

from typing import Any

import pytest

import toolkit
from tests.helpers import SPECS
from toolkit.cli import main

SPEC = SPECS / "two_layer_sigmoid.yaml"  # optimizer: {name: sgd, learning_rate: 0.1}
ADAM = {"name": "adam", "learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999}


@pytest.mark.parametrize(
    "overrides",
    [
        ["optimizer=adam", "optimizer.learning_rate=0.001"],
        ["optimizer.name=adam", "optimizer.learning_rate=0.001"],
        ["optimizer.learning_rate=0.001", "optimizer=adam"],
        ["optimizer.learning_rate=0.001", "optimizer.name=adam"],
        {"optimizer": "adam", "optimizer.learning_rate": 0.001},
        {"optimizer.name": "adam", "optimizer.learning_rate": 0.001},
        {"optimizer.learning_rate": 0.001, "optimizer": "adam"},
        {"optimizer.learning_rate": 0.001, "optimizer.name": "adam"},
        {"optimizer.learning_rate": 0.001, "optimizer": {"name": "adam"}},
    ],
    ids=str,
)
def test_a_part_named_then_set_in_either_form_and_order(overrides: Any) -> None:
    """The new part comes first, then its settings: adam with learning_rate 0.001."""
    assert toolkit.load_spec(SPEC, overrides).config["optimizer"] == ADAM


def test_the_old_parts_settings_do_not_carry_over() -> None:
    """sgd's learning_rate 0.1 (in the file) is not adam's: adam gets its own default."""
    for overrides in (["optimizer=adam"], ["optimizer.name=adam"]):
        config = toolkit.load_spec(SPEC, overrides).config
        assert config["optimizer"]["learning_rate"] == 0.001


def test_a_layer_part_named_then_set_in_any_order() -> None:
    """The same holds for a layer's parts: leaky_relu with slope 0.2."""
    for overrides in (
        ["model.layers.0.activation.slope=0.2", "model.layers.0.activation=leaky_relu"],
        {"model.layers[0].activation": "leaky_relu", "model.layers.0.activation.slope": 0.2},
    ):
        layer = toolkit.load_spec(SPEC, overrides).config["model"]["layers"][0]
        assert layer["activation"] == {"name": "leaky_relu", "slope": 0.2}


def test_a_part_named_inside_an_overridden_mapping_takes_settings() -> None:
    """A layer set whole, naming its activation, then that activation's setting."""
    overrides = {
        "model.layers.0.activation.slope": 0.3,
        "model.layers.0": {"units": 10, "activation": "leaky_relu"},
    }
    layer = toolkit.load_spec(SPEC, overrides).config["model"]["layers"][0]
    assert layer["activation"] == {"name": "leaky_relu", "slope": 0.3}


def test_a_whole_mapping_applies_before_the_keys_inside_it() -> None:
    """train={...} then train.log_every, in either order, keeps both (not only the first)."""
    for overrides in (
        ["train.log_every=5", "train={iterations: 20}"],
        ["train={iterations: 20}", "train.log_every=5"],
    ):
        train = toolkit.load_spec(SPEC, overrides).config["train"]
        assert (train["iterations"], train["log_every"]) == (20, 5)


def test_of_two_overrides_of_one_key_the_last_wins() -> None:
    """Order still decides between overrides of the same key."""
    config = toolkit.load_spec(SPEC, ["seed=1", "optimizer=adam", "seed=2"]).config
    assert config["seed"] == 2
    config = toolkit.load_spec(SPEC, ["optimizer=adam", "optimizer=momentum"]).config
    assert config["optimizer"]["name"] == "momentum"


def test_a_setting_the_new_part_lacks_is_placed_at_its_override() -> None:
    """adam has no momentum: the problem names the key and the override that set it."""
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(SPEC, ["optimizer.momentum=0.5", "optimizer=adam"])
    (problem,) = caught.value.problems
    assert problem.path == "optimizer.momentum"
    assert "--set optimizer.momentum=0.5" in str(problem)


def test_the_command_line_accepts_the_readme_form(capsys: pytest.CaptureFixture[str]) -> None:
    """`toolkit validate --set optimizer=adam --set optimizer.learning_rate=0.001` exits 0."""
    code = main(
        ["validate", str(SPEC), "--set", "optimizer=adam", "--set", "optimizer.learning_rate=0.001"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "adam" in captured.out
