"""Parts: the richer registration form, parameter discovery, and parts bound to settings."""

from __future__ import annotations

import inspect
import math
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..base.wording import describe_value, did_you_mean, exit_call, quote
from .kinds import Kind

__all__ = [
    "REQUIRED",
    "BoundPart",
    "Part",
    "PartExit",
    "as_float",
    "as_part",
    "check_settings",
    "describe_exit",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a parameter that a spec must set."""


@dataclass(frozen=True)
class Part:
    """A part with more than a function: an optional derivative, parameters, a description.

    ``params`` maps each parameter to its default (``REQUIRED`` for none); when left
    out it is read from the signature of ``fn``. ``description`` defaults to the first
    line of ``fn``'s docstring. ``derivative`` takes the same arguments as ``fn``:
    for an activation, the elementwise dy/dx; for a loss, dL/dy. ``replaces`` names
    another plugin's part of the same name (``"plugin:name"``) that this one overrides.
    ``validate(**settings)`` yields ``(setting, problem)`` pairs for settings that
    cannot work (for example ``("h", "must be positive, got 0")``); they are reported
    as spec problems at each setting's place, before anything runs. ``vjp(x, g)``
    gives an activation that is not elementwise (softmax) its backward pass: the
    gradient with respect to ``x`` given ``g``, the gradient with respect to its output.
    ``tolerance`` is the relative error a gradient estimator promises against the exact
    gradient (``math.inf`` for a stochastic one); checks hold it to that.
    ``breakpoints`` says where an activation, or a derivative of it, jumps: ``()`` for
    one smooth everywhere (sigmoid, softmax; for a loss, smooth in ``y``), ``(0.0,)`` for
    relu. Central differences use it to interpolate exactly where the parts are smooth;
    ``None`` (not declared) still lets them interpolate through an elementwise activation
    or a loss, with every fit checked on both sides (a little slower).
    ``paths`` names the parameters that are file paths: a relative one is read from the
    spec file's folder (the current folder for an override or a spec given as a mapping),
    and the resolved spec holds it absolute, so a run's recorded spec finds the file from
    anywhere.
    ``classes(**settings)`` gives a dataset's class count from its settings alone: the
    spec's output layer is then checked against it as the spec loads, with any other
    problem and before any data is built; without it, when the data is built.
    ``features(**settings)`` gives a dataset's sample shape (a number of features, or a
    shape such as ``(1, 8, 8)``) the same way: the layers are then made for it and
    checked as the spec loads.
    """

    fn: Callable[..., Any]
    derivative: Callable[..., Any] | None = None
    params: Mapping[str, Any] | None = None
    description: str = ""
    replaces: str | None = None
    validate: Callable[..., Iterable[tuple[str, str]] | None] | None = None
    vjp: Callable[..., Any] | None = None
    tolerance: float | None = None
    breakpoints: tuple[float, ...] | None = None
    paths: tuple[str, ...] = ()
    classes: Callable[..., int] | None = None
    features: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the part's function: a Part can be used wherever its function can."""
        return self.fn(*args, **kwargs)


def as_part(value: object, kind: Kind) -> Part:
    """Normalize a registered value (a callable or a Part) to a complete Part."""
    if isinstance(value, Part):
        part = value
    elif callable(value):
        part = Part(fn=value)
    else:
        raise TypeError(f"expected a callable or a toolkit.Part, got {type(value).__name__}")
    if not callable(part.fn):
        raise TypeError(f"Part.fn must be callable, got {type(part.fn).__name__}")
    params = dict(part.params) if part.params is not None else _signature_params(part.fn, kind)
    if "name" in params:
        raise TypeError("a part may not have a parameter called 'name'; the spec uses that key")
    for field_name in ("derivative", "validate", "vjp", "classes", "features"):
        value = getattr(part, field_name)
        if value is not None and not callable(value):
            raise TypeError(f"Part.{field_name} must be callable, got {type(value).__name__}")
    description = part.description or _first_doc_line(part.fn)
    breakpoints = None if part.breakpoints is None else _as_breakpoints(part.breakpoints)
    paths = _as_paths(part.paths, params)
    return replace(
        part, params=params, description=description, breakpoints=breakpoints, paths=paths
    )


