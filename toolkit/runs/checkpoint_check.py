"""What a checkpoint's contents must be for a run to continue from them.

A checkpoint is damaged when its ``meta.json`` lacks a key the toolkit writes, holds a
value of another type (text where a number belongs, a history that is not a list of
records), contradicts itself (an iteration below its history's last), or its arrays are
not the ones ``meta.json`` names. Each check raises :class:`Damaged` naming the first
such problem, which ``load_checkpoint`` reports as a damaged checkpoint (exit 2).
What depends on the spec (parameter shapes, the optimizer's state, the generator's kind,
the gradient engines' state) is checked by ``restore``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..base.wording import brief as shown
from ..gradients.state import engine_names

__all__ = ["KEYS", "RECORD_KEYS", "Damaged", "check_arrays", "check_meta", "finite_number"]

KEYS = (
    "format",
    "iteration",
    "params",
    "optimizer",
    "batch_rng",
    "estimator_rng",
    "engines",
    "history",
    "seconds",
    "reference_loss",
    "spec",
)
"""The keys of a checkpoint's ``meta.json``; each is written, so each must be there (and
``state``, the running state's names, where the network has any)."""
RECORD_KEYS = ("iteration", "loss", "accuracy", "seconds")
"""What every record of a checkpoint's history holds (besides the test split's)."""
_OPTIMIZER = "optimizer/"  # its arrays: optimizer/NAME (an array) or optimizer/NAME/KEY
_MT_WORDS = 624  # the legacy generator's (MT19937's) state: 624 words and a position in them


class Damaged(ValueError):
    """What is wrong with a checkpoint's contents, in a few words."""


def check_meta(meta: Any) -> None:
    """Raise :class:`Damaged` unless ``meta`` is a checkpoint's ``meta.json`` as written."""
    if not isinstance(meta, dict):
        raise Damaged(f"meta.json holds {_kind(meta)}, not an object")
    missing = [key for key in KEYS if key not in meta]
    if missing:
        raise Damaged(f"meta.json has no '{missing[0]}'")
    iteration = meta["iteration"]
    if not _is_int(iteration) or iteration < 0:
        raise Damaged(f"iteration is {shown(iteration)}, not a whole number >= 0")
    _check_history(meta["history"], iteration)
    seconds = meta["seconds"]
    if not finite_number(seconds) or seconds < 0:
        raise Damaged(f"seconds is {shown(seconds)}, not a number >= 0")
    reference = meta["reference_loss"]
    if reference is not None and not finite_number(reference):
        raise Damaged(f"reference_loss is {shown(reference)}, not a number")
    if not isinstance(meta["spec"], dict):
        raise Damaged(f"spec is {_kind(meta['spec'])}, not an object")
    _check_names("params", meta["params"])
    _check_names("state", meta.get("state", []))
    _check_optimizer(meta["optimizer"])
    for key in ("batch_rng", "estimator_rng"):
        _check_rng(key, meta[key])
    _check_engines(meta["engines"])


