"""Activations: elementwise functions of a layer's pre-activation, with their derivatives."""

from __future__ import annotations

from typing import cast

import numpy as np

from toolkit import Part, hookimpl

KINK = (0.0,)
"""Where step, relu and leaky_relu (or their derivatives) jump."""


def identity(x: np.ndarray) -> np.ndarray:
    """Return the input unchanged."""
    return x


def identity_grad(x: np.ndarray) -> np.ndarray:
    return np.ones_like(x)


def step(x: np.ndarray) -> np.ndarray:
    """1 where x > 0, else 0 (as floats)."""
    return cast(np.ndarray, np.heaviside(x, 0.0))


def step_grad(x: np.ndarray) -> np.ndarray:
    return np.zeros_like(x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x))."""
    with np.errstate(over="ignore"):  # exp(-x) -> inf gives the right limit, 0
        return cast(np.ndarray, 1 / (1 + np.exp(-x)))


def sigmoid_grad(x: np.ndarray) -> np.ndarray:
    y = sigmoid(x)
    return cast(np.ndarray, (1.0 - y) * y)


def relu(x: np.ndarray) -> np.ndarray:
    """max(0, x)."""
    return cast(np.ndarray, np.maximum(0, x))


def relu_grad(x: np.ndarray) -> np.ndarray:
    return np.asarray(x > 0, dtype=float)


def leaky_relu(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    """x where x > 0, else slope * x."""
    return np.where(x > 0, x, slope * x)


def leaky_relu_grad(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    return np.where(x > 0, 1.0, slope)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return cast(np.ndarray, np.tanh(x))


def tanh_grad(x: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, 1.0 - np.tanh(x) ** 2)


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis, shifted by the row maximum for stability."""
    shifted = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return cast(np.ndarray, e / np.sum(e, axis=-1, keepdims=True))


def softmax_vjp(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The gradient with respect to x, given g with respect to softmax(x)."""
    y = softmax(x)
    return cast(np.ndarray, y * (g - np.sum(g * y, axis=-1, keepdims=True)))


@hookimpl
def toolkit_activations() -> dict[str, Part]:
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
def toolkit_defaults() -> dict[str, str]:
    return {"activation": "identity"}
