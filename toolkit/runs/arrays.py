"""Arrays from and to a user's ``.npz`` files, read safely, with one-line errors."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import UsageError
from ..base.npzfile import NpzReader
from ..base.wording import one_line
from ..model.data import Dataset, as_dataset
from .rundir import check_output, write_atomically

__all__ = ["read_arrays", "read_dataset", "write_arrays"]

_SAVE_HINT = "save it with np.savez"


def read_arrays(
    path: str | os.PathLike[str], required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """The named arrays of an ``.npz`` file, read within bounds (see ``toolkit.base.npzfile``)."""
    with NpzReader(path, save_hint=_SAVE_HINT, path_hint="give the path of an .npz file") as file:
        missing = [name for name in required if name not in file.names]
        if missing:
            has = one_line(", ".join(file.names)) or "none"
            raise UsageError(
                f"{path}: no array {', '.join(missing)} (arrays in the file: {has}); "
                f"save it with np.savez(path, {', '.join(f'{m}=...' for m in missing)})"
            )
        return {name: file.read(name) for name in [*required, *optional] if name in file.names}


def read_dataset(path: str | os.PathLike[str]) -> Dataset:
    """A dataset from arrays ``x`` and ``t`` (and ``x_test``, ``t_test`` if present)."""
    arrays = read_arrays(path, ["x", "t"], ["x_test", "t_test"])
    try:
        return as_dataset(Dataset(**arrays))
    except ValueError as error:
        raise UsageError(f"{path}: {error}") from None


def write_arrays(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    *,
    force: bool = False,
    runs: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Write arrays to an ``.npz`` file, whole or not at all (as a run writes its files).

    Never over a run's own file (see ``check_output``; ``runs`` are run folders whose files
    a hard link may name); an existing file is replaced only with ``force``.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"{target}: folder {target.parent} does not exist")
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give a file name ending in .npz")
    check_output(target, force=force, runs=[Path(run) for run in runs])
    write_atomically(target, lambda f: np.savez(f, **dict[str, Any](arrays)), replace=force)
