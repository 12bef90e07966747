"""The generic training loop: batches, the spec's estimator and optimizer, log points."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
            batch = rng.choice(data.samples, settings["batch_size"])
            x, t = data.x[batch], data.t[batch]
            optimizer.update(network.params, network.gradient(x, t))
            loss = network.loss(x, t) if logged else None
        except ToolkitError:
            raise
        except Exception as error:
            raise RunError(f"iteration {iteration}: {_describe(error)}") from error
        if logged:
            record = {"iteration": iteration, "loss": loss, "seconds": time.perf_counter() - start}
            result.history.append(record)
            if on_log:
                on_log(record)
    result.seconds = time.perf_counter() - start
    return result


def _describe(error: Exception) -> str:
    """``ValueError: ... (raised at file.py:12)``."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
