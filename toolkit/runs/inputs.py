"""The files a run read, pinned by content: recorded when it starts, checked before reuse.

A part's settings that name files (``Part(paths=...)``, such as the npz dataset's
``path``) are recorded with each file's size and SHA-256 digest. Resuming, evaluating or
predicting from the run first checks that every file is still there with the same
content, so that a run never continues on, or reports about, other data without a word.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..base.errors import UsageError

__all__ = ["Pin", "check_inputs", "check_named", "pin_inputs"]

Pin = dict[str, Any]
"""One file as recorded: ``{"path": ..., "bytes": ..., "sha256": ...}``."""

_CHUNK = 1 << 20


def pin_inputs(files: Mapping[str, str]) -> dict[str, Pin]:
    """The record of ``files`` (key path -> absolute path) as they are now; a setting
    whose file does not exist (a part that makes it) is left out."""
    pins = {}
    for key, path in files.items():
        pin = _pin(Path(path))
        if pin is not None:
            pins[key] = pin
    return pins


def check_inputs(recorded: Mapping[str, Pin], run: Path) -> None:
    """Refuse, in one line, a file recorded for ``run`` that is gone or changed since."""
    for key, pin in recorded.items():
        _check_file(key, pin, Path(pin["path"]), run)


def check_named(recorded: Mapping[str, Pin], files: Mapping[str, str], run: Path) -> None:
    """Refuse, in one line, a recorded file that the run's spec no longer names."""
    for key, pin in recorded.items():
        named = files.get(key)
        if named is None or Path(named) != Path(pin["path"]):
            now = f"names {named}" if named else "names no file"
            raise UsageError(
                f"{run}: its spec.yaml {now} for {key}, but the run read {pin['path']}; "
                "put spec.yaml back as the run wrote it, or train a new run"
            )


def _check_file(key: str, pin: Pin, path: Path, run: Path) -> None:
    fix = "put back the file the run read, or train a new run on this one"
    current = _pin(path)
    if current is None:
        raise UsageError(f"{run}: the file the run read for {key}, {path}, is gone; {fix}")
    if current["bytes"] != pin["bytes"] or current["sha256"] != pin["sha256"]:
        raise UsageError(
            f"{run}: the file the run read for {key}, {path}, has changed since "
            f"(then {_described(pin)}, now {_described(current)}); {fix}"
        )


def _pin(path: Path) -> Pin | None:
    """The file's record; None if it does not exist. A path that is not a regular file
    is pinned by its kind, so it never matches a file's record (and is never read)."""
    try:
        status = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return {"path": str(path), "bytes": -1, "sha256": "not a regular file"}
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return {"path": str(path), "bytes": status.st_size, "sha256": digest.hexdigest()}


def _described(pin: Pin) -> str:
    if pin["bytes"] < 0:
        return "not a regular file"
    return f"{pin['bytes']} bytes, sha256 {pin['sha256'][:12]}"
