"""The numerical gradient estimators on a quadratic objective with a known gradient."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from toolkit_plugins import gradient_estimators

TABLE = gradient_estimators.toolkit_gradient_estimators()


class QuadraticObjective:
    """f = sum over params of sum(a * p**2) + sum(c * p); records what each loss() call sees.

    The dict's order ("W2" before "A1") is deliberately not alphabetical.
    """

    def __init__(self) -> None:
        self.params = {
            "W2": np.array([[0.1, 1 / 3, -0.7], [2.2, -1.9, -0.125]], dtype=np.float64),
            "A1": np.array([0.125, -1 / 7, 1.05], dtype=np.float64),
        }
        self.a = {
            "W2": np.array([[1.0, 2.0, 0.5], [3.0, 1.5, 4.0]]),
            "A1": np.array([2.5, 0.75, 1.25]),
        }
        self.c = {
            "W2": np.array([[0.2, -1.0, 0.0], [0.7, 0.3, -0.4]]),
            "A1": np.array([-0.6, 1.1, 0.9]),
        }
        self.original = {name: p.copy() for name, p in self.params.items()}
        self.calls: list[list[tuple[str, tuple[int, ...], float]]] = []

    def loss(self) -> float:
        """The quadratic at the current values; records the elements that differ from the start."""
        changed = []
        for name, param in self.params.items():
            for where in np.argwhere(param != self.original[name]):
                index = tuple(int(i) for i in where)
                changed.append((name, index, float(param[index])))
        self.calls.append(changed)
        total = 0.0
        for name, param in self.params.items():
            total += float(np.sum(self.a[name] * param**2) + np.sum(self.c[name] * param))
        return total

    def exact_gradient(self) -> dict[str, np.ndarray]:
        """2 * a * p + c, the closed-form gradient at the original values."""
        return {name: 2 * self.a[name] * p + self.c[name] for name, p in self.original.items()}


def row_major_elements(objective: QuadraticObjective) -> list[tuple[str, tuple[int, ...]]]:
    """Every (name, index) in dict order, rows before columns, written out with loops."""
    elements: list[tuple[str, tuple[int, ...]]] = []
    for i in range(2):
        for j in range(3):
            elements.append(("W2", (i, j)))
    for k in range(3):
        elements.append(("A1", (k,)))
    assert [name for name in objective.params] == ["W2", "A1"]
    return elements


def test_hook_table_has_exactly_the_documented_names():
    """toolkit_gradient_estimators() lists exactly central_difference and forward_difference."""
    assert set(TABLE) == {"central_difference", "forward_difference"}


def test_central_difference_is_exact_for_a_quadratic():
    """central_difference of a quadratic equals 2*a*p + c to about 1e-8."""
    objective = QuadraticObjective()
    grads = TABLE["central_difference"](objective)
    exact = objective.exact_gradient()
    assert set(grads) == {"W2", "A1"}
    for name in exact:
        assert grads[name].shape == exact[name].shape
        assert_allclose(grads[name], exact[name], rtol=0, atol=1e-8)


@pytest.mark.parametrize("h", [1e-4, 1e-3, 1e-2])
def test_forward_difference_error_is_a_times_h_for_a_quadratic(h):
    """forward_difference of a quadratic is 2*a*p + c + a*h: first-order error of exactly a*h."""
    objective = QuadraticObjective()
    grads = TABLE["forward_difference"](objective, h=h)
    exact = objective.exact_gradient()
    for name in exact:
        error = grads[name] - exact[name]
        assert_allclose(error, objective.a[name] * h, rtol=1e-4, atol=1e-9)
        assert np.all(np.abs(error) > 0.25 * h)  # the error is really there, not zero


def test_forward_difference_default_step_is_1e_4():
    """Without h, forward_difference's error is a * 1e-4."""
    objective = QuadraticObjective()
    grads = TABLE["forward_difference"](objective)
    exact = objective.exact_gradient()
    for name in exact:
        assert_allclose(grads[name] - exact[name], objective.a[name] * 1e-4, rtol=1e-4)


def test_central_difference_default_step_is_1e_4():
    """Without h, central_difference perturbs the first element by exactly +1e-4."""
    objective = QuadraticObjective()
    TABLE["central_difference"](objective)
    v = float(objective.original["W2"][0, 0])
    assert objective.calls[0] == [("W2", (0, 0), v + 1e-4)]


@pytest.mark.parametrize("name", ["central_difference", "forward_difference"])
def test_parameters_are_restored_bit_for_bit(name):
    """After estimating, every parameter holds exactly its original bits, in the same array."""
    objective = QuadraticObjective()
    h = 1e-4
    arrays = {key: param for key, param in objective.params.items()}
    before = {key: param.tobytes() for key, param in objective.params.items()}
    # Undoing +h, -h or +h-2h by arithmetic does not round-trip for some of these values
    # (0.125 and -0.125), so restoring by arithmetic instead of the saved value is caught.
    values = np.concatenate([p.ravel() for p in objective.original.values()])
    assert np.any((values + h) - h != values)
    assert np.any((values - h) + h != values)
    assert np.any(((values + h) - 2 * h) + h != values)
    TABLE[name](objective, h=h)
    for key, param in objective.params.items():
        assert param is arrays[key]
        assert param.tobytes() == before[key]


def test_central_difference_perturbs_each_element_plus_then_minus_in_row_major_order():
    """Each element is set to v+h then v-h then restored, in dict order and row-major order."""
    objective = QuadraticObjective()
    h = 1e-3
    TABLE["central_difference"](objective, h=h)
    original = objective.original
    # The first few, by hand: W2[0,0] +h, W2[0,0] -h, W2[0,1] +h, W2[0,1] -h, W2[0,2] +h.
    assert objective.calls[:5] == [
        [("W2", (0, 0), 0.1 + h)],
        [("W2", (0, 0), 0.1 - h)],
        [("W2", (0, 1), 1 / 3 + h)],
        [("W2", (0, 1), 1 / 3 - h)],
        [("W2", (0, 2), -0.7 + h)],
    ]
    expected = []
    for name, index in row_major_elements(objective):
        v = float(original[name][index])
        expected.append([(name, index, v + h)])
        expected.append([(name, index, v - h)])
    # Exactly one element differs from the start at every call: the previous one was restored.
    assert objective.calls == expected


def test_forward_difference_evaluates_the_base_once_then_each_element_plus_h():
    """forward_difference calls loss() at the unchanged point, then once per element at v+h."""
    objective = QuadraticObjective()
    h = 1e-3
    TABLE["forward_difference"](objective, h=h)
    original = objective.original
    assert objective.calls[0] == []
    assert objective.calls[1:4] == [
        [("W2", (0, 0), 0.1 + h)],
        [("W2", (0, 1), 1 / 3 + h)],
        [("W2", (0, 2), -0.7 + h)],
    ]
    expected = [[]]
    for name, index in row_major_elements(objective):
        expected.append([(name, index, float(original[name][index]) + h)])
    assert objective.calls == expected


@pytest.mark.parametrize("name", ["central_difference", "forward_difference"])
def test_gradients_are_new_arrays_not_the_parameters(name):
    """The returned gradients are separate float64 arrays, not the parameter arrays."""
    objective = QuadraticObjective()
    grads = TABLE[name](objective)
    for key, param in objective.params.items():
        assert grads[key] is not param
        assert grads[key].dtype == np.float64
    assert_array_equal(objective.params["W2"], objective.original["W2"])
