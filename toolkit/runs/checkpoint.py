"""Everything a run needs to continue exactly where it stopped, saved to one file.

A checkpoint holds the iteration, the parameters, the network's running state (batch
normalization's running statistics; none for most networks), the optimizer's state, both
generators' states (the batch draws' and the estimators'; the batch generator's also covers
the per-batch draws such as dropout masks, drawn from it after each batch), what the
gradient engines have learned about the network, and the metrics so far. It is an ``.npz`` file read
with ``allow_pickle=False``: arrays, and one JSON text for everything else. What it
holds is checked as it is read (``checkpoint_check``) and as it is restored into a run:
a damaged checkpoint is one line, exit 2, before anything of the run changes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import RunError, UsageError
from ..base.npzfile import NpzError, read_npz
from ..base.rng import Rng
from ..base.wording import brief as shown
from ..base.wording import one_line
from ..gradients.state import engine_names, engine_states
from ..model.network import Network
from .checkpoint_check import Damaged, check_arrays, check_meta, finite_number

__all__ = ["FORMAT", "Checkpoint", "capture", "load_checkpoint", "restore"]

FORMAT = 1
"""Checkpoint format version, stored in the file."""
_META = "meta.json"
_PARAM = "param/"
_STATE = "state/"
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
    source: str = field(default="checkpoint", compare=False)  # its file, for messages
    state: dict[str, np.ndarray] = field(default_factory=dict)  # the network's running state

    def arrays(self) -> dict[str, np.ndarray]:
        """The checkpoint as named arrays for ``np.savez``."""
        arrays = {f"{_PARAM}{key}": value for key, value in self.params.items()}
        arrays.update({f"{_STATE}{key}": value for key, value in self.state.items()})
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
        if self.state:  # a network without state: the file is as it always was
            meta["state"] = list(self.state)
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
        state={key: np.array(value) for key, value in network.state.items()},
        optimizer=_optimizer_state(optimizer),
        batch_rng=_rng_state(rng),
        estimator_rng=_rng_state(network.rng),
        engines=engine_states(network).export(network),
        history=[dict(record) for record in history],
        seconds=seconds,
    )


def restore(
    checkpoint: Checkpoint,
    network: Network,
    optimizer: object,
    rng: Rng,
    *,
    settings: Collection[str] = (),
) -> None:
    """Put a checkpoint's state into a freshly assembled run.

    ``settings`` names the optimizer's settings (the spec's ``optimizer`` keys): the
    spec is the truth for those, and a checkpoint whose optimizer holds another value
    is refused, naming the key. A checkpoint that does not fit the run (a parameter or a
    running state array of another name, shape or dtype, optimizer state unlike the
    optimizer's, a generator state of another kind, gradient engine state for another
    network) is a damaged checkpoint.
    """
    try:
        _check_params(checkpoint.params, network)
        _check_state(checkpoint.state, network)
        _check_optimizer(checkpoint.optimizer, _optimizer_state(optimizer), network, settings)
        _set_rng_state(rng, checkpoint.batch_rng)
        _set_rng_state(network.rng, checkpoint.estimator_rng)
        states = engine_states(network)
        for name in engine_names():
            state = checkpoint.engines.get(name)
            if not isinstance(state, Mapping):
                raise Damaged(f"engines.{name} is {shown(state)}, not an object")
            try:
                states.named(name).load(network, state)
            except (ValueError, TypeError) as error:
                raise Damaged(f"engines.{name}: {error}") from None
    except Damaged as error:
        raise damaged(checkpoint.source, str(error)) from None
    for key, value in checkpoint.params.items():
        network.params[key][...] = value
    for key, value in checkpoint.state.items():
        network.state[key] = np.array(value)  # the checkpoint stays as it was
    _set_optimizer_state(optimizer, checkpoint.optimizer)


def damaged(source: str, problem: str) -> UsageError:
    """The one-line error for a checkpoint whose contents are damaged."""
    return UsageError(
        f"{source}: damaged checkpoint ({one_line(problem)}); remove it to start the run again"
    )


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by ``RunDirectory.save_checkpoint``."""
    path = Path(path)
    try:
        arrays = read_npz(path, numbers="biufc")
        meta = json.loads(arrays.pop(_META).tobytes().decode())
        version = meta.get("format", FORMAT) if isinstance(meta, dict) else FORMAT
        if version != FORMAT or type(version) is not int:  # true and 1.0 are == 1
            raise ValueError(f"format {shown(version)}, expected {FORMAT}")
    except NpzError as error:  # refused before anything was read in full
        raise UsageError(
            f"{path}: not a readable checkpoint ({error.problem}); remove it to start the run again"
        ) from None
    except Exception as error:  # truncated, corrupt, or not a checkpoint at all
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise UsageError(
            f"{path}: not a readable checkpoint ({reason}); remove it to start the run again"
        ) from None
    try:
        check_meta(meta)
        check_arrays(meta, arrays)
    except Damaged as error:
        raise damaged(str(path), str(error)) from None
    return _checkpoint(meta, arrays, str(path))


