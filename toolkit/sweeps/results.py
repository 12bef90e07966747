"""What a sweep folder holds so far: each planned trial, how it stands, and the log points
of those that are done.

Read only: the trial log ``DIR/trials.jsonl`` (its ``planned`` and ``finished`` records),
each done trial's ``DIR/runs/NAME/metrics.jsonl`` and, for the figure, which keys
``DIR/sweep.yaml`` draws from a log-uniform distribution. A sweep that is still running
or was interrupted reads as far as it got. A line cut off at the end of a file (a kill
while it was written) is skipped; any other unreadable line is a one-line UsageError
naming the file and the line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..base.errors import UsageError
from ..base.wording import one_line
from ..runs.rundir import RunDirectory
from .log import LOG_NAME, last_finished, read_log

__all__ = [
    "LOG",
    "NOT_METRICS",
    "RUNS",
    "SWEEP_FILE",
    "State",
    "SweepResults",
    "TrialResult",
    "lower_is_better",
    "read_results",
    "short_names",
    "shown_value",
    "value_text",
]

LOG = LOG_NAME
RUNS = "runs"
SWEEP_FILE = "sweep.yaml"
NOT_METRICS = frozenset({"iteration", "seconds"})
"""Fields of a log point that are not metrics: where it is and when."""
FAILED = frozenset({"failed", "crashed"})
LOGUNIFORM = "loguniform"
SHORT = 8  # the longest float shown as written

State = Literal["done", "failed", "pending"]
"""A trial so far: trained to the end; failed or crashed (its last attempt); not run yet,
running, or stopped with a checkpoint."""
Record = dict[str, float]


def lower_is_better(metric: str) -> bool:
    """A metric whose name ends in ``loss`` is better lower; any other is better higher."""
    return metric.endswith("loss")


def value_text(value: Any) -> str:
    """A swept value as its override writes it: text as it is, numbers in full (``0.001``,
    ``1e-05``), ``true``/``false``, ``null``; anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)


def short_names(keys: Sequence[str]) -> dict[str, str]:
    """Each key by its last part (``learning_rate``) where that tells the keys apart."""
    short = [key.rpartition(".")[2] for key in keys]
    return dict(zip(keys, short if len(set(short)) == len(short) else keys, strict=True))


def shown_value(value: Any) -> str:
    """A swept value for people: a float as written if short (``0.001``, ``1.0``), else to
    4 significant digits (``0.002872``); anything else as ``value_text`` writes it."""
    text = value_text(value)
    if isinstance(value, float) and len(text) > SHORT:
        return f"{value:.4g}"
    return text


@dataclass(frozen=True)
class TrialResult:
    """One planned trial: its configuration, its state and, when done, its log points."""

    id: str
    name: str
    config: int
    values: Mapping[str, Any]
    seed: int | None
    state: State
    records: tuple[Record, ...] = ()
    """metrics.jsonl's log points (done trials only); a non-finite value is NaN."""

    def curve(self, metric: str) -> tuple[list[float], list[float]]:
        """The iterations that logged ``metric`` and its values there."""
        points = [(r["iteration"], r[metric]) for r in self.records if metric in r]
        return [x for x, _ in points], [y for _, y in points]

    def final(self, metric: str) -> float | None:
        """The value at the last log point that has ``metric`` (None: never logged)."""
        values = self.curve(metric)[1]
        return values[-1] if values else None

    def best(self, metric: str) -> float | None:
        """The best finite value over the run (min for a loss, max otherwise); NaN if it
        logged only non-finite values, None if it never logged ``metric``."""
        values = self.curve(metric)[1]
        if not values:
            return None
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            return math.nan
        return min(finite) if lower_is_better(metric) else max(finite)


@dataclass(frozen=True)
class SweepResults:
    """A sweep folder as read: its trials in expansion order, its swept keys, the metrics
    its done trials logged (in the order first seen), the keys drawn log-uniformly and the
    keys swept by grid."""

    folder: Path
    trials: tuple[TrialResult, ...]
    keys: tuple[str, ...]
    metrics: tuple[str, ...]
    log_keys: frozenset[str] = field(default_factory=frozenset)
    grid_keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def done(self) -> list[TrialResult]:
        return [trial for trial in self.trials if trial.state == "done"]


def read_results(folder: str | os.PathLike[str]) -> SweepResults:
    """Read the sweep folder ``folder`` (see the module's docstring)."""
    path = Path(folder)
    planned, last = _read_log(_log_path(path))
    trials = tuple(_trial(path, record, last.get(record["id"])) for record in planned)
    keys = tuple(dict.fromkeys(key for trial in trials for key in trial.values))
    metrics = tuple(
        dict.fromkeys(
            name
            for trial in trials
            for record in trial.records
            for name in record
            if name not in NOT_METRICS
        )
    )
    return SweepResults(path, trials, keys, metrics, loguniform_keys(path), grid_keys(path))


