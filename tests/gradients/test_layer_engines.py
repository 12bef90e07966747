"""Every gradient engine works from what a layer declares: central differences agree with
the element loop to 1e-10 on stacks of every layer shape (not affine, mixing samples,
drawing a mask, convolution-like, pooling-like, declaring nothing), without notices; the
interpolation serves an affine layer only where nothing after it mixes samples or is not
affine; a wrong declaration or a layer that fails on stacked input falls back with a
notice, never a wrong answer."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import toolkit
from tests.gradients.layer_parts import Gain
from toolkit import Layer, Mode, ParamSpec, Step
from toolkit.gradients.interpolation import InterpolationState
from toolkit.gradients.perturbation import BulkState
from toolkit.gradients.state import engine_states
from toolkit.model.layers import Affine
from toolkit.registry.manager import get_plugin_manager

PARTS = "tests.gradients.layer_parts"
TOLERANCE = 1e-10
"""Agreement with the element loop, absolute (losses of order 1)."""

DENSE_TANH = {"units": 6, "activation": "tanh", "init": {"name": "normal", "scale": 0.6}}
SOFTMAX = {"units": 3, "activation": "softmax", "init": {"name": "normal", "scale": 0.6}}
STACKS: dict[str, tuple[int, list[dict[str, Any]]]] = {
    # features, layers
    "gain-centre-mask": (
        5,
        [DENSE_TANH, {"type": "gain"}, {"type": "centre"}, {"type": "mask"}, SOFTMAX],
    ),
    "batchnorm-net": (
        5,
        [
            {"units": 6, "init": {"name": "normal", "scale": 0.6}},
            {"type": "centre"},
            {"type": "activation", "activation": "relu"},
            {"units": 6, "init": {"name": "normal", "scale": 0.6}},
            {"type": "centre"},
            {"type": "activation", "activation": "tanh"},
            {"type": "mask", "rate": 0.2},
            SOFTMAX,
        ],
    ),
    "conv-net": (
        12,
        [
            {"type": "reshape", "shape": [2, 6]},
            {"type": "mix", "filters": 3, "activation": "relu", "init": {"name": "he"}},
            {"type": "pairmax"},
            {"type": "flatten"},
            {"units": 5, "activation": "relu", "init": {"name": "he"}},
            SOFTMAX,
        ],
    ),
    "mask-first": (
        5,
        [{"type": "mask"}, DENSE_TANH, {"type": "mask", "rate": 0.5}, {"type": "plain"}, SOFTMAX],
    ),
    "declares-nothing": (
        5,
        [DENSE_TANH, {"type": "plain"}, {"units": 4, "activation": "sigmoid"}, SOFTMAX],
    ),
}


def build(features: int, layers: list[dict[str, Any]], seed: int = 3) -> toolkit.Network:
    """A network of ``layers`` on random data, its constant parameters made random too
    (gains, gamma and beta start at 1 and 0)."""
    spec = {
        "name": "layers",
        "seed": seed,
        "data": {"name": "random", "samples": 30, "features": features, "classes": 3},
        "model": {"layers": layers},
        "loss": "cross_entropy",
    }
    network = toolkit.build(toolkit.load_spec(spec, manager=get_plugin_manager((PARTS,))))
    rng = np.random.default_rng(seed)
    for name, value in network.params.items():
        if not name.startswith(("W", "b")):
            value[...] = rng.uniform(0.5, 1.5, value.shape) * rng.choice([-1, 1], value.shape)
    return network


def batch(network: toolkit.Network, size: int = 7, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = network.layers[0].input_shape
    return rng.standard_normal((size, *features)), np.eye(3)[rng.integers(0, 3, size)]


def both(
    network: toolkit.Network, x: np.ndarray, t: np.ndarray, estimator: str = "central_difference"
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The element loop's gradient and ``estimator``'s, with the same masks."""
    with network.training(network.draw(np.random.default_rng(1), len(x))):
        loop = network.gradient(x, t, "central_difference_loop")
        fast = network.gradient(x, t, estimator)
    return loop, fast


NO_EFFECT = frozenset({"b1", "b2"})
"""Biases just before batch normalization, whose mean it takes away: their gradient is 0
(to rounding) in the batchnorm net; every other parameter's is not."""


def assert_agrees(
    loop: dict[str, np.ndarray],
    fast: dict[str, np.ndarray],
    no_effect: frozenset[str] = frozenset(),
) -> None:
    """Every element within TOLERANCE; every parameter but those in ``no_effect`` moves the
    loss."""
    assert fast.keys() == loop.keys()
    for key in loop:
        assert np.max(np.abs(fast[key] - loop[key])) <= TOLERANCE, key
        if key in no_effect:
            assert np.max(np.abs(loop[key])) <= 1e-9, key
        else:
            assert np.any(np.abs(loop[key]) > 1e-6), key


