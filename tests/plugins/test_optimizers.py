"""The standard optimizers, the book's (chapter 6): each step against the book's own classes."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import toolkit
from tests import book_optimizers
from tests.helpers import SPECS
from toolkit.registry.kinds import kind_named
from toolkit.registry.parts import as_part
from toolkit.testing import check_optimizer
from toolkit_plugins import optimizers

TABLE = optimizers.toolkit_optimizers()
NAMES = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
BOOK_DEFAULTS = {
    "sgd": {"learning_rate": 0.01},
    "momentum": {"learning_rate": 0.01, "momentum": 0.9},
    "nesterov": {"learning_rate": 0.01, "momentum": 0.9},
    "adagrad": {"learning_rate": 0.01},
    "rmsprop": {"learning_rate": 0.01, "decay_rate": 0.99},
    "adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999},
}
OTHER_SETTINGS = {
    "sgd": {"learning_rate": 0.1},
    "momentum": {"learning_rate": 0.1, "momentum": 0.8},
    "nesterov": {"learning_rate": 0.1, "momentum": 0.7},
    "adagrad": {"learning_rate": 0.5},
    "rmsprop": {"learning_rate": 0.1, "decay_rate": 0.9},
    "adam": {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95},
}
W0 = [[1.0, -2.0], [0.5, 3.0]]
B0 = [0.25, -0.75]
GRADS = [  # three successive gradients; one element is 0 at first, so h, v start at 0 there
    {"W": [[0.5, -1.0], [2.0, 0.0]], "b": [-3.0, 1.5]},
    {"W": [[-0.25, 0.75], [1.0, -0.5]], "b": [0.5, 2.0]},
    {"W": [[0.125, 4.0], [-1.5, 0.25]], "b": [1.0, -0.5]},
]
SPEC = SPECS / "two_layer_sigmoid.yaml"


def fresh_params():
    return {"W": np.array(W0), "b": np.array(B0)}


def run_steps(optimizer, params, steps):
    for grads in GRADS[:steps]:
        optimizer.update(params, {key: np.array(value) for key, value in grads.items()})


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_optimizers() lists exactly the book's six optimizers."""
    assert set(TABLE) == set(NAMES)


def test_sgd_updates_in_place_by_minus_learning_rate_times_gradient():
    """SGD(0.1).update leaves the same arrays holding p - 0.1 * g, computed by hand."""
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    b = np.array([0.25, -0.75])
    params = {"W": w, "b": b}
    grads = {"W": np.array([[0.5, -1.0], [2.0, 0.0]]), "b": np.array([-3.0, 1.5])}
    optimizer = TABLE["sgd"](learning_rate=0.1)
    optimizer.update(params, grads)
    assert params["W"] is w
    assert params["b"] is b
    assert_array_equal(
        w,
        [[1.0 - 0.1 * 0.5, -2.0 - 0.1 * -1.0], [0.5 - 0.1 * 2.0, 3.0 - 0.1 * 0.0]],
    )
    assert_array_equal(b, [0.25 - 0.1 * -3.0, -0.75 - 0.1 * 1.5])
    np.testing.assert_allclose(w, [[0.95, -1.9], [0.3, 3.0]], rtol=1e-15)
    np.testing.assert_allclose(b, [0.55, -0.9], rtol=1e-15)


def test_sgd_does_not_change_the_gradients():
    """update leaves the gradient arrays as they were."""
    params = {"W": np.array([1.0, 2.0])}
    grads = {"W": np.array([0.5, -0.5])}
    TABLE["sgd"](learning_rate=0.1).update(params, grads)
    assert_array_equal(grads["W"], [0.5, -0.5])


def test_sgd_default_learning_rate_is_one_hundredth():
    """SGD() has learning_rate 0.01 and steps by -0.01 * g."""
    optimizer = TABLE["sgd"]()
    assert optimizer.learning_rate == 0.01
    w = np.array([1.0, -4.0])
    optimizer.update({"W": w}, {"W": np.array([10.0, -2.0])})
    assert_array_equal(w, [1.0 - 0.01 * 10.0, -4.0 - 0.01 * -2.0])
    np.testing.assert_allclose(w, [0.9, -3.98], rtol=1e-15)


@pytest.mark.parametrize("steps", [1, 3])
def test_sgd_repeated_updates_accumulate(steps):
    """Each update call subtracts learning_rate * g once more."""
    w = np.array([2.0])
    optimizer = TABLE["sgd"](learning_rate=0.5)
    for _ in range(steps):
        optimizer.update({"W": w}, {"W": np.array([1.0])})
    assert_array_equal(w, [2.0 - 0.5 * steps])


