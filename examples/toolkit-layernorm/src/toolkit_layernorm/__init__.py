"""Layer normalization (Ba, Kiros and Hinton, 2016): each sample normalized over its own
features, then scaled and shifted by a learned gain and bias. No backward pass is
written: the numerical gradient estimators differentiate it from its forward pass alone."""

import numpy as np

from toolkit import Layer, ParamSpec, Part, Step, hookimpl


class LayerNorm(Layer):
    """``gain * (x - mean) / sqrt(var + eps) + bias``, mean and var over each sample's own
    features; gain and bias shaped like a sample, starting at ones and zeros."""

    def __init__(self, input_shape, eps):
        super().__init__(input_shape)
        self.eps = eps

    # What it declares, so that the gradient engines know what they may assume:
    # smooth everywhere (eps > 0 keeps the square root away from 0), and each sample's
    # output depends on that sample alone (mixes_samples and elementwise stay False:
    # a unit's output depends on every unit of its sample, but on no other sample).
    @property
    def breakpoints(self):
        return ()

    def param_specs(self):
        # Constant starts draw nothing from the run's generator.
        return (ParamSpec("gain", self.input_shape, 1.0), ParamSpec("bias", self.input_shape, 0.0))

    def forward(self, x, params, mode):
        # The last len(input_shape) axes are a sample's; any before them (the batch, and
        # the stacked copies the engines evaluate at once) are kept.
        features = tuple(range(x.ndim - len(self.input_shape), x.ndim))
        centred = x - x.mean(axis=features, keepdims=True)
        var = np.mean(centred**2, axis=features, keepdims=True)
        y = params[self.names["gain"]] * centred / np.sqrt(var + self.eps)
        y = y + params[self.names["bias"]]
        return Step(x, y, y)


def layer_norm(input_shape, eps=1e-5):
    """Normalize each sample over its features; a learned gain and bias (gain1, bias1)."""
    return LayerNorm(input_shape, eps)


def check_eps(eps):
    if eps <= 0:
        yield "eps", f"must be positive, got {eps}"


@hookimpl
def toolkit_layers():
    return {"layer_norm": Part(layer_norm, validate=check_eps)}