def _checkpoint(meta: dict[str, Any], arrays: dict[str, np.ndarray], source: str) -> Checkpoint:
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
        iteration=meta["iteration"],
        params={key: arrays[f"{_PARAM}{key}"] for key in meta["params"]},
        state={key: arrays[f"{_STATE}{key}"] for key in meta.get("state", [])},
        optimizer=optimizer,
        batch_rng=dict(meta["batch_rng"]),
        estimator_rng=dict(meta["estimator_rng"]),
        engines=dict(meta["engines"]),
        history=list(meta["history"]),
        seconds=float(meta["seconds"]),
        reference_loss=meta["reference_loss"],
        spec=meta["spec"],
        source=source,
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
    """Set a generator's state (checked as the checkpoint was read, or by numpy's setter)."""
    legacy = isinstance(rng, np.random.RandomState)
    kind = "legacy" if legacy else "bit_generator"
    if kind not in state:
        raise Damaged(
            f"a generator state is not for the spec's rng ({'legacy' if legacy else 'default'})"
        )
    try:
        if isinstance(rng, np.random.RandomState):
            name, keys, position, has_gauss, cached = state["legacy"]
            rng.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
        else:
            rng.bit_generator.state = state["bit_generator"]
    except Exception as error:  # numpy's own check of the state
        raise Damaged(f"a generator state is refused: {type(error).__name__}: {error}") from None


def _check_params(params: Mapping[str, np.ndarray], network: Network) -> None:
    """The checkpoint's parameters are the network's: the same names, shapes and dtypes."""
    if set(params) != set(network.params):
        raise Damaged(
            f"its parameters are {', '.join(params) or 'none'}, the spec's network has "
            f"{', '.join(network.params)}"
        )
    for key, value in params.items():
        own = network.params[key]
        if value.shape != own.shape or value.dtype != own.dtype:
            raise Damaged(
                f"parameter '{key}' is {value.dtype} {value.shape}, the spec's network has "
                f"{own.dtype} {own.shape}"
            )


def _check_state(state: Mapping[str, np.ndarray], network: Network) -> None:
    """The checkpoint's running state is the network's: the same names, shapes and dtypes."""
    if set(state) != set(network.state):
        raise Damaged(
            f"its running state is {', '.join(state) or 'none'}, the spec's network has "
            f"{', '.join(network.state) or 'none'}"
        )
    for key, value in state.items():
        own = network.state[key]
        if value.shape != own.shape or value.dtype != own.dtype:
            raise Damaged(
                f"running state '{key}' is {value.dtype} {value.shape}, the spec's network "
                f"has {own.dtype} {own.shape}"
            )


def _check_optimizer(
    saved: Mapping[str, Any],
    fresh: Mapping[str, Any],
    network: Network,
    settings: Collection[str],
) -> None:
    """The checkpoint's optimizer state has the fresh optimizer's attributes, each of a
    kind that fits; its settings are the spec's."""
    for key in fresh:
        if key not in saved:
            raise Damaged(f"its optimizer state has no '{key}'")
    for key, value in saved.items():
        if key not in fresh:
            raise Damaged(f"its optimizer state holds '{key}', which the optimizer has not")
        problem = _unfit(value, fresh[key], network.params)
        if problem:
            raise Damaged(f"optimizer state '{key}' {problem}")
        if key in settings and not _same(value, fresh[key]):
            raise Damaged(
                f"optimizer.{key} is {shown(value)} in it, {shown(fresh[key])} in the spec; "
                "on resume the spec's settings hold"
            )


def _unfit(value: Any, fresh: Any, params: Mapping[str, np.ndarray]) -> str:
    """Why an optimizer state value can't take the place of the fresh optimizer's, or "".

    A fresh array (or dict of arrays) is replaced by one of the same shape and dtype; a
    number by a finite number, text by text, true/false by true/false; a None (state the
    optimizer makes at its first update) by anything, but a dict of arrays that is empty
    or names a parameter holds one array shaped like each parameter, of its dtype.
    """
    if isinstance(fresh, np.ndarray):
        return _unlike(value, fresh)
    if isinstance(fresh, dict):
        if not isinstance(value, dict) or set(value) != set(fresh):
            return f"is not arrays named {', '.join(fresh)}"
        return _first_unlike(value, fresh)
    if fresh is None:  # made at the first update: per parameter, or the optimizer's own
        if isinstance(value, dict) and (not value or set(value) & set(params)):
            if set(value) != set(params):
                return f"is not one array for each of the parameters {', '.join(params)}"
            return _first_unlike(value, params)
        return ""
    fits = type(value) is type(fresh) if isinstance(fresh, (bool, str)) else finite_number(value)
    return "" if fits else f"is {shown(value)}, where the optimizer holds {shown(fresh)}"


def _first_unlike(values: Mapping[str, Any], likes: Mapping[str, np.ndarray]) -> str:
    """``_unlike`` for the first array by name that is unlike its counterpart, or ""."""
    return next(
        (
            _unlike(values[key], like, key)
            for key, like in likes.items()
            if _unlike(values[key], like)
        ),
        "",
    )


def _unlike(value: Any, like: np.ndarray, name: str = "") -> str:
    """Why ``value`` is not an array of ``like``'s shape and dtype, or ""."""
    if isinstance(value, np.ndarray) and value.shape == like.shape and value.dtype == like.dtype:
        return ""
    what = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else shown(value)
    return f"{name + ' ' if name else ''}is {what}, not {like.dtype} {like.shape}"


def _same(a: Any, b: Any) -> bool:
    """Whether two optimizer state values are equal (arrays elementwise)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same(a[key], b[key]) for key in a)
        )
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value
