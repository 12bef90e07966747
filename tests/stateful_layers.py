"""Two small layer types, written by the tests as a plugin module: one that keeps running
state (``centre``) and one that draws per training batch (``mask``), and a spec using them.

``centre``: in training, each feature less its mean over the batch; in evaluation, less
its running mean, which moves a tenth of the way to each training batch's mean.
``mask``: in training ``x * (U[0,1) > rate)``, the mask drawn once per batch; in
evaluation ``x * (1 - rate)``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.helpers import write

MODULE = "stateful_layers_plugin"
"""The plugin module's name (``-p stateful_layers_plugin``)."""

SOURCE = """
import numpy as np

from toolkit import Layer, ParamSpec, Part, Step, hookimpl


class Centre(Layer):
    @property
    def mixes_samples(self):
        return True

    def state_specs(self):
        return (ParamSpec("running_mean", self.input_shape, 0.0),)

    def forward(self, x, params, mode):
        if mode.train:
            mean = x.mean(axis=x.ndim - 1 - len(self.input_shape), keepdims=True)
        else:
            mean = mode.state[self.state_names["running_mean"]]
        return Step(x, x - mean, x - mean)

    def next_state(self, step, state):
        name = self.state_names["running_mean"]
        return {name: 0.9 * state[name] + 0.1 * step.input.mean(axis=0)}


class Mask(Layer):
    def __init__(self, input_shape, rate):
        super().__init__(input_shape)
        self.rate = rate

    def draw(self, rng, batch):
        return rng.random((batch, *self.input_shape)) > self.rate

    def forward(self, x, params, mode):
        y = x * mode.noise if mode.train else x * (1.0 - self.rate)
        return Step(x, y, y)


@hookimpl
def toolkit_layers():
    return {
        "centre": Part(lambda input_shape: Centre(input_shape)),
        "mask": Part(lambda input_shape, rate=0.5: Mask(input_shape, rate)),
    }
"""

SPEC = """
name: stateful
seed: 3
rng: {rng}
data: {{name: random, samples: {samples}, features: {features}, classes: 4}}
model:
  layers:
    - {{units: {units}, activation: sigmoid, init: {{name: uniform, scale: 0.3}}}}
    - {{type: centre}}
    - {{type: mask, rate: 0.3}}
    - {{units: 4, activation: softmax, init: {{name: uniform, scale: 0.3}}}}
loss: cross_entropy
gradient: central_difference_loop
optimizer: {{name: sgd, learning_rate: 0.5}}
train: {{iterations: {iterations}, batch_size: 8, log_every: 5}}
"""


def write_plugin(folder: Path) -> Path:
    """Write the plugin module into ``folder`` (on the import path, or the command's folder)."""
    return write(folder / f"{MODULE}.py", textwrap.dedent(SOURCE))


def write_spec(
    folder: Path,
    *,
    iterations: int = 20,
    rng: str = "default",
    samples: int = 40,
    features: int = 6,
    units: int = 5,
) -> Path:
    """A spec of dense (sigmoid), centre, mask, dense (softmax) on random data."""
    text = SPEC.format(
        iterations=iterations, rng=rng, samples=samples, features=features, units=units
    )
    return write(folder / "stateful.yaml", text)
