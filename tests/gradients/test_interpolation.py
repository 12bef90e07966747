"""Interpolated central differences give the element loop's answers, or refuse with a notice."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import toolkit
import toolkit.gradients.objective
from tests.helpers import SPECS, write
from toolkit.gradients.interpolation import Interpolation, InterpolationState
from toolkit.gradients.state import engine_states
from toolkit.registry.kinds import kind_named
from toolkit.registry.manager import get_plugin_manager
from toolkit.registry.parts import Part, as_part
from toolkit.registry.registry import Registry

TOLERANCE = 1e-10
"""Agreement with the loop, absolute. The loop itself rounds by about eps * |loss| / h, so
the nets here are kept to losses of order 1 (a loss of 50 puts the loop's own error at 1e-10)."""
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
OUTPUTS = [
    ("softmax", "cross_entropy"),
    ("identity", "mean_squared_error"),
    ("identity", "sum_squared_error"),
]
TARGETS = ["one_hot", "labels"]
BATCH_SIZES = [1, 3, 8]
FEATURES, UNITS, CLASSES = 4, 5, 3

Grads = dict[str, np.ndarray]


def build(
    hidden: str = "sigmoid",
    output: str = "softmax",
    loss: str = "cross_entropy",
    *,
    scale: float = 0.4,
    seed: int = 3,
    modules: tuple[str, ...] = (),
) -> toolkit.Network:
    """The shipped sigmoid spec, shrunk to 4 inputs, 5 hidden units, 3 outputs."""
    init = {"name": "normal", "scale": scale}
    bias_init = {"name": "normal", "scale": 0.2}
    overrides = {
        "seed": seed,
        "rng": "default",
        "data.samples": 20,
        "data.features": FEATURES,
        "data.classes": CLASSES,
        "model.layers.0.units": UNITS,
        "model.layers.0.activation": hidden,
        "model.layers.0.init": init,
        "model.layers.0.bias_init": bias_init,
        "model.layers.1.units": CLASSES,
        "model.layers.1.activation": output,
        "model.layers.1.init": init,
        "model.layers.1.bias_init": bias_init,
        "loss": loss,
    }
    manager = get_plugin_manager(modules)
    spec = toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", overrides, manager=manager)
    return toolkit.build(spec)


def batch(
    size: int, targets: str = "one_hot", *, scale: float = 1.0, seed: int = 17
) -> tuple[np.ndarray, np.ndarray]:
    """Normal inputs and their targets: one-hot rows or class indices."""
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((size, FEATURES))
    labels = rng.integers(0, CLASSES, size)
    return x, (np.eye(CLASSES)[labels] if targets == "one_hot" else labels)


def gradient_with_notices(
    network: toolkit.Network,
    x: np.ndarray,
    t: np.ndarray,
    estimator: str | Mapping[str, Any] = "central_difference",
) -> tuple[Grads, list[str]]:
    """The estimator's gradient and the ToolkitNotices it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grads = network.gradient(x, t, estimator)
    notices = [str(w.message) for w in caught if issubclass(w.category, toolkit.ToolkitNotice)]
    return grads, notices


def loop(network: toolkit.Network, x: np.ndarray, t: np.ndarray, h: float = 1e-4) -> Grads:
    """The element loop's gradient, the reference."""
    return network.gradient(x, t, {"name": "central_difference_loop", "h": h})


def assert_agrees(got: Grads, expected: Grads, tolerance: float = TOLERANCE) -> None:
    """Every element of every parameter within ``tolerance`` of the reference."""
    assert got.keys() == expected.keys()
    for key in expected:
        difference = np.max(np.abs(got[key] - expected[key]))
        assert difference <= tolerance, f"{key}: max |diff| {difference:.3g}"


def learned(network: toolkit.Network) -> InterpolationState:
    """What the interpolation engine has learned about the network."""
    return engine_states(network).of(InterpolationState)


def assert_interpolated(network: toolkit.Network, notices: list[str]) -> None:
    """No notice, no refused layer, at least one interpolated batch."""
    assert notices == []
    assert learned(network).refused == {}
    assert learned(network).count >= 1


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list]]:
    """Records calls to the bulk path and the pairs the interpolation evaluates exactly."""
    record: dict[str, list] = {"bulk": [], "exact_pairs": []}
    bulk = toolkit.gradients.objective.perturbed_losses
    exact = Interpolation._exact_differences

    def spy_bulk(*args: Any, **kwargs: Any) -> np.ndarray:
        record["bulk"].append(args[3])
        return bulk(*args, **kwargs)

    def spy_exact(self: Interpolation, k: int, shape: Any, flagged: np.ndarray) -> np.ndarray:
        record["exact_pairs"].append((k, int(flagged.sum())))
        return exact(self, k, shape, flagged)

    monkeypatch.setattr(toolkit.gradients.objective, "perturbed_losses", spy_bulk)
    monkeypatch.setattr(Interpolation, "_exact_differences", spy_exact)
    yield record