def _log_path(folder: Path) -> Path:
    if not folder.is_dir():
        state = "is a file, not a folder" if folder.exists() else "no such folder"
        raise UsageError(
            f"sweep folder {one_line(str(folder))}: {state}; give the folder that "
            "toolkit sweep --out DIR wrote"
        )
    log = folder / LOG
    if not log.is_file():
        raise UsageError(
            f"{one_line(str(folder))}: no {LOG}, so not a sweep folder; give the folder "
            "that toolkit sweep --out DIR wrote"
        )
    return log


def _read_log(log: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The planned records in order, and each trial's last finished record by id."""
    records = read_log(log.parent)
    planned = [
        _checked_plan(record, f"{one_line(str(log))}, planned trial {number}")
        for number, record in enumerate(
            (record for record in records if record.get("event") == "planned"), start=1
        )
    ]
    last = last_finished(record for record in records if isinstance(record.get("id"), str))
    if not planned:
        raise UsageError(
            f"{one_line(str(log))}: no trial planned yet; the sweep has not started, "
            "run toolkit sweep --out DIR first"
        )
    return planned, last


def _json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each line's JSON object with where it is; a last line cut off is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{one_line(str(path))}: cannot read ({error}); check the file") from None
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{one_line(str(path))} line {number}"
        try:
            data = json.loads(line)
        except ValueError as error:
            if number == len(lines):  # no newline after it: cut off as it was written
                return
            raise UsageError(
                f"{where}: not valid JSON ({error}); each line must be one JSON object"
            ) from None
        if not isinstance(data, dict):
            raise UsageError(f"{where}: a {type(data).__name__}, not a JSON object")
        yield where, data


def _checked_plan(record: dict[str, Any], where: str) -> dict[str, Any]:
    """A planned record with the fields the summary reads, of the right types."""
    wanted = {"id": str, "name": str, "config": int, "values": dict}
    for key, kind in wanted.items():
        value = record.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UsageError(
                f"{where}: a planned trial without {kind.__name__} {key!r}; "
                "the log is damaged, restore it or start the sweep again"
            )
    name = record["name"]
    if name in ("", ".", "..") or Path(name).name != name:
        raise UsageError(f"{where}: trial name {name!r} is not a folder name under {RUNS}/")
    seed = record.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise UsageError(f"{where}: seed {json.dumps(seed)} is not a whole number or null")
    return record


def _trial(folder: Path, plan: dict[str, Any], finished: dict[str, Any] | None) -> TrialResult:
    """A planned trial as it stands: its last finished record says (done, failed or
    crashed; stopped is pending); with none, a folder holding its final parameters is done
    (the coordinator was stopped before it logged it) and anything else is pending."""
    run = folder / RUNS / plan["name"]
    status = finished.get("status") if finished else None
    state: State
    if status == "done" or (finished is None and (run / RunDirectory.PARAMS).is_file()):
        state = "done"
    elif status in FAILED:
        state = "failed"
    else:
        state = "pending"
    records = tuple(_read_metrics(run / RunDirectory.METRICS)) if state == "done" else ()
    return TrialResult(
        plan["id"], plan["name"], plan["config"], plan["values"], plan.get("seed"), state, records
    )


def _read_metrics(path: Path) -> Iterator[Record]:
    """A done trial's log points: the numbers of each line (null and non-finite: NaN)."""
    if not path.is_file():
        raise UsageError(
            f"{one_line(str(path))}: no such file, though the trial is logged as done; "
            "restore the run folder or run the trial again"
        )
    for where, data in _json_lines(path):
        if not _is_number(data.get("iteration")):
            raise UsageError(f"{where}: no number 'iteration'; every log point needs one")
        yield {
            key: math.nan if value is None else float(value)
            for key, value in data.items()
            if value is None or _is_number(value)
        }


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def loguniform_keys(folder: Path) -> frozenset[str]:
    """The keys DIR/sweep.yaml's random search draws with ``loguniform:a,b`` (none when the
    file is missing or unreadable: it only decides the figure's axes)."""
    sweep = _sweep_file(folder)
    random = sweep.get("random")
    params = _by_key(random.get("params") if isinstance(random, dict) else None)
    return frozenset(key for key, dist in params.items() if dist.strip().startswith(LOGUNIFORM))


def grid_keys(folder: Path) -> frozenset[str]:
    """The keys DIR/sweep.yaml sweeps by grid (none when the file is missing or unreadable:
    it only decides whether the figure joins the means per value)."""
    return frozenset(_by_key(_sweep_file(folder).get("grid")))


def _sweep_file(folder: Path) -> dict[Any, Any]:
    """DIR/sweep.yaml's top-level mapping (empty when missing or unreadable)."""
    try:
        sweep = yaml.safe_load((folder / SWEEP_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return sweep if isinstance(sweep, dict) else {}


def _by_key(given: object) -> dict[str, str]:
    """A sweep file's ``{key: ...}`` mapping, or its list of ``KEY=...`` strings (as the
    options write them), as each key's text."""
    if isinstance(given, list):
        given = dict(str(item).partition("=")[::2] for item in given)
    if not isinstance(given, dict):
        return {}
    return {str(key): str(value) for key, value in given.items()}
