"""check_layer on a layer that labels its pieces (max_pool): the smoothness sweep skips the
stencils where a label changes, and labels that hide a kink are caught."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from plugins.convolution import MaxPool, max_pool
from toolkit import Part
from toolkit.model.layers import Step
from toolkit.testing import ConformanceError, check_layer

SMOOTH = "smooth away from its declared breakpoints (in training)"


class OnePiece(MaxPool):
    """max_pool claiming that every output stays on one piece."""

    def pieces(self, step: Step) -> np.ndarray:
        return np.zeros(step.output.shape, dtype=np.intp)


def one_piece(input_shape: tuple[int, ...], size: Any = 2, stride: Any = 2) -> OnePiece:
    return OnePiece(max_pool(input_shape, size, stride).windows)


def test_max_pool_is_smooth_between_its_pieces() -> None:
    """max_pool declares no breakpoints but labels its pieces: the sweep is checked, and
    passes, between them (without labels the check had nothing to go on)."""
    checks = check_layer(Part(max_pool), (2, 6, 6))
    (smooth,) = [check for check in checks if check.what == SMOOTH]
    assert smooth.passed is True
    assert smooth.detail.endswith("between the pieces it labels (pieces)")


def test_labels_that_hide_the_kinks_are_caught() -> None:
    """A max_pool whose labels never change: the sweep moves an input past the others of
    its window, a kink the labels do not show."""
    with pytest.raises(ConformanceError) as caught:
        check_layer(Part(one_piece), (2, 6, 6))
    (failure,) = caught.value.failures
    assert failure.what == SMOOTH
    assert "a kink or jump" in failure.detail
    assert failure.detail.endswith(
        "label the piece each output is on wherever it changes (pieces), or give none"
    )
