"""The standard activations and their derivatives, against values computed by hand."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from toolkit import Part
from toolkit_plugins import activations

PARTS = activations.toolkit_activations()

# Points well away from the kinks of step, relu and leaky_relu at 0.
AWAY_FROM_KINKS = np.array([[-3.0, -1.25, -0.4, -0.01], [0.02, 0.5, 1.7, 4.0]])


def py_softmax_row(row: list[float]) -> list[float]:
    """Softmax of one row with math.exp, no shifting."""
    exps = [math.exp(v) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def central(fn, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Elementwise central difference of an elementwise function, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return (fn(x + h) - fn(x - h)) / (2 * h)


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_activations() lists exactly the seven standard activations."""
    assert set(PARTS) == {
        "identity",
        "step",
        "sigmoid",
        "relu",
        "leaky_relu",
        "tanh",
        "softmax",
    }
    assert all(isinstance(part, Part) for part in PARTS.values())


def test_identity_returns_its_input_values():
    """identity gives back exactly the values it was given."""
    x = np.array([[-2.5, 0.0, 3.25], [1e-9, -7.0, 42.0]])
    assert_array_equal(PARTS["identity"].fn(x), [[-2.5, 0.0, 3.25], [1e-9, -7.0, 42.0]])


def test_step_is_one_only_for_positive_inputs_and_returns_floats():
    """step is 1.0 where x > 0 and 0.0 elsewhere (including 0), as floats."""
    out = PARTS["step"].fn(np.array([-2.0, -0.5, 0.0, 0.5, 3.0]))
    assert np.issubdtype(out.dtype, np.floating)
    assert_array_equal(out, [0.0, 0.0, 0.0, 1.0, 1.0])


def test_step_of_integer_input_returns_floats():
    """step of an integer array still returns floats."""
    out = PARTS["step"].fn(np.array([-1, 0, 2]))
    assert np.issubdtype(out.dtype, np.floating)
    assert_array_equal(out, [0.0, 0.0, 1.0])


def test_sigmoid_known_values():
    """sigmoid(0) = 0.5, sigmoid(log 3) = 0.75, sigmoid(-log 3) = 0.25."""
    out = PARTS["sigmoid"].fn(np.array([0.0, math.log(3.0), -math.log(3.0)]))
    assert_allclose(out, [0.5, 0.75, 0.25], rtol=1e-14)


def test_sigmoid_matches_logistic_formula_elementwise():
    """sigmoid equals 1 / (1 + e^-x) computed with math.exp per element."""
    x = np.array([[-6.0, -1.5, -0.2], [0.3, 2.0, 9.0]])
    expected = [[1.0 / (1.0 + math.exp(-v)) for v in row] for row in x.tolist()]
    assert_allclose(PARTS["sigmoid"].fn(x), expected, rtol=1e-13)


def test_sigmoid_of_very_negative_input_is_zero_without_warning():
    """sigmoid(-1000) is 0 and raises no RuntimeWarning (overflow in exp)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = PARTS["sigmoid"].fn(np.array([-1000.0, -800.0]))
    assert_array_equal(out, [0.0, 0.0])


def test_sigmoid_of_very_positive_input_is_one():
    """sigmoid(1000) is 1 without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = PARTS["sigmoid"].fn(np.array([1000.0]))
    assert_array_equal(out, [1.0])


def test_relu_known_values():
    """relu is max(0, x) element by element."""
    out = PARTS["relu"].fn(np.array([-3.0, -0.1, 0.0, 0.2, 5.0]))
    assert_array_equal(out, [0.0, 0.0, 0.0, 0.2, 5.0])


def test_leaky_relu_default_slope_is_one_hundredth():
    """leaky_relu scales negatives by 0.01 by default and keeps positives."""
    out = PARTS["leaky_relu"].fn(np.array([-2.0, -0.5, 0.0, 3.0]))
    assert_allclose(out, [-0.02, -0.005, 0.0, 3.0], rtol=1e-15, atol=0)


def test_leaky_relu_slope_parameter():
    """leaky_relu(x, slope=0.2) scales negatives by 0.2."""
    out = PARTS["leaky_relu"].fn(np.array([-2.0, -0.5, 1.5]), slope=0.2)
    assert_allclose(out, [-0.4, -0.1, 1.5], rtol=1e-15, atol=0)


def test_leaky_relu_declares_slope_parameter_with_default():
    """The leaky_relu part's function takes a `slope` parameter defaulting to 0.01."""
    slope = inspect.signature(PARTS["leaky_relu"].fn).parameters["slope"]
    assert slope.default == 0.01