BOOK_NAMES = {"learning_rate": "lr"}  # the book's name for the one setting the toolkit renames
MORE_SETTINGS = {  # further settings per optimizer, as the toolkit names them
    "sgd": [{"learning_rate": 0.3}],
    "momentum": [
        {"learning_rate": 0.05, "momentum": 0.5},
        {"learning_rate": 0.001, "momentum": 0.99},
    ],
    "nesterov": [
        {"learning_rate": 0.05, "momentum": 0.5},
        {"learning_rate": 0.001, "momentum": 0.99},
        {"learning_rate": 0.2, "momentum": 0.0},
    ],
    "adagrad": [{"learning_rate": 0.002}],
    "rmsprop": [{"learning_rate": 0.001, "decay_rate": 0.5}],
    "adam": [{"learning_rate": 0.01, "beta1": 0.5, "beta2": 0.9}],
}
SETTINGS = [
    (name, settings)
    for name in NAMES
    for settings in [{}, OTHER_SETTINGS[name], *MORE_SETTINGS[name]]
]
SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,), "s": ()}


def book_optimizer(name, settings):
    """The book's class for ``name`` with ``settings`` under the book's names."""
    return book_optimizers.BOOK[name](**{BOOK_NAMES.get(k, k): v for k, v in settings.items()})


def random_params(rng):
    return {key: rng.standard_normal(shape) for key, shape in SHAPES.items()}


@pytest.mark.parametrize(("name", "settings"), SETTINGS, ids=str)
def test_sixty_steps_are_the_books_bit_for_bit(name, settings):
    """60 updates of a dict of five parameters (matrices, vectors, a scalar) with gradients that
    change sign and size give exactly the book's class's parameters after every step."""
    rng = np.random.default_rng(7)
    ours, book = TABLE[name](**settings), book_optimizer(name, settings)
    params = random_params(rng)
    book_params = copy.deepcopy(params)
    for step in range(60):
        scale = 10.0 ** rng.integers(-3, 3)
        grads = {key: scale * rng.standard_normal(np.shape(p)) for key, p in params.items()}
        if step % 7 == 0:
            grads["W1"][0] = 0.0  # a zero gradient now and then, where h or v may be 0
        ours.update(params, copy.deepcopy(grads))
        book.update(book_params, grads)
        for key in params:
            assert_array_equal(params[key], book_params[key], err_msg=f"{key} step {step}")