# -- agreement on the standard parts ------------------------------------------------------------

CASES = [
    (hidden, output, loss, targets, BATCH_SIZES[i % len(BATCH_SIZES)])
    for i, (hidden, (output, loss), targets) in enumerate(
        itertools.product(HIDDEN, OUTPUTS, TARGETS)
    )
]


@pytest.mark.parametrize(
    ("hidden", "output", "loss", "targets", "size"),
    CASES,
    ids=["-".join(map(str, case)) for case in CASES],
)
def test_interpolated_differences_match_the_element_loop(
    hidden: str, output: str, loss: str, targets: str, size: int, paths: dict[str, list]
) -> None:
    """Standard parts: every element within 1e-10 of the loop, interpolated, no notice."""
    network = build(hidden, output, loss)
    x, t = batch(size, targets)
    fast, notices = gradient_with_notices(network, x, t)
    assert_interpolated(network, notices)
    assert paths["bulk"] == []
    expected = loop(network, x, t)
    assert any(np.any(grad != 0) for grad in expected.values())
    assert_agrees(fast, expected)


@pytest.mark.parametrize("size", [1, 2, 16, 40])
def test_batch_sizes_across_chunks_match_the_element_loop(size: int) -> None:
    """Batches from one sample to more than the first batches' checks: all match the loop."""
    network = build("tanh")
    for seed in range(3):  # later batches are not all checked: they must still match
        x, t = batch(size, seed=seed)
        fast, notices = gradient_with_notices(network, x, t)
        assert_interpolated(network, notices)
        assert_agrees(fast, loop(network, x, t))
    assert learned(network).count == 3


# -- breakpoints within reach -------------------------------------------------------------------


def pin_to_breakpoint(network: toolkit.Network, x: np.ndarray) -> np.ndarray:
    """Set b1 so some pre-activations are exactly 0 or within 1e-6 of it; return them."""
    product = x @ network.params["W1"]
    b1 = network.params["b1"]
    b1[0] = -product[0, 0]
    b1[1] = -product[0, 1]
    b1[2] = -product[1, 2] + 1e-6
    b1[3] = -product[2, 3] - 3e-7
    return network.forward(x).pre[0]


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu"])
def test_pre_activations_at_the_kink_are_evaluated_exactly(
    hidden: str, paths: dict[str, list]
) -> None:
    """ReLU units at or within 1e-6 of 0: the exact per-pair path runs, still the loop's answer."""
    network = build(hidden)
    x, t = batch(6)
    pre = pin_to_breakpoint(network, x)
    assert pre[0, 0] == 0.0 and pre[0, 1] == 0.0
    assert 0 < pre[1, 2] <= 2e-6 and -1e-6 <= pre[2, 3] < 0
    fast, notices = gradient_with_notices(network, x, t)
    assert_interpolated(network, notices)
    assert paths["bulk"] == []
    assert sum(count for k, count in paths["exact_pairs"] if k == 0) >= 4
    assert_agrees(fast, loop(network, x, t))


