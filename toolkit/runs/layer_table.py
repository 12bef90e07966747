"""What each layer of a network is: its type, the shape of the samples it gives, its
parameters (named and shaped) and their count, and its running state, as ``toolkit
validate`` prints them and a Python user can read them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..model.layers import Shape
from ..model.network import Network
from .build import SpecLike, build

__all__ = ["LayerRow", "layer_rows", "layer_table"]


@dataclass(frozen=True)
class LayerRow:
    """One layer: its number (from 1, in spec order), its type's name, its nonlinearity's
    name (``-`` for none), the shape of each sample it gives, its parameters and running
    state by name with their shapes, and how many numbers its parameters hold."""

    number: int
    type: str
    activation: str
    output_shape: Shape
    params: tuple[tuple[str, Shape], ...]
    state: tuple[tuple[str, Shape], ...]

    @property
    def count(self) -> int:
        """How many numbers its parameters hold (its state is not counted)."""
        return sum(math.prod(shape) for _, shape in self.params)


def layer_rows(network: Network) -> list[LayerRow]:
    """A row for each of ``network``'s layers, in order."""
    rows = []
    for number, layer in enumerate(network.layers, start=1):
        activation = layer.activation
        rows.append(
            LayerRow(
                number,
                layer.type_name or type(layer).__name__,
                activation.name if activation is not None else "-",
                tuple(layer.output_shape),
                tuple((name, tuple(network.params[name].shape)) for name in layer.params),
                tuple((name, tuple(network.state[name].shape)) for name in layer.state),
            )
        )
    return rows


def layer_table(spec: SpecLike) -> list[LayerRow]:
    """The rows of the network a spec builds (a spec file, a mapping or a loaded spec)."""
    return layer_rows(build(spec))
