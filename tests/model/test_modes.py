"""Training and evaluation modes from Python: ``predict`` and ``loss`` evaluate unless told
``train=True``; ``gradient`` is training mode with one set of draws; the running state
moves once per iteration, never by an estimator's evaluations; a run repeats bit for bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import toolkit
from tests.stateful_layers import MODULE, write_plugin, write_spec
from toolkit.registry.manager import get_plugin_manager
from toolkit.runs.build import Assembly

RATE = 0.3  # the spec's mask rate


def _spec(folder: Path, **sizes: Any) -> toolkit.Spec:
    write_plugin(folder)
    return toolkit.load_spec(write_spec(folder, **sizes), manager=get_plugin_manager([MODULE]))


def _hidden(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ params["W1"] + params["b1"])))


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _evaluated(params: dict[str, np.ndarray], mean: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluation mode written out: less the running mean, scaled by (1 - rate)."""
    h = (_hidden(params, x) - mean) * (1.0 - RATE)
    return _softmax(h @ params["W2"] + params["b2"])


def _trained(params: dict[str, np.ndarray], mask: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Training mode written out: less the batch's mean, times the mask."""
    h = _hidden(params, x)
    h = (h - h.mean(axis=0)) * mask
    return _softmax(h @ params["W2"] + params["b2"])


def _cross_entropy(y: np.ndarray, t: np.ndarray) -> float:
    return float(-np.sum(t * np.log(y + 1e-7)) / len(y))


def _batch(spec: toolkit.Spec) -> tuple[np.ndarray, np.ndarray]:
    data = toolkit.load_data(spec)
    return data.x[:8], data.t[:8]


@pytest.fixture
def spec(plugin_folder: Path) -> toolkit.Spec:
    return _spec(plugin_folder)


def test_predict_and_loss_evaluate_unless_told_to_train(spec: toolkit.Spec) -> None:
    network = toolkit.build(spec)
    network.state["running_mean1"] = np.linspace(0.2, 0.6, 5)
    x, t = _batch(spec)
    expected = _evaluated(network.params, network.state["running_mean1"], x)
    np.testing.assert_allclose(network.predict(x), expected, rtol=1e-13)
    assert network.loss(x, t) == pytest.approx(_cross_entropy(expected, t), rel=1e-13)
    assert network.accuracy(x, t) == np.mean(expected.argmax(1) == t.argmax(1))

    mask = np.random.default_rng(1).random((8, 5)) > RATE
    with network.training([None, None, mask, None]):
        trained = _trained(network.params, mask, x)
        np.testing.assert_allclose(network.predict(x, train=True), trained, rtol=1e-13)
        loss = network.loss(x, t, train=True)
        assert loss == pytest.approx(_cross_entropy(trained, t), rel=1e-13)
        np.testing.assert_allclose(network.predict(x), expected, rtol=1e-13)  # still evaluates
    assert loss != pytest.approx(network.loss(x, t))


def test_train_true_outside_a_training_pass_draws_its_mask_from_the_networks_rng(
    spec: toolkit.Spec,
) -> None:
    network = toolkit.build(spec)
    x, _ = _batch(spec)
    twin = np.random.default_rng()
    twin.bit_generator.state = network.rng.bit_generator.state
    mask = twin.random((8, 5)) > RATE
    np.testing.assert_allclose(
        network.predict(x, train=True), _trained(network.params, mask, x), rtol=1e-13
    )


def test_gradient_is_training_mode_with_one_mask_and_leaves_the_state(
    spec: toolkit.Spec,
) -> None:
    """Within a training pass, the gradient is that of the training-mode loss with the
    pass's mask (central differences written out here); the running state is untouched by
    the estimator's many evaluations."""
    network = toolkit.build(spec)
    network.state["running_mean1"] = np.full(5, 0.4)
    x, t = _batch(spec)
    mask = np.random.default_rng(2).random((8, 5)) > RATE
    with network.training([None, None, mask, None]):
        grads = network.gradient(x, t)
    assert np.array_equal(network.state["running_mean1"], np.full(5, 0.4))
    params = {key: value.copy() for key, value in network.params.items()}
    h = 1e-5
    for key, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            kept = value[index]
            value[index] = kept + h
            up = _cross_entropy(_trained(params, mask, x), t)
            value[index] = kept - h
            down = _cross_entropy(_trained(params, mask, x), t)
            value[index] = kept
            numeric[index] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[key], numeric, rtol=1e-5, atol=1e-8, err_msg=key)


def test_gradient_outside_a_training_pass_draws_once_for_the_call(spec: toolkit.Spec) -> None:
    network = toolkit.build(spec)
    x, t = _batch(spec)
    twin = np.random.default_rng()
    twin.bit_generator.state = network.rng.bit_generator.state
    mask = twin.random((8, 5)) > RATE
    grads = network.gradient(x, t)
    with network.training([None, None, mask, None]):
        same = network.gradient(x, t)
    for key in grads:
        assert np.array_equal(grads[key], same[key]), key


def test_the_running_state_moves_once_per_iteration(spec: toolkit.Spec) -> None:
    """next_state is called once per iteration (the estimator evaluates the loss many
    times), and the state is the running mean of what each call saw."""
    calls: list[np.ndarray] = []

    def count(assembly: Assembly) -> None:
        layer = assembly.network.layers[1]
        original = layer.next_state

        def next_state(step: Any, state: Any) -> dict[str, np.ndarray]:
            calls.append(step.input.copy())
            return original(step, state)

        layer.next_state = next_state  # type: ignore[method-assign]

    result = toolkit.train(spec, on_start=count)
    assert len(calls) == spec.settings.train.iterations
    mean = np.zeros(5)
    for seen in calls:
        assert seen.shape == (8, 5)
        mean = 0.9 * mean + 0.1 * seen.mean(axis=0)
    np.testing.assert_allclose(result.network.state["running_mean1"], mean, rtol=1e-14)


@pytest.mark.parametrize("rng", ["legacy", "default"])
def test_the_same_spec_and_seed_give_the_same_numbers_twice(plugin_folder: Path, rng: str) -> None:
    spec = _spec(plugin_folder, rng=rng)
    first, second = toolkit.train(spec), toolkit.train(spec)
    for ours, theirs in (
        (first.network.params, second.network.params),
        (first.network.state, second.network.state),
    ):
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert ours[key].tobytes() == theirs[key].tobytes(), key
    drop = [{k: v for k, v in r.items() if k != "seconds"} for r in first.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in second.history] == drop