def test_a_step_activation_straddling_zero_matches_the_loop(paths: dict[str, list]) -> None:
    """A discontinuous step with pre-activations at and near 0: the jump is the loop's."""
    network = build("step")
    x, t = batch(6)
    pin_to_breakpoint(network, x)
    fast, notices = gradient_with_notices(network, x, t)
    assert_interpolated(network, notices)
    expected = loop(network, x, t)
    # The jump over the step shows as a difference of order (jump / 2h): far from zero.
    assert np.max(np.abs(expected["W1"])) > 1.0
    assert sum(count for k, count in paths["exact_pairs"] if k == 0) >= 4
    assert_agrees(fast, expected)


# -- a large step -------------------------------------------------------------------------------


def test_a_large_step_on_large_weights_matches_the_loop(paths: dict[str, list]) -> None:
    """h=1e-2 with weights of scale 3: fits miss the check node, exact pairs keep the answer."""
    network = build("sigmoid", scale=3.0)
    x, t = batch(7, scale=2.0)
    h = 1e-2
    fast, notices = gradient_with_notices(network, x, t, {"name": "central_difference", "h": h})
    assert_interpolated(network, notices)
    assert sum(count for _, count in paths["exact_pairs"]) >= 5  # many fits missed
    assert_agrees(fast, loop(network, x, t, h))


# -- parts that declare themselves smooth but aren't per-sample --------------------------------

COUPLED_PARTS = """
import numpy as np

from toolkit import Part


def centered(x):
    \"\"\"x minus its mean over the batch axis: couples a batch's samples.\"\"\"
    return x - x.mean(axis=-2, keepdims=True)


def _labels(y, t):
    t = np.asarray(t)
    one_hot = t.ndim >= 2 and t.shape == y.shape[y.ndim - t.ndim :]
    labels = t.argmax(axis=-1) if one_hot else t.astype(int)
    return np.broadcast_to(labels, y.shape[:-1])


def spread_entropy(y, t):
    \"\"\"Mean cross-entropy plus its variance across the batch (stacks: last two axes).\"\"\"
    y = np.asarray(y)
    picked = np.take_along_axis(y, _labels(y, t)[..., None], axis=-1)[..., 0]
    per_sample = -np.log(picked + 1e-7)
    return per_sample.mean(axis=-1) + per_sample.var(axis=-1)


def toolkit_activations():
    return {"ti_centered": Part(centered, breakpoints=())}


def toolkit_losses():
    return {"ti_spread_entropy": Part(spread_entropy, breakpoints=())}
"""


def coupled_network(plugin_folder: Path, **parts: str) -> toolkit.Network:
    """A network with the coupled parts of a local plugin module available."""
    write(plugin_folder / "ti_coupled_parts.py", COUPLED_PARTS)
    return build(**parts, modules=("ti_coupled_parts",))


def test_a_batch_coupling_activation_is_caught_on_the_first_batch(plugin_folder: Path) -> None:
    """A hidden activation that mixes samples: the plain check refuses it, the loop's answer."""
    network = coupled_network(plugin_folder, hidden="ti_centered")
    x, t = batch(6)
    fast, notices = gradient_with_notices(network, x, t)
    assert len(notices) == 1
    assert "differ from a plain evaluation" in notices[0]
    assert set(learned(network).refused) == {0, 1}
    assert_agrees(fast, loop(network, x, t))
    # Refused for good: the next batch gives no new notice and still the loop's answer.
    x2, t2 = batch(6, seed=5)
    fast, notices = gradient_with_notices(network, x2, t2)
    assert notices == []
    assert_agrees(fast, loop(network, x2, t2))


def test_a_batch_coupling_activation_is_caught_after_a_non_finite_first_batch(
    plugin_folder: Path,
) -> None:
    """A non-finite first batch must not use up the first layer's check: still the loop's answer."""
    network = coupled_network(plugin_folder, hidden="ti_centered")
    x, t = batch(6)
    broken = x.copy()
    broken[0, 0] = np.inf
    with np.errstate(invalid="ignore", over="ignore"):
        gradient_with_notices(network, broken, t)
    assert learned(network).refused == {}
    fast, _ = gradient_with_notices(network, x, t)
    assert_agrees(fast, loop(network, x, t))
    assert 0 in learned(network).refused