@pytest.mark.parametrize("stack", STACKS)
def test_central_differences_agree_with_the_loop_on_every_layer_shape(stack: str) -> None:
    """On every element of every parameter, with no notice (a notice fails the test)."""
    network = build(*STACKS[stack])
    x, t = batch(network)
    loop, fast = both(network, x, t)
    assert_agrees(loop, fast, NO_EFFECT if stack == "batchnorm-net" else frozenset())
    assert engine_states(network).of(BulkState).refused == {}


@pytest.mark.parametrize("stack", STACKS)
def test_forward_differences_agree_with_the_loops_own(stack: str) -> None:
    """The bulk path gives losses at single-element changes: the forward differences
    from them are the loop's arithmetic, to rounding over h."""
    network = build(*STACKS[stack])
    x, t = batch(network)
    with network.training(network.draw(np.random.default_rng(1), len(x))):
        objective = toolkit.Objective(network, x, t)
        for name, param in network.params.items():
            indices = np.arange(param.size)
            values = param.reshape(-1) + 1e-4
            fast = objective.losses_at(name, indices, values)
            plain = objective.plain_losses_at(name, indices, values)
            assert np.max(np.abs(fast - plain)) <= 1e-13, name
            moved = np.max(np.abs(fast - objective.loss()))
            assert (
                moved <= 1e-13 if stack == "batchnorm-net" and name in NO_EFFECT else moved > 1e-9
            )


def test_a_batch_of_one_and_a_larger_batch_agree() -> None:
    network = build(*STACKS["batchnorm-net"])
    for size in (5, 40):
        x, t = batch(network, size)
        assert_agrees(*both(network, x, t), NO_EFFECT)


