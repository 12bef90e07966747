"""Interpolation through kinked later layers: deep ReLU, leaky-ReLU and mixed stacks give the
element loop's answers, with pre-activations placed at and near the kinks of every layer."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pytest

import toolkit
from toolkit.gradients.interpolation import Interpolation, InterpolationState
from toolkit.gradients.reach import reach_flags, reach_fractions
from toolkit.gradients.state import engine_states

TOLERANCE = 1e-10
"""Agreement with the loop, absolute (the loop itself rounds by about eps * |loss| / h)."""
H = 1e-4
FEATURES, WIDTH, CLASSES, BATCH = 4, 5, 3, 6
OFFSETS = (0.0, 3e-7, -2e-6, 1.5e-5, -4e-5)
"""Where pinned pre-activations sit relative to a breakpoint: on it, within rounding reach
of h, and within reach of an earlier layer's perturbation (h * |input| * |W| ~ 1e-5)."""
OUTPUTS = {
    "cross_entropy": "softmax",
    "mean_squared_error": "identity",
    "sum_squared_error": "identity",
}

Grads = dict[str, np.ndarray]


def network(
    hidden: list[str], loss: str = "cross_entropy", seed: int = 5, width: int = WIDTH
) -> toolkit.Network:
    """FEATURES inputs, one layer of ``width`` units per hidden activation, CLASSES outputs
    (weights of scale 0.7, times sqrt(WIDTH / width) past the first layer)."""
    layers: list[dict[str, Any]] = [
        {
            "units": width,
            "activation": name,
            "init": {"name": "normal", "scale": 0.7 * (1.0 if m == 0 else (WIDTH / width) ** 0.5)},
        }
        for m, name in enumerate(hidden)
    ]
    layers.append(
        {"units": CLASSES, "activation": OUTPUTS[loss], "init": {"name": "normal", "scale": 0.5}}
    )
    for layer in layers:
        layer["bias_init"] = {"name": "normal", "scale": 0.3}
    config = {
        "name": "kinks",
        "seed": seed,
        "rng": "default",
        "data": {"name": "random", "samples": 20, "features": FEATURES, "classes": CLASSES},
        "model": {"layers": layers},
        "loss": loss,
        "gradient": {"name": "central_difference", "h": H},
        "optimizer": {"name": "sgd", "learning_rate": 0.1},
        "train": {"iterations": 1, "batch_size": BATCH},
    }
    return toolkit.build(toolkit.load_spec(config))


def batch(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, FEATURES))
    return x, np.eye(CLASSES)[rng.integers(0, CLASSES, BATCH)]


def pin(net: toolkit.Network, x: np.ndarray, layer: int, point: float = 0.0) -> None:
    """Move layer ``layer``'s bias so that some pre-activations sit exactly at ``point`` plus
    each of OFFSETS (one unit and sample per offset): the sum ``x @ W`` is the forward
    pass's own, so the first offset lands exactly on the point."""
    forward = net.forward(x)
    product = forward.inputs[layer] @ net.params[f"W{layer + 1}"]
    bias = net.params[f"b{layer + 1}"]
    for unit, offset in enumerate(OFFSETS[:WIDTH]):
        sample = (unit * 2 + layer) % BATCH
        bias[unit] = (point + offset) - product[sample, unit]
    pre = net.forward(x).pre[layer]
    assert pre[layer % BATCH, 0] == point  # the first pin is exactly on the breakpoint


def pinned(hidden: list[str], loss: str = "cross_entropy") -> tuple[toolkit.Network, Any, Any]:
    """``network(hidden, loss)`` with every kinked hidden layer pinned at its breakpoint."""
    net = network(hidden, loss)
    x, t = batch()
    for layer, name in enumerate(hidden):
        if name in ("relu", "leaky_relu", "step"):
            pin(net, x, layer)
    return net, x, t


def central_difference(net: toolkit.Network, x: np.ndarray, t: np.ndarray) -> Grads:
    """The interpolating engine's gradient; it must give no notice (fall back nowhere)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grads = net.gradient(x, t, "central_difference")
    assert [str(w.message) for w in caught] == []
    return grads


def loop(net: toolkit.Network, x: np.ndarray, t: np.ndarray) -> Grads:
    return net.gradient(x, t, {"name": "central_difference_loop", "h": H})


def assert_agrees(got: Grads, expected: Grads) -> None:
    for key in expected:
        difference = np.max(np.abs(got[key] - expected[key]))
        assert difference <= TOLERANCE, f"{key}: max |diff| {difference:.3g}"


@pytest.fixture
def exact_pairs(monkeypatch: pytest.MonkeyPatch) -> dict[int, int]:
    """The pairs each layer evaluates exactly, recorded as the engine asks for them."""
    record: dict[int, int] = {}
    exact = Interpolation._exact_differences

    def spy(self: Interpolation, k: int, shape: Any, flagged: np.ndarray) -> np.ndarray:
        record[k] = record.get(k, 0) + int(flagged.sum())
        return exact(self, k, shape, flagged)

    monkeypatch.setattr(Interpolation, "_exact_differences", spy)
    return record


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu"])
@pytest.mark.parametrize("depth", [2, 3])
def test_deep_kinked_networks_match_the_loop_with_pins_at_every_kink(
    hidden: str, depth: int, exact_pairs: dict[int, int]
) -> None:
    """Every layer interpolated, no notice; pinned pairs evaluated exactly; loop to 1e-10."""
    net, x, t = pinned([hidden] * depth)
    grads = central_difference(net, x, t)
    state = engine_states(net).of(InterpolationState)
    assert state.refused == {}
    assert all(exact_pairs.get(k, 0) >= 1 for k in range(depth))
    expected = loop(net, x, t)
    assert_agrees(grads, expected)


ACTIVATIONS = ["relu", "tanh", "sigmoid", "step", "identity"]
STACKS = [list(order) for order in itertools.permutations(ACTIVATIONS, 3)][::5]
"""Every fifth ordered choice of three: each activation at each depth, kinks before and after."""


@pytest.mark.parametrize("loss", sorted(OUTPUTS))
@pytest.mark.parametrize("hidden", STACKS, ids="-".join)
def test_mixed_stacks_match_the_loop(hidden: list[str], loss: str) -> None:
    """Kinked, jumping and smooth layers in any order, with each loss: the loop's answer."""
    net, x, t = pinned(hidden, loss)
    grads = central_difference(net, x, t)
    assert engine_states(net).of(InterpolationState).refused == {}
    assert_agrees(grads, loop(net, x, t))