def _as_paths(value: object, params: Mapping[str, Any]) -> tuple[str, ...]:
    """``Part.paths``: names of the part's own parameters."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"Part.paths must be a sequence of parameter names, got {value!r}")
    names = tuple(value)
    unknown = [name for name in names if name not in params]
    if unknown:
        raise TypeError(f"Part.paths names {unknown[0]!r}, which is not one of its parameters")
    return names


def _as_breakpoints(value: object) -> tuple[float, ...]:
    try:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError
        points = tuple(float(point) for point in value)
    except (TypeError, ValueError):
        raise TypeError(
            f"Part.breakpoints must be a sequence of numbers, got {describe_value(value)}"
        ) from None
    if not all(math.isfinite(point) for point in points):
        raise TypeError("Part.breakpoints must be finite numbers")
    return points


def _signature_params(fn: Callable[..., Any], kind: Kind) -> dict[str, Any]:
    if isinstance(fn, np.ufunc):  # np.tanh and friends: only out=, where=, ... follow x
        return {}
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    named = [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    positional = [p for p in named if p.kind != p.KEYWORD_ONLY]
    skipped = {p.name for p in positional[: len(kind.inputs)]}
    return {
        p.name: REQUIRED if p.default is p.empty else p.default
        for p in named
        if p.name not in skipped
    }


def _first_doc_line(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


EXIT_FIX = "plugin code must raise an exception to fail, not end the process"


class PartExit(SystemExit):
    """A part called ``sys.exit`` (raised SystemExit): its failure, naming the part.

    Still a SystemExit, so code that catches ``Exception`` to try another way does not
    take it for a refusal; the command line reports it as a failed run (exit 1), and a
    script that does not catch it ends with this message.
    """

    def __init__(self, kind: str, name: str, exit: SystemExit) -> None:
        self.message = f"{kind.replace('_', ' ')} '{name}' called {exit_call(exit)}; {EXIT_FIX}"
        super().__init__(self.message)


def describe_exit(exit: SystemExit) -> str:
    """One line for plugin code that ended the process: the part that did (a PartExit),
    else where ``sys.exit`` was called."""
    if isinstance(exit, PartExit):
        return exit.message
    frames = traceback.extract_tb(exit.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"code{where} called {exit_call(exit)}; {EXIT_FIX}"


@dataclass(frozen=True)
class BoundPart:
    """A registered part with its settings: calling it calls the part's function.

    ``kind`` names the part in a message. A part that calls ``sys.exit`` raises
    :class:`PartExit`, naming it.
    """

    name: str
    part: Part
    settings: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "part"

    def __call__(self, *inputs: Any) -> Any:
        try:  # as _run does, written out: this call is the engines' innermost
            return self.part.fn(*inputs, **self.settings)
        except PartExit:
            raise
        except SystemExit as exit:
            raise PartExit(self.kind, self.name, exit) from exit

    @property
    def has_derivative(self) -> bool:
        """Whether the part gives a derivative or a backward pass (vjp)."""
        return self.part.derivative is not None or self.part.vjp is not None

    def derivative(self, *inputs: Any) -> Any:
        """The part's derivative at ``inputs``, with its settings."""
        if self.part.derivative is None:
            raise LookupError(f"part '{self.name}' gives no derivative")
        return self._run(self.part.derivative, *inputs)

    def vjp(self, x: Any, g: Any) -> Any:
        """The gradient with respect to ``x`` given ``g`` with respect to the output.

        From the part's ``vjp`` where it has one, else its elementwise derivative.
        """
        if self.part.vjp is None:
            return self.derivative(x) * g
        return self._run(self.part.vjp, x, g)

    def _run(self, fn: Callable[..., Any], *inputs: Any) -> Any:
        """``fn(*inputs, **settings)``; a SystemExit from it becomes a PartExit naming the
        part (one from a part it calls keeps that part's name)."""
        try:
            return fn(*inputs, **self.settings)
        except PartExit:
            raise
        except SystemExit as exit:
            raise PartExit(self.kind, self.name, exit) from exit


def check_settings(
    part: Part, given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """Fill defaults and check ``given`` against the part's parameters.

    Returns the complete settings and a list of ``(parameter, message, hint)`` problems.
    """
    params = part.params or {}
    settings: dict[str, Any] = {}
    problems: list[tuple[str, str, str]] = []
    for key, value in given.items():
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            hint = did_you_mean(key, params) + f"parameters: {known}"
            problems.append((key, f"unknown parameter {quote(key)}", hint))
            continue
        value, message = _coerce(value, params[key])
        if message:
            problems.append((key, message, ""))
        settings[key] = value
    for key, default in params.items():
        if key in given:
            continue
        if default is REQUIRED:
            problems.append((key, f"missing required parameter '{key}'", f"add '{key}: ...'"))
        else:
            settings[key] = default
    if not problems and part.validate is not None:
        problems += [(key, message, "") for key, message in part.validate(**settings) or ()]
    return settings, problems


def _coerce(value: Any, default: Any) -> tuple[Any, str]:
    """Check ``value`` against the type of ``default``; return it (ints widened to float)."""
    if default is REQUIRED or default is None:
        return value, ""
    if isinstance(default, bool):
        return value, "" if isinstance(
            value, bool
        ) else f"expected true or false, got {describe_value(value)}"
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value, ""
        return value, f"expected a whole number, got {describe_value(value)}"
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return value, f"expected a number, got {describe_value(value)}"
        if not math.isfinite(as_float(value)):
            return value, f"expected a finite number, got {describe_value(value)}"
        return float(value), ""
    if isinstance(default, str) and not isinstance(value, str):
        return value, f"expected a string, got {describe_value(value)}"
    return value, ""


def as_float(value: float) -> float:
    """``value`` as a float: ``inf`` (or ``-inf``) for a whole number beyond a float's range."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
