"""specs/digits_convnet.yaml: the book's SimpleConvNet shape on the 8x8 digits validates,
names and shapes its parameters as the book does, learns in a short run, and its backprop
gradient is the loss's slope."""

from __future__ import annotations

import numpy as np
import pytest

import toolkit
from tests.helpers import SPECS
from toolkit.cli import main

SPEC = SPECS / "digits_convnet.yaml"


def test_validate_accepts_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SPEC)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("valid")


def test_its_layers_are_simple_convnets_in_the_books_order() -> None:
    """conv - relu - pool - affine - relu - affine - softmax, behind a reshape to one channel."""
    layers = toolkit.load_spec(SPEC).config["model"]["layers"]
    assert [layer["type"] for layer in layers] == [
        "reshape",
        "conv2d",
        "max_pool",
        "flatten",
        "dense",
        "dense",
    ]
    activations = [layers[i]["activation"]["name"] for i in (1, 4, 5)]
    assert activations == ["relu", "relu", "softmax"]


def test_parameter_shapes_follow_simple_convnets_formulas() -> None:
    """W1 (filter_num, 1, size, size); W2 has filter_num * (conv_output_size / 2)**2 rows, where
    conv_output_size = (input_size - filter_size + 2 * pad) / stride + 1 (the book's lines)."""
    spec = toolkit.load_spec(SPEC)
    conv = spec.config["model"]["layers"][1]
    hidden, classes = (spec.config["model"]["layers"][i]["units"] for i in (4, 5))
    filter_num, filter_size, pad, stride = (conv[k] for k in ("filters", "kernel", "pad", "stride"))
    conv_output_size = (8 - filter_size + 2 * pad) / stride + 1
    network = toolkit.build(spec)
    shapes = {name: array.shape for name, array in network.params.items()}
    assert shapes == {
        "W1": (filter_num, 1, filter_size, filter_size),
        "b1": (filter_num,),
        "W2": (int(filter_num * (conv_output_size / 2) * (conv_output_size / 2)), hidden),
        "b2": (hidden,),
        "W3": (hidden, classes),
        "b3": (classes,),
    }


@pytest.mark.long
def test_a_short_run_learns_well_above_chance() -> None:
    """300 of its iterations: test accuracy far above chance (1/10) and the loss falling."""
    spec = toolkit.load_spec(SPEC, ["train.iterations=300", "train.log_every=300"])
    records: list[dict[str, float]] = []
    toolkit.train(spec, on_log=lambda record: records.append(dict(record)))
    first, last = records[0], records[-1]
    assert last["iteration"] == 300
    assert last["test_accuracy"] >= 0.9
    assert last["test_loss"] < 0.5 * first["test_loss"]


def test_backprop_through_the_network_is_the_slope_of_its_loss() -> None:
    """dL/dW1 and dL/db1 (through softmax, both dense layers, the flatten, max_pool, relu and
    the convolution) against central differences of the loss at h = 1e-6, on 8 samples."""
    spec = toolkit.load_spec(SPEC, ["model.layers.1.filters=4", "model.layers.4.units=12"])
    network = toolkit.build(spec)
    rng = np.random.default_rng(9)
    network.params["b1"] = rng.uniform(-0.1, 0.1, 4)  # off relu's kink for blank patches
    x = rng.uniform(0.0, 1.0, (8, 64))
    t = np.eye(10)[rng.integers(0, 10, 8)]
    grads = network.gradient(x, t, "backprop")
    for name in ("W1", "b1"):
        array = network.params[name]
        slope = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            kept = array[index]
            array[index] = kept + 1e-6
            up = network.loss(x, t, train=True)
            array[index] = kept - 1e-6
            down = network.loss(x, t, train=True)
            array[index] = kept
            slope[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grads[name], slope, rtol=1e-5, atol=1e-8)
