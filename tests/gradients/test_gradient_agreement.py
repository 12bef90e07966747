"""Every gradient estimator agrees with the element loop on small nets of several shapes."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from tests.helpers import write
from toolkit.gradients.perturbation import ToolkitNotice
from toolkit.registry.manager import get_plugin_manager

# (features, hidden layer sizes, classes, batch size)
SHAPES = {
    "one_layer_batch_1": (4, (), 3, 1),
    "two_layers_hidden_3_batch_4": (5, (3,), 4, 4),
    "three_layers_hidden_5_7_batch_7": (3, (5, 7), 3, 7),
    "three_layers_hidden_7_4_batch_1": (6, (7, 4), 5, 1),
}
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
ANALYTIC = ["sigmoid", "tanh", "identity"]
OUTPUTS = [
    ("softmax", "cross_entropy"),
    ("identity", "mean_squared_error"),
    ("identity", "sum_squared_error"),
]
TARGETS = ["one_hot", "labels"]


def cases() -> list[tuple[str, str, str, str, str]]:
    """(shape, hidden activation, output activation, loss, targets); "-" when no hidden layer."""
    found = []
    for shape, (_, hidden, _, _) in SHAPES.items():
        for activation in HIDDEN if hidden else ["-"]:
            for output, loss in OUTPUTS:
                for targets in TARGETS:
                    found.append((shape, activation, output, loss, targets))
    return found


CASES = cases()


def case_id(case: tuple[str, str, str, str, str]) -> str:
    """The case as a test id."""
    return "-".join(case)


def spec_tree(shape: str, activation: str, output: str, loss: str, seed: int = 3) -> dict:
    """A spec for the shape: normal(0.4) weights, normal(0.2) biases, the given parts."""
    features, hidden, classes, samples = SHAPES[shape]
    init = {"name": "normal", "scale": 0.4}
    bias_init = {"name": "normal", "scale": 0.2}
    layers = [
        {"units": units, "activation": activation, "init": init, "bias_init": bias_init}
        for units in hidden
    ]
    layers.append({"units": classes, "activation": output, "init": init, "bias_init": bias_init})
    return {
        "seed": seed,
        "data": {"name": "random", "samples": samples, "features": features, "classes": classes},
        "model": {"layers": layers},
        "loss": loss,
    }


def problem(shape: str, activation: str, output: str, loss: str, targets: str, manager=None):
    """The built network and a batch for it: standard-normal inputs, one-hot rows or labels."""
    network = toolkit.build(
        toolkit.load_spec(spec_tree(shape, activation, output, loss), manager=manager)
    )
    features, _, classes, size = SHAPES[shape]
    rng = np.random.default_rng(17)
    x = rng.standard_normal((size, features))
    labels = rng.integers(0, classes, size)
    return network, x, (np.eye(classes)[labels] if targets == "one_hot" else labels)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max|b|."""
    assert np.max(np.abs(b)) > 0
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def flat(grads: dict[str, np.ndarray]) -> np.ndarray:
    """Every parameter's gradient in one vector, in name order."""
    return np.concatenate([grads[key].ravel() for key in sorted(grads)])


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bulk_central_difference_matches_the_loop_elementwise(case):
    """central_difference gives every element of the loop's gradient to 1e-10 absolute, with
    no notice (a notice is an error here), a kinked hidden layer before another included."""
    network, x, t = problem(*case)
    assert network.loss(x, t) < 10  # rounding noise in a difference is about 1e-12 * loss
    reference = network.gradient(x, t, "central_difference_loop")
    grads = network.gradient(x, t, "central_difference")
    assert set(grads) == set(reference)
    for key in reference:
        assert np.max(np.abs(grads[key] - reference[key])) <= 1e-10, key


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_backprop_matches_the_loop(case):
    """backprop is within 1e-7 relative error of the loop's gradient, for each parameter."""
    network, x, t = problem(*case)
    reference = network.gradient(x, t, "central_difference_loop")
    grads = network.gradient(x, t, "backprop")
    for key in reference:
        assert relative_error(grads[key], reference[key]) <= 1e-7, key


