"""The Layer protocol: a layer the interpolation cannot serve is left to the bulk path,
and its gradients still agree with the element loop; backprop goes through each layer's
backward with the arithmetic it always had."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS
from toolkit.gradients.interpolation import InterpolationState
from toolkit.gradients.perturbation import BulkState
from toolkit.gradients.state import engine_states
from toolkit.model.layers import Layer, Mode, Step
from toolkit.registry.parts import BoundPart, Part
from toolkit_plugins.layers import Dense

SMALL = {
    "data.samples": 30,
    "data.features": 5,
    "data.classes": 3,
    "model.layers.0.units": 4,
    "model.layers.1.units": 3,
    "rng": "default",
}


class Gain(Layer):
    """``tanh(x * g)``, one gain per unit: a layer whose parameter does not enter as
    ``x @ W + b``, which no engine can see inside."""

    def __init__(self, name: str) -> None:
        super().__init__((4,))
        self.names = {"g": name}

    def param_specs(self) -> tuple[toolkit.ParamSpec, ...]:
        return (toolkit.ParamSpec("g", (4,), 1.0),)

    @property
    def elementwise(self) -> bool:
        return True

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return ()

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x * params[self.params[0]]
        return Step(x, a, np.tanh(a))

    def backward(
        self,
        step: Step,
        grad_out: np.ndarray,
        params: Mapping[str, np.ndarray],
        *,
        inputs: bool = True,
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        (name,) = self.params
        g = grad_out * (1.0 - step.output**2)
        return (g * params[name] if inputs else None), {name: (g * step.input).sum(axis=0)}


class Centred(Dense):
    """An affine layer whose activation subtracts the batch's mean: it mixes samples."""

    @property
    def mixes_samples(self) -> bool:
        return True


def centring(a: np.ndarray) -> np.ndarray:
    """Each unit less its mean over the batch (the second-to-last axis)."""
    return a - a.mean(axis=-2, keepdims=True)


def network() -> toolkit.Network:
    spec = toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", SMALL)
    return toolkit.build(spec)


def batch(size: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.standard_normal((size, 5)), np.eye(3)[rng.integers(0, 3, size)]


def with_gain() -> toolkit.Network:
    """Dense (sigmoid), then a Gain layer, then Dense (softmax)."""
    net = network()
    net.layers.insert(1, Gain("g1"))
    net.params["g1"] = np.random.default_rng(5).uniform(0.5, 1.5, 4)
    return net


def gradient_and_notices(
    net: toolkit.Network, x: np.ndarray, t: np.ndarray, estimator: str
) -> tuple[dict[str, np.ndarray], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grads = net.gradient(x, t, estimator)
    return grads, [str(w.message) for w in caught if issubclass(w.category, toolkit.ToolkitNotice)]


def test_a_layer_that_is_not_affine_is_left_to_the_bulk_path_without_a_notice() -> None:
    """The interpolation cannot see inside the Gain layer and leaves W1, b1 and g1 to the
    bulk path, which serves them (no notice: nothing is slower than it is made to be)."""
    net = with_gain()
    x, t = batch()
    _, notices = gradient_and_notices(net, x, t, "central_difference")
    assert notices == []
    assert engine_states(net).of(InterpolationState).refused == {
        0: "layer 1, after it, is not affine",
        1: "the layer is not affine",
    }
    assert engine_states(net).of(BulkState).refused == {}


def test_a_refused_layers_gradients_agree_with_the_element_loop() -> None:
    """The bulk path's answers for the parameters the interpolation leaves to it, and the
    interpolation's for the last layer, agree with the loop to rounding."""
    net = with_gain()
    x, t = batch()
    loop = net.gradient(x, t, "central_difference_loop")
    fast = net.gradient(x, t, "central_difference")
    assert list(fast) == ["W1", "b1", "W2", "b2", "g1"]
    for key in loop:
        assert np.max(np.abs(fast[key] - loop[key])) <= 1e-10, key
        assert np.all(loop[key] != 0), key


def test_backprop_goes_through_another_layers_backward() -> None:
    net = with_gain()
    x, t = batch()
    loop = net.gradient(x, t, "central_difference_loop")
    exact = net.gradient(x, t, "backprop")
    for key in loop:
        np.testing.assert_allclose(exact[key], loop[key], rtol=1e-6, atol=1e-9, err_msg=key)


def test_a_layer_that_mixes_samples_is_refused_and_agrees_with_the_loop() -> None:
    """Without the declaration, the interpolation's per-sample losses would not add up
    to the loss: it would fail its own checks instead, or give wrong answers. With it, the
    interpolation leaves the layer to the bulk path, which carries whole batches."""
    net = network()
    net.layers[0] = Centred((5,), 4, BoundPart("centring", Part(centring, breakpoints=())))
    net.layers[0].names = {"W": "W1", "b": "b1"}
    x, t = batch()
    loop = net.gradient(x, t, "central_difference_loop")
    fast, notices = gradient_and_notices(net, x, t, "central_difference")
    assert notices == []
    assert engine_states(net).of(InterpolationState).refused == {0: "the layer mixes samples"}
    assert engine_states(net).of(BulkState).refused == {}
    for key in loop:
        assert np.max(np.abs(fast[key] - loop[key])) <= 1e-10, key
    assert np.any(loop["W1"] != 0)


def book_backprop(net: toolkit.Network, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    """Backprop as the estimator computed it before layers had a backward: the chain
    rule written out over dense layers (the book's Affine.backward, in its order)."""
    forward = net.forward(x)
    g = net.loss_function.derivative(forward.y, t)
    grads = {}
    for index in reversed(range(len(net.layers))):
        layer = net.layers[index]
        assert layer.affine is not None and layer.activation is not None
        weight, bias = layer.affine.weight, layer.affine.bias
        g = layer.activation.vjp(forward.pre[index], g)
        grads[weight] = forward.inputs[index].T @ g
        grads[bias] = g.sum(axis=0)
        if index:
            g = g @ net.params[weight].T
    return grads


@pytest.mark.parametrize("hidden", ["sigmoid", "relu", "tanh"])
def test_backprop_through_layers_is_bit_for_bit_the_written_out_chain_rule(hidden: str) -> None:
    spec = toolkit.load_spec(
        SPECS / "two_layer_sigmoid.yaml", {**SMALL, "model.layers.0.activation": hidden}
    )
    net = toolkit.build(spec)
    x, t = batch(8)
    got = net.gradient(x, t, "backprop")
    expected = book_backprop(net, x, t)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_dense_declares_what_the_engines_read() -> None:
    net = network()
    first, last = net.layers
    assert first.params == ("W1", "b1") and last.params == ("W2", "b2")
    assert first.affine is not None and (first.affine.weight, first.affine.bias) == ("W1", "b1")
    assert first.elementwise and not last.elementwise  # sigmoid, softmax (probed)
    assert first.breakpoints == () and not first.mixes_samples and first.differentiable


def test_a_layer_declares_nothing_it_does_not_override() -> None:
    """The test's Gain layer overrides forward and its declarations, nothing else."""
    layer: Layer = Gain("g1")
    assert layer.affine is None and not layer.mixes_samples and layer.differentiable
    step = layer.forward(np.ones((2, 3)), {"g1": np.full(3, 0.5)}, Mode())
    np.testing.assert_allclose(step.output, np.tanh(0.5))
