"""A run's output folder: spec.yaml, metrics.jsonl and params.npz, each written safely."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import RunError, UsageError
from .spec import Spec

__all__ = ["RunDirectory"]


class RunDirectory:
    """Writes a run's files into ``path``; a file is whole under its final name or absent."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        for folder in (self.path, *self.path.parents):
            if folder.exists() and not folder.is_dir():
                raise UsageError(
                    f"output folder {self.path}: {folder} is a file, not a folder; "
                    "choose another path"
                )

    def start(self, spec: Spec) -> None:
        """Create the folder, write the resolved spec and start an empty metrics file."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.path / "spec.yaml", lambda f: f.write(spec.to_yaml().encode()))
            (self.path / "metrics.jsonl").write_text("")
        except OSError as error:
            raise RunError(f"output folder {self.path}: cannot write ({error.strerror})") from None

    def log(self, record: Mapping[str, Any]) -> None:
        """Append one log point to metrics.jsonl."""
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as file:
            file.write(json.dumps(dict(record)) + "\n")

    def save_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Write the parameters to params.npz."""
        _write_atomically(self.path / "params.npz", lambda f: np.savez(f, **dict[str, Any](params)))

    @property
    def files(self) -> list[Path]:
        return [self.path / name for name in ("spec.yaml", "metrics.jsonl", "params.npz")]


def _write_atomically(target: Path, write: Callable[[IO[bytes]], Any]) -> None:
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
