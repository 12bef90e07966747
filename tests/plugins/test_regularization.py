"""dropout and batchnorm: the book's Dropout and BatchNormalization, layer by layer and in a
network, in training and evaluation modes, with their masks and running statistics."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import toolkit
from tests import book_norm
from tests.helpers import SPECS, write
from toolkit.cli import main
from toolkit.model.layers import Layer, Mode
from toolkit_plugins.regularization import BatchNorm, Dropout, batchnorm, dropout

STATE = {"running_mean": "running_mean1", "running_var": "running_var1"}


def made_batchnorm(shape: tuple[int, ...], momentum: float = 0.9) -> BatchNorm:
    """A batchnorm layer for samples of ``shape``, its arrays named as after W1."""
    layer = batchnorm(shape, momentum=momentum)
    layer.names = {"gamma": "gamma1", "beta": "beta1"}
    layer.state_names = dict(STATE)
    return layer


def bn_params(units: int, seed: int = 3) -> dict[str, np.ndarray]:
    """gamma and beta away from their starts, so that both enter every check."""
    rng = np.random.default_rng(seed)
    return {"gamma1": rng.uniform(0.5, 1.5, units), "beta1": rng.normal(0.0, 0.5, units)}


def zeros_state(units: int) -> dict[str, np.ndarray]:
    return {"running_mean1": np.zeros(units), "running_var1": np.zeros(units)}


def numerical(f: Callable[[], float], array: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences of ``f()`` in each element of ``array`` (changed in place)."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        kept = array[i]
        array[i] = kept + h
        plus = f()
        array[i] = kept - h
        minus = f()
        array[i] = kept
        grad[i] = (plus - minus) / (2 * h)
    return grad


# -- dropout, against the book ---------------------------------------------------------


def test_dropout_in_training_is_the_books_with_the_same_random_numbers() -> None:
    """The mask drawn from a RandomState is the book's ``rand(*x.shape) > rate`` for the
    same seed; the output and the backward pass are the book's."""
    x = np.random.default_rng(0).normal(size=(6, 7))
    grad_out = np.random.default_rng(1).normal(size=(6, 7))
    layer = dropout((7,), rate=0.3)
    mask = layer.draw(np.random.RandomState(5), 6)
    book = book_norm.Dropout(0.3, random=np.random.RandomState(5))
    expected = book.forward(x, train_flg=True)
    step = layer.forward(x, {}, Mode(True, mask))
    np.testing.assert_array_equal(mask, book.mask)
    assert 0 < mask.sum() < mask.size
    np.testing.assert_allclose(step.output, expected, rtol=0, atol=1e-12)
    dx, grads = layer.backward(step, grad_out, {})
    np.testing.assert_allclose(dx, book.backward(grad_out), rtol=0, atol=1e-12)
    assert grads == {}


def test_dropout_draws_from_a_generator_the_uniform_numbers_it_gives() -> None:
    """With a numpy Generator, the mask is ``rng.random((batch, *shape)) > rate``."""
    mask = dropout((2, 3), rate=0.6).draw(np.random.default_rng(9), 4)
    np.testing.assert_array_equal(mask, np.random.default_rng(9).random((4, 2, 3)) > 0.6)


def test_dropout_in_evaluation_scales_by_the_kept_fraction() -> None:
    x = np.random.default_rng(2).normal(size=(5, 4))
    step = dropout((4,), rate=0.25).forward(x, {}, Mode(False))
    book = book_norm.Dropout(0.25).forward(x, train_flg=False)
    np.testing.assert_allclose(step.output, book, rtol=0, atol=1e-12)
    np.testing.assert_allclose(step.output, 0.75 * x, rtol=0, atol=1e-15)


def test_a_dropout_mask_broadcasts_over_stacked_copies() -> None:
    """A stack of perturbed batches: each slice is masked as the batch alone."""
    layer = dropout((3,), rate=0.5)
    mask = layer.draw(np.random.default_rng(4), 5)
    stack = np.random.default_rng(3).normal(size=(4, 5, 3))
    whole = layer.forward(stack, {}, Mode(True, mask)).output
    for k in range(4):
        alone = layer.forward(stack[k], {}, Mode(True, mask)).output
        np.testing.assert_array_equal(whole[k], alone)


