"""The swish activation and the Huber loss, each with its derivative."""

import numpy as np

from toolkit import Part, hookimpl


def swish(x, beta=1.0):
    """x * sigmoid(beta * x) (Ramachandran et al., 2017)."""
    return x / (1 + np.exp(-beta * x))


def swish_grad(x, beta=1.0):
    s = 1 / (1 + np.exp(-beta * x))
    return s + beta * x * s * (1 - s)


def check_beta(beta):
    if beta <= 0:
        yield "beta", f"must be positive, got {beta}"


def one_hot(y, t):
    """The targets as one-hot rows like y's: class indices (t without y's last axis) become
    rows of the identity. Whole numbers shaped like y's leading axes are indices."""
    t = np.asarray(t)
    indices = t.shape[-1:] != y.shape[-1:] or (
        t.dtype.kind in "iu" and t.shape == y.shape[: t.ndim]
    )
    return np.eye(y.shape[-1])[t] if indices else t


def huber(y, t, delta=1.0):
    """Mean over the batch of each sample's summed Huber loss of y - t (quadratic within delta).

    y is a batch (samples x outputs), or batches stacked on leading axes: it reduces over
    the last two axes only, one loss per batch. t is one-hot rows or class indices,
    one batch's (shared by a stack) or one per stacked batch.
    """
    r = np.abs(y - one_hot(y, t))
    per_element = np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))
    return np.sum(per_element, axis=(-2, -1)) / y.shape[-2]


def huber_grad(y, t, delta=1.0):
    return np.clip(y - one_hot(y, t), -delta, delta) / y.shape[-2]


def check_delta(delta):
    if delta <= 0:
        yield "delta", f"must be positive, got {delta}"


@hookimpl
def toolkit_activations():
    # Smooth everywhere: declaring no breakpoints lets central_difference interpolate.
    return {"swish": Part(swish, derivative=swish_grad, validate=check_beta, breakpoints=())}


@hookimpl
def toolkit_losses():
    # Not declared smooth: its second derivative jumps where |y - t| = delta, and a loss
    # has no way to say where that is. central_difference still interpolates through it,
    # checking every fit, and computes the few pairs near such a point exactly.
    return {"huber": Part(huber, derivative=huber_grad, validate=check_delta)}
