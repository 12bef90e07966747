"""The plugin's own tests: the conformance kit on each part, and the Huber loss by hand."""

import numpy as np
import pytest

from toolkit.testing import check_activation, check_loss
from toolkit_swish import huber, toolkit_activations, toolkit_losses

# Two samples, three classes; labels 1 and 0. Per element, with delta = 0.25:
# r <= delta gives r**2 / 2, else delta * (r - delta / 2).
Y = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
LABELS = np.array([1, 0])
ONE_HOT = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
BY_HAND = ((0.02 + 0.04375 + 0.005) + (0.06875 + 0.04375 + 0.005)) / 2  # 0.093125


def test_swish_conforms():
    check_activation(toolkit_activations()["swish"])
    check_activation(toolkit_activations()["swish"], beta=2.0)


def test_huber_conforms():
    check_loss(toolkit_losses()["huber"])
    check_loss(toolkit_losses()["huber"], delta=0.25)


def test_huber_on_one_hot_rows_and_on_class_indices():
    assert huber(Y, ONE_HOT, delta=0.25) == pytest.approx(BY_HAND, rel=1e-12)
    assert huber(Y, LABELS, delta=0.25) == pytest.approx(BY_HAND, rel=1e-12)


def test_huber_on_stacked_batches_gives_one_loss_per_batch():
    flipped = Y[::-1]  # the same rows against the other labels
    other = ((0.11875 + 0.14375 + 0.005) + (0.16875 + 0.14375 + 0.005)) / 2  # by hand: 0.2925
    stack = np.stack([Y, flipped])
    np.testing.assert_allclose(huber(stack, LABELS, delta=0.25), [BY_HAND, other], rtol=1e-12)
    per_batch = np.stack([LABELS, LABELS[::-1]])  # each batch its own targets
    np.testing.assert_allclose(huber(stack, per_batch, delta=0.25), [BY_HAND] * 2, rtol=1e-12)
    np.testing.assert_allclose(
        huber(stack, np.eye(3)[per_batch], delta=0.25), [BY_HAND] * 2, rtol=1e-12
    )
