"""How messages word things: close matches for misspelled names, values, and user text."""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "article",
    "brief",
    "close_matches",
    "count_digits",
    "describe_value",
    "did_you_mean",
    "exit_call",
    "one_line",
    "quote",
    "raised",
]

SHOWN_DIGITS = 20
"""Whole numbers with more digits are described by their length, not written out."""


def close_matches(word: str, candidates: Iterable[str]) -> list[str]:
    """Up to three candidates close to ``word``, best first."""
    return difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)


def did_you_mean(word: object, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the best close match, or ``""`` (always for a ``word``
    that is not text, such as a key of a mapping given in Python)."""
    if not isinstance(word, str):
        return ""
    matches = close_matches(word, candidates)
    return f"did you mean {quote(matches[0])}? " if matches else ""


def describe_value(value: Any) -> str:
    """A value as a message names it: ``nothing``, ``true``, ``a list``, ``text 'ten'``, ``1.5``.

    A whole number of more than 20 digits is ``a whole number of 401 digits``.
    """
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        digits = count_digits(value)
        if digits <= SHOWN_DIGITS:
            return repr(value)
        return f"{'a negative' if value < 0 else 'a'} whole number of {digits} digits"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (dict, list)):
        noun = "mapping" if isinstance(value, dict) else "list"
        return f"an empty {noun}" if not value else f"a {noun}"
    if isinstance(value, str):
        return f"text {quote(value)}{_grouped_number_note(value)}"
    return brief(value)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _grouped_number_note(text: str) -> str:
    """For a number written with ``_`` between its digits (``1_000``), which YAML 1.2
    reads as text, how to write it as a number; else nothing."""
    plain = text.replace("_", "")
    if "_" not in text or not _NUMBER.fullmatch(plain):
        return ""
    return f" (YAML 1.2 reads digits grouped with _ as text; write {plain})"


def count_digits(value: int) -> int:
    """The decimal digits of ``value``, counted without writing it out (Python refuses to
    write a whole number of more than 4300 digits)."""
    size = abs(value)
    digits = max(1, math.floor((size.bit_length() - 1) * math.log10(2)) + 1)
    return digits + 1 if size >= 10**digits else digits


def quote(text: object) -> str:
    """User text in quotes, its line breaks and control characters escaped: ``'da\\nta'``.

    Anything else (a key that is not text) as :func:`brief` writes it.
    """
    return repr(text) if isinstance(text, str) else brief(text)


class _Brief(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxstring, self.maxother = 60, 80

    def repr_int(self, x: int, level: int) -> str:
        return describe_value(x)


_BRIEF = _Brief()


def brief(value: Any) -> str:
    """``value`` as Python writes it, cut short: long text and lists are elided and a long
    whole number is described (``a whole number of 401 digits``)."""
    return one_line(_BRIEF.repr(value))


def exit_call(exit: SystemExit) -> str:
    """How code ended the process, as it was written: ``sys.exit(3)``, ``sys.exit()``."""
    return "sys.exit()" if exit.code is None else f"sys.exit({brief(exit.code)})"


def raised(error: BaseException) -> str:
    """What code raised, for a message: ``ValueError: bad``, ``SystemExit from sys.exit(3)``."""
    if isinstance(error, SystemExit):
        return f"SystemExit from {exit_call(error)}"
    return f"{type(error).__name__}: {error}"


def one_line(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped, as repr does."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def article(word: str) -> str:
    """``"an"`` before a vowel, else ``"a"``."""
    return "an" if word[:1] in tuple("aeiou") else "a"
