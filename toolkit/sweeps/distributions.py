"""The distributions a random search draws a key's values from, written as text.

``uniform:a,b``
    a number between a and b (``a + (b - a) * U``).
``loguniform:a,b``
    ``10 ** uniform(log10 a, log10 b)``: evenly spread over the orders of magnitude, as
    the book's ``10 ** np.random.uniform(-6, -2)`` (``loguniform:1e-6,1e-2``); ``0 < a``.
``int:a,b``
    a whole number from a to b, both included.
``choice:a,b,c``
    one of the values, each as likely.

The values are YAML scalars separated by commas (``choice:16,32`` are numbers,
``choice:'16','32'`` text); for the three ranges ``a < b``. Each draw takes one call of
a ``numpy.random.Generator``, so the same generator state gives the same values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.errors import Location, Problem, SpecError
from ..base.wording import describe_value, did_you_mean, quote
from .values import parse_values, same_value, value_text

__all__ = ["KINDS", "Distribution", "parse_distribution"]

KINDS = ("uniform", "loguniform", "int", "choice")
EXAMPLE = "such as loguniform:1e-4,1e-1, uniform:0,1, int:1,10 or choice:a,b,c"
_INT_LIMIT = 2**63
"""Whole-number bounds stay within a 64-bit generator's reach."""


@dataclass(frozen=True)
class Distribution:
    """A kind of distribution and its values (two bounds, or the choices)."""

    kind: str
    args: tuple[Any, ...]

    def draw(self, rng: np.random.Generator) -> Any:
        """One value (a Python float, int or the chosen scalar), from one generator call."""
        return _DRAW[self.kind](rng, self.args)

    @property
    def log(self) -> bool:
        """Whether the values spread over orders of magnitude (a log axis shows them)."""
        return self.kind == "loguniform"

    def __str__(self) -> str:
        return f"{self.kind}:" + ",".join(value_text(arg, flow=True) for arg in self.args)


def parse_distribution(text: object, where: Location | None = None, path: str = "") -> Distribution:
    """``"loguniform:1e-6,1e-2"`` -> a :class:`Distribution`.

    Raises SpecError with one problem, for the key ``path`` at ``where``, naming the text
    and how to fix it."""

    def refuse(message: str, hint: str) -> SpecError:
        return SpecError([Problem(path, message, where, hint)])

    if not isinstance(text, str):
        raise refuse(f"expected a distribution, got {describe_value(text)}", EXAMPLE)
    kind, colon, rest = text.partition(":")
    kind = kind.strip()
    if not colon:
        message = f"{quote(text)} is not a distribution: expected KIND:VALUES"
        raise refuse(message, "write one " + EXAMPLE)
    if kind not in KINDS:
        hint = did_you_mean(kind, KINDS) + "the kinds are " + ", ".join(KINDS)
        raise refuse(f"unknown distribution {quote(kind)} in {quote(text)}", hint)
    try:
        args = parse_values(rest, where or Location(path), path)
    except SpecError as error:
        problem = error.problems[0]
        raise refuse(f"{quote(text)}: {problem.message}", problem.hint) from None
    fault = _CHECK[kind](args)
    if fault is not None:
        message, hint = fault
        raise refuse(f"{quote(text)}: {message}", hint)
    return Distribution(kind, tuple(args))


def _check_range(kind: str, args: list[Any]) -> tuple[str, str] | None:
    """What is wrong with the bounds of a range, or None."""
    fix = f"write {kind}:a,b with a < b"
    if len(args) != 2:
        return f"{kind} takes two bounds a,b, got {len(args)} values", fix
    for bound in args:
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            return f"the bounds must be numbers, got {describe_value(bound)}", fix
        if not _fits_a_float(bound):
            message = f"the bound {describe_value(bound)} is too large for a floating-point number"
            return message, f"give bounds between -1.7e308 and 1.7e308; {fix}"
        if not math.isfinite(bound):
            return f"the bounds must be finite, got {describe_value(bound)}", fix
    low, high = args
    if low >= high:
        turned = f"write {kind}:{value_text(high)},{value_text(low)}" if low > high else fix
        return "the first bound must be below the second", turned
    if not math.isfinite(float(high) - float(low)):
        return "the range is too wide to draw from", "give bounds closer together"
    return None


def _fits_a_float(bound: int | float) -> bool:
    """Whether ``bound`` converts to a float (a whole number of 309 digits does not)."""
    try:
        float(bound)
    except OverflowError:
        return False
    return True


def _check_uniform(args: list[Any]) -> tuple[str, str] | None:
    return _check_range("uniform", args)


def _check_loguniform(args: list[Any]) -> tuple[str, str] | None:
    fault = _check_range("loguniform", args)
    if fault is None and args[0] <= 0:
        fault = (
            f"the bounds must be above 0 (a log scale), got {describe_value(args[0])}",
            "write loguniform:1e-6,1e-2 for 10^-6 to 10^-2; for a range through 0 use uniform:a,b",
        )
    return fault


def _check_int(args: list[Any]) -> tuple[str, str] | None:
    whole = all(isinstance(arg, int) and not isinstance(arg, bool) for arg in args)
    if len(args) == 2 and not whole:
        bad = next(arg for arg in args if not isinstance(arg, int) or isinstance(arg, bool))
        return (
            f"the bounds must be whole numbers, got {describe_value(bad)}",
            "write int:1,10 (both ends included); for numbers between, use uniform:a,b",
        )
    if whole and any(abs(arg) >= _INT_LIMIT for arg in args):
        return "the bounds must be within 2**63 of 0", "give smaller bounds"
    return _check_range("int", args)


def _check_choice(args: list[Any]) -> tuple[str, str] | None:
    if not args:
        return "choice needs at least one value", "write choice:a,b,c"
    for index, arg in enumerate(args):
        if any(same_value(arg, other) for other in args[:index]):
            return f"{describe_value(arg)} is given twice", "give each choice once"
    return None


_CHECK: dict[str, Callable[[list[Any]], tuple[str, str] | None]] = {
    "uniform": _check_uniform,
    "loguniform": _check_loguniform,
    "int": _check_int,
    "choice": _check_choice,
}

_DRAW: dict[str, Callable[[np.random.Generator, tuple[Any, ...]], Any]] = {
    "uniform": lambda rng, args: float(rng.uniform(args[0], args[1])),
    "loguniform": lambda rng, args: float(
        10 ** rng.uniform(math.log10(args[0]), math.log10(args[1]))
    ),
    "int": lambda rng, args: int(rng.integers(args[0], args[1], endpoint=True)),
    "choice": lambda rng, args: args[int(rng.integers(len(args)))],
}
