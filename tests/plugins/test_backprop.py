"""backprop: the exact gradient of the loss as defined, and a clear refusal without derivatives."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS, RunCli, write
from toolkit.registry.manager import get_plugin_manager

EPSILON = 1e-7  # inside cross_entropy's log: -log(y[label] + 1e-7)
SIGMOID_LOSSES = [2.389361774963056, 2.2981696908842117, 2.310003577235071]

PLAIN = """
import numpy as np

def toolkit_activations():
    return {"softsign_plain": lambda x: x / (1 + np.abs(x))}
"""

SMALL = {
    "data.features": 3,
    "data.classes": 3,
    "model.layers.0.units": 4,
    "model.layers.1.units": 3,
    "train.iterations": 2,
    "train.batch_size": 5,
}


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max|b|."""
    assert np.max(np.abs(b)) > 0
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise softmax, written out here."""
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def unlikely_target_network() -> tuple[toolkit.Network, np.ndarray, np.ndarray]:
    """A tanh -> softmax net whose target class gets a probability of a few 1e-7 on each row."""
    network = toolkit.build(
        toolkit.load_spec(
            SPECS / "two_layer_sigmoid.yaml", {**SMALL, "model.layers.0.activation": "tanh"}
        )
    )
    p = network.params
    p["W1"][...] = [[0.4, -0.3, 0.2, 0.1], [-0.5, 0.25, 0.3, -0.2], [0.15, 0.35, -0.45, 0.5]]
    p["b1"][...] = [0.1, -0.05, 0.2, 0.0]
    p["W2"][...] = [[0.3, -0.2, 0.1], [-0.1, 0.4, -0.3], [0.2, 0.1, 0.25], [-0.35, 0.05, 0.15]]
    p["b2"][...] = [-14.5, 0.3, -0.2]  # class 0, every row's target, is all but ruled out
    x = np.array([[0.5, -1.0, 0.3], [1.2, 0.4, -0.7], [-0.6, 0.9, 1.1], [0.2, 0.1, -0.4]])
    t = np.eye(3)[[0, 0, 0, 0]]
    return network, x, t


def test_the_crafted_net_makes_the_epsilon_matter():
    """On the crafted net y_t is a few 1e-7, so y_t and y_t + 1e-7 differ by over 10%."""
    network, x, t = unlikely_target_network()
    p = network.params
    y = softmax(np.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
    np.testing.assert_allclose(network.predict(x), y, rtol=1e-12)
    y_t = y[:, 0]
    assert np.all(y_t < 1e-6)
    assert np.all(EPSILON / (y_t + EPSILON) > 0.1)
    expected = -np.mean(np.log(y_t + EPSILON))
    assert network.loss(x, t) == pytest.approx(expected, rel=1e-14)


def test_backprop_is_exact_for_the_loss_with_its_epsilon():
    """backprop matches the loop to 1e-7 relative; the shortcut (y - t)/N misses by over 10%."""
    network, x, t = unlikely_target_network()
    reference = network.gradient(x, t, "central_difference_loop")
    grads = network.gradient(x, t, "backprop")
    for key in reference:
        assert relative_error(grads[key], reference[key]) <= 1e-7, key

    forward = network.forward(x)
    hidden, y, n = forward.inputs[1], forward.y, x.shape[0]
    # The textbook shortcut: softmax + cross-entropy give (y - t) / N, ignoring the 1e-7.
    shortcut = (y - t) / n
    short = {"W2": hidden.T @ shortcut, "b2": shortcut.sum(axis=0)}
    for key in short:
        assert relative_error(short[key], reference[key]) > 0.1, key  # far beyond 1e-7
    # With the 1e-7 kept: dL/da = (y - t) * y_t / (y_t + 1e-7) / N.
    y_t = y[np.arange(n), t.argmax(axis=1)]
    exact = (y - t) * (y_t / (y_t + EPSILON))[:, None] / n
    np.testing.assert_allclose(grads["W2"], hidden.T @ exact, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["b2"], exact.sum(axis=0), rtol=1e-12, atol=1e-15)
    for key, value in {"W2": hidden.T @ exact, "b2": exact.sum(axis=0)}.items():
        assert relative_error(value, reference[key]) <= 1e-7, key


def test_backprop_on_the_crafted_net_with_labels_matches_one_hot():
    """Class-index targets give backprop the same gradient as their one-hot rows."""
    network, x, t = unlikely_target_network()
    one_hot = network.gradient(x, t, "backprop")
    labels = network.gradient(x, t.argmax(axis=1), "backprop")
    for key in one_hot:
        np.testing.assert_array_equal(labels[key], one_hot[key])


def test_backprop_leaves_parameters_alone():
    """backprop neither changes nor replaces the network's parameter arrays."""
    network, x, t = unlikely_target_network()
    arrays = dict(network.params)
    before = {key: value.tobytes() for key, value in network.params.items()}
    network.gradient(x, t, "backprop")
    for key, value in network.params.items():
        assert value is arrays[key]
        assert value.tobytes() == before[key]


