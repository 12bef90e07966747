"""Close-match suggestions for misspelled names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_matches", "did_you_mean"]


def close_matches(word: str, candidates: Iterable[str]) -> list[str]:
    """Up to three candidates close to ``word``, best first."""
    return difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the best close match, or ``""``."""
    matches = close_matches(str(word), candidates)
    return f"did you mean '{matches[0]}'? " if matches else ""
