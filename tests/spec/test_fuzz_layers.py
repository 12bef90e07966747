"""Property-based fuzzing of layer stacks: a network whose shapes hold, or a located SpecError.

A spec file with a random stack of layers (types among every registered layer type,
settings drawn from each type's own keys with plausible and wrong values, a wrong type or
an unknown key now and then, in any order) has exactly two allowed outcomes:

- it loads and builds a network, and on a small batch every layer's output has the shape
  that layer declares (batch axis first), the last one ``(N, classes)``, in evaluation
  and in training mode;
- or it raises a SpecError (on loading, or on building) whose every problem has a key
  path and a line in the spec file.

No other exception may escape. The property runs at CI size with a fixed derandomized
search, and again with many random examples under ``pytest -m slow``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import toolkit
from tests.helpers import fuzz_settings
from tests.spec.test_fuzz_spec import record, shared_manager
from toolkit.registry.kinds import LAYER_PART_KEYS
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.parts import REQUIRED
from toolkit.registry.registry import Registry
from toolkit.spec.settings import TYPE_KEY

CI, SLOW = fuzz_settings(ci=150, slow=2000)

_REGISTRY = Registry.from_manager(get_plugin_manager())
LAYER_TYPES = sorted(_REGISTRY.names(LAYER_PART_KEYS[TYPE_KEY].name))
CLASSES = 3
BATCH = 4

SMALL = st.integers(1, 4)
SHAPES = st.sampled_from(
    [[1, 4, 4], [2, 8], [16], [4, 4], [1, 3, 4], [3, 4], [2, 6], [12], [2, 2, 3], [1, 2, 2]]
)
FRACTIONS = st.sampled_from([0.0, 0.1, 0.5, 0.9])
PLAUSIBLE = st.one_of(SMALL, st.lists(SMALL, min_size=2, max_size=2), SHAPES, FRACTIONS)
NOT_NAMES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 0),
    st.integers(30, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-2, 40), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
WRONG = st.one_of(NOT_NAMES, st.text(max_size=5))


def part_names(key: str, clean: bool) -> st.SearchStrategy[Any]:
    """A setting naming a part: a registered name, or (unless ``clean``) a name with a bad
    setting, an unknown name, or no name at all."""
    named = st.sampled_from(sorted(_REGISTRY.names(LAYER_PART_KEYS[key].name)))
    if clean:
        return named
    return st.one_of(
        named,
        st.builds(lambda name, bad: {"name": name, "bogus": bad}, named, SMALL),
        st.sampled_from(["nope", ""]),
        WRONG,
    )


def value_for(key: str, default: Any, clean: bool) -> st.SearchStrategy[Any]:
    """A value for a layer setting: plausible for its key (a shape for ``shape``, a number
    for a number's default, else a small whole number or a pair), or (unless ``clean``)
    wrong."""
    if key in LAYER_PART_KEYS:
        return part_names(key, clean)
    if key == "shape":
        plausible = SHAPES
    elif isinstance(default, float):
        plausible = FRACTIONS
    else:
        plausible = st.one_of(SMALL, SMALL, st.lists(SMALL, min_size=2, max_size=2))
    return plausible if clean else st.one_of(plausible, PLAUSIBLE, WRONG)


@st.composite
def layers(draw: st.DrawFn, clean: bool) -> dict[str, Any]:
    """One layer: a registered type with a random subset of that type's settings (every
    required one when ``clean``); unless ``clean``, wrong values, and now and then no
    type, an unknown one, a type that is not a name, or an unknown key."""
    name = draw(st.sampled_from(LAYER_TYPES))
    params = _REGISTRY.lookup(LAYER_PART_KEYS[TYPE_KEY].name, name).part.params or {}
    chosen = draw(st.lists(st.sampled_from(sorted(params)), unique=True)) if params else []
    if clean:
        chosen += [key for key, default in params.items() if default is REQUIRED]
    layer: dict[str, Any] = {TYPE_KEY: name}
    for key in chosen:
        layer[key] = draw(value_for(key, params[key], clean))
    if clean:
        return layer
    typed = draw(st.sampled_from(["as drawn"] * 4 + ["left out", "unknown", "not a name"]))
    if typed == "left out":
        del layer[TYPE_KEY]
    elif typed == "unknown":
        layer[TYPE_KEY] = draw(st.sampled_from(["dens", "conv", "nope"]))
    elif typed == "not a name":
        layer[TYPE_KEY] = draw(NOT_NAMES)
    if draw(st.integers(0, 4)) == 0:
        layer[draw(st.sampled_from(["unit", "filter", "size", "rte", ""]))] = 1
    return layer


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A spec on a small random dataset (12 or 16 features, 3 classes) with a random stack,
    its values all plausible or not (now and then a layer that is not a mapping); now and
    then the samples first made images (``reshape`` to one channel), so that layers of
    images find them; most end with a valid output layer (after a flatten, now and then)."""
    clean = draw(st.booleans())
    layer = layers(clean) if clean else st.one_of(layers(clean), layers(clean), WRONG)
    stack: list[Any] = draw(st.lists(layer, min_size=0, max_size=5))
    features = draw(st.sampled_from([12, 16]))
    if draw(st.booleans()):
        image = [1, 4, 4] if features == 16 else [1, 3, 4]
        stack.insert(0, {TYPE_KEY: "reshape", "shape": image})
    ending = draw(st.sampled_from(["output", "flatten and output", "as drawn"]))
    if ending != "as drawn":
        stack += [{TYPE_KEY: "flatten"}] if ending == "flatten and output" else []
        stack.append({"units": CLASSES, "activation": "softmax"})
    if not stack:
        stack = [{"units": CLASSES, "activation": "softmax"}]
    return {
        "seed": 1,
        "data": {"name": "random", "samples": 6, "features": features, "classes": CLASSES},
        "model": {"layers": stack},
    }