def test_activation_without_a_derivative_is_refused_naming_it(plugin_folder: Path):
    """A plain lambda activation makes backprop raise a SpecError naming it and the alternative."""
    write(plugin_folder / "tp_backprop_plain.py", PLAIN)
    manager = get_plugin_manager(["tp_backprop_plain"])
    overrides = {**SMALL, "model.layers.0.activation": "softsign_plain"}
    network = toolkit.build(
        toolkit.load_spec(SPECS / "two_layer_sigmoid.yaml", overrides, manager=manager)
    )
    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    t = np.eye(3)[[0, 1, 2, 1]]
    with pytest.raises(toolkit.SpecError) as caught:
        network.gradient(x, t, "backprop")
    message = str(caught.value)
    assert len(caught.value.problems) == 1
    assert message.startswith("model.layers[0].activation: ")
    assert "activation 'softsign_plain'" in message
    assert "central_difference" in message
    # The suggestion works: a numerical estimator differentiates the same network.
    reference = network.gradient(x, t, "central_difference_loop")
    grads = network.gradient(x, t, "central_difference")
    for key in reference:
        assert np.max(np.abs(grads[key] - reference[key])) <= 1e-10, key


def test_cli_backprop_without_a_derivative_exits_2_with_one_error_line(
    plugin_folder: Path, run_cli: RunCli
):
    """`toolkit train SPEC -p MODULE --set gradient.name=backprop` exits 2 with one error line."""
    write(plugin_folder / "tp_backprop_plain.py", PLAIN)
    shipped = (SPECS / "two_layer_sigmoid.yaml").read_text()
    # The shipped spec gives central_difference an h, which backprop does not take.
    spec = write(
        plugin_folder / "spec.yaml",
        shipped.replace(
            "gradient: {name: central_difference, h: 1.0e-4}", "gradient: central_difference"
        ),
    )
    assert spec.read_text() != shipped
    result = run_cli(
        "train",
        str(spec),
        "-p",
        "tp_backprop_plain",
        "--set",
        "model.layers.0.activation=softsign_plain",
        "--set",
        "gradient.name=backprop",
        "--set",
        "train.iterations=2",
        env={"PYTHONPATH": str(plugin_folder)},
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "'softsign_plain'" in errors[0]
    assert "central_difference" in errors[0]
    assert "Traceback" not in result.stderr
    assert "iteration 1/2" not in result.stdout


def test_cli_backprop_on_the_sigmoid_spec_gives_the_stated_losses_closely(run_cli: RunCli):
    """`toolkit train --set gradient=backprop` prints the three sigmoid losses to within 1e-8."""
    result = run_cli("train", "--set", "gradient=backprop")
    assert result.returncode == 0, result.stderr
    printed = [
        float(value) for value in re.findall(r"^iteration .*  loss (\S+)", result.stdout, re.M)
    ]
    assert printed == pytest.approx(SIGMOID_LOSSES, rel=0, abs=1e-8)