def crossings(net: toolkit.Network, x: np.ndarray, k: int, radius: np.ndarray) -> np.ndarray:
    """Brute force: the pairs of layer k for which moving the unit anywhere on a fine grid
    of ``[-radius, radius]`` (one radius per sample, or per pair) puts some later
    pre-activation on the other side of (or onto) a breakpoint of its layer."""
    forward = net.forward(x)
    layers = net.layers
    found = np.zeros(forward.pre[k].shape, dtype=bool)
    grid = np.linspace(-1.0, 1.0, 801)
    reach = np.broadcast_to(radius[:, None] if radius.ndim == 1 else radius, found.shape)
    for n, j in itertools.product(*map(range, forward.pre[k].shape)):
        z = np.repeat(forward.pre[k][n : n + 1], len(grid), axis=0)
        z[:, j] += grid * reach[n, j]
        for m in range(k + 1, len(layers)):
            a = layers[m - 1].activation(z)
            z = a @ net.params[f"W{m + 1}"] + net.params[f"b{m + 1}"]
            for point in layers[m].breakpoints or ():
                side = np.sign(z - point)
                found[n, j] |= bool(np.any(side != np.sign(forward.pre[m][n] - point)))
    return found


@pytest.mark.parametrize("hidden", [["relu"] * 3, ["leaky_relu", "tanh", "relu"]], ids="-".join)
def test_every_pair_that_crosses_a_later_kink_is_flagged(hidden: list[str]) -> None:
    """Against a brute-force sweep through the network: no crossing pair goes unflagged, and
    the bound is tight enough that few pairs are flagged that do not cross."""
    net, x, _ = pinned(hidden)
    forward = net.forward(x)
    radius = np.full(BATCH, 3e-4)
    flags = reach_flags(net, forward, 0, radius)
    crossed = crossings(net, x, 0, radius)
    assert crossed.any()  # the pins put later units within reach
    assert not (crossed & ~flags).any(), np.argwhere(crossed & ~flags)
    assert flags.sum() <= 2 * crossed.sum()
    assert flags.sum() < flags.size


def test_a_kinked_layer_after_a_row_wise_one_refuses_the_layers_before_it() -> None:
    """A softmax hidden layer (row-wise) before a relu: its change cannot be bounded per unit;
    the layers up to it fall back with one notice and still give the loop's answer."""
    net, x, t = pinned(["softmax", "relu"])
    with pytest.warns(toolkit.ToolkitNotice, match="'relu'.*'softmax'.* not elementwise"):
        grads = net.gradient(x, t, "central_difference")
    assert engine_states(net).of(InterpolationState).refused.keys() == {0}
    assert_agrees(grads, loop(net, x, t))


def test_wide_layers_flag_few_more_pairs_than_cross() -> None:
    """Through 40-unit layers the sizes of the weights add up where their signs cancel; the
    signed bound keeps the flagged pairs close to those that really cross."""
    net = network(["relu", "relu", "relu"], seed=3, width=40)
    x, _ = batch()
    forward = net.forward(x)
    radius = np.full(BATCH, 2e-2)
    flags = reach_flags(net, forward, 0, radius)
    crossed = crossings(net, x, 0, radius)
    assert crossed.sum() >= 10
    assert not (crossed & ~flags).any()
    assert flags.sum() <= 1.5 * crossed.sum()


@pytest.mark.parametrize("hidden", [["relu"] * 3, ["leaky_relu", "sigmoid", "relu"]], ids="-".join)
def test_within_a_pairs_safe_fraction_nothing_is_crossed(hidden: list[str]) -> None:
    """A flagged pair's fraction of its reach that its bounds call safe: a brute-force sweep
    over that much of it crosses no later kink."""
    net, x, _ = pinned(hidden)
    radius = np.full(BATCH, 3e-4)
    fractions = reach_fractions(net, net.forward(x), 0, radius)
    partial = (fractions > 0) & (fractions <= 1)
    assert partial.any()
    safe = np.where(partial, fractions, 0.0) * radius[:, None]
    assert not crossings(net, x, 0, safe)[partial].any()


def test_pairs_with_a_kink_part_way_are_fitted_inside_it_and_match_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pairs whose later kink lies between a quarter and all of their reach take the partial
    path (a fit within it, exact evaluations beyond it); the answer is the loop's."""
    partial: list[int] = []
    method = Interpolation._partial_differences

    def spy(self: Interpolation, k: int, shape: Any, pairs: np.ndarray, *rest: Any) -> Any:
        partial.append(int(pairs.sum()))
        return method(self, k, shape, pairs, *rest)

    monkeypatch.setattr(Interpolation, "_partial_differences", spy)
    net, x, t = pinned(["relu", "relu", "relu"])
    grads = central_difference(net, x, t)
    assert sum(partial) >= 1
    assert_agrees(grads, loop(net, x, t))
