"""How messages word things: close matches for misspelled names, and values."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

__all__ = ["article", "close_matches", "describe_value", "did_you_mean"]


def close_matches(word: str, candidates: Iterable[str]) -> list[str]:
    """Up to three candidates close to ``word``, best first."""
    return difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the best close match, or ``""``."""
    matches = close_matches(str(word), candidates)
    return f"did you mean '{matches[0]}'? " if matches else ""


def describe_value(value: Any) -> str:
    """A value as a message names it: ``nothing``, ``true``, ``a list``, ``text 'ten'``, ``1.5``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dict, list)):
        noun = "mapping" if isinstance(value, dict) else "list"
        return f"an empty {noun}" if not value else f"a {noun}"
    if isinstance(value, str):
        return f"text {value!r}"
    return repr(value)


def article(word: str) -> str:
    """``"an"`` before a vowel, else ``"a"``."""
    return "an" if word[:1] in tuple("aeiou") else "a"