def test_a_mask_drawn_for_another_batch_is_refused_by_name() -> None:
    layer = dropout((3,), rate=0.5)
    mask = layer.draw(np.random.default_rng(4), 5)
    with pytest.raises(ValueError, match=r"drawn for shape \(5, 3\), but the batch has shape"):
        layer.forward(np.ones((6, 3)), {}, Mode(True, mask))


# -- batchnorm, against the book -------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (2, 3, 2)], ids=["units", "channels"])
def test_batchnorm_training_pass_and_backward_are_the_books(shape: tuple[int, ...]) -> None:
    """Batch statistics, the book's epsilon, gamma and beta; the book's backward pass
    (image-shaped samples flattened to units, as the book's layer does)."""
    units = int(np.prod(shape))
    rng = np.random.default_rng(6)
    x = rng.normal(2.0, 3.0, size=(8, *shape))
    grad_out = rng.normal(size=(8, *shape))
    params = bn_params(units)
    book = book_norm.BatchNormalization(params["gamma1"].copy(), params["beta1"].copy())
    expected = book.forward(x, train_flg=True)
    layer = made_batchnorm(shape)
    step = layer.forward(x, params, Mode(True, None, zeros_state(units)))
    assert step.output.shape == x.shape
    np.testing.assert_allclose(step.output, expected, rtol=0, atol=1e-12)
    dx, grads = layer.backward(step, grad_out, params)
    np.testing.assert_allclose(dx, book.backward(grad_out.copy()), rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["gamma1"], book.dgamma, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grads["beta1"], book.dbeta, rtol=0, atol=1e-12)


def test_running_statistics_after_several_batches_and_evaluation_are_the_books() -> None:
    """``next_state`` after each training batch moves the running mean and variance as
    the book's layer does; evaluation then normalizes with them."""
    units, rng = 4, np.random.default_rng(8)
    params = bn_params(units, seed=4)
    layer = made_batchnorm((units,), momentum=0.8)
    book = book_norm.BatchNormalization(params["gamma1"], params["beta1"], momentum=0.8)
    state = zeros_state(units)
    for _ in range(5):
        x = rng.normal(1.0, 2.0, size=(10, units))
        book.forward(x, train_flg=True)
        step = layer.forward(x, params, Mode(True, None, state))
        state = layer.next_state(step, state)
    assert sorted(state) == ["running_mean1", "running_var1"]
    np.testing.assert_allclose(state["running_mean1"], book.running_mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(state["running_var1"], book.running_var, rtol=0, atol=1e-12)
    assert np.all(state["running_var1"] > 0.5)
    x = rng.normal(size=(3, units))
    evaluated = layer.forward(x, params, Mode(False, None, state)).output
    np.testing.assert_allclose(evaluated, book.forward(x, train_flg=False), rtol=0, atol=1e-12)


def test_stacked_batches_are_each_normalized_by_their_own_statistics() -> None:
    """A stack of batches: each slice's output is that batch's alone (statistics over the
    batch axis, never across the stack), in both modes."""
    units, rng = 3, np.random.default_rng(12)
    params = bn_params(units)
    layer = made_batchnorm((units,))
    state = {"running_mean1": rng.normal(size=units), "running_var1": rng.uniform(1, 2, units)}
    stack = rng.normal(size=(4, 6, units)) * np.arange(1, 5)[:, None, None]
    for train in (True, False):
        whole = layer.forward(stack, params, Mode(train, None, state)).output
        for k in range(4):
            alone = layer.forward(stack[k], params, Mode(train, None, state)).output
            np.testing.assert_allclose(whole[k], alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("train", [True, False], ids=["training", "evaluation"])
def test_batchnorm_backward_agrees_with_central_differences(train: bool) -> None:
    """The loss ``sum(output * g)``: its gradient in x, gamma and beta by central differences."""
    shape, rng = (2, 3), np.random.default_rng(13)
    params = bn_params(6)
    layer = made_batchnorm(shape)
    state = {"running_mean1": rng.normal(size=6), "running_var1": rng.uniform(0.5, 2, 6)}
    mode = Mode(train, None, state)
    x = rng.normal(size=(5, *shape))
    g = rng.normal(size=(5, *shape))

    def loss() -> float:
        return float(np.sum(layer.forward(x, params, mode).output * g))

    dx, grads = layer.backward(layer.forward(x, params, mode), g, params)
    assert dx is not None
    np.testing.assert_allclose(dx, numerical(loss, x), rtol=1e-6, atol=1e-8)
    for name in ("gamma1", "beta1"):
        np.testing.assert_allclose(grads[name], numerical(loss, params[name]), rtol=1e-6, atol=1e-8)


def test_dropout_backward_agrees_with_central_differences() -> None:
    layer = dropout((4,), rate=0.5)
    rng = np.random.default_rng(14)
    mode = Mode(True, layer.draw(rng, 3))
    x, g = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))

    def loss() -> float:
        return float(np.sum(layer.forward(x, {}, mode).output * g))

    dx, _ = layer.backward(layer.forward(x, {}, mode), g, {})
    np.testing.assert_allclose(dx, numerical(loss, x), rtol=1e-7, atol=1e-9)


