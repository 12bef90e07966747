"""Weight decay reaches every weight, a conv2d's included; a single sample runs through any
layer stack as a batch of one."""

from __future__ import annotations

import numpy as np

import toolkit

CONV = {
    "name": "conv_bn",
    "seed": 3,
    "data": {"name": "random", "samples": 20, "features": 64, "classes": 4},
    "model": {
        "layers": [
            {"type": "reshape", "shape": [1, 8, 8]},
            {"type": "conv2d", "filters": 2, "kernel": 3, "activation": "tanh", "init": "he"},
            {"type": "batchnorm"},
            {"type": "dropout", "rate": 0.3},
            {"type": "flatten"},
            {"units": 4, "activation": "softmax"},
        ]
    },
    "gradient": "backprop",
    "optimizer": {"name": "sgd", "learning_rate": 0.5},
    "train": {"iterations": 1, "batch_size": 5, "log_every": 1},
}


def trained(decay: float) -> dict[str, np.ndarray]:
    spec = {**CONV, "train": {**CONV["train"], "weight_decay": decay}}
    return toolkit.train(spec).network.params


def test_weight_decay_moves_every_weight_and_nothing_else() -> None:
    """One SGD step with decay is the step without it less lr * decay * W (the book's
    0.5 * decay * sum(W**2) term), for the conv2d's W1 and the dense W2; biases, gamma
    and beta are not decayed."""
    start = toolkit.build(CONV).params
    plain, decayed = trained(0.0), trained(0.2)
    for name in start:
        expected = plain[name] - 0.5 * 0.2 * start[name] if name.startswith("W") else plain[name]
        np.testing.assert_allclose(decayed[name], expected, rtol=0, atol=1e-12, err_msg=name)
    assert not np.array_equal(decayed["W1"], plain["W1"])


def test_a_single_sample_is_predicted_as_a_batch_of_one() -> None:
    """predict on one 64-pixel row gives the row of predict on a batch of that one row, in
    both modes (batchnorm's per-unit statistics and dropout's mask take a batch axis)."""
    network = toolkit.build(CONV)
    x = np.random.default_rng(0).random(64)
    one = network.predict(x)
    assert one.shape == (4,)
    np.testing.assert_array_equal(one, network.predict(x[None])[0])
    assert network.predict(x, train=True).shape == (4,)
