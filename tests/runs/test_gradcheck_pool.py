"""toolkit gradcheck through max_pool's kinks: a perturbation that moves the maximum of a
window to another of its elements straddles a kink (max_pool labels its pieces), a wrong
backward pass still fails, and the shipped convnet passes with every estimator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import SPECS, write
from toolkit.cli import main
from toolkit.model.layers import Step
from toolkit.runs.build import as_spec, assemble
from toolkit.runs.gradcheck import gradcheck

H = 1e-4
"""The reference's step (gradcheck's default)."""

EVERY_TIE_PLUGIN = '''
import numpy as np
from plugins.convolution import MaxPool, max_pool
from toolkit import Part


class EveryTiePool(MaxPool):
    """max_pool, but each output's gradient goes to every element equal to the maximum."""

    def backward(self, step, grad_out, params, *, inputs=True):
        padded = self.windows.padded(step.input.reshape(-1, *self.input_shape))
        out = step.output.reshape(-1, *self.output_shape)
        g = grad_out.reshape(out.shape)
        image = np.zeros(padded.shape)
        for i, j in self.windows.positions():
            at = self.windows.at(i, j)
            image[at] += g * (padded[at] == out)
        return image.reshape(step.input.shape), {}


def every_tie_pool(input_shape, size=2, stride=2, pad=0):
    return EveryTiePool(max_pool(input_shape, size, stride, pad).windows)


def toolkit_layers():
    params = {"size": [2, 2], "stride": [2, 2], "pad": [0, 0]}
    return {"every_tie_pool": Part(every_tie_pool, params=params)}
'''


def pooled_spec(
    folder: Path, x: np.ndarray, pool: str = "max_pool", **extra: Any
) -> dict[str, Any]:
    """A 1x1 convolution (identity), a pooling layer, then a softmax layer, on ``x``
    (samples of 4 or 16 pixels) with classes 0, 1, 0, 1, ..."""
    t = np.arange(len(x)) % 2
    np.savez(folder / "pool.npz", x=x, t=t)
    side = int(np.sqrt(x.shape[1]))
    return {
        "name": "pool",
        "seed": 3,
        "data": {"name": "npz", "path": str(folder / "pool.npz")},
        "model": {
            "layers": [
                {"type": "reshape", "shape": [1, side, side]},
                {"type": "conv2d", "filters": 2, "kernel": 1, "init": {"name": "normal"}},
                {"type": pool, "size": 2},
                {"type": "flatten"},
                {"units": 2, "activation": "softmax", "init": {"name": "normal", "scale": 0.5}},
            ]
        },
        "loss": "cross_entropy",
        "train": {"batch_size": len(x)},
        **extra,
    }


def test_max_pool_labels_each_window_with_its_first_maximum() -> None:
    """max_pool's pieces: the row-order index of each window's maximum, the first for a
    tie (numpy's argmax over the window's elements, taken independently)."""
    from plugins.convolution import max_pool

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(2, 5, 2, 4, 6)).astype(float)  # a leading axis, many ties
    layer = max_pool((2, 4, 6), size=2, stride=2)
    step = layer.forward(x, {})
    windows = x.reshape(2, 5, 2, 2, 2, 3, 2).transpose(0, 1, 2, 3, 5, 4, 6)
    expected = windows.reshape(2, 5, 2, 2, 3, 4).argmax(axis=-1)
    assert np.array_equal(layer.pieces(step), expected)
    assert (expected > 0).any() and (expected == 0).any()


def test_the_default_layer_labels_no_pieces() -> None:
    """A layer that says nothing about its pieces gives None."""
    from toolkit import Layer

    assert Layer((3,)).pieces(Step(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)))) is None


def test_a_perturbation_that_moves_the_maximum_straddles(tmp_path: Path) -> None:
    """A 1x1 convolution weight at h/2: at w - h the filter is negative and each window's
    maximum is its smallest pixel, not its largest (the elements tie at w = 0). The element
    straddles a kink; its plain central difference is far from the derivative, and the
    kink-free one equals the closed form ``sum(dL/dz * max(x))`` (z the pooled value, dL/dz
    through the softmax and the book's cross entropy)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(6, 4))
    network = assemble(as_spec(pooled_spec(tmp_path, x))).network
    network.params["W1"][:] = [[[[H / 2]]], [[[0.7]]]]
    t = np.eye(2)[np.arange(6) % 2]
    from toolkit.gradients.kinks import straddling_differences

    found = straddling_differences(network, x, t, "W1", np.arange(2), H)
    assert found is not None
    plain, straddling = found
    assert straddling.positions.tolist() == [0]  # the second filter's maximum stays put
    (free,) = straddling.kink_free
    assert free is not None and not free.one_sided

    w, b = network.params["W1"].reshape(2), network.params["b1"]
    pooled = np.stack([w[0] * x.max(axis=1) + b[0], w[1] * x.max(axis=1) + b[1]], axis=1)
    y = pooled @ network.params["W2"] + network.params["b2"]
    p = np.exp(y - y.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dp = -t / (p + 1e-7) / len(x)  # the book's cross entropy: -mean log(p[label] + 1e-7)
    dy = p * (dp - (dp * p).sum(axis=1, keepdims=True))
    dz = dy @ network.params["W2"].T
    closed = float(dz[:, 0] @ x.max(axis=1))
    assert free.values[0] == pytest.approx(closed, rel=1e-7, abs=1e-12)
    assert abs(plain[0] - closed) > 100 * 1e-7 * abs(closed)


def integer_pixels(count: int) -> np.ndarray:
    """4x4 images of whole numbers 0-3: most 2x2 windows have a tied maximum."""
    return np.random.default_rng(2).integers(0, 4, size=(count, 16)).astype(float)


def test_a_backward_pass_that_feeds_every_tie_fails(plugin_folder: Path) -> None:
    """Ties of the maximum stay ties when the filter moves (the same pixel values), so the
    loss is smooth there and its derivative counts each window once; a backward pass that
    gives the gradient to every tied element counts it several times and fails, while
    max_pool's own passes on the same data."""
    write(plugin_folder / "tl_every_tie.py", EVERY_TIE_PLUGIN)
    x = integer_pixels(10)
    spec = pooled_spec(plugin_folder, x)
    assert gradcheck(spec, ["backprop"]).passed
    wrong = pooled_spec(plugin_folder, x, "every_tie_pool", plugins=["tl_every_tie"])
    report = gradcheck(wrong, ["backprop"])
    assert not report.passed
    failed = {c.parameter for c in report.estimator("backprop").parameters if c.passed is False}
    assert {"W1", "b1"} <= failed


def test_the_shipped_convnet_passes_with_every_estimator(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """specs/digits_convnet.yaml at a batch of 10: every estimator within its tolerance on
    every parameter (exit 0), with elements that straddle max_pool's kinks."""
    pytest.importorskip("sklearn")
    code = main(["gradcheck", str(SPECS / "digits_convnet.yaml"), "--batch", "10"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "straddle a kink" in out
