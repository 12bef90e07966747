"""The plugin's own tests: one conformance call per part, from layer-toolkit's kit."""

from toolkit.testing import check_activation, check_loss
from toolkit_swish import toolkit_activations, toolkit_losses


def test_swish_conforms():
    check_activation(toolkit_activations()["swish"])
    check_activation(toolkit_activations()["swish"], beta=2.0)


def test_huber_conforms():
    check_loss(toolkit_losses()["huber"])
