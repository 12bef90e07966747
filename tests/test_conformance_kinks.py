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