def check_layer_stack(folder: Path, tree: dict[str, Any]) -> None:
    """The property: shapes that hold, or a SpecError whose every problem is located."""
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    try:
        with shared_manager() as manager:
            spec = toolkit.load_spec(path, manager=manager)
            network = toolkit.build(spec)
    except toolkit.SpecError as error:
        assert error.problems, "SpecError without problems"
        for problem in error.problems:
            assert problem.path.startswith(("model.layers", "data")), str(problem)
            assert problem.location is not None, f"problem without a place: {problem}"
            assert problem.location.source == str(path), str(problem)
            assert problem.location.line is not None, str(problem)
        record("SpecError")
        return
    record(f"a network of {len(network.layers)} layer(s)")
    x = np.random.default_rng(0).standard_normal((BATCH, tree["data"]["features"]))
    for train in (False, True):
        forward = network.forward(x, train=train)
        for layer, output in zip(network.layers, forward.outputs, strict=True):
            assert output.shape == (BATCH, *layer.output_shape), (layer.type_name, output.shape)
        assert forward.y.shape == (BATCH, CLASSES)
        assert np.all(np.isfinite(forward.y))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each example's spec file is written (module-scoped: examples share it)."""
    return tmp_path_factory.mktemp("layers")


@CI
@given(tree=specs())
def test_layer_stack_builds_or_is_a_located_spec_error(folder: Path, tree: dict[str, Any]) -> None:
    check_layer_stack(folder, tree)


@pytest.mark.slow
@SLOW
@given(tree=specs())
def test_layer_stack_builds_or_is_a_located_spec_error_long(
    folder: Path, tree: dict[str, Any]
) -> None:
    check_layer_stack(folder, tree)


def test_the_search_reaches_both_outcomes(folder: Path) -> None:
    """The check is not vacuous: a stack of every standard layer type builds and passes it,
    and a bad one is refused."""
    good = {
        "seed": 1,
        "data": {"name": "random", "samples": 6, "features": 16, "classes": CLASSES},
        "model": {
            "layers": [
                {TYPE_KEY: "reshape", "shape": [1, 4, 4]},
                {TYPE_KEY: "conv2d", "filters": 2, "kernel": 3, "pad": 1, "activation": "relu"},
                {TYPE_KEY: "max_pool", "size": 2, "stride": 2},
                {TYPE_KEY: "batchnorm"},
                {TYPE_KEY: "dropout", "rate": 0.5},
                {TYPE_KEY: "flatten"},
                {"units": 5},
                {TYPE_KEY: "activation", "activation": "relu"},
                {"units": CLASSES, "activation": "softmax"},
            ]
        },
    }
    check_layer_stack(folder, good)
    bad = {**good, "model": {"layers": [{TYPE_KEY: "reshape", "shape": [2, 4, 4]}]}}
    with pytest.raises(toolkit.SpecError):
        toolkit.load_spec(bad)
