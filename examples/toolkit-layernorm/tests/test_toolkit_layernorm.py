"""The plugin's own tests: the conformance kit on the layer, and its outputs by hand."""

import numpy as np
import pytest

from toolkit import Mode
from toolkit.testing import check_layer
from toolkit_layernorm import toolkit_layers

LAYER_NORM = toolkit_layers()["layer_norm"]


def made(shape, eps, gain, bias):
    """The layer for samples of ``shape``, its parameters named as a network names them."""
    layer = LAYER_NORM.fn(shape, eps=eps)
    layer.names = {"gain": "gain1", "bias": "bias1"}
    return layer, {"gain1": np.array(gain), "bias1": np.array(bias)}


def test_layer_norm_conforms():
    check_layer(LAYER_NORM, (6,))
    check_layer(LAYER_NORM, (2, 3, 3), eps=1e-3)


def test_each_sample_normalized_over_its_features_by_hand():
    # Sample [1, 3]: mean 2, variance 1; with eps = 0.21, sqrt(1 + 0.21) = 1.1, so it
    # normalizes to [-1, 1] / 1.1, then gain [2, 3] and bias [0.5, -0.5]. Sample [5, 5]
    # has variance 0: it normalizes to 0 and leaves only the bias.
    layer, params = made((2,), 0.21, [2.0, 3.0], [0.5, -0.5])
    y = layer.forward(np.array([[1.0, 3.0], [5.0, 5.0]]), params, Mode()).output
    by_hand = [[-2 / 1.1 + 0.5, 3 / 1.1 - 0.5], [0.5, -0.5]]
    np.testing.assert_allclose(y, by_hand, rtol=1e-12)


def test_image_samples_are_normalized_over_all_their_axes():
    # One channel of 2 x 2 holding 1, 3, 1, 3: mean 2, variance 1, as above.
    layer, params = made((1, 2, 2), 0.21, np.ones((1, 2, 2)), np.zeros((1, 2, 2)))
    y = layer.forward(np.array([[[[1.0, 3.0], [1.0, 3.0]]]]), params, Mode()).output
    np.testing.assert_allclose(y, [[[[-1 / 1.1, 1 / 1.1], [-1 / 1.1, 1 / 1.1]]]], rtol=1e-12)


@pytest.mark.parametrize("eps", [0.0, -1e-5])
def test_eps_must_be_positive(eps):
    assert list(LAYER_NORM.validate(eps=eps)) == [("eps", f"must be positive, got {eps}")]
