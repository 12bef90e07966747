"""The standard optimizer: SGD updates parameters in place by -learning_rate * gradient."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from toolkit_plugins import optimizers

TABLE = optimizers.toolkit_optimizers()


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_optimizers() lists exactly sgd."""
    assert set(TABLE) == {"sgd"}


def test_sgd_updates_in_place_by_minus_learning_rate_times_gradient():
    """SGD(0.1).update leaves the same arrays holding p - 0.1 * g, computed by hand."""
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    b = np.array([0.25, -0.75])
    params = {"W": w, "b": b}
    grads = {"W": np.array([[0.5, -1.0], [2.0, 0.0]]), "b": np.array([-3.0, 1.5])}
    optimizer = TABLE["sgd"](learning_rate=0.1)
    optimizer.update(params, grads)
    assert params["W"] is w
    assert params["b"] is b
    assert_array_equal(
        w,
        [[1.0 - 0.1 * 0.5, -2.0 - 0.1 * -1.0], [0.5 - 0.1 * 2.0, 3.0 - 0.1 * 0.0]],
    )
    assert_array_equal(b, [0.25 - 0.1 * -3.0, -0.75 - 0.1 * 1.5])
    np.testing.assert_allclose(w, [[0.95, -1.9], [0.3, 3.0]], rtol=1e-15)
    np.testing.assert_allclose(b, [0.55, -0.9], rtol=1e-15)


def test_sgd_does_not_change_the_gradients():
    """update leaves the gradient arrays as they were."""
    params = {"W": np.array([1.0, 2.0])}
    grads = {"W": np.array([0.5, -0.5])}
    TABLE["sgd"](learning_rate=0.1).update(params, grads)
    assert_array_equal(grads["W"], [0.5, -0.5])


def test_sgd_default_learning_rate_is_one_hundredth():
    """SGD() has learning_rate 0.01 and steps by -0.01 * g."""
    optimizer = TABLE["sgd"]()
    assert optimizer.learning_rate == 0.01
    w = np.array([1.0, -4.0])
    optimizer.update({"W": w}, {"W": np.array([10.0, -2.0])})
    assert_array_equal(w, [1.0 - 0.01 * 10.0, -4.0 - 0.01 * -2.0])
    np.testing.assert_allclose(w, [0.9, -3.98], rtol=1e-15)


@pytest.mark.parametrize("steps", [1, 3])
def test_sgd_repeated_updates_accumulate(steps):
    """Each update call subtracts learning_rate * g once more."""
    w = np.array([2.0])
    optimizer = TABLE["sgd"](learning_rate=0.5)
    for _ in range(steps):
        optimizer.update({"W": w}, {"W": np.array([1.0])})
    assert_array_equal(w, [2.0 - 0.5 * steps])
