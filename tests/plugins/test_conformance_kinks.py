"""The conformance kit's derivative checks where a probe point's central difference
straddles a declared breakpoint: a correct derivative passes, a wrong one still fails."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from toolkit import Part
from toolkit.testing import check_activation, conformance

PROBE = np.linspace(-3.0, 3.0, 24) + 0.0123
"""The kit's probe points for an activation's derivative (its documented spread)."""
AT = float(PROBE[9])
"""A probe point; the kinks below sit on it, or just beyond it."""
DERIVATIVE = "derivative matches a central difference"


def shifted_relu(kink: float, grad: Callable[[np.ndarray], np.ndarray]) -> Part:
    """max(0, x - kink) with the given derivative, declaring its kink."""
    return Part(lambda x: np.maximum(0.0, x - kink), derivative=grad, breakpoints=(kink,))


def derivative_check(part: Part) -> str:
    """The derivative check's status and detail, as the kit prints it."""
    (check,) = [c for c in conformance("activation", part) if c.what == DERIVATIVE]
    return str(check)


@pytest.mark.parametrize("kink", [AT, AT + 3e-7], ids=["on a probe point", "within the step"])
def test_a_correct_derivative_passes_where_the_difference_straddles(kink: float) -> None:
    """A kink on a probe point, or 3e-7 beyond one (the step is 1e-6): relu's derivative
    (0 on the left piece, 1 on the right) passes, though the central difference there is
    0.5 or 0.35."""
    part = shifted_relu(kink, lambda x: np.asarray(x > kink, dtype=float))
    assert derivative_check(part).startswith("ok ")
    check_activation(part)


def test_either_piece_at_the_kink_passes() -> None:
    """On the kink, the right piece's derivative (1) passes as the left's (0) does."""
    part = shifted_relu(AT, lambda x: np.asarray(x >= AT, dtype=float))
    assert derivative_check(part).startswith("ok ")


@pytest.mark.parametrize(
    ("kink", "grad"),
    [
        (AT, lambda x: np.where(x == AT, 3.0, np.asarray(x > AT, dtype=float))),
        (AT + 3e-7, lambda x: np.asarray(x > AT + 3e-7 - 1e-3, dtype=float)),
    ],
    ids=["3 on the kink", "1 just left of it"],
)
def test_a_wrong_derivative_at_a_kink_still_fails(
    kink: float, grad: Callable[[np.ndarray], np.ndarray]
) -> None:
    """3 on the kink (neither piece's), or 1 on the left piece within 1e-3 of it: FAIL,
    missed at that probe point, saying it straddles."""
    detail = derivative_check(shifted_relu(kink, grad))
    assert detail.startswith("FAIL "), detail
    assert f"at {AT:.4g}" in detail
    assert "1 probe point(s) straddle a declared breakpoint at step 1e-06" in detail


def test_without_declared_breakpoints_a_straddling_difference_still_counts() -> None:
    """Undeclared (None), the kink is unknown: the plain difference is the reference."""
    part = Part(lambda x: np.maximum(0.0, x - AT), derivative=lambda x: (x > AT) * 1.0)
    assert derivative_check(part).startswith("FAIL ")


def _kit_predictions() -> np.ndarray:
    """The kit's probe predictions for a loss's derivative (softmax of its seeded logits)."""
    logits = np.random.default_rng(0).standard_normal((4, 3))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def over_the_line(kink: float, at_kink: float) -> Part:
    """Sum of max(0, y - kink) over the wrong classes, per sample; its derivative takes
    ``at_kink`` on the kink."""

    def one_hot(y: np.ndarray, t: np.ndarray) -> np.ndarray:
        whole = np.issubdtype(np.asarray(t).dtype, np.integer)
        return np.eye(y.shape[-1])[t] if whole else np.asarray(t, dtype=float)

    def loss(y: np.ndarray, t: np.ndarray) -> np.ndarray:
        wrong = 1.0 - one_hot(y, t)
        return np.sum(np.maximum(0.0, y - kink) * wrong, axis=(-2, -1)) / y.shape[-2]

    def grad(y: np.ndarray, t: np.ndarray) -> np.ndarray:
        slope = np.where(y == kink, at_kink, np.asarray(y > kink, dtype=float))
        return slope * (1.0 - one_hot(y, t)) / y.shape[-2]

    return Part(loss, derivative=grad, breakpoints=(kink,))


@pytest.mark.parametrize(("at_kink", "passed"), [(0.0, True), (1.0, True), (3.0, False)])
def test_a_loss_with_a_kink_on_a_probe_point(at_kink: float, passed: bool) -> None:
    """A loss kinked exactly at a probe prediction of a wrong class: either piece's
    derivative there passes dL/dy's check (the plain difference is their average), 3 fails."""
    kink = float(_kit_predictions()[1, 0])  # sample 1's class is 2: class 0 is wrong
    checks = conformance("loss", over_the_line(kink, at_kink))
    (check,) = [c for c in checks if c.what == "derivative dL/dy matches a central difference"]
    assert check.passed is passed, str(check)
    others = [c for c in checks if c is not check]
    assert all(c.passed for c in others), [str(c) for c in others]