@pytest.mark.parametrize("case", [c for c in CASES if c[1] in [*ANALYTIC, "-"]], ids=case_id)
def test_complex_step_matches_the_loop_on_analytic_nets(case):
    """complex_step is within 1e-7 relative error of the loop's gradient, for each parameter."""
    network, x, t = problem(*case)
    reference = network.gradient(x, t, "central_difference_loop")
    grads = network.gradient(x, t, "complex_step")
    for key in reference:
        assert grads[key].dtype == np.float64
        assert relative_error(grads[key], reference[key]) <= 1e-7, key


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "step"])
@pytest.mark.parametrize(
    "shape", ["two_layers_hidden_3_batch_4", "three_layers_hidden_5_7_batch_7"]
)
def test_complex_step_refuses_non_analytic_activations(shape, activation):
    """complex_step raises a SpecError at the layer with relu, leaky_relu or step; params kept."""
    network, x, t = problem(shape, activation, "softmax", "cross_entropy", "one_hot")
    before = {key: value.tobytes() for key, value in network.params.items()}
    with pytest.raises(toolkit.SpecError) as caught:
        network.gradient(x, t, "complex_step")
    message = str(caught.value)
    assert message.startswith("model.layers[0].activation: complex_step cannot be used")
    assert f"'{activation}'" in message
    assert "central_difference" in message
    assert {key: value.tobytes() for key, value in network.params.items()} == before


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_forward_difference_is_within_first_order_of_the_loop(case):
    """forward_difference is within 1e-3 relative error (its O(h) error), yet not exact."""
    network, x, t = problem(*case)
    reference = network.gradient(x, t, "central_difference_loop")
    grads = network.gradient(x, t, "forward_difference")
    errors = [relative_error(grads[key], reference[key]) for key in reference]
    assert max(errors) <= 1e-3
    assert max(errors) > 1e-9  # a one-sided difference really carries an O(h) error


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(
    ("activation", "output", "loss"),
    [("tanh", "softmax", "cross_entropy"), ("relu", "identity", "mean_squared_error")],
)
def test_spsa_mean_over_many_samples_approaches_the_gradient(shape, activation, output, loss):
    """spsa with 2000 samples points along the gradient (cosine > 0.9); 20 samples are worse."""
    network, x, t = problem(shape, activation, output, loss, "one_hot")
    reference = flat(network.gradient(x, t, "central_difference_loop"))

    def error(samples: int) -> tuple[float, float]:
        estimate = flat(network.gradient(x, t, {"name": "spsa", "samples": samples}))
        cosine = estimate @ reference / (np.linalg.norm(estimate) * np.linalg.norm(reference))
        return cosine, np.linalg.norm(estimate - reference) / np.linalg.norm(reference)

    # For n parameters the relative error is about sqrt(n / samples): at most 0.2 here.
    cosine, many = error(2000)
    _, few = error(20)
    assert cosine > 0.9
    assert many < 0.3
    assert many < few / 3


def test_spsa_is_deterministic_for_a_seeded_network():
    """Two networks built from the same spec give the same spsa estimate, bit for bit."""
    first = problem("two_layers_hidden_3_batch_4", "tanh", "softmax", "cross_entropy", "labels")
    second = problem("two_layers_hidden_3_batch_4", "tanh", "softmax", "cross_entropy", "labels")
    a = first[0].gradient(first[1], first[2], "spsa")
    b = second[0].gradient(second[1], second[2], "spsa")
    for key in a:
        assert a[key].tobytes() == b[key].tobytes()


HALF_SSE = """
import numpy as np

def toolkit_losses():
    return {"half_sse": lambda y, t: 0.5 * np.sum((y - t) ** 2)}
"""


@pytest.mark.parametrize(
    "shape", ["two_layers_hidden_3_batch_4", "three_layers_hidden_5_7_batch_7"]
)
def test_a_loss_that_sums_every_axis_falls_back_with_a_notice(plugin_folder, shape):
    """A 2-D-only third-party loss gets the loop's gradient, one at a time, with a notice."""
    write(plugin_folder / "tp_agreement_half_sse.py", HALF_SSE)
    manager = get_plugin_manager(["tp_agreement_half_sse"])
    network, x, t = problem(shape, "tanh", "identity", "half_sse", "one_hot", manager=manager)
    y = network.predict(x)
    assert network.loss(x, t) == pytest.approx(0.5 * np.sum((y - t) ** 2), rel=1e-15)
    reference = network.gradient(x, t, "central_difference_loop")
    with pytest.warns(ToolkitNotice) as notices:
        grads = network.gradient(x, t, "central_difference")
    messages = " | ".join(str(notice.message) for notice in notices)
    assert "(slower): loss 'half_sse' does not give one value per stacked sample" in messages
    assert "one at a time (slower): loss 'half_sse'" in messages
    for key in reference:
        assert np.max(np.abs(grads[key] - reference[key])) <= 1e-10, key
    # Independently of any estimator: the last (identity) layer's gradient in closed form.
    last = network.layers[-1]
    hidden = network.forward(x).inputs[-1]
    np.testing.assert_allclose(grads[last.affine.weight], hidden.T @ (y - t), rtol=1e-7)