# -- what the layers declare is true ---------------------------------------------------


def outputs_moved(layer: Layer, params: dict[str, np.ndarray], mode: Mode) -> np.ndarray:
    """Which outputs change when unit (0, 1) of the first sample changes."""
    x = np.random.default_rng(15).normal(size=(4, 3))
    before = layer.forward(x, params, mode).output
    x[0, 1] += 0.5
    return np.asarray(layer.forward(x, params, mode).output != before)


def test_batchnorm_declares_what_it_does() -> None:
    """In training a change of one unit of one sample moves that unit in every sample (it
    mixes samples, and is elementwise over units); in evaluation only that output."""
    layer = made_batchnorm((3,))
    assert (layer.mixes_samples, layer.elementwise, layer.breakpoints) == (True, True, ())
    assert (layer.weighted, layer.activation, layer.affine, layer.differentiable) == (
        False,
        None,
        None,
        True,
    )
    state = {"running_mean1": np.zeros(3), "running_var1": np.ones(3)}
    column = np.zeros((4, 3), bool)
    column[:, 1] = True
    np.testing.assert_array_equal(outputs_moved(layer, bn_params(3), Mode(True)), column)
    alone = np.zeros((4, 3), bool)
    alone[0, 1] = True
    evaluation = Mode(False, None, state)
    np.testing.assert_array_equal(outputs_moved(layer, bn_params(3), evaluation), alone)


def test_dropout_declares_what_it_does() -> None:
    layer = dropout((3,), rate=0.2)
    assert (layer.mixes_samples, layer.elementwise, layer.breakpoints) == (False, True, ())
    assert (layer.param_specs(), layer.state_specs(), layer.weighted) == ((), (), False)
    mask = np.ones((4, 3), bool)
    alone = np.zeros((4, 3), bool)
    alone[0, 1] = True
    np.testing.assert_array_equal(outputs_moved(layer, {}, Mode(True, mask)), alone)
    assert isinstance(layer, Dropout) and isinstance(made_batchnorm((2,)), BatchNorm)


# -- in a spec -------------------------------------------------------------------------

TEACHER = {
    "seed": 3,
    "rng": "default",
    "data": {"name": "teacher", "samples": 120, "features": 6, "classes": 3, "hidden": 5},
    "loss": "cross_entropy",
    "gradient": "backprop",
    "optimizer": {"name": "sgd", "learning_rate": 0.1},
    "train": {"iterations": 6, "batch_size": 10, "log_every": 3},
}
NORMALIZED = [  # he, the book's start for relu: a spread that central differences of h=1e-4 resolve
    {"units": 5, "init": "he"},
    {"type": "batchnorm"},
    {"type": "activation", "activation": "relu"},
    {"units": 4, "init": "he"},
    {"type": "batchnorm", "momentum": 0.5},
    {"type": "activation", "activation": "tanh"},
    {"units": 3, "activation": "softmax"},
]
DROPPED = [
    {"units": 5, "activation": "sigmoid"},
    {"type": "dropout", "rate": 0.4},
    {"units": 3, "activation": "softmax"},
]


