"""Activations: elementwise functions of a layer's pre-activation, with their derivatives."""

from __future__ import annotations

import numpy as np

from toolkit import Part, hookimpl

KINK = (0.0,)
"""Where step, relu and leaky_relu (or their derivatives) jump."""


def identity(x):
    """Return the input unchanged."""
    return x


def identity_grad(x):
    return np.ones_like(x)


def step(x):
    """1 where x > 0, else 0 (as floats)."""
    return np.heaviside(x, 0.0)


def step_grad(x):
    return np.zeros_like(x)


def sigmoid(x):
    """Logistic function 1 / (1 + exp(-x))."""
    with np.errstate(over="ignore"):  # exp(-x) -> inf gives the right limit, 0
        return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    y = sigmoid(x)
    return (1.0 - y) * y


def relu(x):
    """max(0, x)."""
    return np.maximum(0, x)


def relu_grad(x):
    return np.asarray(x > 0, dtype=float)


def leaky_relu(x, slope=0.01):
    """x where x > 0, else slope * x."""
    return np.where(x > 0, x, slope * x)


def leaky_relu_grad(x, slope=0.01):
    return np.where(x > 0, 1.0, slope)


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(x)


def tanh_grad(x):
    return 1.0 - np.tanh(x) ** 2


def softmax(x):
    """Row-wise softmax over the last axis, shifted by the row maximum for stability."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_vjp(x, g):
    """The gradient with respect to x, given g with respect to softmax(x)."""
    y = softmax(x)
    return y * (g - np.sum(g * y, axis=-1, keepdims=True))


@hookimpl
def toolkit_activations():
    return {
        "identity": Part(identity, derivative=identity_grad, breakpoints=()),
        "step": Part(step, derivative=step_grad, breakpoints=KINK),
        "sigmoid": Part(sigmoid, derivative=sigmoid_grad, breakpoints=()),
        "relu": Part(relu, derivative=relu_grad, breakpoints=KINK),
        "leaky_relu": Part(leaky_relu, derivative=leaky_relu_grad, breakpoints=KINK),
        "tanh": Part(tanh, derivative=tanh_grad, breakpoints=()),
        # Row-wise, not elementwise: it gives its backward pass instead of a derivative.
        "softmax": Part(softmax, vjp=softmax_vjp, breakpoints=()),
    }


@hookimpl
def toolkit_defaults():
    return {"activation": "identity"}