def test_tanh_matches_math_tanh_elementwise():
    """tanh equals math.tanh applied per element in a Python loop."""
    x = np.array([[-4.0, -0.7, 0.0], [0.3, 1.1, 20.0]])
    expected = [[math.tanh(v) for v in row] for row in x.tolist()]
    assert_allclose(PARTS["tanh"].fn(x), expected, rtol=1e-14)


def test_softmax_rows_match_exp_over_sum_of_exp():
    """Each row of softmax equals exp(x) / sum(exp(x)) computed with math.exp."""
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5], [0.0, 0.0, 0.0]])
    out = PARTS["softmax"].fn(x)
    expected = [py_softmax_row(row) for row in x.tolist()]
    assert_allclose(out, expected, rtol=1e-13)
    assert_allclose(out.sum(axis=1), [1.0, 1.0, 1.0], rtol=1e-14)


def test_softmax_of_equal_inputs_is_uniform():
    """softmax of four equal values is 0.25 each."""
    assert_allclose(PARTS["softmax"].fn(np.array([[7.0, 7.0, 7.0, 7.0]])), [[0.25] * 4])


def test_softmax_is_invariant_to_a_constant_added_per_row():
    """Adding a different constant to each row leaves softmax unchanged."""
    x = np.array([[0.5, -1.0, 2.0], [3.0, 3.5, -2.0]])
    shifted = x + np.array([[100.0], [-37.5]])
    assert_allclose(PARTS["softmax"].fn(shifted), PARTS["softmax"].fn(x), rtol=1e-12)
    expected = [py_softmax_row(row) for row in x.tolist()]
    assert_allclose(PARTS["softmax"].fn(shifted), expected, rtol=1e-12)


def test_softmax_of_huge_inputs_is_finite_without_warning():
    """softmax([1000, 1001, 1002]) is finite, raises no warning, and equals softmax([0, 1, 2])."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = PARTS["softmax"].fn(np.array([[1000.0, 1001.0, 1002.0]]))
    assert np.all(np.isfinite(out))
    assert_allclose(out, [py_softmax_row([0.0, 1.0, 2.0])], rtol=1e-13)


def test_softmax_of_1d_input_acts_on_the_whole_vector():
    """softmax of a 1-D vector is a 1-D vector of exp(x)/sum(exp(x))."""
    out = PARTS["softmax"].fn(np.array([0.0, math.log(3.0)]))
    assert out.shape == (2,)
    assert_allclose(out, [0.25, 0.75], rtol=1e-14)


def test_softmax_of_3d_input_acts_on_the_last_axis():
    """softmax of a 3-D array normalizes each last-axis vector independently."""
    x = np.arange(24, dtype=float).reshape(2, 3, 4) * 0.37 - 3.0
    x[1, 2] = [5.0, -5.0, 0.0, 1.0]
    out = PARTS["softmax"].fn(x)
    assert out.shape == (2, 3, 4)
    for i in range(2):
        for j in range(3):
            assert_allclose(out[i, j], py_softmax_row(x[i, j].tolist()), rtol=1e-13)


def test_softmax_gives_no_elementwise_derivative():
    """softmax's Part has no derivative (its Jacobian is not elementwise)."""
    assert PARTS["softmax"].derivative is None


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("identity", {}),
        ("step", {}),
        ("sigmoid", {}),
        ("relu", {}),
        ("leaky_relu", {}),
        ("leaky_relu", {"slope": 0.3}),
        ("tanh", {}),
    ],
)
def test_derivative_matches_central_difference(name, settings):
    """Part.derivative agrees with a float64 central difference of Part.fn away from kinks."""
    part = PARTS[name]
    assert part.derivative is not None
    x = AWAY_FROM_KINKS.copy()
    numeric = central(lambda v: part.fn(v, **settings), x)
    analytic = part.derivative(x, **settings)
    assert np.shape(analytic) == x.shape
    assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_leaky_relu_derivative_uses_slope_on_negative_side():
    """leaky_relu's derivative is the slope for x < 0 and 1 for x > 0."""
    out = PARTS["leaky_relu"].derivative(np.array([-2.0, -0.5, 0.5, 2.0]), slope=0.2)
    assert_array_equal(out, [0.2, 0.2, 1.0, 1.0])


def test_sigmoid_derivative_at_zero_is_one_quarter():
    """sigmoid'(0) = 0.25 and sigmoid'(log 3) = 0.75 * 0.25."""
    out = PARTS["sigmoid"].derivative(np.array([0.0, math.log(3.0)]))
    assert_allclose(out, [0.25, 0.1875], rtol=1e-14)


def test_sigmoid_derivative_of_very_negative_input_is_zero_without_warning():
    """sigmoid'(-1000) is 0 and raises no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = PARTS["sigmoid"].derivative(np.array([-1000.0]))
    assert_array_equal(out, [0.0])
