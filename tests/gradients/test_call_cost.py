"""What a gradient call keeps and how it stacks: kept answers follow parameters changed in
place, stacks stay within their bound, a bulk chunk's size changes no answer, and the
element loop's answers stand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import toolkit
import toolkit.gradients.interpolation as interpolation
import toolkit.gradients.objective as objective
import toolkit.gradients.perturbation as perturbation
from tests.helpers import SPECS
from toolkit.gradients.interpolation import InterpolationState
from toolkit.gradients.state import engine_states

TOLERANCE = 1e-10
"""Agreement with the element loop, absolute (losses of order 1)."""


def build(units: list[int], activation: str = "sigmoid", features: int = 12) -> toolkit.Network:
    """The shipped sigmoid spec with ``units`` per layer, the last a softmax."""
    layers: list[dict[str, Any]] = [
        {"units": n, "activation": activation, "init": {"name": "normal", "scale": 0.5}}
        for n in units[:-1]
    ]
    layers.append({"units": units[-1], "activation": "softmax"})
    overrides = {
        "rng": "default",
        "data.samples": 40,
        "data.features": features,
        "data.classes": units[-1],
        "model.layers": layers,
    }
    return toolkit.build(toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", overrides))


def batch(size: int, features: int = 12, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.standard_normal((size, features)), np.eye(classes)[rng.integers(0, classes, size)]


def loop(network: toolkit.Network, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    return network.gradient(x, t, "central_difference_loop")


def assert_agrees(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert got.keys() == expected.keys()
    for key in expected:
        assert np.max(np.abs(got[key] - expected[key])) <= TOLERANCE, key
        assert np.any(expected[key] != 0), key


def test_kept_differences_follow_a_parameter_changed_in_place() -> None:
    """An estimator that changes a parameter between two requests gets the differences at
    the new values, not those kept from the first request."""
    network = build([6, 4])
    x, t = batch(7)
    objective = toolkit.Objective(network, x, t)
    everything = np.arange(network.params["W2"].size)
    before = objective.central_differences("W2", everything, 1e-4)
    network.params["W1"][2, 3] += 0.25  # in place: the same array object
    after = objective.central_differences("W2", everything, 1e-4)
    reference = objective.central_differences("W2", everything, 1e-4, plain=True)
    assert np.max(np.abs(after - reference)) <= TOLERANCE
    assert np.max(np.abs(after - before)) > 1e-6  # the change does move W2's differences


def test_a_nan_parameter_is_worked_out_once_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a NaN in a parameter, the differences of every parameter still come from one
    pass of the engine (NaN compares equal to the NaN it kept), and match the loop's where
    the loop gives numbers."""
    calls: list[int] = []
    engine = objective.interpolated_differences

    def counted(*args: Any, **kwargs: Any) -> dict[str, np.ndarray]:
        calls.append(1)
        return engine(*args, **kwargs)

    monkeypatch.setattr(objective, "interpolated_differences", counted)
    network = build([6, 4])
    network.params["W2"][0, 0] = np.nan
    x, t = batch(5)
    grads = network.gradient(x, t, "central_difference")
    assert len(calls) == 1
    expected = loop(network, x, t)
    for key in expected:
        assert np.array_equal(np.isnan(grads[key]), np.isnan(expected[key])), key


def test_answers_stay_the_loops_across_optimizer_steps() -> None:
    """SGD changes the parameters in place between calls; every call still gives the
    element loop's differences, on the interpolated and on the bulk path."""
    for refused in (False, True):
        network = build([6, 5, 4])
        if refused:
            states = engine_states(network).of(InterpolationState).refused
            states.update(dict.fromkeys(range(len(network.layers)), "bulk only"))
        x, t = batch(9)
        for _ in range(3):
            grads = network.gradient(x, t, "central_difference")
            assert_agrees(grads, loop(network, x, t))
            for key, value in network.params.items():
                value -= 0.5 * grads[key]


@pytest.fixture
def stacks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Each stack the interpolation finishes: its evaluations, and the chunks it joins."""
    seen: list[tuple[int, int]] = []
    finish = interpolation.Interpolation._finish

    def recorded(self: interpolation.Interpolation, queue: list[Any]) -> None:
        seen.append((sum(len(item.samples) for item in queue), len(queue)))
        finish(self, queue)

    monkeypatch.setattr(interpolation.Interpolation, "_finish", recorded)
    yield seen


def test_interpolated_stacks_stay_within_their_bound(
    stacks: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are joined into one stack only while it stays within STACK_BYTES: a stack
    is finished before it would grow past the bound (it used to be finished only once
    past it: up to twice the bound)."""
    monkeypatch.setattr(interpolation, "STACK_ROWS", 1)
    monkeypatch.setattr(interpolation, "STACK_BYTES", 8 * 4 * 173)  # 173 rows of 4 outputs
    network = build([8, 4])
    x, t = batch(5)  # 40 + 20 pairs of 5 evaluations: stacks of 170, then 30 + 100 joined
    grads = network.gradient(x, t, "central_difference")
    assert max(rows for rows, _ in stacks) <= 173
    assert max(joined for _, joined in stacks) > 1  # chunks were joined
    assert_agrees(grads, loop(network, x, t))


def test_stacks_of_exactly_evaluated_pairs_stay_within_their_bound(
    stacks: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pair evaluated at every perturbation brings 2 x (inputs + 1) evaluations: they are
    split across stacks like any others (each pair used to be one stack of them all)."""
    monkeypatch.setattr(interpolation, "STACK_ROWS", 1)
    monkeypatch.setattr(interpolation, "STACK_BYTES", 8 * 4 * 10)  # 10 rows of 4 outputs
    network = build([8, 4], activation="relu")
    x, t = batch(5)
    pre = network.forward(x).pre[0]
    network.params["b1"][:3] -= pre[0, :3]  # three units of sample 0 on the kink
    grads = network.gradient(x, t, "central_difference")
    assert engine_states(network).of(InterpolationState).pairs[0][0] >= 3
    assert max(rows for rows, _ in stacks) <= 10
    assert_agrees(grads, loop(network, x, t))


def test_bulk_chunk_size_does_not_change_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each perturbation is computed alone within its chunk: chunks of one perturbation
    and chunks of the default size give the same bits."""
    network = build([6, 5, 4])
    states = engine_states(network).of(InterpolationState).refused
    states.update(dict.fromkeys(range(len(network.layers)), "bulk only"))
    x, t = batch(9)
    default = network.gradient(x, t, "central_difference")
    monkeypatch.setattr(perturbation, "CHUNK_ELEMENTS", 1)
    single = network.gradient(x, t, "central_difference")
    for key in default:
        assert np.array_equal(default[key], single[key]), key
