"""Everything a run needs to continue exactly where it stopped, saved to one file.

A checkpoint holds the iteration, the parameters, the optimizer's state, both
generators' states (the batch draws' and the estimators'), what the gradient engines
have learned about the network, and the metrics so far. It is an ``.npz`` file read
with ``allow_pickle=False``: arrays, and one JSON text for everything else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import interpolation, perturbation
from .errors import RunError, UsageError
from .network import Network
from .npzfile import NpzError, read_npz
from .rng import Rng

__all__ = ["FORMAT", "Checkpoint", "capture", "load_checkpoint", "restore"]

FORMAT = 1
"""Checkpoint format version, stored in the file."""
_META = "meta.json"
_PARAM = "param/"
_OPTIMIZER = "optimizer/"

Record = dict[str, Any]


@dataclass
class Checkpoint:
    """A run's state after ``iteration`` iterations."""

    iteration: int
    params: dict[str, np.ndarray]
    optimizer: dict[str, Any]
    batch_rng: dict[str, Any]
    estimator_rng: dict[str, Any]
    engines: dict[str, Any]
    history: list[Record] = field(default_factory=list)
    seconds: float = 0.0
    reference_loss: float | None = None  # where the run started, for the divergence guard
    spec: dict[str, Any] = field(default_factory=dict)  # the resolved spec the run used

    def arrays(self) -> dict[str, np.ndarray]:
        """The checkpoint as named arrays for ``np.savez``."""
        arrays = {f"{_PARAM}{key}": value for key, value in self.params.items()}
        plain: dict[str, Any] = {}
        for attribute, value in self.optimizer.items():
            if isinstance(value, np.ndarray):
                arrays[f"{_OPTIMIZER}{attribute}"] = value
            elif isinstance(value, dict):
                plain[attribute] = {"arrays": sorted(value)}
                for key, array in value.items():
                    arrays[f"{_OPTIMIZER}{attribute}/{key}"] = array
            else:
                plain[attribute] = {"value": value}
        meta = {
            "format": FORMAT,
            "iteration": self.iteration,
            "params": list(self.params),
            "optimizer": plain,
            "batch_rng": self.batch_rng,
            "estimator_rng": self.estimator_rng,
            "engines": self.engines,
            "history": self.history,
            "seconds": self.seconds,
            "reference_loss": self.reference_loss,
            "spec": self.spec,
        }
        arrays[_META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        return arrays


def capture(
    iteration: int,
    network: Network,
    optimizer: object,
    rng: Rng,
    history: list[Record],
    seconds: float,
) -> Checkpoint:
    """The run's state now (copies, so the run can go on)."""
    return Checkpoint(
        iteration=iteration,
        params={key: value.copy() for key, value in network.params.items()},
        optimizer=_optimizer_state(optimizer),
        batch_rng=_rng_state(rng),
        estimator_rng=_rng_state(network.rng),
        engines={
            "interpolation": interpolation.export_state(network),
            "perturbation": perturbation.export_state(network),
        },
        history=[dict(record) for record in history],
        seconds=seconds,
    )


def restore(checkpoint: Checkpoint, network: Network, optimizer: object, rng: Rng) -> None:
    """Put a checkpoint's state into a freshly assembled run."""
    fits = set(checkpoint.params) == set(network.params) and all(
        network.params[key].shape == value.shape for key, value in checkpoint.params.items()
    )
    if not fits:
        raise UsageError(
            "the checkpoint's parameters do not fit the spec's network; was spec.yaml "
            "edited after the run started?"
        )
    for key, value in checkpoint.params.items():
        network.params[key][...] = value
    _set_optimizer_state(optimizer, checkpoint.optimizer)
    try:
        _set_rng_state(rng, checkpoint.batch_rng)
        _set_rng_state(network.rng, checkpoint.estimator_rng)
    except (KeyError, TypeError, ValueError, IndexError):
        raise UsageError(
            "the checkpoint's generator states do not fit the spec's rng; was spec.yaml "
            "edited after the run started?"
        ) from None
    interpolation.import_state(network, checkpoint.engines.get("interpolation", {}))
    perturbation.import_state(network, checkpoint.engines.get("perturbation", {}))


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by ``RunDirectory.save_checkpoint``."""
    path = Path(path)
    try:
        arrays = read_npz(path, numbers="biufc")
        meta = json.loads(arrays.pop(_META).tobytes().decode())
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')}, expected {FORMAT}")
        return _checkpoint(meta, arrays)
    except NpzError as error:  # refused before anything was read in full
        raise UsageError(
            f"{path}: not a readable checkpoint ({error.problem}); remove it to start the run again"
        ) from None
    except Exception as error:  # truncated, corrupt, or not a checkpoint at all
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise UsageError(
            f"{path}: not a readable checkpoint ({reason}); remove it to start the run again"
        ) from None


def _checkpoint(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Checkpoint:
    optimizer: dict[str, Any] = {}
    for attribute, saved in meta["optimizer"].items():
        if "arrays" in saved:
            optimizer[attribute] = {
                key: arrays[f"{_OPTIMIZER}{attribute}/{key}"] for key in saved["arrays"]
            }
        else:
            optimizer[attribute] = saved["value"]
    for key in arrays:
        name = key[len(_OPTIMIZER) :]
        if key.startswith(_OPTIMIZER) and "/" not in name:
            optimizer[name] = arrays[key]
    return Checkpoint(
        iteration=int(meta["iteration"]),
        params={key: arrays[f"{_PARAM}{key}"] for key in meta["params"]},
        optimizer=optimizer,
        batch_rng=dict(meta["batch_rng"]),
        estimator_rng=dict(meta["estimator_rng"]),
        engines=dict(meta["engines"]),
        history=list(meta["history"]),
        seconds=float(meta["seconds"]),
        reference_loss=meta.get("reference_loss"),
        spec=dict(meta.get("spec") or {}),
    )


def _optimizer_state(optimizer: object) -> dict[str, Any]:
    """The optimizer's attributes: numbers, text, None, arrays, or dicts of arrays.

    An optimizer with other state gives ``state_dict()`` and ``load_state_dict(state)``
    returning and taking such a mapping.
    """
    state_dict = getattr(optimizer, "state_dict", None)
    state = dict(state_dict()) if callable(state_dict) else dict(vars(optimizer))
    for attribute, value in state.items():
        if not _portable(value):
            raise RunError(
                f"optimizer {type(optimizer).__name__}: attribute '{attribute}' "
                f"({type(value).__name__}) cannot be saved in a checkpoint; keep state in "
                "numbers, arrays or dicts of arrays, or give the optimizer state_dict() and "
                "load_state_dict()"
            )
    return {
        key: (np.array(value) if isinstance(value, np.ndarray) else _copied(value))
        for key, value in state.items()
    }


def _copied(value: Any) -> Any:
    """A copy of a state value that shares no array with the original."""
    if isinstance(value, np.ndarray):
        return np.array(value)
    if isinstance(value, dict):
        return {key: np.array(array) for key, array in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def _portable(value: Any) -> bool:
    """Numbers, text, None, arrays of numbers, or dicts of arrays of numbers by name."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biufc"
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return True
    return isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(array, np.ndarray) and _portable(array)
        for key, array in value.items()
    )


def _set_optimizer_state(optimizer: object, state: Mapping[str, Any]) -> None:
    load_state_dict = getattr(optimizer, "load_state_dict", None)
    if callable(load_state_dict):
        load_state_dict({key: _copied(value) for key, value in state.items()})
        return
    for attribute, value in state.items():
        setattr(optimizer, attribute, _copied(value))  # the checkpoint stays as it was


def _rng_state(rng: Rng) -> dict[str, Any]:
    """A generator's state as JSON-ready values."""
    if isinstance(rng, np.random.RandomState):
        name, keys, position, has_gauss, cached = rng.get_state(legacy=True)
        return {"legacy": [name, [int(key) for key in keys], int(position), int(has_gauss), cached]}
    return {"bit_generator": _jsonable(rng.bit_generator.state)}


def _set_rng_state(rng: Rng, state: Mapping[str, Any]) -> None:
    if isinstance(rng, np.random.RandomState):
        name, keys, position, has_gauss, cached = state["legacy"]
        rng.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    else:
        rng.bit_generator.state = state["bit_generator"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value
