"""The dataset container that dataset parts return, and its checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_CLASS", "Dataset", "as_dataset"]

MAX_CLASS = 2**31 - 1
"""The largest class index 1-D targets may hold (a network has one output per class)."""


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x`` (samples x features) and targets ``t`` (one-hot rows or class indices),
    with an optional held-out split ``x_test``, ``t_test`` in the same form."""

    x: np.ndarray
    t: np.ndarray
    x_test: np.ndarray | None = None
    t_test: np.ndarray | None = None

    @property
    def samples(self) -> int:
        """Rows of x."""
        return int(self.x.shape[0])

    @property
    def features(self) -> int:
        """Columns of x."""
        return int(self.x.shape[1])

    @property
    def classes(self) -> int:
        """Columns of one-hot targets, or the largest class index plus one."""
        return int(self.t.shape[1]) if self.t.ndim == 2 else int(self.t.max()) + 1

    @property
    def has_test(self) -> bool:
        """Whether the dataset holds a held-out split."""
        return self.x_test is not None and self.t_test is not None


def as_dataset(value: object) -> Dataset:
    """A Dataset from what a dataset part returned; raises ValueError saying what is wrong."""
    if isinstance(value, tuple) and len(value) == 2:
        value = Dataset(*value)
    if not isinstance(value, Dataset):
        raise ValueError(
            f"returned {type(value).__name__}; return a toolkit.Dataset or an (x, t) pair"
        )
    x, t = _pair(value.x, value.t, "x", "t")
    if (value.x_test is None) != (value.t_test is None):
        given, missing = ("x_test", "t_test") if value.t_test is None else ("t_test", "x_test")
        raise ValueError(f"gave {given} without {missing}; give both or neither")
    if value.x_test is None:
        return Dataset(x, t)
    x_test, t_test = _pair(value.x_test, value.t_test, "x_test", "t_test")
    _check_test_matches(x, t, x_test, t_test)
    return Dataset(x, t, x_test, t_test)


def _pair(
    x_value: object, t_value: object, x_name: str, t_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as float64 and ``t`` (1-D as int64), checked on their own and against each other."""
    try:
        complex_values = np.iscomplexobj(x_value)  # type: ignore[arg-type]
        x = np.array(x_value, dtype=np.float64) if not complex_values else np.empty(0)
    except (TypeError, ValueError):
        raise ValueError(f"{x_name} must be an array of numbers") from None
    if complex_values:  # cast to float, it would lose its imaginary part unsaid
        raise ValueError(f"{x_name} holds complex numbers; give real numbers")
    t = np.asarray(t_value)
    if t.dtype.kind not in "biuf":
        raise ValueError(f"{t_name} must hold numbers, got {t.dtype} values")
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"{x_name} must be a non-empty 2-D array (samples x features, at least one of "
            f"each), got shape {x.shape}"
        )
    if t.ndim not in (1, 2) or t.shape[0] != x.shape[0]:
        raise ValueError(
            f"{t_name} must have one row per sample of {x_name} {x.shape}, got shape {t.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError(f"{x_name} and {t_name} must hold finite numbers only")
    wrong = (t < 0) | (t != np.round(t)) | (t > MAX_CLASS) if t.ndim == 1 else None
    if wrong is not None and wrong.any():
        first = int(np.argmax(wrong))
        raise ValueError(
            f"class indices in a 1-D {t_name} must be whole numbers from 0 to {MAX_CLASS}, got "
            f"{t[first]} at index {first}"
        )
    if t.ndim == 1:
        t = t.astype(np.int64)
    return x, t


def _check_test_matches(
    x: np.ndarray, t: np.ndarray, x_test: np.ndarray, t_test: np.ndarray
) -> None:
    """The held-out split has x's features and t's form (and no class beyond t's)."""
    if x_test.shape[1] != x.shape[1]:
        raise ValueError(f"x_test must have the {x.shape[1]} features of x, got {x_test.shape[1]}")
    if t_test.ndim != t.ndim:
        form = "one-hot rows (2-D)" if t.ndim == 2 else "class indices (1-D)"
        raise ValueError(f"t_test must be {form} like t, got shape {t_test.shape}")
    if t.ndim == 2 and t_test.shape[1] != t.shape[1]:
        raise ValueError(
            f"t_test must have the {t.shape[1]} columns of t (one per class), got {t_test.shape[1]}"
        )
    if t.ndim == 1 and t_test.max() > t.max():
        raise ValueError(
            f"t_test holds class {int(t_test.max())}, but t has classes 0 to {int(t.max())} only"
        )
