"""The dataset container that dataset parts return, and its checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "as_dataset"]


@dataclass(frozen=True)
class Dataset:
    """Inputs ``x`` (samples x features) and targets ``t`` (one-hot rows or class indices),
    with an optional held-out split."""

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


def as_dataset(value: object) -> Dataset:
    """A Dataset from what a dataset part returned; raises ValueError saying what is wrong."""
    if isinstance(value, tuple) and len(value) == 2:
        value = Dataset(*value)
    if not isinstance(value, Dataset):
        raise ValueError(
            f"returned {type(value).__name__}; return a toolkit.Dataset or an (x, t) pair"
        )
    try:
        x = np.array(value.x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("x must be an array of numbers") from None
    t = np.asarray(value.t)
    if t.dtype.kind not in "biuf":
        raise ValueError(f"t must hold numbers, got {t.dtype} values")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(
            f"x must be a non-empty 2-D array (samples x features), got shape {x.shape}"
        )
    if t.ndim not in (1, 2) or t.shape[0] != x.shape[0]:
        raise ValueError(f"t must have one row per sample of x {x.shape}, got shape {t.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t))):
        raise ValueError("x and t must hold finite numbers only")
    if t.ndim == 1 and (np.any(t < 0) or np.any(t != np.round(t))):
        raise ValueError("class indices in a 1-D t must be whole numbers from 0")
    if t.ndim == 1:
        t = t.astype(np.int64)
    return Dataset(x, t, value.x_test, value.t_test)
