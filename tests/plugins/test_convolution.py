"""conv2d and max_pool: forward and backward as the book's ``Convolution`` and ``Pooling``
(tests/book_layers.py), stacked input as each slice alone, backward against central
differences of the forward, and settings that cannot work as located spec errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from tests import book_layers as book
from tests.helpers import write
from toolkit import SettingError, get_plugin_manager
from toolkit.model.layers import Layer, Mode
from toolkit.registry.parts import BoundPart
from toolkit.registry.registry import Registry
from toolkit_plugins.convolution import conv2d, max_pool

REGISTRY = Registry.from_manager(get_plugin_manager())
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def activation(name: str) -> BoundPart:
    """The standard activation part ``name``, bound to no settings."""
    return BoundPart(name, REGISTRY.lookup("activation", name).part, {}, "activation")


def make_conv(
    sample: tuple[int, ...], filters: int, act: str = "identity", **settings: Any
) -> Layer:
    """A conv2d layer named as the builder names the first weighted layer."""
    layer = conv2d(sample, filters=filters, activation=activation(act), **settings)
    layer.names = {"W": "W1", "b": "b1"}
    return layer


def params_for(layer: Layer, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random values for each parameter the layer declares."""
    return {layer.names[spec.role]: rng.standard_normal(spec.shape) for spec in layer.param_specs()}


def as_pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else value


# (sample, filters, kernel, stride, pad): square and not, pairs, strides that do not divide.
CONV_CASES = [
    ((1, 8, 8), 4, 3, 1, 0),
    ((3, 7, 9), 5, 3, 2, 1),
    ((2, 6, 5), 3, (2, 3), (1, 2), (1, 0)),
    ((1, 5, 5), 2, 5, 1, 0),
    ((2, 9, 7), 3, (4, 2), 3, (2, 1)),
]
# (sample, size, stride, pad): the book's 2x2 by 2, overlapping windows, odd sides, pairs.
POOL_CASES = [
    ((3, 8, 8), 2, 2, 0),
    ((2, 7, 7), 3, 1, 0),
    ((1, 6, 5), (2, 3), (2, 1), 0),
    ((2, 5, 6), 2, 2, 1),
    ((1, 7, 6), (3, 2), (2, 2), (1, 0)),
]


@pytest.mark.parametrize(("sample", "filters", "kernel", "stride", "pad"), CONV_CASES)
def test_conv2d_forward_and_backward_are_the_books(sample, filters, kernel, stride, pad):
    """Output, dW, db and dx equal the book's Convolution's (im2col, col2im) to 1e-12."""
    rng = np.random.default_rng(1)
    layer = make_conv(sample, filters, kernel=kernel, stride=stride, pad=pad)
    params = params_for(layer, rng)
    x = rng.standard_normal((4, *sample))
    reference = book.Convolution(params["W1"], params["b1"], as_pair(stride), as_pair(pad))
    expected = reference.forward(x)
    step = layer.forward(x, params, Mode())
    assert step.output.shape == (4, *layer.output_shape) == expected.shape
    assert_allclose(step.output, expected, **TIGHT)
    dout = rng.standard_normal(expected.shape)
    dx, grads = layer.backward(step, dout, params)
    assert_allclose(dx, reference.backward(dout), **TIGHT)
    assert_allclose(grads["W1"], reference.dW, **TIGHT)
    assert_allclose(grads["b1"], reference.db, **TIGHT)


