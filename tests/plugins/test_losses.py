"""The standard losses and their derivatives dL/dy, against formulas written out in loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from toolkit import Part
from toolkit_plugins import losses

PARTS = losses.toolkit_losses()

# Three samples, four classes; every entry positive so log() stays well away from 0.
Y = np.array(
    [
        [0.10, 0.60, 0.20, 0.10],
        [0.70, 0.05, 0.15, 0.10],
        [0.25, 0.25, 0.30, 0.20],
    ]
)
LABELS = [1, 0, 3]
ONE_HOT = np.array(
    [
        [0.0, 1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def book_cross_entropy(y: list[list[float]], labels: list[int]) -> float:
    """-sum(log(y[label] + 1e-7)) / N with a plain loop."""
    total = 0.0
    for row, label in zip(y, labels, strict=True):
        total += math.log(row[label] + 1e-7)
    return -total / len(y)


def loop_squared_sum(y: list[list[float]], t: list[list[float]]) -> tuple[float, int]:
    """Sum of (y - t)^2 over every element, and the number of elements."""
    total, count = 0.0, 0
    for y_row, t_row in zip(y, t, strict=True):
        for a, b in zip(y_row, t_row, strict=True):
            total += (a - b) ** 2
            count += 1
    return total, count


def numeric_gradient(loss, y: np.ndarray, t, h: float = 1e-6) -> np.ndarray:
    """Central difference of loss(y, t) with respect to each element of y (float64)."""
    y = np.array(y, dtype=np.float64)
    grad = np.zeros_like(y)
    for index in np.ndindex(y.shape):
        plus, minus = y.copy(), y.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (loss(plus, t) - loss(minus, t)) / (2 * h)
    return grad


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_losses() lists exactly the three standard losses, each with a derivative."""
    assert set(PARTS) == {"cross_entropy", "sum_squared_error", "mean_squared_error"}
    for part in PARTS.values():
        assert isinstance(part, Part)
        assert part.derivative is not None


def test_cross_entropy_equals_book_formula_with_one_hot_targets():
    """cross_entropy(y, one-hot t) = -sum(log(y[label] + 1e-7)) / N."""
    expected = book_cross_entropy(Y.tolist(), LABELS)
    assert PARTS["cross_entropy"].fn(Y, ONE_HOT) == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_equals_book_formula_with_index_targets():
    """cross_entropy(y, class indices) = -sum(log(y[label] + 1e-7)) / N."""
    expected = book_cross_entropy(Y.tolist(), LABELS)
    assert PARTS["cross_entropy"].fn(Y, np.array(LABELS)) == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_one_hot_and_index_targets_are_identical():
    """One-hot and index targets for the same labels give the identical value."""
    fn = PARTS["cross_entropy"].fn
    assert fn(Y, ONE_HOT) == fn(Y, np.array(LABELS))


def test_cross_entropy_of_a_single_1d_sample():
    """A 1-D y (one sample) works with a 1-D one-hot or a scalar index target."""
    y = np.array([0.1, 0.7, 0.2])
    expected = -math.log(0.7 + 1e-7)
    fn = PARTS["cross_entropy"].fn
    assert fn(y, np.array([0.0, 1.0, 0.0])) == pytest.approx(expected, rel=1e-14)
    assert fn(y, 1) == pytest.approx(expected, rel=1e-14)
    assert fn(y, np.array([1])) == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_of_perfect_prediction_is_about_minus_log_one_plus_epsilon():
    """When y equals the one-hot targets the loss is -log(1 + 1e-7), about -1e-7."""
    value = PARTS["cross_entropy"].fn(ONE_HOT.copy(), ONE_HOT)
    assert value == pytest.approx(-math.log(1 + 1e-7), rel=1e-9)
    assert value < 0


def test_cross_entropy_of_zero_probability_is_finite():
    """A zero probability on the true class gives -log(1e-7), not infinity."""
    y = np.array([[0.0, 1.0]])
    assert PARTS["cross_entropy"].fn(y, np.array([0])) == pytest.approx(-math.log(1e-7))


def test_sum_squared_error_equals_half_sum_of_squares():
    """sum_squared_error = 0.5 * sum((y - t)^2), not divided by the batch."""
    total, _ = loop_squared_sum(Y.tolist(), ONE_HOT.tolist())
    assert PARTS["sum_squared_error"].fn(Y, ONE_HOT) == pytest.approx(0.5 * total, rel=1e-14)


def test_mean_squared_error_equals_mean_over_all_elements():
    """mean_squared_error = sum((y - t)^2) / (number of elements of y)."""
    total, count = loop_squared_sum(Y.tolist(), ONE_HOT.tolist())
    assert count == 12
    assert PARTS["mean_squared_error"].fn(Y, ONE_HOT) == pytest.approx(total / count, rel=1e-14)


@pytest.mark.parametrize("name", ["sum_squared_error", "mean_squared_error"])
def test_squared_losses_accept_index_targets_like_one_hot(name):
    """Index targets give the same value as the equivalent one-hot targets."""
    fn = PARTS[name].fn
    assert fn(Y, np.array(LABELS)) == pytest.approx(fn(Y, ONE_HOT), rel=1e-15)
    total, count = loop_squared_sum(Y.tolist(), ONE_HOT.tolist())
    expected = 0.5 * total if name == "sum_squared_error" else total / count
    assert fn(Y, np.array(LABELS)) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name", ["sum_squared_error", "mean_squared_error"])
def test_squared_losses_of_a_single_1d_sample(name):
    """A 1-D y with a scalar index target equals the loop formula for that one row."""
    y = np.array([0.1, 0.7, 0.2])
    total, count = loop_squared_sum([[0.1, 0.7, 0.2]], [[0.0, 1.0, 0.0]])
    expected = 0.5 * total if name == "sum_squared_error" else total / count
    assert PARTS[name].fn(y, 1) == pytest.approx(expected, rel=1e-14)
    assert PARTS[name].fn(y, np.array([0.0, 1.0, 0.0])) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name", ["cross_entropy", "sum_squared_error", "mean_squared_error"])
@pytest.mark.parametrize("targets", ["one_hot", "index"], ids=["one_hot", "index"])
def test_derivative_matches_central_difference(name, targets):
    """Part.derivative(y, t) equals the central difference of the loss in each element of y."""
    part = PARTS[name]
    t = ONE_HOT if targets == "one_hot" else np.array(LABELS)
    analytic = part.derivative(Y.copy(), t)
    numeric = numeric_gradient(part.fn, Y, t)
    assert np.shape(analytic) == Y.shape
    assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["cross_entropy", "sum_squared_error", "mean_squared_error"])
def test_derivative_of_a_single_1d_sample_has_the_shape_of_y(name):
    """For a 1-D y, dL/dy is 1-D like y and equals the central difference."""
    part = PARTS[name]
    y = np.array([0.1, 0.7, 0.2])
    t = np.array([0.0, 1.0, 0.0])
    analytic = np.asarray(part.derivative(y.copy(), t))
    numeric = numeric_gradient(part.fn, y, t)
    assert analytic.shape == y.shape
    assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_cross_entropy_derivative_hand_values():
    """d(cross_entropy)/dy is -1 / (y[label] + 1e-7) / N at the label and 0 elsewhere."""
    grad = PARTS["cross_entropy"].derivative(Y.copy(), np.array(LABELS))
    expected = np.zeros((3, 4))
    for row, label in enumerate(LABELS):
        expected[row, label] = -1.0 / (Y[row, label] + 1e-7) / 3
    assert_allclose(grad, expected, rtol=1e-14)
