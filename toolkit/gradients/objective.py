"""What a gradient estimator differentiates: a network's loss on one batch."""

from __future__ import annotations

import numpy as np

from ..model.forward import Forward
from ..model.network import Network
from .interpolation import interpolated_differences
from .perturbation import perturbed_losses, plain_perturbed_losses

__all__ = ["Objective"]


class Objective:
    """The loss on a fixed batch as a function of the network's parameters.

    ``params`` is the network's own dict: an estimator that changes an element
    changes the network, and must restore it before returning. ``central_differences``
    and ``losses_at`` answer many single-element perturbations at once, as fast as the
    network's parts allow, without touching the parameters. ``rng`` is a generator for estimators
    that draw (seeded from the run, separate from its batch draws).
    """

    def __init__(
        self,
        network: Network,
        x: np.ndarray,
        t: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.network = network
        self.x = x
        self.t = t
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self._interpolated: (
            tuple[tuple[float, np.ndarray, np.ndarray], np.ndarray, dict[str, np.ndarray]] | None
        ) = None

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The network's live parameter arrays."""
        return self.network.params

    def loss(self) -> float:
        """The loss at the parameters' current values."""
        return self.network.loss(self.x, self.t, train=None)

    def losses_at(self, name: str, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The loss with ``params[name].flat[i]`` set to ``v``, for each ``(i, v)`` in turn.

        Values may be complex where the parts accept complex input.
        """
        return perturbed_losses(self.network, self.x, self.t, name, indices, values)

    def plain_losses_at(self, name: str, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The same as ``losses_at``, one full forward pass per perturbation (the reference)."""
        return plain_perturbed_losses(self.network, self.x, self.t, name, indices, values)

    def central_differences(
        self, name: str, indices: np.ndarray, h: float, *, plain: bool = False
    ) -> np.ndarray:
        """``(f(v + h) - f(v - h)) / 2h`` at each flat index of ``params[name]``.

        Interpolated exactly where the parts allow (see ``toolkit.gradients.interpolation``), else
        from ``losses_at``; ``plain=True`` evaluates one perturbation at a time: the
        element loop's arithmetic.
        """
        indices = np.asarray(indices, dtype=np.intp)
        if not plain:
            whole = self._interpolated_differences(name, h)
            if whole is not None:
                return np.asarray(whole.reshape(-1)[indices])
        values = self.params[name].reshape(-1)[indices]
        both = np.concatenate([indices, indices]), np.concatenate([values + h, values - h])
        losses = self.plain_losses_at(name, *both) if plain else self.losses_at(name, *both)
        count = len(indices)
        return np.asarray((losses[:count] - losses[count:]) / (2 * h))

    def _interpolated_differences(self, name: str, h: float) -> np.ndarray | None:
        """All of ``params[name]``'s central differences, or None where parts don't allow.

        Every layer that can be is computed at the first request; the rest are kept for
        later requests while the parameters (their values: an estimator may change them in
        place between requests), the batch and h stay as they were.
        """
        kept = self._interpolated
        if kept is None or not self._same_batch(kept[0], h) or not self._unchanged(kept[1]):
            snapshot = self._flat_params()  # before: the engine restores what it changes
            grads = interpolated_differences(self.network, self.x, self.t, self.forward, h)
            kept = self._interpolated = ((h, self.x, self.t), snapshot, grads)
        return kept[2].get(name)

    def _same_batch(self, key: tuple[float, np.ndarray, np.ndarray], h: float) -> bool:
        """Whether kept differences were for this h and these very batch arrays."""
        return key[0] == h and key[1] is self.x and key[2] is self.t

    def _unchanged(self, snapshot: np.ndarray) -> bool:
        """Whether every parameter still holds the values ``snapshot`` took (NaN where it
        took NaN), compared array by array without a copy."""
        start = 0
        for value in self.params.values():
            flat = value.reshape(-1)
            taken = snapshot[start : start + flat.size]
            if taken.size != flat.size or not np.array_equal(flat, taken, equal_nan=True):
                return False
            start += flat.size
        return start == snapshot.size

    def _flat_params(self) -> np.ndarray:
        """Every parameter's values, flattened and joined in the dict's order (a copy)."""
        return np.concatenate([value.reshape(-1) for value in self.params.values()])

    def forward(self) -> Forward:
        """The forward pass on the batch, keeping every layer's input, pre-activation, output."""
        return self.network.forward(self.x)
