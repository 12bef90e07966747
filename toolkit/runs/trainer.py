"""The generic training loop: batches, the spec's estimator and optimizer, log points."""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..base.errors import RunError, ToolkitError, UsageError
from ..base.wording import one_line
from ..model.blame import non_finite_cause
from ..model.data import Dataset
from ..model.layers import WEIGHT_ROLE
from ..model.network import Network
from ..registry.parts import describe_exit
from ..spec.load import Spec
from ..spec.settings import Train
from .build import Assembly, SpecLike, as_spec, assemble, call_part
from .checkpoint import Checkpoint, capture, restore

__all__ = [
    "CHECKPOINT_SECONDS",
    "TrainResult",
    "check_checkpoint",
    "require_same_spec",
    "spec_change",
    "train",
    "training_loss",
]

Record = dict[str, Any]


@dataclass
class TrainResult:
    """What a run leaves: one record per log point, the trained network, the spec, and
    (for a run that did not resume) ``start``, the record of iteration 0 before any update."""

    spec: Spec
    network: Network
    history: list[Record] = field(default_factory=list)
    seconds: float = 0.0
    start: Record | None = None

    @property
    def final_loss(self) -> float | None:
        """The loss at the last log point."""
        return self.history[-1]["loss"] if self.history else None


def train(
    spec: SpecLike,
    *,
    on_start: Callable[[Assembly], None] | None = None,
    on_log: Callable[[Record], None] | None = None,
    on_iteration: Callable[[int], None] | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
    resume: Checkpoint | None = None,
    stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train the network a spec describes.

    ``on_start`` is called once everything is assembled, before the first iteration;
    ``on_log`` with each log point's record, and first (unless resuming) with the
    starting point's, iteration 0, whose loss and accuracy are on the first batch before
    any update; ``on_iteration`` after each iteration; ``on_checkpoint`` with the run's
    state every ``train.checkpoint_every`` iterations, or where that is unset at the
    first log point and then at a log point once ``CHECKPOINT_SECONDS`` have passed since
    the last checkpoint; and at the end. ``resume`` continues from such a state: the rest
    of the run is then the same, bit for bit, as if it had never stopped. When
    checkpoints happen never changes the numbers. ``stop`` is asked after each
    iteration: once it says yes, the run saves a checkpoint there (with ``on_checkpoint``)
    and raises KeyboardInterrupt.

    Each iteration draws a batch (``rng.choice(samples, batch_size)``), computes every
    gradient, updates, and takes the loss on that batch. At every ``log_every``-th
    iteration (and the last) it records that loss, the accuracy on the batch, the loss
    and accuracy on the held-out split where the data has one, and the seconds since
    the run started. The run stops (RunError) at the first iteration whose loss or
    parameters are not finite, or whose loss is a millionfold where it started.
    ``train.weight_decay`` adds ``0.5 * weight_decay * sum(W**2)`` over the weights to
    the loss (as the book does) and ``weight_decay * W`` to their gradients.
    """
    spec = as_spec(spec)
    start = time.perf_counter()
    assembly = assemble(spec)
    network, data, rng = assembly.network, assembly.data, assembly.rng
    optimizer = call_part(spec, ("optimizer",), "optimizer")
    settings = spec.settings.train
    total = settings.iterations
    result = TrainResult(spec, network)
    first, offset, reference = 1, 0.0, None
    if resume is not None:
        require_same_spec(resume.spec, spec)
        if resume.iteration > total:
            raise UsageError(
                f"train.iterations={total}: the run is already at iteration "
                f"{resume.iteration}; give at least that many"
            )
        restore(resume, network, optimizer, rng, settings=_optimizer_settings(spec))
        result.history = [dict(record) for record in resume.history]
        first, offset, reference = resume.iteration + 1, resume.seconds, resume.reference_loss
    if on_start:
        on_start(assembly)
    objective = _Objective(network, data, settings.weight_decay)
    if on_checkpoint:  # an optimizer whose state can't be saved fails now, not mid-run
        capture(first - 1, network, optimizer, rng, result.history, offset)
    due = _Cadence(settings.checkpoint_every, total, first_log=resume is None)
    for iteration in range(first, total + 1):
        logged = iteration % settings.log_every == 0 or iteration == total
        try:
            with np.errstate(all="ignore"):  # a non-finite result is reported below instead
                batch = rng.choice(data.samples, settings.batch_size)
                x, t = data.x[batch], data.t[batch]
                with network.training(network.draw(rng, len(batch))):
                    if reference is None:
                        reference = objective.loss(x, t)  # where the run starts, for the guard
                        _stop_if_not_finite(iteration, network, x, t, start=True)
                    if iteration == 1:
                        result.start = objective.record(0, x, t, reference)
                        result.start["seconds"] = time.perf_counter() - start
                    grads = objective.gradient(x, t)
                    if not _finite(grads.values()):  # the loss part's nan, before it reaches W?
                        _stop_if_not_finite(iteration, network, x, t, start=False)
                    network.update_state(x)
                    optimizer.update(network.params, grads)
                    loss = objective.loss(x, t)
                    finite = _finite(network.params.values()) and math.isfinite(loss)
                    record = objective.record(iteration, x, t, loss) if logged else None
        except ToolkitError:
            raise
        except MemoryError as error:
            raise _out_of_memory(iteration, iteration == first, settings, error) from None
        except Exception as error:
            raise RunError(f"iteration {iteration}: {_describe(error)}") from error
        except SystemExit as exit:  # a part (or the optimizer's code) that ends the process
            raise RunError(f"iteration {iteration}: {describe_exit(exit)}") from exit
        if iteration == 1 and on_log and result.start is not None:
            on_log(result.start)
        _stop_if_diverged(iteration, network, loss, reference, (x, t), finite)
        seconds = offset + time.perf_counter() - start
        if record is not None:
            record["seconds"] = seconds
            result.history.append(record)
            if on_log:
                on_log(record)
        if on_iteration:
            on_iteration(iteration)
        stopping = stop is not None and stop() and iteration < total
        if on_checkpoint and (due(iteration, logged) or stopping):
            state = capture(iteration, network, optimizer, rng, result.history, seconds)
            state.reference_loss, state.spec = reference, _plain(spec.config)
            on_checkpoint(state)
            due.saved()
        if stopping:
            raise KeyboardInterrupt
    result.seconds = time.perf_counter() - start
    return result


CHECKPOINT_SECONDS = 5.0
"""Where ``train.checkpoint_every`` is unset, the least time between two checkpoints."""


class _Cadence:
    """When a checkpoint is due: every ``every`` iterations, or where that is None at the
    first log point (of a run that did not resume) and at each log point once
    ``CHECKPOINT_SECONDS`` have passed since the last checkpoint; always at the end."""

    def __init__(self, every: int | None, total: int, *, first_log: bool) -> None:
        self.every, self.total = every, total
        self.last = -math.inf if first_log else time.monotonic()

    def __call__(self, iteration: int, logged: bool) -> bool:
        if iteration == self.total:
            return True
        if self.every is not None:
            return iteration % self.every == 0
        return logged and time.monotonic() - self.last >= CHECKPOINT_SECONDS

    def saved(self) -> None:
        self.last = time.monotonic()


class _Objective:
    """The trained loss: the network's, plus the weight decay term; and the records."""

    def __init__(self, network: Network, data: Dataset, weight_decay: float) -> None:
        self.network, self.data, self.weight_decay = network, data, weight_decay
        self.weights = _weights(network)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        grads = self.network.gradient(x, t)
        if self.weight_decay:
            for key in self.weights:
                grads[key] = grads[key] + self.weight_decay * self.network.params[key]
        return grads

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """The training loss on the batch, in training mode (the pass under way)."""
        return training_loss(self.network, x, t, self.weight_decay, train=True)

    def record(self, iteration: int, x: np.ndarray, t: np.ndarray, loss: float) -> Record:
        """The log point's metrics, on the batch and on the held-out split if any."""
        record: Record = {
            "iteration": iteration,
            "loss": loss,
            "accuracy": self.network.accuracy(x, t),
        }
        data = self.data
        if data.x_test is not None and data.t_test is not None:
            record["test_loss"] = training_loss(
                self.network, data.x_test, data.t_test, self.weight_decay, train=False
            )
            record["test_accuracy"] = self.network.accuracy(data.x_test, data.t_test)
        return record


def check_checkpoint(spec: SpecLike, checkpoint: Checkpoint) -> None:
    """Refuse (UsageError) a checkpoint that the spec's run could not resume from: one
    made with another spec, or damaged (see ``restore``)."""
    spec = as_spec(spec)
    require_same_spec(checkpoint.spec, spec)
    assembly = assemble(spec)
    optimizer = call_part(spec, ("optimizer",), "optimizer")
    settings = _optimizer_settings(spec)
    restore(checkpoint, assembly.network, optimizer, assembly.rng, settings=settings)


def _optimizer_settings(spec: Spec) -> list[str]:
    """The names of the optimizer's settings: the spec is the truth for them."""
    return list(spec.settings.optimizer.settings)


def training_loss(
    network: Network, x: np.ndarray, t: np.ndarray, weight_decay: float, *, train: bool = False
) -> float:
    """The loss a run reports: the network's (in training mode if ``train``, with the draws
    of the pass under way), plus ``0.5 * weight_decay * sum(W**2)``."""
    loss = network.loss(x, t, train=train)
    if weight_decay:
        squares = sum(float(np.sum(network.params[key] ** 2)) for key in _weights(network))
        loss += 0.5 * weight_decay * squares
    return loss


def _weights(network: Network) -> list[str]:
    """The parameters weight decay applies to, as the book's: every weight ``W{k}`` (a
    dense or a conv2d layer's), never a bias, a batchnorm's gamma or beta."""
    return [layer.names[WEIGHT_ROLE] for layer in network.layers if WEIGHT_ROLE in layer.names]


def _plain(config: Any) -> Any:
    """The resolved spec as JSON values, as a checkpoint keeps it."""
    return json.loads(json.dumps(config))


def require_same_spec(saved: dict[str, Any], spec: Spec) -> None:
    """A checkpoint continues only the spec it was made with; only its length
    (``train.iterations``) may differ."""
    where = spec_change(saved, spec.config) if saved else ""
    if where:
        raise UsageError(
            f"{one_line(where)} differs from the spec the run was started with; "
            "a resumed run must keep its spec.yaml as it was (start a new run for a new spec)"
        )


def spec_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Where a resolved spec changed, its length (``train.iterations``) aside: the first
    key path that differs, "the spec" if none can be named, or "" for no change."""
    old, new = _any_length(_plain(before)), _any_length(_plain(after))
    return "" if old == new else _first_difference(old, new) or "the spec"


def _any_length(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved spec (as JSON values) with ``train.iterations`` left out."""
    train = config.get("train", {})
    if not isinstance(train, dict):  # a damaged checkpoint's: differs as it is
        return config
    train = {key: value for key, value in train.items() if key != "iterations"}
    return {**config, "train": train}


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    """The first key path where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}".lstrip("."))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (left, right) in enumerate(zip(a, b, strict=True)):
            if left != right:
                return _first_difference(left, right, f"{path}[{index}]")
    return path


DIVERGED = 1e6
"""A loss this many times above where the run started (or above 1e6, from a loss under
1) has diverged."""


def _finite(arrays: Iterable[np.ndarray]) -> bool:
    """Whether every element is finite, tested through sums (nan or inf if any element is,
    or where huge finite ones add up to inf: then each is looked at). Call it where numpy's
    overflow warnings are off."""
    arrays = list(arrays)
    if all(math.isfinite(float(value.sum())) for value in arrays):  # real: checked by Network
        return True
    return all(np.isfinite(value).all() for value in arrays)


def _stop_if_not_finite(
    iteration: int, network: Network, x: np.ndarray, t: np.ndarray, *, start: bool
) -> None:
    """Stop the run, naming the part or setting, where the forward pass or the loss part
    turns finite numbers into nan or inf (see ``toolkit.model.blame``)."""
    cause = non_finite_cause(network, x, t, start=start)
    if isinstance(cause, UsageError):  # the spec's starting point: no iteration to name
        raise cause
    if cause is not None:
        raise RunError(f"iteration {iteration}: {cause}")


def _stop_if_diverged(
    iteration: int,
    network: Network,
    loss: float,
    reference: float | None,
    batch: tuple[np.ndarray, np.ndarray],
    finite: bool,
) -> None:
    """Stop the run where the parameters or the loss stop being numbers (``finite`` says
    whether all are), or the loss grows a millionfold."""
    limit = math.inf if reference is None else DIVERGED * max(1.0, abs(reference))
    if finite and abs(loss) <= limit:
        return
    broken = [key for key, value in network.params.items() if not np.isfinite(value).all()]
    if broken:
        what = f"parameters {', '.join(broken)} became nan or infinite"
    elif not np.isfinite(loss):
        _stop_if_not_finite(iteration, network, *batch, start=False)  # a part's doing?
        what = f"loss is {loss}"
    elif abs(loss) > limit:
        what = f"loss grew from {reference:.4g} to {loss:.4g}"
    else:
        return
    raise RunError(
        f"iteration {iteration}: the {what}; try a smaller optimizer.learning_rate, and check "
        "that the output layer's activation suits the loss"
    )


def _out_of_memory(
    iteration: int, first: bool, settings: Train, error: MemoryError
) -> ToolkitError:
    """The run's sizes don't fit in memory: the spec's fault (exit 2) if its first iteration
    failed, else the machine's (exit 1); either way, what to make smaller."""
    message = (
        f"iteration {iteration}: out of memory ({error}); lower train.batch_size (now "
        f"{settings.batch_size}) or the layers' units"
    )
    return UsageError(message) if first else RunError(message + ", or free memory")


def _describe(error: Exception) -> str:
    """``ValueError: ... (raised at file.py:12)``."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