@pytest.mark.parametrize("chunk", [1, 5, 400])
def test_chunks_and_packing_of_any_size_agree(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Chunks of one copy, of a few, of many; packed arrays one at a time or together."""
    monkeypatch.setattr("toolkit.gradients.perturbation.CHUNK_ELEMENTS", chunk)
    network = build(*STACKS["batchnorm-net"])
    x, t = batch(network)
    assert_agrees(*both(network, x, t), NO_EFFECT)


def test_the_interpolation_serves_dense_layers_after_a_convolution() -> None:
    """Layers before k do not matter: the dense layers after flatten are interpolated; the
    convolution-like layer's parameters go the bulk path, quietly."""
    network = build(*STACKS["conv-net"])
    x, t = batch(network)
    both(network, x, t)
    state = engine_states(network).of(InterpolationState)
    assert state.refused == {1: "the layer is not affine"}
    assert set(state.pairs) == {4, 5}


def test_a_layer_that_mixes_samples_after_k_refuses_the_interpolation_of_k() -> None:
    """Batch normalization's mixing is invisible to the batch taken twice: the declaration
    refuses every affine layer before it, and the bulk path agrees with the loop."""
    network = build(*STACKS["batchnorm-net"])
    x, t = batch(network)
    assert_agrees(*both(network, x, t), NO_EFFECT)
    refused = engine_states(network).of(InterpolationState).refused
    assert refused == {
        0: "layer 1, after it, is not affine",
        1: "the layer is not affine",
        3: "layer 4, after it, is not affine",
        4: "the layer is not affine",
    }


class CentredTanh:
    """``tanh(a)`` less its mean over the batch (the second-to-last axis)."""

    name = "centred_tanh"

    def __call__(self, a: np.ndarray, /) -> np.ndarray:
        z = np.tanh(a)
        return z - z.mean(axis=-2, keepdims=True)


class CentredDense(Layer):
    """``centred_tanh(x @ W + b)``: affine, and mixes samples; the interpolation's checks
    of a batch taken twice over cannot see it."""

    def __init__(self, units: int, names: dict[str, str]) -> None:
        super().__init__((units,))
        self.names = names

    @property
    def activation(self) -> CentredTanh:
        return CentredTanh()

    @property
    def affine(self) -> Affine:
        return Affine(self.names["W"], self.names["b"])

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return ()

    @property
    def mixes_samples(self) -> bool:
        return True

    def param_specs(self) -> tuple[ParamSpec, ...]:
        units = self.input_shape[0]
        return (ParamSpec("W", (units, units), "init"), ParamSpec("b", (units,), "bias_init"))

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        a = x @ params[self.names["W"]] + params[self.names["b"]]
        return Step(x, a, self.activation(a))


def test_an_affine_layer_that_mixes_samples_refuses_the_layers_before_it() -> None:
    network = build(*STACKS["declares-nothing"])
    network.layers[1] = CentredDense(6, {"W": "W9", "b": "b9"})
    rng = np.random.default_rng(4)
    network.params["W9"], network.params["b9"] = rng.normal(size=(6, 6)), rng.normal(size=6)
    del network.params["s1"]
    x, t = batch(network)
    assert_agrees(*both(network, x, t))
    refused = engine_states(network).of(InterpolationState).refused
    assert refused == {0: "layer 1, after it, mixes samples", 1: "the layer mixes samples"}


class Reversed(Gain):
    """A gain that reverses its units, declared elementwise: a wrong declaration."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        step = super().forward(x, params, mode)
        return Step(step.input, step.pre, step.output[..., ::-1])


class TwoAxesOnly(Gain):
    """A gain that fails on input with a leading axis."""

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray], mode: Mode) -> Step:
        if x.ndim != 2:
            raise ValueError("a batch of samples only")
        return super().forward(x, params, mode)


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        (Reversed, "stacked evaluation of the network differs from a plain one"),
        (
            TwoAxesOnly,
            r"layer 1 \(model.layers\[1\], TwoAxesOnly\) fails on stacked input \(ValueError\)",
        ),
    ],
    ids=["wrong-declaration", "fails-on-a-stack"],
)
def test_a_layer_that_misreads_a_stack_falls_back_with_a_notice(layer: type, reason: str) -> None:
    network = build(*STACKS["gain-centre-mask"])
    replacement = layer((6,))
    replacement.names = network.layers[1].names
    network.layers[1] = replacement
    x, t = batch(network)
    with pytest.warns(
        toolkit.ToolkitNotice, match=f"computed one at a time \\(slower\\): {reason}"
    ):
        loop, fast = both(network, x, t)
    assert_agrees(loop, fast)
    assert "W1" in engine_states(network).of(BulkState).refused


def test_masks_are_the_pass_under_ways() -> None:
    """Every estimator sees the masks of the pass it runs in: other masks, other gradient."""
    network = build(*STACKS["gain-centre-mask"])
    x, t = batch(network)
    first = both(network, x, t)[1]
    with network.training(network.draw(np.random.default_rng(2), len(x))):
        loop = network.gradient(x, t, "central_difference_loop")
        other = network.gradient(x, t, "central_difference")
    assert_agrees(loop, other)
    assert np.max(np.abs(other["W1"] - first["W1"])) > 1e-3


def test_no_notice_and_no_refusal_on_a_second_batch() -> None:
    network = build(*STACKS["conv-net"])
    for seed in (11, 12):
        x, t = batch(network, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_agrees(*both(network, x, t))
    assert engine_states(network).of(BulkState).refused == {}


def test_complex_steps_go_through_the_bulk_path() -> None:
    """complex_step's losses at v + ih come from the same bulk path, through layers that
    are not affine: its gradient agrees with backprop's (both exact to rounding)."""
    network = build(*STACKS["gain-centre-mask"])
    x, t = batch(network)
    with network.training(network.draw(np.random.default_rng(1), len(x))):
        exact = network.gradient(x, t, "backprop")
        stepped = network.gradient(x, t, "complex_step")
    for key in exact:
        np.testing.assert_allclose(stepped[key], exact[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_an_input_of_zeros_moves_nothing_and_its_weights_differences_are_zero() -> None:
    """A feature that is 0 in every sample of the batch (a blank pixel): perturbing its
    weights changes nothing, and the loop's differences are exactly 0, as the bulk path's
    (and forward differences too)."""
    network = build(*STACKS["batchnorm-net"])
    x, t = batch(network)
    x[:, 2] = 0.0
    loop, fast = both(network, x, t)
    assert_agrees(loop, fast, NO_EFFECT)
    assert np.all(loop["W1"][2] == 0) and np.all(fast["W1"][2] == 0)
    loop, forward = both(network, x, t, "forward_difference")
    assert np.all(forward["W1"][2] == 0)


REAL: dict[str, tuple[int, list[dict[str, Any]]]] = {
    "conv2d-max_pool": (
        16,
        [
            {"type": "reshape", "shape": [1, 4, 4]},
            {"type": "conv2d", "filters": 2, "kernel": 3, "pad": 1, "activation": "relu"},
            {"type": "max_pool", "size": 2, "stride": 2},  # a kink, undeclared
            {"type": "flatten"},
            {"units": 5, "activation": "relu", "init": {"name": "he"}},
            SOFTMAX,
        ],
    ),
    "conv2d-strided": (
        18,
        [
            {"type": "reshape", "shape": [2, 3, 3]},
            {"type": "conv2d", "filters": 3, "kernel": [2, 1], "stride": [1, 2]},
            {"type": "conv2d", "filters": 2, "kernel": 2, "activation": "tanh"},
            {"type": "flatten"},
            SOFTMAX,
        ],
    ),
    "dropout-batchnorm": (
        5,
        [
            {"units": 6, "init": {"name": "normal", "scale": 0.6}},
            {"type": "batchnorm"},
            {"type": "activation", "activation": "relu"},
            {"type": "dropout", "rate": 0.3},
            DENSE_TANH,
            {"type": "batchnorm"},
            {"type": "dropout", "rate": 0.2},
            SOFTMAX,
        ],
    ),
}
"""The standard layer types, on small shapes."""


@pytest.mark.parametrize("stack", REAL)
def test_the_standard_layers_agree_with_the_loop(stack: str) -> None:
    """conv2d, max_pool, dropout and batchnorm: every element of every parameter."""
    network = build(*REAL[stack])
    x, t = batch(network)
    loop, fast = both(network, x, t)
    assert_agrees(loop, fast, frozenset({"b1"}) if stack == "dropout-batchnorm" else frozenset())
    assert engine_states(network).of(BulkState).refused == {}
