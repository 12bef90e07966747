"""The bulk perturbation path gives the element loop's answers, or falls back: never a wrong one."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS, dense_layer, write
from toolkit.gradients.interpolation import InterpolationState
from toolkit.gradients.state import engine_states
from toolkit.registry.manager import get_plugin_manager

SMALL = {
    "data.samples": 30,
    "data.features": 5,
    "data.classes": 3,
    "model.layers.0.units": 4,
    "model.layers.1.units": 3,
    "rng": "default",
}


def network(overrides: dict | None = None, modules: tuple[str, ...] = ()) -> toolkit.Network:
    manager = get_plugin_manager(modules)
    spec = toolkit.load_spec(
        SPECS / "two_layer_sigmoid.yaml", {**SMALL, **(overrides or {})}, manager=manager
    )
    return toolkit.build(spec)


def bulk_only(net: toolkit.Network) -> toolkit.Network:
    """The network with interpolation refused for every layer: central differences then
    take the bulk path (a part this module tests may well be interpolated otherwise)."""
    refused = engine_states(net).of(InterpolationState).refused
    refused.update(dict.fromkeys(range(len(net.layers)), "bulk only"))
    return net


def batch(size: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.standard_normal((size, 5)), np.eye(3)[rng.integers(0, 3, size)]


def assert_matches_loop(net: toolkit.Network, x: np.ndarray, t: np.ndarray) -> None:
    loop = net.gradient(x, t, "central_difference_loop")
    fast = net.gradient(x, t, "central_difference")
    for key in loop:
        assert np.max(np.abs(fast[key] - loop[key])) <= 1e-10, key
        assert np.any(loop[key] != 0), key


def test_column_major_parameters_give_the_loops_gradient() -> None:
    """A parameter stored column-major (e.g. W.T of a row-major array) is perturbed for real."""
    net = network()
    net.params["W1"] = np.asfortranarray(net.params["W1"])
    x, t = batch()
    assert_matches_loop(net, x, t)


def test_a_single_one_dimensional_sample_works() -> None:
    """gradient(x_row, t_row) gives the gradient of the batch of that one row."""
    net = network()
    x, t = batch()
    for estimator in ("central_difference", "backprop"):
        single = net.gradient(x[0], t[0], estimator)
        as_batch = net.gradient(x[:1], t[:1], estimator)
        for key in single:
            np.testing.assert_array_equal(single[key], as_batch[key])


def test_integer_parameters_are_refused_in_one_line() -> None:
    """A parameter array of integers is a RunError naming it, not a wrong gradient."""
    net = network()
    net.params["W2"] = np.ones(net.params["W2"].shape, dtype=int)
    x, t = batch()
    with pytest.raises(toolkit.RunError, match=r"params\['W2'\] holds int64"):
        net.gradient(x, t, "central_difference")


FIXED_MASK = """
import numpy as np


def masked_tanh(x):
    mask = np.random.default_rng(0).random(x.shape) > 0.3
    return np.tanh(x) * mask


def fixed_norm(y, t):
    return 0.5 * np.sum((y - t) ** 2, axis=(-2, -1)) / y.shape[0]


def two_d_only(x):
    rows, columns = x.shape
    return np.tanh(x)


def toolkit_activations():
    return {"masked_tanh": masked_tanh, "two_d_only": two_d_only}


def toolkit_losses():
    return {"fixed_norm": fixed_norm}
"""


@pytest.mark.parametrize(
    "overrides",
    [
        {"model.layers.0.activation": "masked_tanh"},  # depends on where it sits in a stack
        {"loss": "fixed_norm", "model.layers.1.activation": "identity"},  # on the stack's size
        {"model.layers.1.activation": "two_d_only", "loss": "mean_squared_error"},  # fails
    ],
    ids=["position-dependent", "size-dependent", "two-d-only"],
)
def test_parts_that_misread_a_stack_fall_back_with_a_notice(
    plugin_folder: Path, overrides: dict
) -> None:
    """Parts that give a different answer on a stack are caught: the loop's numbers, a notice."""
    write(plugin_folder / "tp_stack_parts.py", FIXED_MASK)
    net = bulk_only(network(overrides, ("tp_stack_parts",)))
    x, t = batch(7)
    with pytest.warns(toolkit.ToolkitNotice, match="computed one at a time"):
        fast = net.gradient(x, t, "central_difference")
    loop = net.gradient(x, t, "central_difference_loop")
    for key in loop:
        assert np.max(np.abs(fast[key] - loop[key])) <= 1e-10, key


def test_a_fallback_is_remembered_and_said_once(plugin_folder: Path) -> None:
    """After one fallback the network goes straight to the plain path, without a new notice."""
    write(plugin_folder / "tp_stack_parts.py", FIXED_MASK)
    overrides = {"model.layers.1.activation": "two_d_only", "loss": "mean_squared_error"}
    net = bulk_only(network(overrides, ("tp_stack_parts",)))
    x, t = batch()
    with pytest.warns(toolkit.ToolkitNotice):
        net.gradient(x, t, "central_difference")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.gradient(x, t, "central_difference")


def test_swapping_an_activation_is_noticed() -> None:
    """The elementwise verdict follows the activation object, not the layer's position."""
    net = network()
    x, t = batch()
    net.gradient(x, t, "central_difference")
    softmax = net.layers[1].activation
    net.layers[0] = dense_layer("W1", "b1", softmax, *net.params["W1"].shape)
    assert_matches_loop(net, x, t)
