"""`toolkit schema`: a JSON Schema of the spec from the live registry, never stricter than
load_spec, for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given

import toolkit
from tests.helpers import SPECS, write
from tests.spec.test_fuzz_spec import CI, VALID, mutated_trees, shared_manager
from toolkit.cli import main
from toolkit.registry.registry import Registry
from toolkit.spec.schema import spec_schema

SWISH = """\
import numpy as np


def toolkit_activations():
    def swish(x, beta=1.0):
        '''x * sigmoid(beta * x).'''
        return x / (1 + np.exp(-beta * x))

    return {"swish": swish}
"""


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """A validator of the installed parts' schema."""
    schema = spec_schema(Registry.from_manager(toolkit.get_plugin_manager()))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.protocols.Validator, tree: Any) -> list[str]:
    return [error.message for error in validator.iter_errors(tree)]


def test_schema_command_prints_a_draft_2020_12_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`toolkit schema` prints JSON that is itself a valid schema of that dialect."""
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_validates(validator, path: Path) -> None:
    """Each shipped spec, as written, is valid against the schema."""
    assert errors(validator, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"model": {"layers": [{"units": 10, "activation": "sigmiod"}]}}, "activation"),
        ({"colour": "red"}, "colour"),
        ({"seed": "forty-two"}, "seed"),
        ({"seed": -1}, "seed"),
        ({"train": {"iterations": 0}}, "iterations"),
        ({"train": {"iteration": 5}}, "iteration"),
        ({"optimizer": {"name": "sgd", "learning_rate": "fast"}}, "optimizer"),
        ({"optimizer": {"name": "sgd", "momentum": 0.9}}, "optimizer"),
        ({"model": {"layers": []}}, "layers"),
        ({"model": {"layers": [{"activation": "relu"}]}}, "units"),
    ],
)
def test_the_schema_rejects_what_load_spec_rejects(validator, change, path: str) -> None:
    """Misspelled names and keys, wrong types and bounds: the loader and the schema agree."""
    tree = {**VALID, **change}
    with pytest.raises(toolkit.SpecError):
        toolkit.load_spec(tree)
    assert errors(validator, tree), f"the schema accepted a bad {path}"


def test_parts_appear_with_their_parameters_defaults_and_descriptions(validator) -> None:
    """A part's mapping form lists its parameters, defaults and description."""
    layer = validator.schema["properties"]["model"]["properties"]["layers"]["items"]
    dense = [f for f in layer["anyOf"] if f["properties"].get("type") == {"const": "dense"}]
    forms = dense[0]["properties"]["activation"]["anyOf"]
    leaky = [f for f in forms if f.get("properties", {}).get("name") == {"const": "leaky_relu"}]
    assert len(leaky) == 1
    assert leaky[0]["properties"]["slope"] == {"type": "number", "default": 0.01}
    assert leaky[0]["description"]
    names = forms[0]["enum"]
    assert "relu" in names and "toolkit_plugins.activations:relu" in names


def test_a_plugin_module_given_with_p_is_in_the_schema(
    plugin_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`toolkit schema -p MODULE` includes the module's parts; a spec using them validates."""
    write(plugin_folder / "tp_schema_swish.py", SWISH)
    assert main(["schema", "-p", "tp_schema_swish"]) == 0
    validator = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    tree = {**VALID, "model": {"layers": [{"units": 10, "activation": "swish"}, {"units": 10}]}}
    assert errors(validator, tree) == []
    tree["model"]["layers"][0]["activation"] = {"name": "swish", "beta": "big"}
    assert errors(validator, tree)


def test_left_out_and_default_parts_validate(validator) -> None:
    """A part left empty, or given only settings, takes the plugins' default, as the loader does."""
    tree = {**VALID, "loss": None, "optimizer": {"learning_rate": 0.5}, "train": None}
    toolkit.load_spec(tree)
    assert errors(validator, tree) == []


@CI
@given(tree=mutated_trees())
def test_every_spec_load_spec_accepts_validates(validator, tree: dict[str, Any]) -> None:
    """Never stricter than the loader: a mapping load_spec accepts is valid against the schema."""
    try:
        with shared_manager() as manager:
            toolkit.load_spec(tree, manager=manager)
    except toolkit.SpecError:
        return
    assert errors(validator, tree) == []
