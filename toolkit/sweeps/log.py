"""A sweep's trial log, ``DIR/trials.jsonl``: one JSON object a line, appended, never rewritten.

Three kinds of record (``event``): ``planned`` (each trial, once, at the sweep's first
start), ``session`` (the start of each coordinator session) and ``finished`` (after each
attempt of a trial). A trial's state is its last ``finished`` record. Each record is
written whole and synced before the next, so a kill leaves at most a cut-off last line:
readers skip it, and the next writer cuts it off before it appends.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ..base.errors import RunError, UsageError
from .trial import Trial

__all__ = [
    "LOG_NAME",
    "TrialLog",
    "finished_record",
    "last_finished",
    "planned_record",
    "planned_trials",
    "read_log",
]

LOG_NAME = "trials.jsonl"
"""The log's file name in a sweep folder."""


def planned_record(
    trial: Trial, shared: Sequence[str] = (), plugins: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``planned`` record of ``trial``; ``shared`` are the sweep's own overrides (its
    ``set``) and ``plugins`` its plugin modules, recorded so that a resume can tell that
    they changed."""
    return {
        "event": "planned",
        "index": trial.index,
        "config": trial.config,
        "id": trial.id,
        "name": trial.name,
        "values": dict(trial.values),
        "seed": trial.seed,
        "overrides": list(trial.overrides),
        "set": list(shared),
        "plugins": list(plugins),
    }


def finished_record(
    trial_id: str,
    status: str,
    *,
    exit: int | None,
    error: str | None,
    seconds: float | None,
    iteration: int | None,
    attempt: int,
    metrics: Mapping[str, Any],
) -> dict[str, Any]:
    """A ``finished`` record: how one attempt of a trial ended."""
    return {
        "event": "finished",
        "id": trial_id,
        "status": status,
        "exit": exit,
        "error": error,
        "seconds": seconds,
        "iteration": iteration,
        "attempt": attempt,
        "metrics": dict(metrics),
    }


class TrialLog:
    """Appends records to the log in ``folder``, each synced to the disk before the next."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / LOG_NAME
        self._file: IO[bytes] | None = None

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one whole line (non-finite numbers as null) and sync it."""
        self.extend([record])

    def extend(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write several records, then sync them together."""
        text = "".join(_line(record) for record in records)
        try:
            file = self._open()
            file.write(text.encode())
            file.flush()
            os.fsync(file.fileno())
        except OSError as error:
            raise RunError(f"{self.path}: cannot write ({error.strerror or error})") from None

    def close(self) -> None:
        """Close the file (appending again opens it again)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 - held open across appends
            _cut_torn_line(self._file)
        return self._file


def read_log(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of the log in ``folder``, in order; a cut-off last line is skipped.

    A missing log is an empty one; any other line that is not a JSON record is a
    UsageError (a damaged folder given as input) naming the file and line.
    """
    path = Path(folder) / LOG_NAME
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as error:
        raise RunError(f"{path}: cannot read ({error.strerror or error})") from None
    lines = text.split("\n")
    whole, torn = lines[:-1], lines[-1]  # torn: the text after the last newline
    del torn  # a kill while writing: the record was never complete
    records = []
    for number, line in enumerate(whole, start=1):
        if line.strip():
            records.append(_record(path, number, line))
    return records


def last_finished(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each trial's last ``finished`` record, by trial id (a trial never run: absent)."""
    last: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("event") == "finished":
            last[str(record["id"])] = dict(record)
    return last


def planned_trials(records: Sequence[Mapping[str, Any]]) -> list[Trial]:
    """The trials the ``planned`` records describe, in their order."""
    return [
        Trial(
            index=int(record["index"]),
            config=int(record["config"]),
            values=tuple(dict(record["values"]).items()),
            seed=record["seed"],
            id=str(record["id"]),
            name=str(record["name"]),
            overrides=tuple(record["overrides"]),
        )
        for record in records
        if record.get("event") == "planned"
    ]


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(_finite(record), allow_nan=False, sort_keys=False) + "\n"


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _record(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"{path}, line {number}: not a JSON record ({error.msg}); the log is damaged"
        ) from None
    if not isinstance(record, dict) or "event" not in record:
        raise UsageError(f"{path}, line {number}: not a trial record; the log is damaged")
    return record


def _cut_torn_line(file: IO[bytes]) -> None:
    """Truncate a last line without its newline (a writer killed mid-record)."""
    size = file.seek(0, os.SEEK_END)
    if size == 0:
        return
    with open(file.name, "rb") as reader:
        end = size
        while end > 0:
            start = max(0, end - 4096)
            reader.seek(start)
            chunk = reader.read(end - start)
            found = chunk.rfind(b"\n")
            if found >= 0:
                keep = start + found + 1
                break
            end = start
        else:
            keep = 0
    if keep < size:
        file.truncate(keep)
        file.seek(keep)
