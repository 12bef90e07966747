"""A layer's rank-one forward pass: batch normalization's closed-form batch statistics give
its forward pass's output on copies moved by a rank-one change; the bulk engine uses it
after an affine layer whose output is its pre-activation, agrees with the element loop to
1e-10 there, and a wrong rank-one pass is caught by the spot check, never a wrong answer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import toolkit
from tests.gradients.test_layer_engines import assert_agrees, batch, both, build
from toolkit import Layer, Mode, Part, Step, hookimpl
from toolkit.gradients.perturbation import BulkState
from toolkit.gradients.stacks import units_first_product
from toolkit.gradients.state import engine_states
from toolkit.registry.manager import get_plugin_manager
from toolkit_plugins.regularization import BatchNorm, batchnorm

NORM_NET: tuple[int, list[dict[str, Any]]] = (
    5,
    [
        {"units": 6, "init": {"name": "normal", "scale": 0.6}},
        {"type": "batchnorm"},
        {"type": "activation", "activation": "relu"},
        {"units": 6, "init": {"name": "normal", "scale": 0.6}},
        {"type": "batchnorm"},
        {"type": "activation", "activation": "tanh"},
        {"units": 3, "activation": "softmax", "init": {"name": "normal", "scale": 0.6}},
    ],
)
"""The book's affine -> batchnorm -> activation, twice: the second batchnorm sees a rank-one
change of its input for every perturbation of the first layer."""


def norm_layer(units: int = 5) -> tuple[BatchNorm, dict[str, np.ndarray]]:
    """A batchnorm layer with named, random gamma and beta."""
    layer = batchnorm((units,))
    layer.names = {"gamma": "gamma1", "beta": "beta1"}
    rng = np.random.default_rng(4)
    return layer, {"gamma1": rng.uniform(0.5, 2.0, units), "beta1": rng.normal(size=units)}


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_batchnorm_rank_one_forward_is_its_forward_pass(dtype: type) -> None:
    """Against the forward pass on the moved copies, which takes its statistics directly
    (a complex step's copies too: the variance is the mean of squares, not of |.|**2)."""
    layer, params = norm_layer()
    rng = np.random.default_rng(7)
    base = rng.normal(size=(8, 5)) * 3.0 + 1.0
    dz = rng.normal(size=(4, 8)).astype(dtype)
    if dtype is np.complex128:
        dz += 1e-20j * rng.normal(size=(4, 8))
    w = rng.normal(size=(4, 5))
    train = Mode(True)
    x = base + dz[:, :, None] * w[:, None, :]
    expected = layer.forward(x, params, train).output
    got = layer.rank_one_forward(layer.forward(base, params, train), x.copy(), dz, w, params, train)
    assert got is not None
    assert got.shape == expected.shape
    assert np.allclose(got.real, expected.real, rtol=1e-12, atol=1e-12)
    if dtype is np.complex128:  # the complex step's derivative, to its own precision
        assert np.any(expected.imag != 0)
        assert np.allclose(got.imag, expected.imag, rtol=1e-9, atol=1e-30)


def test_batchnorm_offers_no_rank_one_pass_in_evaluation() -> None:
    layer, params = norm_layer()
    layer.state_names = {"running_mean": "m", "running_var": "v"}
    evaluation = Mode(False, None, {"m": np.zeros(5), "v": np.ones(5)})
    base = np.ones((3, 5))
    step = layer.forward(base, params, evaluation)
    assert (
        layer.rank_one_forward(
            step, base[None], np.zeros((1, 3)), np.ones((1, 5)), params, evaluation
        )
        is None
    )


def test_the_bulk_path_uses_it_and_agrees_with_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every element of every parameter within 1e-10 of the loop, no notice, no refusal."""
    calls = []
    original = BatchNorm.rank_one_forward

    def counted(self: BatchNorm, *args: Any) -> Any:
        calls.append(self.names["gamma"])
        return original(self, *args)

    monkeypatch.setattr(BatchNorm, "rank_one_forward", counted)
    network = build(*NORM_NET)
    x, t = batch(network)
    assert_agrees(*both(network, x, t), frozenset({"b1", "b2"}))
    assert set(calls) == {"gamma2"}  # after the second dense layer: W1, b1, gamma1, beta1
    assert engine_states(network).of(BulkState).refused == {}


def test_a_wrong_rank_one_pass_falls_back_with_a_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spot check against plain evaluations sees a rank-one pass that is off."""
    original = BatchNorm.rank_one_forward

    def off(self: BatchNorm, *args: Any) -> Any:
        output = original(self, *args)
        return None if output is None else output * 1.001

    monkeypatch.setattr(BatchNorm, "rank_one_forward", off)
    network = build(*NORM_NET)
    x, t = batch(network)
    with pytest.warns(toolkit.ToolkitNotice, match="computed one at a time"):
        loop, fast = both(network, x, t)
    assert_agrees(loop, fast, frozenset({"b1", "b2"}))
    assert "W1" in engine_states(network).of(BulkState).refused


def test_units_first_product_is_the_product() -> None:
    rng = np.random.default_rng(2)
    z, weight, bias = rng.normal(size=(3, 7, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    expected = np.einsum("pni,iu->pnu", z, weight) + bias
    got = units_first_product(z, weight, bias)
    assert got.shape == (3, 7, 5)
    assert np.allclose(got, expected, rtol=1e-13, atol=1e-13)


class Narrow(Layer):
    """The first ``units`` units of each sample, as a view of the input (no copy)."""

    def __init__(self, input_shape: tuple[int, ...], units: int) -> None:
        super().__init__(input_shape)
        self.output_shape = (units,)

    def forward(self, x: np.ndarray, params: Any, mode: Mode) -> Step:
        out = x[..., : self.output_shape[0]]
        return Step(x, out, out)


def narrow(input_shape: tuple[int, ...], units: int = 3) -> Narrow:
    return Narrow(input_shape, units)


@hookimpl
def toolkit_layers() -> dict[str, Part]:
    return {"narrow": Part(narrow)}


def test_stacks_kept_after_the_rank_one_pass_are_not_overwritten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rank-one stacks are written in one reused array; a layer after it that gives a
    view of it, narrower, so that its outputs are joined before the next stack is made,
    still gets every copy's own numbers (chunks of two copies, joined by four)."""
    monkeypatch.setattr("toolkit.gradients.perturbation.CHUNK_ELEMENTS", 7 * 6 * 2)
    layers = [
        *NORM_NET[1][:5],
        {"type": "narrow", "units": 3},
        {"type": "activation", "activation": "softmax"},
    ]
    spec = {
        "name": "narrow",
        "seed": 3,
        "data": {"name": "random", "samples": 30, "features": 5, "classes": 3},
        "model": {"layers": layers},
        "loss": "cross_entropy",
    }
    manager = get_plugin_manager((__name__,))
    network = toolkit.build(toolkit.load_spec(spec, manager=manager))
    rng = np.random.default_rng(3)
    for name, value in network.params.items():
        if name.startswith(("gamma", "beta")):
            value[...] = rng.uniform(0.5, 1.5, value.shape)
    x, t = batch(network)
    assert_agrees(*both(network, x, t), frozenset({"b1", "b2"}))
    assert engine_states(network).of(BulkState).refused == {}
