"""he and xavier on a convolution weight: the fan-in is channels * kernel_h * kernel_w, as in
the book's ``ch08/deep_convnet.py`` (``np.sqrt(2.0 / pre_node_nums)``, ``pre_node_nums`` the
previous layer's ``C * FH * FW``); a dense weight and a bias keep ``shape[0]``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from toolkit_plugins import initializers

TABLE = initializers.toolkit_initializers()
SEED = 1234


@pytest.mark.parametrize("shape", [(16, 1, 3, 3), (8, 3, 5, 2), (4, 6, 1, 1)])
def test_he_on_a_conv_weight_is_the_books_deep_convnet_scale(shape):
    """he((FN, C, FH, FW)) == sqrt(2 / (C * FH * FW)) * randn(FN, C, FH, FW)."""
    _, channels, kernel_h, kernel_w = shape
    out = TABLE["he"](shape, np.random.RandomState(SEED))
    book = math.sqrt(2.0 / (channels * kernel_h * kernel_w)) * np.random.RandomState(SEED).randn(
        *shape
    )
    assert_array_equal(out, book)


def test_xavier_on_a_conv_weight_uses_the_same_fan_in():
    """xavier((FN, C, FH, FW)) == sqrt(1 / (C * FH * FW)) * standard_normal, from a Generator."""
    out = TABLE["xavier"]((6, 2, 3, 3), np.random.default_rng(SEED))
    expected = math.sqrt(1.0 / 18) * np.random.default_rng(SEED).standard_normal((6, 2, 3, 3))
    assert_array_equal(out, expected)


def test_he_on_a_conv_weight_has_the_stated_spread():
    """Over many draws, the standard deviation is sqrt(2 / fan_in), not sqrt(2 / filters)."""
    out = TABLE["he"]((64, 4, 5, 5), np.random.default_rng(SEED))
    assert out.std() == pytest.approx(math.sqrt(2.0 / 100), rel=0.02)


@pytest.mark.parametrize(("name", "factor"), [("xavier", 1.0), ("he", 2.0)])
@pytest.mark.parametrize("shape", [(8, 3), (5,)])
def test_dense_weights_and_biases_keep_the_first_axis_as_fan_in(name, factor, shape):
    """A 2-D or 1-D shape: sqrt(factor / shape[0]), as before (the shipped specs' numbers)."""
    out = TABLE[name](shape, np.random.RandomState(SEED))
    expected = np.random.RandomState(SEED).randn(*shape) * math.sqrt(factor / shape[0])
    assert_array_equal(out, expected)
