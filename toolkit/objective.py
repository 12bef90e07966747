"""What a gradient estimator differentiates: a network's loss on one batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .network import Network

__all__ = ["Objective"]


class Objective:
    """The loss on a fixed batch as a function of the network's live parameters.

    ``params`` is the network's own dict: an estimator that changes an element
    changes the network, and must restore it before returning.
    """

    def __init__(self, network: Network, x: np.ndarray, t: np.ndarray) -> None:
        self.network = network
        self.x = x
        self.t = t

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.network.params

    def loss(self) -> float:
        """The loss at the parameters' current values."""
        return self.network.loss(self.x, self.t)
