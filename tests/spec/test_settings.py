"""The resolved spec, typed: what a run reads by attribute, as the spec file wrote it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from mypy import api

import toolkit
from tests.helpers import SPECS
from toolkit.spec.schema import spec_schema
from toolkit.spec.settings import Settings, Train

SEED_SPEC = SPECS / "two_layer_sigmoid.yaml"


def test_the_settings_hold_what_the_file_says() -> None:
    """Each value the seed spec's file writes is the typed setting of that name."""
    written = yaml.safe_load(SEED_SPEC.read_text())
    settings = toolkit.load_spec(SEED_SPEC).settings
    assert isinstance(settings, Settings)
    assert (settings.name, settings.seed, settings.rng) == ("two_layer_sigmoid", 42, "legacy")
    train = written["train"]
    assert (settings.train.iterations, settings.train.batch_size) == (
        train["iterations"],
        train["batch_size"],
    )
    assert settings.train.log_every == train["log_every"]
    assert settings.train.checkpoint_every is None  # unset: checkpoints follow the clock
    assert settings.train.weight_decay == 0
    assert [layer.setting("units") for layer in settings.model.layers] == [10, 10]
    assert [layer.type.name for layer in settings.model.layers] == ["dense", "dense"]
    first = settings.model.layers[0]
    activation, init = first.parts["activation"], first.parts["init"]
    assert (activation.name, init.name, dict(init.settings)) == (
        "sigmoid",
        "uniform",
        {"scale": 0.01},
    )
    assert (settings.gradient.name, dict(settings.gradient.settings)) == (
        "central_difference",
        {"h": 1e-4},
    )
    assert (settings.gradient.kind.name, settings.gradient.path) == (
        "gradient_estimator",
        ("gradient",),
    )
    assert settings.data.settings == {"samples": 100, "features": 100, "classes": 10}


def test_the_settings_are_frozen() -> None:
    """A run cannot change what it was asked for."""
    settings = toolkit.load_spec(SEED_SPEC).settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.train.iterations = 1  # type: ignore[misc]


def test_every_part_in_the_order_the_spec_names_them() -> None:
    """data, each layer's type, activation, init and bias_init, then loss, gradient,
    optimizer."""
    parts = toolkit.load_spec(SEED_SPEC).settings.parts()
    assert [".".join(map(str, ref.path)) for ref in parts] == [
        "data",
        "model.layers.0.type",
        "model.layers.0.activation",
        "model.layers.0.init",
        "model.layers.0.bias_init",
        "model.layers.1.type",
        "model.layers.1.activation",
        "model.layers.1.init",
        "model.layers.1.bias_init",
        "loss",
        "gradient",
        "optimizer",
    ]


def test_a_train_key_is_checked_and_described_from_its_field() -> None:
    """The JSON schema's train keys are the fields of Train, with their defaults."""
    schema = spec_schema(toolkit.load_spec(SEED_SPEC).registry)
    train = schema["properties"]["train"]["properties"]
    assert list(train) == [field.name for field in dataclasses.fields(Train)]
    assert [train[key].get("default") for key in train] == [100, 100, 10, None, 0]


def test_a_misspelt_setting_is_caught_by_mypy(tmp_path: Path) -> None:
    """Reading a setting that does not exist, or as the wrong type, is a type error."""
    script = tmp_path / "reads.py"
    script.write_text(
        "from toolkit import load_spec\n"
        "spec = load_spec('spec.yaml')\n"
        "n: int = spec.settings.train.iteration\n"
        "m: int = spec.settings.model.layers[0].type.name\n"
        "ok: float = spec.settings.train.weight_decay\n"
    )
    cache = tmp_path / "cache"
    out, _, status = api.run(["--cache-dir", str(cache), "--follow-imports", "silent", str(script)])
    assert status == 1
    assert 'reads.py:3: error: "Train" has no attribute "iteration"' in out
    assert "reads.py:4: error: Incompatible types in assignment" in out
    assert "reads.py:5" not in out


def test_a_new_train_key_is_one_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field added to Train, with its rule, is read, checked, defaulted and described."""
    from toolkit.spec import resolver, schema, settings

    rule = {"rule": settings.Rule(type="whole", minimum=1, description="iterations to wait")}
    extended = dataclasses.make_dataclass(
        "Train",
        [("patience", int, dataclasses.field(default=5, metadata=rule))],
        bases=(Train,),
        frozen=True,
    )
    for module in (resolver, schema, settings):
        monkeypatch.setattr(module, "Train", extended)
    given = toolkit.load_spec(SEED_SPEC, ["train.patience=3"])
    assert given.settings.train.patience == 3  # type: ignore[attr-defined]
    assert given.config["train"]["patience"] == 3
    assert toolkit.load_spec(SEED_SPEC).settings.train.patience == 5  # type: ignore[attr-defined]
    with pytest.raises(toolkit.SpecError) as raised:
        toolkit.load_spec(SEED_SPEC, ["train.patience=0"])
    [problem] = raised.value.problems
    assert (problem.path, problem.message) == ("train.patience", "must be at least 1, got 0")
    described = spec_schema(given.registry)["properties"]["train"]["properties"]["patience"]
    assert described == {
        "type": "integer",
        "minimum": 1,
        "default": 5,
        "description": "iterations to wait",
    }