def spec_with(layers: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    return {**TEACHER, "model": {"layers": layers}, **changes}


def test_parameters_and_state_are_named_as_the_book_names_them() -> None:
    network = toolkit.build(spec_with(NORMALIZED))
    assert list(network.params) == [
        "W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3",
    ]  # fmt: skip
    assert list(network.state) == ["running_mean1", "running_var1", "running_mean2", "running_var2"]
    np.testing.assert_array_equal(network.params["gamma2"], np.ones(4))
    np.testing.assert_array_equal(network.params["beta1"], np.zeros(5))
    np.testing.assert_array_equal(network.state["running_var2"], np.zeros(4))


def test_the_network_moves_running_statistics_once_per_update_as_the_books_layer() -> None:
    """``update_state`` within a training pass moves them as the book's layer fed the same
    pre-activations; a gradient, however many evaluations it makes, moves nothing."""
    network = toolkit.build(spec_with(NORMALIZED[:3] + NORMALIZED[-1:]))
    params = network.params
    book = book_norm.BatchNormalization(params["gamma1"], params["beta1"])
    rng = np.random.default_rng(16)
    for _ in range(3):
        x, t = rng.normal(size=(7, 6)), np.eye(3)[rng.integers(0, 3, 7)]
        with network.training(network.draw(rng, 7)):
            before = {name: value.copy() for name, value in network.state.items()}
            network.gradient(x, t, "central_difference_loop")
            for name, value in before.items():
                np.testing.assert_array_equal(network.state[name], value)
            network.update_state(x)
        book.forward(x @ params["W1"] + params["b1"], train_flg=True)
    np.testing.assert_allclose(network.state["running_mean1"], book.running_mean, atol=1e-12)
    np.testing.assert_allclose(network.state["running_var1"], book.running_var, atol=1e-12)


def test_a_networks_dropout_mask_from_a_legacy_generator_is_the_books() -> None:
    """``network.draw`` gives the dropout layer's mask from the run's RandomState: the
    book's ``np.random.rand(N, units) > rate`` after the same seed."""
    network = toolkit.build(spec_with(DROPPED))
    noise = network.draw(np.random.RandomState(21), 8)
    assert noise[0] is None and noise[2] is None
    np.testing.assert_array_equal(noise[1], np.random.RandomState(21).rand(8, 5) > 0.4)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    assert np.max(np.abs(b)) > 0
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def gradient_with_notices(
    network: toolkit.Network, x: np.ndarray, t: np.ndarray, estimator: str
) -> dict[str, np.ndarray]:
    """The gradient; any notice it gives must be one of a slower path taken."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grads = network.gradient(x, t, estimator)
    for warning in caught:
        assert issubclass(warning.category, toolkit.ToolkitNotice), warning
        assert "(slower)" in str(warning.message), warning
    return grads


def test_every_estimator_sees_the_same_dropout_masks() -> None:
    """Within one training pass the network is one function: central_difference, the
    element loop and backprop agree; with other masks the gradient is another."""
    network = toolkit.build(spec_with(DROPPED))
    data = toolkit.load_data(spec_with(DROPPED))
    x, t = data.x[:10], data.t[:10]
    rng = np.random.default_rng(22)
    noise = network.draw(rng, 10)
    assert 0 < noise[1].sum() < noise[1].size
    with network.training(noise):
        loop = gradient_with_notices(network, x, t, "central_difference_loop")
        fast = gradient_with_notices(network, x, t, "central_difference")
        exact = gradient_with_notices(network, x, t, "backprop")
    for name in network.params:
        assert relative_error(fast[name], loop[name]) <= 1e-6, name
        assert relative_error(exact[name], loop[name]) <= 1e-6, name
    with network.training(network.draw(rng, 10)):
        other = gradient_with_notices(network, x, t, "backprop")
    assert relative_error(other["W1"], exact["W1"]) > 1e-3


def test_every_estimator_agrees_through_batch_normalization() -> None:
    """In training mode, by the loop, central_difference and backprop; a bias just before a
    batch normalization gets no gradient (the batch's mean takes any shift away)."""
    network = toolkit.build(spec_with(NORMALIZED))
    data = toolkit.load_data(spec_with(NORMALIZED))
    x, t = data.x[:10], data.t[:10]
    with network.training(network.draw(np.random.default_rng(23), 10)):
        loop = gradient_with_notices(network, x, t, "central_difference_loop")
        fast = gradient_with_notices(network, x, t, "central_difference")
        exact = gradient_with_notices(network, x, t, "backprop")
    scale = max(float(np.max(np.abs(g))) for g in loop.values())
    for name in network.params:
        assert np.max(np.abs(fast[name] - loop[name])) <= 1e-6 * scale, name
        assert np.max(np.abs(exact[name] - loop[name])) <= 1e-6 * scale, name
    for name in ("b1", "b2"):
        assert np.max(np.abs(exact[name])) <= 1e-12 * scale, name
    assert np.min(np.abs(exact["beta1"])) > 1e-9 * scale


@pytest.mark.parametrize("layers", [NORMALIZED, DROPPED], ids=["batchnorm", "dropout"])
def test_a_spec_trains_from_python_and_from_the_command_line_to_the_same_numbers(
    layers: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_with(layers)
    result = toolkit.train(spec)
    last = result.history[-1]
    assert last["iteration"] == 6 and np.isfinite(last["loss"])
    if "batchnorm" in str(layers):
        assert np.all(result.network.state["running_var1"] > 0)
    path = write(tmp_path / "spec.yaml", yaml.safe_dump(spec))
    assert main(["train", str(path)]) == 0
    done = [line for line in capsys.readouterr().out.splitlines() if line.startswith("done:")]
    assert len(done) == 1 and f"final loss {last['loss']!r}" in done[0], done


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            {"type": "dropout", "rate": 1},
            "model.layers[1].rate: must be below 1: a rate of 1 drops every unit, so the "
            "output is all zeros",
        ),
        (
            {"type": "dropout", "rate": -0.1},
            "model.layers[1].rate: must be in [0, 1), got -0.1",
        ),
        (
            {"type": "batchnorm", "momentum": 1.0},
            "model.layers[1].momentum: must be below 1: a momentum of 1 never moves the "
            "running statistics from zero",
        ),
        (
            {"type": "batchnorm", "momentum": "high"},
            "model.layers[1].momentum: expected a number, got text 'high'",
        ),
    ],
)
def test_a_setting_that_cannot_work_is_a_located_spec_error(
    layer: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = spec_with([DROPPED[0], layer, DROPPED[2]])
    with pytest.raises(toolkit.SpecError) as caught:
        toolkit.load_spec(spec)
    assert [str(p) for p in caught.value.problems] == [message]
    path = write(tmp_path / "bad.yaml", yaml.safe_dump(spec))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {message} ({path} line "), err


def test_the_shipped_batchnorm_spec_is_the_books_extended_net() -> None:
    """Affine -> BatchNorm -> ReLU per hidden layer, then Affine -> softmax, by backprop;
    the dropout variant line, uncommented, gives a spec that loads."""
    text = (SPECS / "book_batchnorm.yaml").read_text(encoding="utf-8")
    layers = yaml.safe_load(text)["model"]["layers"]
    kinds = [layer.get("type", "dense") for layer in layers]
    assert kinds == ["dense", "batchnorm", "activation"] * 2 + ["dense"]
    network = toolkit.build(SPECS / "book_batchnorm.yaml")
    assert network.params["W1"].shape == (64, 100) and network.params["W3"].shape == (100, 10)
    assert network.estimator.name == "backprop"
    variant = "\n".join(
        line.replace("# - {type: dropout", "- {type: dropout") for line in text.splitlines()
    )
    assert variant != text
    spec = toolkit.load_spec(yaml.safe_load(variant))
    assert [layer.get("type") for layer in spec.config["model"]["layers"]][3] == "dropout"


@pytest.mark.long
def test_the_shipped_batchnorm_spec_learns_more_than_the_same_net_without_it() -> None:
    """The accuracies its comment states: with batch normalization, and with its batchnorm
    layers taken out (same seed, data, iterations and optimizer)."""
    text = (SPECS / "book_batchnorm.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    layers = [layer for layer in config["model"]["layers"] if layer.get("type") != "batchnorm"]
    plain = {**config, "model": {"layers": layers}}
    normalized = toolkit.train(SPECS / "book_batchnorm.yaml").history[-1]["test_accuracy"]
    without = toolkit.train(plain).history[-1]["test_accuracy"]
    stated = f"after 1000 iterations: {normalized:.3f}; the same net without its batchnorm layers: "
    assert f"{stated}{without:.3f}." in text
    assert normalized > without + 0.02
