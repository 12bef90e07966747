"""The JSON Schema's layers: each registered layer type with its own settings, a layer
without ``type`` as the default type, and what load_spec refuses refused too."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

import toolkit
from toolkit.registry.registry import Registry
from toolkit.spec.schema import spec_schema

SPEC: dict[str, Any] = {
    "data": {"name": "digits"},
    "model": {
        "layers": [
            {"type": "reshape", "shape": [1, 8, 8]},
            {"type": "flatten"},
            {"units": 16},
            {"type": "activation", "activation": {"name": "leaky_relu", "slope": 0.1}},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ]
    },
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = spec_schema(Registry.from_manager(toolkit.get_plugin_manager()))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def with_layer(index: int, layer: dict[str, Any]) -> dict[str, Any]:
    tree = copy.deepcopy(SPEC)
    tree["model"]["layers"][index] = layer
    return tree


def test_a_stack_of_every_standard_type_validates(validator) -> None:
    toolkit.load_spec(SPEC)  # load_spec takes it too
    assert list(validator.iter_errors(SPEC)) == []


def test_each_layer_type_lists_its_own_settings() -> None:
    schema = spec_schema(Registry.from_manager(toolkit.get_plugin_manager()))
    forms = schema["properties"]["model"]["properties"]["layers"]["items"]["anyOf"]
    by_type = {
        form["properties"]["type"]["const"]: form
        for form in forms
        if "type" in form["properties"] and ":" not in form["properties"]["type"]["const"]
    }
    assert set(by_type["dense"]["properties"]) == {
        "type",
        "units",
        "activation",
        "init",
        "bias_init",
    }
    assert set(by_type["reshape"]["properties"]) == {"type", "shape"}
    assert set(by_type["flatten"]["properties"]) == {"type"}
    assert sorted(by_type["activation"]["required"]) == ["activation", "type"]
    assert sorted(by_type["dense"]["required"]) == ["type", "units"]


@pytest.mark.parametrize(
    "layer",
    [
        {"type": "flatten", "units": 3},
        {"type": "reshape"},
        {"type": "activation"},
        {"type": "dnse", "units": 16},
        {"type": 3, "units": 16},
        {"type": None, "units": 16},
        {"units": 16, "activaton": "relu"},
    ],
)
def test_what_load_spec_refuses_the_schema_refuses(validator, layer: dict[str, Any]) -> None:
    tree = with_layer(2, layer)
    with pytest.raises(toolkit.SpecError):
        toolkit.load_spec(tree)
    assert list(validator.iter_errors(tree)) != []