@pytest.mark.parametrize("targets", TARGETS)
def test_a_loss_that_is_not_a_mean_of_per_sample_losses_is_refused(
    plugin_folder: Path, targets: str
) -> None:
    """Mean plus variance across the batch: one notice naming the loss, every layer refused."""
    network = coupled_network(plugin_folder, loss="ti_spread_entropy")
    x, t = batch(6, targets)
    fast, notices = gradient_with_notices(network, x, t)
    assert len(notices) == 1
    assert "ti_spread_entropy" in notices[0] and "not a mean or a sum" in notices[0]
    assert set(learned(network).refused) == {0, 1}
    assert_agrees(fast, loop(network, x, t))


PLAIN_PARTS = """
import numpy as np


def toolkit_activations():
    return {
        "ti_softsign": lambda x: x / (1 + np.abs(x)),
        "ti_plain_relu": lambda x: np.maximum(0.0, x),
        "ti_plain_step": lambda x: (x > 0).astype(x.dtype),
        "ti_plain_softmax": lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True),
    }


def toolkit_losses():
    return {"ti_l1": lambda y, t: np.sum(np.abs(y - t), axis=(-2, -1)) / y.shape[-2]}
"""


def plain_network(plugin_folder: Path, **parts: str) -> toolkit.Network:
    """A network with plain-function parts (no breakpoints declared) of a local module."""
    write(plugin_folder / "ti_plain_parts.py", PLAIN_PARTS)
    return build(**parts, modules=("ti_plain_parts",))


@pytest.mark.parametrize("size", [1, 5, 16])
def test_an_undeclared_smooth_activation_is_interpolated_and_matches_the_loop(
    plugin_folder: Path, paths: dict[str, list], size: int
) -> None:
    """A plain softsign (no breakpoints declared): no notice, no bulk path, the loop's answer."""
    network = plain_network(plugin_folder, hidden="ti_softsign")
    for seed in range(3):
        x, t = batch(size, seed=seed)
        fast, notices = gradient_with_notices(network, x, t)
        assert_interpolated(network, notices)
        assert_agrees(fast, loop(network, x, t))
    assert paths["bulk"] == []


