"""Training and evaluation modes from Python: ``predict`` and ``loss`` evaluate unless told
``train=True``; ``gradient`` is training mode with one set of draws; the running state
moves once per iteration, never by an estimator's evaluations; a run repeats bit for bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS
from tests.stateful_layers import MODULE, write_plugin, write_spec
from toolkit.registry.manager import get_plugin_manager
from toolkit.runs.build import Assembly, assemble

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


# ------------------------------------------------------- with dropout and batchnorm

NORM = {
    "model.layers": [
        {"units": 5, "init": {"name": "uniform", "scale": 0.3}},
        {"type": "batchnorm", "momentum": 0.9},
        {"type": "activation", "activation": "relu"},
        {"type": "dropout", "rate": 0.2},
        {"units": 3, "activation": "softmax", "init": {"name": "uniform", "scale": 0.3}},
    ],
    "data": {"name": "random", "samples": 30, "features": 4, "classes": 3},
    "rng": "default",
    "gradient": "central_difference_loop",
    "train.iterations": 12,
    "train.batch_size": 6,
    "train.log_every": 4,
}


def _norm_spec() -> toolkit.Spec:
    return toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", NORM)


def _book(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    mean: np.ndarray | None = None,
    var: np.ndarray | None = None,
) -> np.ndarray:
    """The network as the book's layers compute it: in training (``mask`` given) with the
    batch's mean and variance and ``x * mask``; in evaluation with ``mean`` and ``var``
    and ``x * (1 - 0.2)``."""
    a = x @ params["W1"] + params["b1"]
    if mask is not None:
        mean, var = a.mean(axis=0), np.mean((a - a.mean(axis=0)) ** 2, axis=0)
    xn = (a - mean) / np.sqrt(var + 10e-7)
    h = np.maximum(params["gamma1"] * xn + params["beta1"], 0.0)
    h = h * mask if mask is not None else h * (1.0 - 0.2)
    return _softmax(h @ params["W2"] + params["b2"])


def test_dropout_and_batchnorm_evaluate_unless_told_to_train() -> None:
    network = toolkit.build(_norm_spec())
    network.state["running_mean1"] = np.linspace(-0.1, 0.1, 5)
    network.state["running_var1"] = np.linspace(0.5, 1.5, 5)
    data = toolkit.load_data(_norm_spec())
    x, t = data.x[:6], data.t[:6]
    mean, var = network.state["running_mean1"], network.state["running_var1"]
    evaluated = _book(network.params, x, mean=mean, var=var)
    np.testing.assert_allclose(network.predict(x), evaluated, rtol=1e-12)
    assert network.loss(x, t) == pytest.approx(_cross_entropy(evaluated, t), rel=1e-12)
    mask = np.random.default_rng(4).random((6, 5)) > 0.2
    noise = [None, None, None, mask, None]
    with network.training(noise):
        trained = _book(network.params, x, mask=mask)
        np.testing.assert_allclose(network.predict(x, train=True), trained, rtol=1e-12)
        assert network.loss(x, t, train=True) == pytest.approx(_cross_entropy(trained, t))
        before = {key: value.copy() for key, value in network.state.items()}
        network.gradient(x, t)  # the loop evaluates the loss many times: the state stays
    for key, value in before.items():
        assert np.array_equal(network.state[key], value), key


def test_batchnorms_running_statistics_move_once_per_iteration() -> None:
    """The running mean and variance are the book's momentum averages of the batch
    statistics of each iteration's single unperturbed pass."""
    seen: list[np.ndarray] = []

    def count(assembly: Assembly) -> None:
        layer = assembly.network.layers[1]
        original = layer.next_state

        def next_state(step: Any, state: Any) -> dict[str, np.ndarray]:
            seen.append(step.input.copy())
            return original(step, state)

        layer.next_state = next_state  # type: ignore[method-assign]

    spec = _norm_spec()
    result = toolkit.train(spec, on_start=count)
    assert len(seen) == spec.settings.train.iterations
    start = assemble(spec)  # the first batch at the starting parameters: unperturbed
    first = start.rng.choice(start.data.samples, 6)
    params = start.network.params
    np.testing.assert_allclose(seen[0], start.data.x[first] @ params["W1"] + params["b1"])
    mean, var = np.zeros(5), np.zeros(5)
    for a in seen:
        mean = 0.9 * mean + 0.1 * a.mean(axis=0)
        var = 0.9 * var + 0.1 * a.var(axis=0)
    np.testing.assert_allclose(result.network.state["running_mean1"], mean, rtol=1e-12)
    np.testing.assert_allclose(result.network.state["running_var1"], var, rtol=1e-12)
    again = toolkit.train(spec)
    for arrays, others in (
        (result.network.params, again.network.params),
        (result.network.state, again.network.state),
    ):
        for key in arrays:
            assert arrays[key].tobytes() == others[key].tobytes(), key