@pytest.mark.parametrize(
    ("name", "settings", "factor"),
    [
        ("sgd", {"learning_rate": 0.1}, 1.0),
        ("momentum", {"learning_rate": 0.1, "momentum": 0.9}, 1.0),
        ("nesterov", {"learning_rate": 0.1, "momentum": 0.9}, 2.71),
        ("nesterov", {"learning_rate": 0.1, "momentum": 0.5}, 1.75),
    ],
)
def test_first_step_closed_forms(name, settings, factor):
    """From rest, the first step is -factor * learning_rate * g; the book's Nesterov gives
    1 + momentum + momentum**2 (its new v enters the step twice)."""
    params = {"W": np.array([1.0, -1.0])}
    TABLE[name](**settings).update(params, {"W": np.array([2.0, -4.0])})
    assert_allclose(params["W"], [1.0 - factor * 0.2, -1.0 + factor * 0.4], rtol=1e-15)


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adam"])
def test_adaptive_first_step_ignores_the_gradients_size(name):
    """AdaGrad's and Adam's first step is about learning_rate * sign(g); RMSprop's 10x that."""
    params = {"W": np.array([1.0, 1.0, 1.0, 1.0])}
    optimizer = TABLE[name](learning_rate=0.01)
    optimizer.update(params, {"W": np.array([0.5, -2.0, 50.0, -7.0])})
    scale = 0.01 / math.sqrt(1 - 0.99) if name == "rmsprop" else 0.01
    assert_allclose(params["W"], 1.0 - scale * np.array([1, -1, 1, -1]), rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_update_changes_the_same_arrays_and_not_the_gradients(name):
    """After three updates params holds the very arrays it held before; grads are untouched."""
    params = fresh_params()
    w, b = params["W"], params["b"]
    optimizer = TABLE[name]()
    for grads in GRADS:
        arrays = {key: np.array(value) for key, value in grads.items()}
        optimizer.update(params, arrays)
        assert_array_equal(arrays["W"], grads["W"])
        assert_array_equal(arrays["b"], grads["b"])
    assert params["W"] is w
    assert params["b"] is b
    assert not np.array_equal(w, W0)


@pytest.mark.parametrize("name", NAMES)
def test_state_is_numbers_none_or_arrays_by_parameter_name(name):
    """vars(optimizer) after two updates: numbers, None, or {name: float array} per parameter."""
    params = fresh_params()
    optimizer = TABLE[name]()
    run_steps(optimizer, params, 2)
    state = vars(optimizer)
    assert set(BOOK_DEFAULTS[name]) <= set(state)
    for attribute, value in state.items():
        if isinstance(value, dict):
            assert set(value) == set(params), attribute
            for key, array in value.items():
                assert isinstance(key, str)
                assert type(array) is np.ndarray and array.dtype == np.float64, attribute
                assert array.shape == params[key].shape, attribute
                assert not np.shares_memory(array, params[key]), attribute
        else:
            assert value is None or type(value) in (int, float), (attribute, value)


@pytest.mark.parametrize("name", NAMES)
def test_state_restored_into_a_new_optimizer_continues_bit_for_bit(name):
    """A copy of vars() after two updates, put into a fresh optimizer, gives the same third step."""
    params = fresh_params()
    optimizer = TABLE[name](**OTHER_SETTINGS[name])
    run_steps(optimizer, params, 2)
    saved = copy.deepcopy(vars(optimizer))
    restored_params = copy.deepcopy(params)
    restored = TABLE[name]()
    vars(restored).update(saved)
    third = {key: np.array(value) for key, value in GRADS[2].items()}
    optimizer.update(params, third)
    restored.update(restored_params, third)
    for key in params:
        assert_array_equal(restored_params[key], params[key])


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_the_books(name):
    """The part's parameters default to the book's values, and so does the optimizer."""
    part = as_part(TABLE[name], kind_named("optimizer"))
    assert part.params == BOOK_DEFAULTS[name]
    assert all(type(value) is float for value in part.params.values())
    optimizer = TABLE[name]()
    assert {key: getattr(optimizer, key) for key in BOOK_DEFAULTS[name]} == BOOK_DEFAULTS[name]


@pytest.mark.parametrize("name", NAMES)
def test_description_is_one_sentence(name):
    """`toolkit plugins` shows a first docstring line that is a whole sentence."""
    description = as_part(TABLE[name], kind_named("optimizer")).description
    assert description.endswith(".") and len(description) > 20


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("which", ["book defaults", "other settings"])
def test_passes_the_conformance_kit(name, which):
    """toolkit.testing.check_optimizer finds nothing wrong."""
    settings = {} if which == "book defaults" else OTHER_SETTINGS[name]
    checks = check_optimizer(TABLE[name], **settings)
    assert checks and all(check.passed for check in checks)


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        ({"name": "sgd", "learning_rate": 0}, "learning_rate", "must be positive, got 0"),
        ({"name": "adagrad", "learning_rate": -0.5}, "learning_rate", "must be positive, got -0.5"),
        ({"name": "momentum", "momentum": 1.0}, "momentum", "must be in [0, 1), got 1.0"),
        ({"name": "nesterov", "momentum": -0.1}, "momentum", "must be in [0, 1), got -0.1"),
        ({"name": "nesterov", "learning_rate": 0.0}, "learning_rate", "must be positive, got 0"),
        ({"name": "rmsprop", "decay_rate": 0}, "decay_rate", "must be in (0, 1), got 0"),
        ({"name": "rmsprop", "decay_rate": 1}, "decay_rate", "must be in (0, 1), got 1"),
        ({"name": "adam", "beta1": 1.0}, "beta1", "must be in [0, 1), got 1.0"),
        ({"name": "adam", "beta2": 1.5}, "beta2", "must be in [0, 1), got 1.5"),
        ({"name": "adam", "learning_rate": 0}, "learning_rate", "must be positive, got 0"),
    ],
)
def test_bad_settings_are_spec_problems_at_their_place(override, path, message):
    """A setting outside its range is one SpecError problem at optimizer.<setting>."""
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(SPEC, {"optimizer": override})
    (problem,) = caught.value.problems
    assert problem.path == f"optimizer.{path}"
    assert message in problem.message


@pytest.mark.parametrize(
    "override",
    [
        {"name": "momentum", "momentum": 0},
        {"name": "nesterov", "momentum": 0.999},
        {"name": "rmsprop", "decay_rate": 1e-3},
        {"name": "adam", "beta1": 0, "beta2": 0},
    ],
)
def test_settings_at_the_edges_of_their_ranges_are_accepted(override):
    """momentum and betas may be 0; decay_rate may be anything strictly between 0 and 1."""
    spec = toolkit.load_spec(SPEC, {"optimizer": override})
    assert spec.config["optimizer"]["name"] == override["name"]


def short_run(name):
    overrides = {
        "optimizer": name,
        "gradient": "backprop",
        "train.iterations": 20,
        "train.log_every": 5,
    }
    return [record["loss"] for record in toolkit.train(toolkit.load_spec(SPEC, overrides)).history]


@pytest.mark.parametrize("name", NAMES)
def test_a_short_run_is_finite_and_repeats_bit_for_bit(name):
    """20 iterations with backprop: finite losses at each log point, the same on a second run."""
    losses = short_run(name)
    assert len(losses) == 4
    assert all(math.isfinite(loss) for loss in losses)
    assert short_run(name) == losses


def test_a_run_differs_by_optimizer():
    """The spec's optimizer is the one used: sgd and adam runs end at different losses."""
    assert short_run("sgd")[-1] != short_run("adam")[-1]