def pin_around_kink(network: toolkit.Network, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Set b1 so that sample 0's unit j sits at ``c_j`` times its reach from the kink at 0,
    on either side and at both check nodes' places: where an undeclared kink must show."""
    reach = h * max(1.0, float(np.max(np.abs(x[0]))))
    where = [0.0, -0.8, 0.8, -0.3, 0.95]
    network.params["b1"][:] = -(x[0] @ network.params["W1"]) + np.array(where) * reach
    return network.forward(x).pre[0]


@pytest.mark.parametrize("hidden", ["ti_plain_relu", "ti_plain_step"])
def test_an_undeclared_kink_within_reach_is_computed_exactly(
    plugin_folder: Path, paths: dict[str, list], hidden: str
) -> None:
    """A plain relu or step with sample 0's units within reach of 0, on both sides: the
    checked fits miss there, those pairs are computed exactly, and the answer is the loop's."""
    network = plain_network(plugin_folder, hidden=hidden)
    x, t = batch(6)
    pin_around_kink(network, x)
    fast, notices = gradient_with_notices(network, x, t)
    assert_interpolated(network, notices)
    assert paths["bulk"] == []
    assert sum(count for k, count in paths["exact_pairs"] if k == 0) >= 4
    expected = loop(network, x, t)
    assert_agrees(fast, expected)


TINY_JUMP = """
import numpy as np


def toolkit_activations():
    return {"ti_tiny_jump": lambda x: np.tanh(x) + 3e-13 * (x > 0.5)}
"""


def test_an_undeclared_jump_on_the_far_side_only_is_caught(plugin_folder: Path) -> None:
    """A jump of 3e-13 at 0.9 of the reach below the pre-activation (batches of one): it
    bends only the fit's farthest node on that side, which a check on the other side alone
    lets through by more than 1e-10; checked on both sides, the loop's answer."""
    write(plugin_folder / "ti_jump_parts.py", TINY_JUMP)
    for seed in range(5):
        network = build("ti_tiny_jump", modules=("ti_jump_parts",))
        x, t = batch(1, seed=seed)
        reach = 1e-4 * max(1.0, float(np.max(np.abs(x[0]))))
        network.params["b1"][:] = -(x[0] @ network.params["W1"]) + 0.5 + 0.9 * reach
        fast, notices = gradient_with_notices(network, x, t)
        assert_interpolated(network, notices)
        assert_agrees(fast, loop(network, x, t))


def test_an_undeclared_loss_with_a_kink_at_the_target_matches_the_loop(
    plugin_folder: Path, paths: dict[str, list]
) -> None:
    """A plain L1 loss (a kink where y = t) with one output exactly at its target."""
    network = plain_network(plugin_folder, hidden="sigmoid", output="identity", loss="ti_l1")
    x, t = batch(6)
    y = network.forward(x).y
    network.params["b2"][0] += t[0, 0] - y[0, 0]
    assert abs(network.forward(x).y[0, 0] - t[0, 0]) < 1e-15
    fast, notices = gradient_with_notices(network, x, t)
    assert_interpolated(network, notices)
    assert sum(count for k, count in paths["exact_pairs"] if k == 1) >= 1
    assert_agrees(fast, loop(network, x, t))


def test_an_undeclared_row_wise_activation_refuses_its_layer_with_one_notice(
    plugin_folder: Path,
) -> None:
    """A plain softmax in the hidden layer is not elementwise: refused once, the loop's answer."""
    network = plain_network(plugin_folder, hidden="ti_plain_softmax")
    x, t = batch(5)
    fast, notices = gradient_with_notices(network, x, t)
    assert len(notices) == 1 and "ti_plain_softmax" in notices[0]
    assert "does not declare its breakpoints and is not elementwise" in notices[0]
    assert set(learned(network).refused) == {0}
    assert_agrees(fast, loop(network, x, t))


@pytest.mark.long
def test_training_with_an_undeclared_activation_matches_the_loop(plugin_folder: Path) -> None:
    """The seed spec with a plain softsign: 30 steps, no notice, the loop's losses."""
    write(plugin_folder / "ti_plain_parts.py", PLAIN_PARTS)
    manager = get_plugin_manager(["ti_plain_parts"])
    settings = {
        "model.layers.0.activation": "ti_softsign",
        "train.iterations": 30,
        "train.log_every": 10,
    }
    histories = []
    for estimator in ("central_difference", "central_difference_loop"):
        spec = toolkit.load_spec(
            SPECS / "two_layer_sigmoid.yaml",
            {**settings, "gradient.name": estimator},
            manager=manager,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", toolkit.ToolkitNotice)
            histories.append([entry["loss"] for entry in toolkit.train(spec).history])
    fast, reference = histories
    assert len(fast) == 3
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-10)


# -- a non-finite loss is transient -------------------------------------------------------------


def test_a_non_finite_loss_is_not_remembered_as_a_refusal(paths: dict[str, list]) -> None:
    """An infinite loss on one batch refuses nothing; the next finite batch is interpolated."""
    network = build("identity", "identity", "mean_squared_error")
    x, t = batch(5)
    huge = x.copy()
    huge[0] = 1e200
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(network.loss(huge, t))
        _, notices = gradient_with_notices(network, huge, t)
    assert notices == []
    assert learned(network).refused == {}
    assert learned(network).count == 0  # a batch not taken is not counted
    paths["bulk"].clear()
    fast, notices = gradient_with_notices(network, x, t)
    assert_interpolated(network, notices)
    assert learned(network).count == 1
    assert paths["bulk"] == []
    assert_agrees(fast, loop(network, x, t))


def test_a_nan_parameter_is_not_remembered_as_a_refusal() -> None:
    """A NaN weight for one batch refuses nothing; restored, the next batch is interpolated."""
    network = build("tanh")
    x, t = batch(4)
    kept = network.params["W2"][0, 0]
    network.params["W2"][0, 0] = np.nan
    with np.errstate(invalid="ignore"):
        _, notices = gradient_with_notices(network, x, t)
    assert notices == []
    assert learned(network).refused == {}
    network.params["W2"][0, 0] = kept
    fast, notices = gradient_with_notices(network, x, t)
    assert_interpolated(network, notices)
    assert_agrees(fast, loop(network, x, t))


# -- the objective's cache ----------------------------------------------------------------------


def test_objective_recomputes_after_a_parameter_changes_in_place() -> None:
    """A change to W2 in place is seen: b1's differences are fresh, not the cached ones."""
    network = build("sigmoid")
    x, t = batch(5)
    objective = toolkit.Objective(network, x, t)
    indices = np.arange(UNITS)
    objective.central_differences("W1", np.arange(FEATURES * UNITS), 1e-4)
    before = objective.central_differences("b1", indices, 1e-4)
    network.params["W2"] *= 1.5
    after = objective.central_differences("b1", indices, 1e-4)
    fresh = toolkit.Objective(network, x, t).central_differences("b1", indices, 1e-4)
    np.testing.assert_array_equal(after, fresh)
    assert np.max(np.abs(after - before)) > 1e-3
    plain = objective.central_differences("b1", indices, 1e-4, plain=True)
    assert np.max(np.abs(after - plain)) <= TOLERANCE


def test_objective_recomputes_for_another_step() -> None:
    """The cache is kept per step: another h gives that step's differences."""
    network = build("sigmoid", scale=3.0)
    x, t = batch(5, scale=2.0)
    objective = toolkit.Objective(network, x, t)
    indices = np.arange(FEATURES * UNITS)
    small = objective.central_differences("W1", indices, 1e-4)
    large = objective.central_differences("W1", indices, 1e-1)
    plain = objective.central_differences("W1", indices, 1e-1, plain=True)
    assert np.max(np.abs(large - plain)) <= TOLERANCE
    assert np.max(np.abs(large - small)) > 1e-6


# -- Part.breakpoints ---------------------------------------------------------------------------


def activation_part(breakpoints: Any) -> Part:
    """``as_part`` of a tanh activation with the given breakpoints."""
    return as_part(Part(np.tanh, breakpoints=breakpoints), kind_named("activation"))


def test_breakpoints_are_normalised_to_a_tuple_of_floats() -> None:
    """A list of ints becomes a tuple of floats; () and None are kept."""
    part = activation_part([0, 1, -2])
    assert part.breakpoints == (0.0, 1.0, -2.0)
    assert isinstance(part.breakpoints, tuple)
    assert all(type(point) is float for point in part.breakpoints)
    assert activation_part(np.array([0.5])).breakpoints == (0.5,)
    assert activation_part(()).breakpoints == ()
    assert activation_part(None).breakpoints is None
    assert as_part(np.tanh, kind_named("activation")).breakpoints is None


@pytest.mark.parametrize(
    "breakpoints",
    ["0", b"0", 0.0, 1, [math.inf], (0.0, math.nan), [-math.inf], ["zero"], [None]],
    ids=["str", "bytes", "float", "int", "inf", "nan", "minus-inf", "word", "none-item"],
)
def test_unusable_breakpoints_are_a_type_error(breakpoints: Any) -> None:
    """A string, a bare number, a non-finite or non-numeric value: TypeError on breakpoints."""
    with pytest.raises(TypeError, match="breakpoints"):
        activation_part(breakpoints)


# -- the standard parts' declarations -----------------------------------------------------------


def standard_part(kind: str, name: str) -> Part:
    """The part the layer-toolkit distribution registers under ``name``."""
    registry = Registry.from_manager(get_plugin_manager())
    (entry,) = [
        e for e in registry.entries(kind) if e.name == name and e.distribution == "layer-toolkit"
    ]
    return entry.part


@pytest.mark.parametrize(
    ("kind", "name", "breakpoints"),
    [
        ("activation", "relu", (0.0,)),
        ("activation", "leaky_relu", (0.0,)),
        ("activation", "step", (0.0,)),
        ("activation", "sigmoid", ()),
        ("activation", "tanh", ()),
        ("activation", "identity", ()),
        ("activation", "softmax", ()),
        ("loss", "cross_entropy", ()),
        ("loss", "mean_squared_error", ()),
        ("loss", "sum_squared_error", ()),
    ],
)
def test_standard_parts_declare_their_breakpoints(
    kind: str, name: str, breakpoints: tuple[float, ...]
) -> None:
    """Kinked activations declare (0.0,); smooth activations and the losses declare ()."""
    assert standard_part(kind, name).breakpoints == breakpoints


# -- the losses' stacked targets ----------------------------------------------------------------

LOSSES = ["cross_entropy", "mean_squared_error", "sum_squared_error"]
STACK, SAMPLES = 5, 4  # SAMPLES != CLASSES, so labels and one-hot rows can't be confused


def stacked_problem() -> tuple[np.ndarray, np.ndarray]:
    """Stacked predictions (S, n, C), rows summing to 1, and per-stack labels (S, n)."""
    rng = np.random.default_rng(23)
    logits = rng.standard_normal((STACK, SAMPLES, CLASSES))
    y = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return y, rng.integers(0, CLASSES, (STACK, SAMPLES))


def closed_form(name: str, y: np.ndarray, labels: np.ndarray) -> float:
    """The loss of one batch (n, C) against labels (n,), computed by hand."""
    one_hot = np.eye(CLASSES)[labels]
    if name == "cross_entropy":
        return float(-np.mean(np.log(y[np.arange(len(labels)), labels] + 1e-7)))
    if name == "mean_squared_error":
        return float(np.mean((y - one_hot) ** 2))
    return float(0.5 * np.sum((y - one_hot) ** 2))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("targets", TARGETS)
def test_losses_take_one_target_batch_per_stacked_prediction(name: str, targets: str) -> None:
    """t of shape (S, n, C) or (S, n): value s is the loss of y[s] against t[s]."""
    loss: Callable[..., Any] = standard_part("loss", name).fn
    y, labels = stacked_problem()
    t = np.eye(CLASSES)[labels] if targets == "one_hot" else labels
    stacked = np.asarray(loss(y, t))
    assert stacked.shape == (STACK,)
    one_at_a_time = [float(loss(y[s], t[s])) for s in range(STACK)]
    np.testing.assert_allclose(stacked, one_at_a_time, rtol=1e-14, atol=0)
    by_hand = [closed_form(name, y[s], labels[s]) for s in range(STACK)]
    np.testing.assert_allclose(stacked, by_hand, rtol=1e-12, atol=0)
    assert len(set(np.round(stacked, 12))) == STACK  # the targets really differ per stack


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("targets", TARGETS)
def test_losses_share_one_target_batch_across_the_stack(name: str, targets: str) -> None:
    """t of shape (n, C) or (n,): every stacked prediction is scored against the same targets."""
    loss: Callable[..., Any] = standard_part("loss", name).fn
    y, labels = stacked_problem()
    shared = labels[0]
    t = np.eye(CLASSES)[shared] if targets == "one_hot" else shared
    stacked = np.asarray(loss(y, t))
    assert stacked.shape == (STACK,)
    by_hand = [closed_form(name, y[s], shared) for s in range(STACK)]
    np.testing.assert_allclose(stacked, by_hand, rtol=1e-12, atol=0)
    np.testing.assert_allclose(float(loss(y[0], t)), by_hand[0], rtol=1e-12, atol=0)