def check_arrays(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Raise :class:`Damaged` unless the arrays are exactly those ``meta`` names:
    finite floating-point parameters and running state, and the optimizer's arrays, finite
    too (a run stops before its parameters, which they move, stop being finite)."""
    expected = {f"param/{name}" for name in meta["params"]}
    expected |= {f"state/{name}" for name in meta.get("state", [])}
    for prefix, what, names in (
        ("param/", "parameter", meta["params"]),
        ("state/", "running state", meta.get("state", [])),
    ):
        for name in names:
            _check_number_array(f"{what} '{name}'", arrays.get(f"{prefix}{name}"))
    for attribute, saved in meta["optimizer"].items():
        for key in saved.get("arrays", ()):
            expected.add(f"optimizer/{attribute}/{key}")
            if f"optimizer/{attribute}/{key}" not in arrays:
                raise Damaged(f"optimizer state '{attribute}' has no array '{key}'")
    for name, array in arrays.items():
        attribute = name.removeprefix(_OPTIMIZER)
        if attribute == name:  # not the optimizer's
            if name not in expected:
                raise Damaged(f"array '{name}' is not one meta.json names")
            continue
        if name not in expected and ("/" in attribute or attribute in meta["optimizer"]):
            raise Damaged(f"array '{name}' is not one meta.json names")
        if not np.isfinite(array).all():
            raise Damaged(f"optimizer array '{attribute}' holds nan or infinite values")


def _check_number_array(what: str, array: np.ndarray | None) -> None:
    """A floating-point array of finite values."""
    if array is None:
        raise Damaged(f"{what} has no array")
    if array.dtype.kind != "f":
        raise Damaged(f"{what} holds {array.dtype} values, not floating point")
    if not np.isfinite(array).all():
        raise Damaged(f"{what} holds nan or infinite values")


def _check_history(history: Any, iteration: int) -> None:
    """A list of records: string keys, number values, iterations rising from 1 to at
    most the checkpoint's."""
    if not isinstance(history, list):
        raise Damaged(f"history is {_kind(history)}, not a list of records")
    last = 0
    for index, record in enumerate(history):
        where = f"history[{index}]"
        if not isinstance(record, dict):
            raise Damaged(f"{where} is {_kind(record)}, not a record")
        for key in RECORD_KEYS:
            if key not in record:
                raise Damaged(f"{where} has no '{key}'")
        for key, value in record.items():
            if not finite_number(value):
                raise Damaged(f"{where}.{key} is {shown(value)}, not a number")
        at = record["iteration"]
        if not _is_int(at) or not last < at <= iteration:
            raise Damaged(
                f"{where}.iteration is {shown(at)}; the history's iterations rise from 1 "
                f"to the checkpoint's iteration ({iteration})"
            )
        last = at


def _check_names(key: str, names: Any) -> None:
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise Damaged(f"{key} is {shown(names)}, not a list of names")
    if len(set(names)) != len(names):
        raise Damaged(f"{key} names an array twice")


def _check_optimizer(optimizer: Any) -> None:
    """Attribute -> {"arrays": [names]} or {"value": a number, text, true/false or null}."""
    if not isinstance(optimizer, dict):
        raise Damaged(f"optimizer is {_kind(optimizer)}, not an object")
    for attribute, saved in optimizer.items():
        where = f"optimizer state '{attribute}'"
        if not isinstance(saved, dict) or len(saved) != 1:
            raise Damaged(f"{where} is {shown(saved)}, not {{'value': ...}} or {{'arrays': ...}}")
        if "arrays" in saved:
            _check_names(where, saved["arrays"])
        elif "value" not in saved:
            raise Damaged(f"{where} is {shown(saved)}, not {{'value': ...}} or {{'arrays': ...}}")
        elif not _is_scalar(saved["value"]):
            raise Damaged(f"{where} is {shown(saved['value'])}, not a number or text")


def _check_rng(key: str, state: Any) -> None:
    """{"legacy": [...]} (numpy's RandomState) or {"bit_generator": {...}} (its Generator,
    whose own setter checks the rest when the state is set)."""
    if not isinstance(state, dict) or len(state) != 1:
        raise Damaged(f"{key} is {shown(state)}, not a generator state")
    if "bit_generator" in state:
        if not isinstance(state["bit_generator"], dict):
            raise Damaged(f"{key} is {shown(state)}, not a generator state")
        return
    legacy = state.get("legacy")
    if not isinstance(legacy, list) or len(legacy) != 5:
        raise Damaged(f"{key} is {shown(state)}, not a generator state")
    name, words, position, has_gauss, cached = legacy
    valid = (
        name == "MT19937"
        and isinstance(words, list)
        and len(words) == _MT_WORDS
        and all(_is_int(word) and 0 <= word < 2**32 for word in words)
        and _is_int(position)
        and 0 <= position <= _MT_WORDS
        and has_gauss in (0, 1)
        and _is_int(has_gauss)
        and finite_number(cached)
    )
    if not valid:  # numpy would read outside the state (or crash) on such a one
        raise Damaged(f"{key} is not a valid MT19937 state")


def _check_engines(engines: Any) -> None:
    """Each registered gradient engine's state is an object (its engine checks what it
    holds)."""
    if not isinstance(engines, dict):
        raise Damaged(f"engines is {_kind(engines)}, not an object")
    for name in engine_names():
        if not isinstance(engines.get(name), dict):
            raise Damaged(f"engines.{name} is {shown(engines.get(name))}, not an object")


def finite_number(value: Any) -> bool:
    """Whether ``value`` is a number (not true/false) that a float holds, finite."""
    if not _is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # a whole number beyond any float
        return False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, str)) or _is_number(value)


def _kind(value: Any) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    names = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list"}
    return names.get(type(value), "an object")