def test_conv2d_output_side_is_the_books_formula():
    """OH = 1 + (H + 2 * pad - FH) // stride, each side with its own numbers."""
    layer = make_conv((3, 11, 8), 7, kernel=(4, 3), stride=(3, 2), pad=(1, 2))
    assert layer.output_shape == (7, 1 + (11 + 2 - 4) // 3, 1 + (8 + 4 - 3) // 2) == (7, 4, 5)
    shapes = [(spec.role, spec.shape, spec.init) for spec in layer.param_specs()]
    assert shapes == [("W", (7, 3, 4, 3), "init"), ("b", (7,), "bias_init")]


def test_conv2d_with_relu_is_the_books_convolution_then_relu():
    """pre is the convolution plus bias, the output relu of it; the backward masks by pre > 0."""
    rng = np.random.default_rng(2)
    layer = make_conv((2, 6, 6), 3, "relu", kernel=3, pad=1)
    params = params_for(layer, rng)
    x = rng.standard_normal((5, 2, 6, 6))
    reference = book.Convolution(params["W1"], params["b1"], 1, 1)
    conv = reference.forward(x)
    step = layer.forward(x, params, Mode())
    assert_allclose(step.pre, conv, **TIGHT)
    assert_allclose(step.output, np.where(conv > 0, conv, 0.0), **TIGHT)
    dout = rng.standard_normal(conv.shape)
    dx, grads = layer.backward(step, dout, params)
    assert_allclose(dx, reference.backward(np.where(conv > 0, dout, 0.0)), **TIGHT)
    assert_allclose(grads["W1"], reference.dW, **TIGHT)


def test_conv2d_declarations_come_from_its_activation():
    """Weighted, not affine (no dense matmul); relu's kink and elementwise-ness; differentiable."""
    relu = make_conv((1, 8, 8), 2, "relu", kernel=3)
    softmax = make_conv((1, 8, 8), 2, "softmax", kernel=3)
    assert relu.weighted and relu.affine is None and relu.differentiable
    assert relu.breakpoints == (0.0,) and relu.elementwise
    assert softmax.breakpoints == () and not softmax.elementwise
    assert relu.activation is not None and relu.activation.name == "relu"


@pytest.mark.parametrize(("sample", "size", "stride", "pad"), POOL_CASES)
def test_max_pool_forward_and_backward_are_the_books(sample, size, stride, pad):
    """Output and dx equal the book's Pooling's (windows overlapping or not, padded)."""
    rng = np.random.default_rng(3)
    layer = max_pool(sample, size=size, stride=stride, pad=pad)
    x = rng.standard_normal((4, *sample))
    reference = book.Pooling(*as_pair(size), as_pair(stride), as_pair(pad))
    expected = reference.forward(x)
    step = layer.forward(x, {}, Mode())
    assert step.output.shape == (4, *layer.output_shape) == expected.shape
    assert_array_equal(step.output, expected)
    dout = rng.standard_normal(expected.shape)
    dx, grads = layer.backward(step, dout, {})
    assert grads == {}
    assert_allclose(dx, reference.backward(dout), **TIGHT)


def test_max_pool_pads_with_zeros_and_breaks_ties_to_the_first_element():
    """The book's rules: a padded window of negatives gives 0, and of equal elements the first
    in row order takes the whole gradient."""
    layer = max_pool((1, 2, 2), size=2, stride=2, pad=1)
    x = -np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    assert_array_equal(layer.forward(x, {}, Mode()).output, np.zeros((1, 1, 2, 2)))
    tie = max_pool((1, 2, 2), size=2, stride=2)
    step = tie.forward(np.full((1, 1, 2, 2), 3.0), {}, Mode())
    dx, _ = tie.backward(step, np.array([[[[5.0]]]]), {})
    assert_array_equal(dx, [[[[5.0, 0.0], [0.0, 0.0]]]])


def test_max_pool_declares_no_breakpoints_and_no_parameters():
    """Its kinks are ties between window elements, not fixed points: breakpoints undeclared."""
    layer = max_pool((2, 4, 4))
    assert layer.output_shape == (2, 2, 2)
    assert layer.breakpoints is None and not layer.elementwise and not layer.weighted
    assert layer.param_specs() == () and layer.differentiable


def _stacked(layer: Layer, params: Mapping[str, np.ndarray], sample: tuple[int, ...]) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 5, *sample))
    stacked = layer.forward(x, params, Mode()).output
    assert stacked.shape == (3, 2, 5, *layer.output_shape)
    for i in range(3):
        for j in range(2):
            alone = layer.forward(x[i, j], params, Mode()).output
            assert_allclose(stacked[i, j], alone, rtol=1e-14, atol=1e-15)


def test_conv2d_on_stacked_input_equals_each_slice_alone():
    """Leading axes before the batch axis are kept: each slice as if evaluated alone."""
    layer = make_conv((2, 6, 7), 3, "tanh", kernel=(3, 2), stride=(1, 2), pad=1)
    _stacked(layer, params_for(layer, np.random.default_rng(5)), (2, 6, 7))


def test_max_pool_on_stacked_input_equals_each_slice_alone():
    _stacked(max_pool((3, 6, 6), size=3, stride=1, pad=1), {}, (3, 6, 6))


