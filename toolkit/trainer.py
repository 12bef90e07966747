"""The generic training loop: batches, the spec's estimator and optimizer, log points."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .assembly import Assembly, SpecLike, as_spec, assemble, call_part
from .errors import RunError, ToolkitError
from .network import Network
from .spec import Spec

__all__ = ["TrainResult", "train"]

Record = dict[str, Any]


@dataclass
class TrainResult:
    """What a run leaves: one record per log point, the trained network, the spec."""

    spec: Spec
    network: Network
    history: list[Record] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_loss(self) -> float | None:
        """The loss at the last log point."""
        return self.history[-1]["loss"] if self.history else None


def train(
    spec: SpecLike,
    *,
    on_start: Callable[[Assembly], None] | None = None,
    on_log: Callable[[Record], None] | None = None,
) -> TrainResult:
    """Train the network a spec describes.

    ``on_start`` is called once everything is assembled, before the first iteration;
    ``on_log`` with each log point's record.

    Each iteration draws a batch (``rng.choice(samples, batch_size)``), computes every
    gradient, then updates. At every ``log_every``-th iteration (and the last) it records
    the loss on that iteration's batch, after the update.
    """
    spec = as_spec(spec)
    start = time.perf_counter()
    assembly = assemble(spec)
    network, data, rng = assembly.network, assembly.data, assembly.rng
    optimizer = call_part(spec, ("optimizer",), "optimizer")
    settings = spec.config["train"]
    result = TrainResult(spec, network)
    if on_start:
        on_start(assembly)
    for iteration in range(1, settings["iterations"] + 1):
        logged = iteration % settings["log_every"] == 0 or iteration == settings["iterations"]
        try:
            with np.errstate(all="ignore"):  # a non-finite result is reported below instead
                batch = rng.choice(data.samples, settings["batch_size"])
                x, t = data.x[batch], data.t[batch]
                optimizer.update(network.params, network.gradient(x, t))
                loss = network.loss(x, t) if logged else None
        except ToolkitError:
            raise
        except Exception as error:
            raise RunError(f"iteration {iteration}: {_describe(error)}") from error
        _stop_if_not_finite(iteration, network, loss)
        if logged:
            record = {"iteration": iteration, "loss": loss, "seconds": time.perf_counter() - start}
            result.history.append(record)
            if on_log:
                on_log(record)
    result.seconds = time.perf_counter() - start
    return result


def _stop_if_not_finite(iteration: int, network: Network, loss: float | None) -> None:
    """Stop the run where the parameters or the loss stop being numbers."""
    broken = [key for key, value in network.params.items() if not np.all(np.isfinite(value))]
    if not broken and (loss is None or np.isfinite(loss)):
        return
    what = f"parameters {', '.join(broken)} became nan or infinite" if broken else f"loss is {loss}"
    raise RunError(
        f"iteration {iteration}: the {what}; try a smaller optimizer.learning_rate, and check "
        "that the output layer's activation suits the loss (cross_entropy needs probabilities, "
        "as from softmax)"
    )


def _describe(error: Exception) -> str:
    """``ValueError: ... (raised at file.py:12)``."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