def central_differences(f: Callable[[], float], array: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d array, element by element: (f(v + h) - f(v - h)) / 2h, changing ``array``."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        kept = array[index]
        array[index] = kept + h
        up = f()
        array[index] = kept - h
        down = f()
        array[index] = kept
        grad[index] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize(("sample", "filters", "kernel", "stride", "pad"), CONV_CASES[1:3])
def test_conv2d_backward_matches_central_differences(sample, filters, kernel, stride, pad):
    """For the loss sum(output * r), smooth (tanh): backward's dx, dW, db against differences."""
    rng = np.random.default_rng(6)
    layer = make_conv(sample, filters, "tanh", kernel=kernel, stride=stride, pad=pad)
    params = params_for(layer, rng)
    x = rng.standard_normal((3, *sample))
    r = rng.standard_normal((3, *layer.output_shape))

    def loss() -> float:
        return float(np.sum(layer.forward(x, params, Mode()).output * r))

    dx, grads = layer.backward(layer.forward(x, params, Mode()), r, params)
    assert_allclose(dx, central_differences(loss, x), rtol=1e-7, atol=1e-8)
    for name in ("W1", "b1"):
        assert_allclose(grads[name], central_differences(loss, params[name]), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize(("sample", "size", "stride", "pad"), POOL_CASES[1:])
def test_max_pool_backward_matches_central_differences(sample, size, stride, pad):
    """Away from ties (distinct inputs, none near the padding's 0): dx against differences."""
    rng = np.random.default_rng(7)
    layer = max_pool(sample, size=size, stride=stride, pad=pad)
    count = 3 * int(np.prod(sample))
    magnitudes = 0.5 + rng.permutation(count) / count  # at least 1/count apart, >= 0.5 from 0
    x = (magnitudes * rng.choice([-1.0, 1.0], count)).reshape(3, *sample)
    r = rng.standard_normal((3, *layer.output_shape))

    def loss() -> float:
        return float(np.sum(layer.forward(x, {}, Mode()).output * r))

    dx, _ = layer.backward(layer.forward(x, {}, Mode()), r, {})
    assert_allclose(dx, central_differences(loss, x), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize(
    ("make", "setting", "words"),
    [
        (lambda: make_conv((1, 8, 8), 2, kernel=9), "kernel", "larger than the padded input"),
        (lambda: make_conv((1, 4, 4), 2, kernel=(5, 3), pad=(0, 1)), "kernel", "[4, 6]"),
        (lambda: make_conv((1, 8, 8), 2, kernel=0), "kernel", "at least 1"),
        (lambda: make_conv((1, 8, 8), 2, kernel=[3, 3, 3]), "kernel", "pair [height, width]"),
        (lambda: make_conv((1, 8, 8), 2, kernel=3, stride=0), "stride", "at least 1"),
        (lambda: make_conv((1, 8, 8), 2, kernel=3, stride=[1, -2]), "stride", "got [1, -2]"),
        (lambda: make_conv((1, 8, 8), 2, kernel=3, pad=-1), "pad", "at least 0"),
        (lambda: make_conv((1, 8, 8), 2, kernel=3, pad=1.5), "pad", "at least 0"),
        (lambda: make_conv((1, 8, 8), 0, kernel=3), "filters", "at least 1"),
        (lambda: make_conv((1, 8, 8), True, kernel=3), "filters", "whole number"),
        (lambda: make_conv((64,), 2, kernel=3), "kernel", "shape: [1, 8, 8]} before it"),
        (lambda: make_conv((8, 6), 2, kernel=3), "kernel", "shape: [1, 8, 6]} before it"),
        (lambda: make_conv((10,), 2, kernel=3), "kernel", "[channels, height, width]"),
        (lambda: max_pool((1, 3, 3), size=4), "size", "larger than the padded input [3, 3]"),
        (lambda: max_pool((64,)), "size", "{type: reshape"),
        (lambda: max_pool((1, 4, 4), stride=[2]), "stride", "pair [height, width]"),
    ],
)
def test_settings_that_cannot_work_are_setting_errors_naming_the_setting(make, setting, words):
    """Each is a SettingError at the setting at fault, with what to do."""
    with pytest.raises(SettingError) as caught:
        make()
    assert caught.value.setting == setting
    assert words in caught.value.message


SPEC = """\
name: convnet
seed: 1
data: {name: digits}
model:
  layers:
    - {type: reshape, shape: [1, 8, 8]}
    - {type: conv2d, filters: 4, kernel: 9, activation: relu}
    - {type: flatten}
    - {units: 10, activation: softmax}
gradient: backprop
train: {iterations: 2, batch_size: 4}
"""


def test_validate_reports_a_kernel_too_large_at_its_key_with_exit_2(run_cli, tmp_path: Path):
    """`toolkit validate` on a 9x9 kernel over 8x8 samples: one located line, exit 2."""
    write(tmp_path / "spec.yaml", SPEC)
    column = SPEC.splitlines()[6].index("kernel: 9") + len("kernel: ") + 1
    result = run_cli("validate", "spec.yaml")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: model.layers[1].kernel: layer 'conv2d' on samples of shape (1, 8, 8): "
        "kernel [9, 9] is larger than the padded input [8, 8] (height and width + 2 * pad); "
        f"use a kernel of at most [8, 8] or more pad (spec.yaml line 7, column {column})"
    ]


def test_validate_accepts_a_pair_and_an_int_for_each_size(run_cli, tmp_path: Path):
    """kernel, stride and pad as [height, width] pairs, max_pool's as whole numbers."""
    text = SPEC.replace("kernel: 9", "kernel: [3, 2], stride: [1, 2], pad: [1, 0]").replace(
        "- {type: flatten}", "- {type: max_pool, size: 2, stride: 1, pad: 0}\n    - {type: flatten}"
    )
    write(tmp_path / "spec.yaml", text)
    result = run_cli("validate", "spec.yaml")
    assert result.returncode == 0, result.stderr
